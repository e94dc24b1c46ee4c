//! `tollgate webhook serve`: the HTTPS server the API server calls. Only transport lives here:
//! TLS (rustls, TLS 1.2+, HTTP/1.1 and HTTP/2 by ALPN), routes, limits, timeouts, metrics,
//! logs, reload and shutdown. The decision is `PolicySet::admit`, the same one `check` and
//! `webhook review` use.

use super::check::{load_config, PolicyArgs};
use super::query::usage;
use super::webhook::{policy_set, policy_set_with};
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use tollgate_core::admission::AdmissionRequest;
use tollgate_core::policyset::PolicySet;
use tollgate_core::Error;

/// Bodies larger than this get 413: the API server's own limit for an object is 3 MiB.
const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// The API server's default `timeoutSeconds`, used when a request carries no `?timeout=`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS handshake or a request's headers that take longer are dropped (slow clients).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long SIGTERM waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 10.0,
];

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (default `webhook.listen` of tollgate.yaml, else 0.0.0.0:8443).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// PEM certificate chain (default `webhook.tls_cert`).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key (default `webhook.tls_key`).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Log lines as `text` or `json` (stderr).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: String,
    #[command(flatten)]
    policies: PolicyArgs,
}

/// Structured log lines on stderr. They carry identities (kind, namespace, name, uid, rule
/// ids), never object contents or finding messages, which could quote values.
#[derive(Clone, Copy)]
struct Log {
    json: bool,
}

impl Log {
    fn line(self, event: &str, fields: &[(&str, String)]) {
        let ts = tollgate_core::suppress::now_rfc3339();
        let line = if self.json {
            let mut m = serde_json::Map::new();
            m.insert("ts".into(), ts.into());
            m.insert("event".into(), event.into());
            for (k, v) in fields {
                m.insert((*k).into(), v.clone().into());
            }
            serde_json::Value::Object(m).to_string()
        } else {
            let rest: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{ts} {event} {}", rest.join(" "))
        };
        eprintln!("{}", line.trim_end());
    }
}

/// Counters for `/metrics`. The labelled request counter takes a short mutex after the
/// answer is computed; the policy set is read through an `Arc` clone.
#[derive(Default)]
struct Metrics {
    requests: Mutex<BTreeMap<(String, String, bool), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    duration_count: AtomicU64,
    duration_micros: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl Metrics {
    fn observe(&self, operation: &str, kind: &str, allowed: bool, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((operation.to_owned(), kind.to_owned(), allowed))
                .or_default() += 1;
        }
        let secs = took.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        self.duration_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, rules: usize) -> String {
        let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut out = String::from("# HELP tollgate_admission_requests_total Admission reviews answered.\n# TYPE tollgate_admission_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((op, kind, allowed), n) in m.iter() {
                out.push_str(&format!(
                    "tollgate_admission_requests_total{{operation=\"{}\",kind=\"{}\",allowed=\"{allowed}\"}} {n}\n",
                    label(op),
                    label(kind)
                ));
            }
        }
        out.push_str("# HELP tollgate_admission_duration_seconds Time to answer a review.\n# TYPE tollgate_admission_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            out.push_str(&format!(
                "tollgate_admission_duration_seconds_bucket{{le=\"{bound}\"}} {}\n",
                bucket.load(Ordering::Relaxed)
            ));
        }
        let count = self.duration_count.load(Ordering::Relaxed);
        #[allow(
            clippy::cast_precision_loss,
            reason = "a sum of microseconds, shown as seconds"
        )]
        let sum = self.duration_micros.load(Ordering::Relaxed) as f64 / 1e6;
        out.push_str(&format!(
            "tollgate_admission_duration_seconds_bucket{{le=\"+Inf\"}} {count}\ntollgate_admission_duration_seconds_sum {sum}\ntollgate_admission_duration_seconds_count {count}\n"
        ));
        out.push_str(&format!(
            "# HELP tollgate_policy_reloads_total Policy reloads (SIGHUP) by result.\n# TYPE tollgate_policy_reloads_total counter\ntollgate_policy_reloads_total{{result=\"success\"}} {}\ntollgate_policy_reloads_total{{result=\"failure\"}} {}\n",
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP tollgate_policy_rules Rules in the serving policy set.\n# TYPE tollgate_policy_rules gauge\ntollgate_policy_rules {rules}\n"
        ));
        out
    }
}

/// What every connection shares.
struct State {
    /// The serving policy set; a reload swaps the `Arc`, requests in flight keep theirs.
    set: RwLock<Arc<PolicySet>>,
    rules: AtomicU64,
    metrics: Metrics,
    /// Evaluations run on blocking threads, at most this many at once.
    evaluations: Arc<Semaphore>,
    /// One reload at a time (SIGHUP and the file watcher may both ask): the last compiled is
    /// the last read.
    reloading: tokio::sync::Mutex<()>,
    log: Log,
}

impl State {
    fn current(&self) -> Arc<PolicySet> {
        match self.set.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// How often the policy files, the configuration and the certificate are looked at.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The certificate and key, read from their PEM files, checked to belong together.
fn certified_key(cert: &Path, key: &Path) -> Result<rustls::sign::CertifiedKey, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &Path, e: &dyn std::fmt::Display| {
        usage(format!(
            "{}: cannot read the TLS material: {e}",
            what.display()
        ))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, &e))?;
    if chain.is_empty() {
        return Err(usage(format!("{}: no certificate in it", cert.display())));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    rustls::sign::CertifiedKey::from_der(chain, key_der, &rustls::crypto::ring::default_provider())
        .map_err(|e| bad(key, &e))
}

/// The serving certificate, swapped whole when its files change (cert-manager renews it in
/// place; kubelet swaps a Secret volume's `..data` link). Handshakes in progress keep theirs.
#[derive(Debug)]
struct Certificate(RwLock<Arc<rustls::sign::CertifiedKey>>);

impl rustls::server::ResolvesServerCert for Certificate {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.read().ok().map(|c| Arc::clone(&c))
    }
}

fn tls_config(certificate: Arc<Certificate>) -> Result<rustls::ServerConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| usage(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// One file's identity: path, size, modification time and inode.
type Stamp = (PathBuf, u64, (i64, i64), u64);

/// What identifies the current content of some files (following links): the stamp of every
/// file below them, in order. A change means: read them again.
fn fingerprint(paths: &[PathBuf]) -> Vec<Stamp> {
    use std::os::unix::fs::MetadataExt;
    fn walk(p: &Path, out: &mut Vec<Stamp>, depth: usize) {
        let Ok(meta) = std::fs::metadata(p) else {
            out.push((p.to_path_buf(), 0, (0, 0), 0));
            return;
        };
        if meta.is_dir() && depth < 32 {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            entries.sort();
            for e in entries {
                // A ConfigMap's hidden `..` directories are reached through its links.
                if e.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    continue;
                }
                walk(&e, out, depth.saturating_add(1));
            }
        } else {
            out.push((
                p.to_path_buf(),
                meta.len(),
                (meta.mtime(), meta.mtime_nsec()),
                meta.ino(),
            ));
        }
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, 0);
    }
    out
}

pub(crate) fn serve(a: ServeArgs) -> Result<u8, Error> {
    let log = Log {
        json: match a.log_format.as_str() {
            "json" => true,
            "text" => false,
            other => {
                return Err(usage(format!(
                    "unknown --log-format `{other}`: use text or json"
                )))
            }
        },
    };
    let config = load_config(a.policies.config.as_deref())?;
    let listen = a
        .listen
        .clone()
        .or_else(|| config.webhook.listen.clone())
        .unwrap_or_else(|| "0.0.0.0:8443".to_owned());
    let addr: SocketAddr = listen.parse().map_err(|_| {
        usage(format!(
            "--listen `{listen}` is not an address (127.0.0.1:8443)"
        ))
    })?;
    let (Some(cert), Some(key)) = (
        a.tls_cert
            .clone()
            .or_else(|| config.webhook.tls_cert.clone()),
        a.tls_key.clone().or_else(|| config.webhook.tls_key.clone()),
    ) else {
        return Err(usage(
            "the webhook serves HTTPS only: give --tls-cert and --tls-key (or webhook.tls_cert and webhook.tls_key); `tollgate webhook certs` makes a pair",
        ));
    };
    let certificate = Arc::new(Certificate(RwLock::new(Arc::new(certified_key(
        &cert, &key,
    )?))));
    let tls = Arc::new(tls_config(Arc::clone(&certificate))?);
    let watched = a.policies.watched(&config);
    let set = policy_set_with(&a.policies, &config)?;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let state = Arc::new(State {
        rules: AtomicU64::new(set.rules().len() as u64),
        set: RwLock::new(Arc::new(set)),
        metrics: Metrics::default(),
        evaluations: Arc::new(Semaphore::new(cores.saturating_mul(2))),
        reloading: tokio::sync::Mutex::new(()),
        log,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Evaluation recurses with the input's depth: the same stack as the CLI's threads.
        .thread_stack_size(crate::STACK_BYTES)
        .build()
        .map_err(|e| usage(format!("cannot start the server: {e}")))?;
    let watch = Watch {
        policies: watched,
        cert,
        key,
        certificate,
    };
    runtime.block_on(run(addr, tls, state, a.policies, watch))
}

/// What the server reloads when it changes.
struct Watch {
    policies: Vec<PathBuf>,
    cert: PathBuf,
    key: PathBuf,
    certificate: Arc<Certificate>,
}

/// Looks at the watched files every [`WATCH_INTERVAL`]; a change to the policies or the
/// configuration reloads the policy set, a change to the certificate or key the certificate.
async fn watch(state: Arc<State>, policies: Arc<PolicyArgs>, w: Watch) {
    let look = |paths: Vec<PathBuf>| async move {
        tokio::task::spawn_blocking(move || fingerprint(&paths))
            .await
            .unwrap_or_default()
    };
    let tls_files = vec![w.cert.clone(), w.key.clone()];
    let mut seen_policies = look(w.policies.clone()).await;
    let mut seen_tls = look(tls_files.clone()).await;
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = look(w.policies.clone()).await;
        if now != seen_policies {
            seen_policies = now;
            reload(Arc::clone(&state), Arc::clone(&policies)).await;
        }
        let now = look(tls_files.clone()).await;
        if now != seen_tls {
            seen_tls = now;
            let (cert, key) = (w.cert.clone(), w.key.clone());
            match tokio::task::spawn_blocking(move || certified_key(&cert, &key)).await {
                Ok(Ok(k)) => {
                    if let Ok(mut c) = w.certificate.0.write() {
                        *c = Arc::new(k);
                    }
                    state.log.line("certificate_reloaded", &[]);
                }
                // A half-written pair (the key renewed before the certificate) is tried
                // again on the next look; the old one keeps serving.
                Ok(Err(e)) => {
                    seen_tls = Vec::new();
                    state
                        .log
                        .line("certificate_reload_failed", &[("error", e.to_string())]);
                }
                Err(_) => seen_tls = Vec::new(),
            }
        }
    }
}

async fn run(
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    policies: PolicyArgs,
    watched: Watch,
) -> Result<u8, Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| usage(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_or(addr, |a| a);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let signal_err = |e: std::io::Error| usage(format!("cannot handle signals: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(signal_err)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_err)?;
    let mut hup = signal(SignalKind::hangup()).map_err(signal_err)?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let policies = Arc::new(policies);
    tokio::spawn(watch(Arc::clone(&state), Arc::clone(&policies), watched));
    state.log.line(
        "listening",
        &[
            ("addr", bound.to_string()),
            ("rules", state.rules.load(Ordering::Relaxed).to_string()),
        ],
    );
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else {
                    // Out of file descriptors, most likely: let connections close first
                    // rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let acceptor = acceptor.clone();
                let state = Arc::clone(&state);
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
                        state.log.line("tls_failed", &[("peer", peer.to_string())]);
                        return;
                    };
                    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    builder
                        .http1()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HANDSHAKE_TIMEOUT);
                    builder.http2().timer(TokioTimer::new());
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, std::convert::Infallible>(route(req, &state).await) }
                    });
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                });
            }
            // Compiling runs beside the accept loop, which keeps taking connections.
            _ = hup.recv() => {
                tokio::spawn(reload(Arc::clone(&state), Arc::clone(&policies)));
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    drop(listener);
    state.log.line(
        "draining",
        &[("timeout_s", DRAIN_TIMEOUT.as_secs().to_string())],
    );
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_ok();
    state
        .log
        .line("stopped", &[("drained", drained.to_string())]);
    Ok(0)
}

/// Compiles the policies again off the request path and swaps them in; on failure the old set
/// keeps serving.
async fn reload(state: Arc<State>, policies: Arc<PolicyArgs>) {
    let _one_at_a_time = state.reloading.lock().await;
    let p = Arc::clone(&policies);
    match tokio::task::spawn_blocking(move || policy_set(&p)).await {
        Ok(Ok(set)) => {
            state
                .rules
                .store(set.rules().len() as u64, Ordering::Relaxed);
            if let Ok(mut current) = state.set.write() {
                *current = Arc::new(set);
            }
            state.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
            state.log.line(
                "reloaded",
                &[("rules", state.rules.load(Ordering::Relaxed).to_string())],
            );
        }
        Ok(Err(e)) => {
            state.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
            state.log.line(
                "reload_failed",
                &[("error", e.to_string().replace('\n', "; "))],
            );
        }
        Err(_) => {
            state.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json(value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn route(req: Request<Incoming>, state: &Arc<State>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        // Serving means the policies compiled and the certificate loaded: both happen before
        // the listener opens, and a failed reload keeps the old set.
        (&Method::GET, "/readyz") => text(StatusCode::OK, "ready\n"),
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            state
                .metrics
                .render(usize::try_from(state.rules.load(Ordering::Relaxed)).unwrap_or(0)),
        ),
        (&Method::POST, "/validate") => validate(req, state).await,
        (_, "/validate" | "/healthz" | "/readyz" | "/metrics") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: POST /validate, GET /healthz, /readyz, /metrics\n",
        ),
    }
}

/// `?timeout=10s` as the API server appends it (`s`, `ms`, `m`).
fn timeout_of(query: Option<&str>) -> Duration {
    let Some(value) = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("timeout="))
    else {
        return DEFAULT_TIMEOUT;
    };
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((value, "s"), |i| value.split_at(i));
    let n: f64 = number.parse().unwrap_or(10.0);
    let secs = match unit {
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => n,
    };
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(30))
        .unwrap_or(DEFAULT_TIMEOUT)
}

async fn validate(req: Request<Incoming>, state: &Arc<State>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let budget = timeout_of(req.uri().query());
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the review is larger than 3 MiB\n",
        );
    }
    let body = match tokio::time::timeout(
        budget,
        Limited::new(req.into_body(), MAX_BODY_BYTES).collect(),
    )
    .await
    {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the review is larger than 3 MiB\n",
            )
        }
        Ok(Err(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                "the request body could not be read\n",
            )
        }
        Err(_) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time\n",
            )
        }
    };
    let review: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}\n"),
            )
        }
    };
    let request = match AdmissionRequest::from_review(&review) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    // The whole answer, waiting for a free evaluation slot included, fits in the budget.
    let evaluate = async {
        let permit = Arc::clone(&state.evaluations)
            .acquire_owned()
            .await
            .map_err(|_| ())?;
        let set = state.current();
        let req_for_eval = request.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            set.admit(&req_for_eval, &tollgate_core::suppress::today_utc())
        })
        .await
        .map_err(|_| ())
    };
    let remaining = budget.saturating_sub(started.elapsed());
    let (response, allowed, denied) = match tokio::time::timeout(remaining, evaluate).await {
        Ok(Ok(verdict)) => {
            let denied: Vec<String> = verdict
                .denied_by
                .iter()
                .map(|f| f.rule_id.clone())
                .collect();
            (verdict.to_review(), verdict.allowed, denied)
        }
        // The evaluation goes on on its thread (bounded by the per-rule time limit); the API
        // server gets an answer now, not a hung connection.
        Ok(Err(_)) | Err(_) => (
            serde_json::json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {
                    "uid": request.uid,
                    "allowed": false,
                    "status": {"code": 500, "message": format!(
                        "tollgate could not evaluate the policies within the request's timeout ({} ms)",
                        budget.as_millis()
                    )}
                }
            }),
            false,
            vec!["(timeout)".to_owned()],
        ),
    };
    let took = started.elapsed();
    state
        .metrics
        .observe(&request.operation, &request.kind, allowed, took);
    state.log.line(
        "review",
        &[
            ("uid", request.uid.clone()),
            ("operation", request.operation.clone()),
            ("kind", request.kind.clone()),
            ("namespace", request.namespace.clone().unwrap_or_default()),
            ("name", request.name.clone().unwrap_or_default()),
            ("allowed", allowed.to_string()),
            ("denied_by", denied.join(",")),
            ("ms", format!("{:.1}", took.as_secs_f64() * 1000.0)),
        ],
    );
    json(&response)
}

#[derive(Args)]
pub(crate) struct CertsArgs {
    /// The webhook's Service name.
    #[arg(long, value_name = "NAME")]
    service: String,
    /// Its namespace.
    #[arg(long, value_name = "NS")]
    namespace: String,
    /// Directory to write ca.crt, tls.crt, tls.key and cabundle-patch.json into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Also valid for this IP address (repeatable; for tests on 127.0.0.1).
    #[arg(long, value_name = "IP")]
    ip: Vec<std::net::IpAddr>,
}

/// A CA valid ten years and a serving certificate valid one year, for the Service's DNS names
/// (`NAME`, `NAME.NS`, `NAME.NS.svc`, `NAME.NS.svc.cluster.local`), with ECDSA P-256 keys.
pub(crate) fn certs(a: &CertsArgs) -> Result<u8, Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let failed = |e: rcgen::Error| usage(format!("cannot make the certificates: {e}"));
    let today = tollgate_core::suppress::today_utc();
    let (y, m, d) = (
        today
            .get(..4)
            .and_then(|s| s.parse::<i32>().ok())
            .unwrap_or(2026),
        today
            .get(5..7)
            .and_then(|s| s.parse::<u8>().ok())
            .unwrap_or(1),
        today
            .get(8..10)
            .and_then(|s| s.parse::<u8>().ok())
            .unwrap_or(1),
    );
    // The 1st of the month avoids days a later year does not have (29 February).
    let valid = |years: i32| {
        (
            rcgen::date_time_ymd(y, m, d),
            rcgen::date_time_ymd(y.saturating_add(years), m, 1),
        )
    };
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("tollgate webhook CA ({}/{})", a.namespace, a.service),
    );
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (ca.not_before, ca.not_after) = valid(10);
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
    let names = vec![
        a.service.clone(),
        format!("{}.{}", a.service, a.namespace),
        format!("{}.{}.svc", a.service, a.namespace),
        format!("{}.{}.svc.cluster.local", a.service, a.namespace),
    ];
    let key = KeyPair::generate().map_err(failed)?;
    let mut leaf = CertificateParams::new(names.clone()).map_err(failed)?;
    leaf.subject_alt_names
        .extend(a.ip.iter().map(|ip| SanType::IpAddress(*ip)));
    leaf.distinguished_name.push(
        DnType::CommonName,
        format!("{}.{}.svc", a.service, a.namespace),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    (leaf.not_before, leaf.not_after) = valid(1);
    let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(failed)?;
    let write = |name: &str, text: &str, mode: u32| -> Result<(), Error> {
        let path = a.out.join(name);
        tollgate_sops::fsio::write_atomic(&path, text.as_bytes(), mode)
            .map_err(super::query::written(&path.display().to_string()))
    };
    std::fs::create_dir_all(&a.out)
        .map_err(|e| usage(format!("{}: cannot create: {e}", a.out.display())))?;
    let ca_pem = ca_cert.pem();
    write("ca.crt", &ca_pem, 0o644)?;
    write("tls.crt", &leaf_cert.pem(), 0o644)?;
    // The CA's key is not kept: nothing else is ever signed with it.
    write("tls.key", &key.serialize_pem(), 0o600)?;
    let bundle = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes())
    };
    let patch = serde_json::json!([{
        "op": "add",
        "path": "/webhooks/0/clientConfig/caBundle",
        "value": bundle,
    }]);
    write("cabundle-patch.json", &format!("{patch}\n"), 0o644)?;
    let summary = format!(
        "wrote {dir}/ca.crt, tls.crt, tls.key (0600) and cabundle-patch.json for {names}\n",
        dir = a.out.display(),
        names = names.join(", ")
    );
    crate::output::stdout(summary.as_bytes()).map_err(super::query::written("stdout"))?;
    Ok(0)
}
