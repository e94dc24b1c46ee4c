//! The admission webhook end to end: the server started on 127.0.0.1 with a certificate from
//! `tollgate webhook certs`, and a client playing the API server over TLS. One verdict: each
//! fixture object is judged by `tollgate check` on its own file, by `tollgate webhook review`
//! and by the running server, and the three must agree. Then bad input, reload and shutdown.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The policies of every engine: Rego (fixtures/check/policies), Kyverno
/// (fixtures/kyverno/policies), CEL (fixtures/cel/policies: a ValidatingPolicy and a
/// ValidatingAdmissionPolicy with binding and params), the bundled pack and the built-in
/// checks.
fn policy_flags() -> Vec<String> {
    [
        "--policy",
        "fixtures/check/policies",
        "--policy",
        "fixtures/kyverno/policies",
        "--policy",
        "fixtures/cel/policies",
        "--pack",
        "k8s",
        "--pack",
        "images",
        "--pack",
        "pss-baseline",
        "--pack",
        "pss-restricted",
        "--pack",
        "secrets",
        "--pack",
        "rbac",
        "--pack",
        "netpol",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// A CA and a serving certificate for 127.0.0.1 from `tollgate webhook certs`, into `out`.
fn make_certs(out: &Path, namespace: &str) {
    ok(run(tollgate()
        .args([
            "webhook",
            "certs",
            "--service",
            "tollgate",
            "--namespace",
            namespace,
        ])
        .args(["--ip", "127.0.0.1", "--out"])
        .arg(out)));
}

struct Server {
    child: Child,
    addr: String,
    client: Arc<rustls::ClientConfig>,
    dir: tempfile::TempDir,
    log: std::sync::Mutex<std::sync::mpsc::Receiver<String>>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        make_certs(&certs, "tollgate-system");
        let mut child = tollgate()
            .args(["webhook", "serve", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(certs.join("tls.crt"))
            .arg("--tls-key")
            .arg(certs.join("tls.key"))
            .args(policy_flags())
            .args(extra)
            .current_dir(repo())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the server says where it listens");
            if let Some(rest) = line.split(" listening addr=").nth(1) {
                break rest.split(' ').next().unwrap().to_owned();
            }
        };
        let mut roots = rustls::RootCertStore::empty();
        let ca = std::fs::read(certs.join("ca.crt")).unwrap();
        use rustls::pki_types::pem::PemObject;
        for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
            roots.add(c.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Server {
            child,
            addr,
            client: Arc::new(client),
            dir,
            log: std::sync::Mutex::new(rx),
        }
    }

    /// One HTTP/1.1 request over TLS, verified against the generated CA for 127.0.0.1.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        self.send(method, path, body.len(), body)
    }

    /// A POST whose Content-Length says `declared` bytes, of which `body` is sent.
    fn request_declaring(&self, path: &str, declared: usize, body: &[u8]) -> (u16, String) {
        self.send("POST", path, declared, body)
    }

    /// A TLS connection verified against the generated CA for 127.0.0.1 (the handshake runs
    /// on first use).
    fn connect(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let tcp = TcpStream::connect(&self.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(Arc::clone(&self.client), name).unwrap();
        rustls::StreamOwned::new(conn, tcp)
    }

    /// Sends a request and ignores what happens to it (the server may cut it short).
    fn send_and_forget(&self, path: &str, body: &[u8]) {
        let mut tls = self.connect();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = tls.write_all(head.as_bytes());
        let _ = tls.write_all(body);
        let mut sink = Vec::new();
        let _ = tls.read_to_end(&mut sink);
    }

    fn send(&self, method: &str, path: &str, declared: usize, body: &[u8]) -> (u16, String) {
        let mut tls = self.connect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).unwrap();
        // A server refusing the body (413) answers and closes before it is all sent.
        let _ = tls.write_all(body).and_then(|()| tls.flush());
        let mut raw = Vec::new();
        // A peer closing without close_notify after the response is not a failure here.
        let _ = tls.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn validate(&self, review: &Value) -> Value {
        let (status, body) = self.request(
            "POST",
            "/validate?timeout=10s",
            review.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn signal(&self, sig: &str) {
        let o = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(o.success());
    }

    /// Waits for a log line containing `what`.
    fn wait_log(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let next = self
                .log
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_millis(200));
            if let Ok(line) = next {
                if line.contains(what) {
                    return line;
                }
            }
        }
        panic!("no log line with {what:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn review_of(uid: &str, operation: &str, object: &Value, old: Option<&Value>) -> Value {
    let kind = object["kind"].as_str().unwrap_or("");
    let mut request = json!({
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": kind},
        "namespace": object["metadata"]["namespace"],
        "name": object["metadata"]["name"],
        "operation": operation,
        "userInfo": {"username": "ci", "groups": ["system:authenticated"]},
        "object": object,
    });
    if let Some(old) = old {
        request["oldObject"] = old.clone();
    }
    if operation == "DELETE" {
        request["oldObject"] = object.clone();
        request["object"] = Value::Null;
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// Every document of the fixtures of every engine, as JSON objects with a label.
fn fixture_objects() -> Vec<(String, Value)> {
    let inv = tollgate_core::manifest::load_paths(
        &[
            repo().join("fixtures/check/manifests"),
            repo().join("fixtures/kyverno/manifests"),
            repo().join("fixtures/cel/manifests"),
            repo().join("fixtures/rules"),
        ],
        &[],
    );
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    inv.resources
        .into_iter()
        .map(|r| {
            (
                format!("{} document {}", r.origin.file, r.origin.document),
                r.object,
            )
        })
        .collect()
}

/// The ids of error findings `check` reports on one object alone, without the built-in
/// rules that judge the whole set (admission sees one object).
fn check_alone(dir: &Path, i: usize, object: &Value) -> Vec<String> {
    let file = dir.join(format!("object-{i}.json"));
    std::fs::write(&file, object.to_string()).unwrap();
    let o = run(tollgate()
        .arg("check")
        .args(policy_flags())
        .args(["--format", "json"])
        .arg(&file)
        .current_dir(repo()));
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut ids: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["rule_id"].as_str().unwrap().to_owned())
        .filter(|id| {
            !tollgate_core::checks::RULES
                .iter()
                .any(|r| r.inventory && r.id == id)
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The rule ids a response's status message lists (`denied by tollgate: [ID] message;
/// [ID] message`): a `[` right after `: ` or `; ` opens one (messages may hold `rules[0]`).
fn denied_ids(response: &Value) -> Vec<String> {
    let message = response["response"]["status"]["message"]
        .as_str()
        .unwrap_or("");
    let mut ids: Vec<String> = message
        .match_indices('[')
        .filter(|(at, _)| {
            let before = &message[..*at];
            before.ends_with(": ") || before.ends_with("; ")
        })
        .filter_map(|(at, _)| {
            message[at + 1..]
                .split_once(']')
                .map(|(id, _)| id.to_owned())
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn check_review_and_the_server_give_one_verdict_on_every_fixture() {
    let server = Server::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let objects = fixture_objects();
    assert!(objects.len() >= 40, "only {} objects", objects.len());
    let mut denied = 0;
    for (i, (label, object)) in objects.iter().enumerate() {
        let uid = format!("parity-{i}");
        let review = review_of(&uid, "CREATE", object, None);
        let served = server.validate(&review);
        assert_eq!(served["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(served["kind"], "AdmissionReview");
        assert_eq!(served["response"]["uid"], uid.as_str(), "{label}");
        let file = tmp.path().join(format!("review-{i}.json"));
        std::fs::write(&file, review.to_string()).unwrap();
        let offline = run(tollgate()
            .args(["webhook", "review"])
            .arg(&file)
            .args(policy_flags())
            .current_dir(repo()));
        let offline_json: Value = serde_json::from_slice(&offline.stdout).unwrap();
        assert_eq!(offline_json, served, "{label}: review and server differ");
        let allowed = served["response"]["allowed"].as_bool().unwrap();
        assert_eq!(code(&offline), i32::from(!allowed), "{label}");
        let expected = check_alone(tmp.path(), i, object);
        assert_eq!(
            denied_ids(&served),
            expected,
            "{label}: check and admission differ"
        );
        assert_eq!(allowed, expected.is_empty(), "{label}");
        if !allowed {
            denied += 1;
            assert_eq!(served["response"]["status"]["code"], 403, "{label}");
        }
    }
    // The fixtures hold both outcomes, for every engine.
    assert!(denied >= 10 && denied < objects.len(), "{denied} denied");
}

#[test]
fn update_and_delete_follow_the_operation() {
    let server = Server::start(&[]);
    let text =
        std::fs::read_to_string(repo().join("fixtures/admission/pod-latest-create.json")).unwrap();
    let create: Value = serde_json::from_str(&text).unwrap();
    let object = create["request"]["object"].clone();
    // CREATE of a Pod on nginx:latest without runAsNonRoot: denied by IMG001 and the
    // Kyverno no-latest rule; POD004 (no memory limit) and the restricted Pod Security
    // controls (PSS014: no runAsNonRoot) are warnings.
    let r = server.validate(&create);
    assert_eq!(r["response"]["allowed"], false);
    assert!(r["response"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().starts_with("POD004: ")));
    assert!(r["response"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().starts_with("PSS014: ")));
    // UPDATE with the old object: judged the same way (the object is still what it is).
    let update = review_of("u-1", "UPDATE", &object, Some(&object));
    assert_eq!(server.validate(&update)["response"]["allowed"], false);
    // DELETE: no rule of these fixtures names DELETE, so it is allowed.
    let delete = review_of("d-1", "DELETE", &object, None);
    let r = server.validate(&delete);
    assert_eq!(r["response"]["allowed"], true, "{r}");
    assert_eq!(r["response"]["uid"], "d-1");
    // kube-system is exempt by default: admitted without evaluation.
    let mut exempt = object.clone();
    exempt["metadata"]["namespace"] = json!("kube-system");
    let r = server.validate(&review_of("k-1", "CREATE", &exempt, None));
    assert_eq!(r["response"]["allowed"], true, "{r}");
}

#[test]
fn bad_input_gets_an_answer_and_the_server_keeps_serving() {
    let server = Server::start(&[]);
    let (s, body) = server.request("POST", "/validate", b"{not json");
    assert_eq!(s, 400);
    assert!(body.contains("not JSON"), "{body}");
    let (s, body) = server.request(
        "POST",
        "/validate",
        br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}"#,
    );
    assert_eq!(s, 400);
    assert!(body.contains("admission.k8s.io/v1"), "{body}");
    let (s, _) = server.request(
        "POST",
        "/validate",
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
    );
    assert_eq!(s, 400);
    // 10 MiB declared: refused from Content-Length, before reading the body.
    let (s, _) = server.request_declaring("/validate", 10 * 1024 * 1024, b"{}");
    assert_eq!(s, 413);
    // 10 MiB sent: the server stops reading at 3 MiB (the client may see the 413 or a reset,
    // depending on how much it had written) and goes on serving.
    let big = vec![b' '; 10 * 1024 * 1024];
    server.send_and_forget("/validate", &big);
    assert_eq!(server.request("GET", "/nowhere", b"").0, 404);
    assert_eq!(server.request("GET", "/validate", b"").0, 405);

    // Clients that misbehave: connect and say nothing, send half a TLS handshake, or a
    // truncated body and go away; 1,000 of them at once.
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(&server.addr).unwrap());
    }
    {
        let mut half = TcpStream::connect(&server.addr).unwrap();
        half.write_all(&[0x16, 0x03, 0x01, 0x00]).unwrap();
        let mut tls = server.connect();
        tls.write_all(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"api")
            .unwrap();
        tls.flush().unwrap();
    }
    // Meanwhile the server answers.
    let (s, body) = server.request("GET", "/readyz", b"");
    assert_eq!((s, body.as_str()), (200, "ready\n"));
    let text =
        std::fs::read_to_string(repo().join("fixtures/admission/pod-latest-create.json")).unwrap();
    let r = server.validate(&serde_json::from_str(&text).unwrap());
    assert_eq!(r["response"]["allowed"], false);
    drop(idle);
    let (s, metrics) = server.request("GET", "/metrics", b"");
    assert_eq!(s, 200);
    assert!(
        metrics.contains("tollgate_admission_requests_total{operation=\"CREATE\",kind=\"Pod\",allowed=\"false\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_admission_duration_seconds_count 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tollgate_policy_rules "), "{metrics}");
}

/// A Rego policy that denies pods named `web`, and one that denies nothing.
const DENY_WEB: &str = "package main\n\nimport rego.v1\n\ndeny contains \"no pods named web\" if { input.metadata.name == \"web\" }\n";
const DENY_NOTHING: &str = "package main\n\nimport rego.v1\n\ndeny contains \"x\" if { false }\n";

/// A Pod named web that the bundled pack finds nothing wrong with: only the reload tests'
/// own rule can deny it.
fn web_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "a"},
        "spec": {"containers": [{"name": "c", "image": "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "securityContext": {"runAsNonRoot": true}, "resources": {"limits": {"memory": "64Mi"}}}]}})
}

#[test]
fn sighup_reloads_the_policies_and_sigterm_drains_and_exits_0() {
    let policies = tempfile::tempdir().unwrap();
    let rego = policies.path().join("p.rego");
    std::fs::write(&rego, DENY_WEB).unwrap();
    let mut server = Server::start(&["--policy", policies.path().to_str().unwrap()]);
    let pod = web_pod();
    let r = server.validate(&review_of("r-1", "CREATE", &pod, None));
    assert!(denied_ids(&r).contains(&"main/deny".to_owned()), "{r}");

    // A policy that does not compile: the old set keeps serving.
    std::fs::write(&rego, "package main\n\ndeny contains msg if {\n").unwrap();
    server.signal("-HUP");
    server.wait_log("reload_failed");
    let r = server.validate(&review_of("r-2", "CREATE", &pod, None));
    assert!(denied_ids(&r).contains(&"main/deny".to_owned()), "{r}");

    // A good one: applies to the next request.
    std::fs::write(&rego, DENY_NOTHING).unwrap();
    server.signal("-HUP");
    server.wait_log("reloaded");
    let r = server.validate(&review_of("r-3", "CREATE", &pod, None));
    assert!(!denied_ids(&r).contains(&"main/deny".to_owned()), "{r}");
    let (_, metrics) = server.request("GET", "/metrics", b"");
    // SIGHUP and the file watcher (every 2 s) may both have seen each change: at least one
    // reload of each outcome.
    let count = |result: &str| -> u64 {
        let key = format!("tollgate_policy_reloads_total{{result=\"{result}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(count("success") >= 1 && count("failure") >= 1, "{metrics}");

    server.signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let _ = &server.dir;
}

#[test]
fn changed_files_reload_the_policies_and_the_certificate_while_requests_run() {
    let policies = tempfile::tempdir().unwrap();
    let rego = policies.path().join("p.rego");
    std::fs::write(&rego, DENY_NOTHING).unwrap();
    let server = Arc::new(Server::start(&[
        "--policy",
        policies.path().to_str().unwrap(),
    ]));
    let pod = web_pod();
    assert!(
        !denied_ids(&server.validate(&review_of("w-0", "CREATE", &pod, None)))
            .contains(&"main/deny".to_owned())
    );
    // Requests keep running while the files change: none may fail.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (server, stop, pod) = (Arc::clone(&server), Arc::clone(&stop), pod.clone());
        std::thread::spawn(move || {
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = server.validate(&review_of("w-load", "CREATE", &pod, None));
                assert_eq!(r["response"]["uid"], "w-load");
                answered += 1;
            }
            answered
        })
    };
    // No SIGHUP: the policy file is watched (every 2 s).
    std::fs::write(&rego, DENY_WEB).unwrap();
    server.wait_log("reloaded");
    let r = server.validate(&review_of("w-1", "CREATE", &pod, None));
    assert!(denied_ids(&r).contains(&"main/deny".to_owned()), "{r}");

    // A new certificate from another CA, written over the served files: new connections get
    // it (a client trusting only the new CA connects; the old client no longer can).
    let certs = server.dir.path().join("certs");
    let fresh = server.dir.path().join("fresh");
    make_certs(&fresh, "other");
    std::fs::copy(fresh.join("tls.key"), certs.join("tls.key.new")).unwrap();
    std::fs::copy(fresh.join("tls.crt"), certs.join("tls.crt.new")).unwrap();
    std::fs::rename(certs.join("tls.key.new"), certs.join("tls.key")).unwrap();
    std::fs::rename(certs.join("tls.crt.new"), certs.join("tls.crt")).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = load.join().expect("no request failed during the reload");
    assert!(answered > 0);
    server.wait_log("certificate_reloaded");
    // Fresh clients (no session to resume: a resumed session skips the certificate).
    let trusting = |ca_file: &Path| {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        let ca = std::fs::read(ca_file).unwrap();
        for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
            roots.add(c.unwrap()).unwrap();
        }
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    };
    let handshake = |config: Arc<rustls::ClientConfig>| {
        let mut tcp = TcpStream::connect(&server.addr).unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return false;
            }
        }
        true
    };
    assert!(
        handshake(trusting(&fresh.join("ca.crt"))),
        "the new certificate is served"
    );
    assert!(
        !handshake(trusting(&certs.join("ca.crt"))),
        "the old CA no longer verifies"
    );
}

#[test]
fn an_evaluation_past_the_requests_timeout_is_answered_not_hung() {
    let policies = tempfile::tempdir().unwrap();
    // 25 million iterations: seconds of work, past the 1 s the request allows.
    std::fs::write(
        policies.path().join("slow.rego"),
        "package main\n\nimport rego.v1\n\ndeny contains \"never\" if {\n  count([1 | some a in numbers.range(1, 5000); some b in numbers.range(1, 5000); a == b + 7000]) > 0\n}\n",
    )
    .unwrap();
    let server = Server::start(&["--policy", policies.path().to_str().unwrap()]);
    let started = Instant::now();
    let (status, body) = server.request(
        "POST",
        "/validate?timeout=1s",
        review_of("t-1", "CREATE", &web_pod(), None)
            .to_string()
            .as_bytes(),
    );
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    // Denied with 500 and the reason, within about the request's own timeout.
    assert_eq!(r["response"]["uid"], "t-1");
    assert_eq!(r["response"]["allowed"], false);
    assert_eq!(r["response"]["status"]["code"], 500);
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("within the request's timeout (1000 ms)"),
        "{r}"
    );
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    // And the server still answers.
    assert_eq!(server.request("GET", "/healthz", b"").0, 200);
}

#[test]
fn serving_without_tls_material_is_refused() {
    let o = run(tollgate()
        .args(["webhook", "serve", "--listen", "127.0.0.1:0"])
        .current_dir(repo()));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("HTTPS only"), "{}", stderr(&o));
}

#[test]
fn the_demo_deployment_is_denied_at_admission_for_what_check_reports() {
    // check on the rendered production overlay reports DEMO001 (error) and DEMO003
    // (warning) on this Deployment (tests/check_cli.rs); admission denies for DEMO001 and
    // warns with DEMO003.
    let demo = repo().join("fixtures/demo");
    let o = run(tollgate()
        .args([
            "webhook",
            "review",
            "admission/podinfo-create.json",
            "--policy",
            "policy",
        ])
        .current_dir(&demo));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(denied_ids(&r), ["DEMO001"]);
    assert_eq!(
        r["response"]["warnings"],
        json!(["DEMO003: image ghcr.io/stefanprodan/podinfo:6.7.1 is not pinned by digest"])
    );
}

#[test]
fn kubectl_exec_is_judged_as_the_pods_exec_subresource() {
    // The API server sends `kubectl exec` as a CONNECT of PodExecOptions for the resource
    // `pods`, subresource `exec`. Worked: `no-exec` matches `Pod/exec` and denies every
    // CONNECT: denied; `pods-only` matches `Pod` (the resource, not its subresources): it
    // does not apply. The same policies allow a plain Pod CREATE (no-exec does not match
    // a Pod; pods-only passes a Pod with the label it wants).
    let dir = tempfile::tempdir().unwrap();
    let rule = |name: &str, kind: &str| {
        format!("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: r\n      match:\n        any:\n          - resources:\n              kinds: [{kind}]\n      validate:\n        message: {name} denied it\n        deny:\n          conditions:\n            any:\n              - key: \"{{{{ request.operation }}}}\"\n                operator: Equals\n                value: CONNECT\n")
    };
    std::fs::write(
        dir.path().join("policies.yaml"),
        [rule("no-exec", "Pod/exec"), rule("pods-only", "Pod")].join("---\n"),
    )
    .unwrap();
    let exec = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "exec-1",
        "kind": {"group": "", "version": "v1", "kind": "PodExecOptions"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "subResource": "exec",
        "namespace": "prod", "name": "web", "operation": "CONNECT",
        "userInfo": {"username": "dev", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "v1", "kind": "PodExecOptions", "stdin": true, "tty": true,
                   "container": "web", "command": ["sh"]}}});
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}});
    let review = |name: &str, v: &Value| {
        let f = dir.path().join(name);
        std::fs::write(&f, v.to_string()).unwrap();
        let o = run(tollgate()
            .args(["webhook", "review"])
            .arg(&f)
            .args(["--policy", "policies.yaml"])
            .current_dir(dir.path()));
        let out: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (code(&o), out)
    };
    let (c, out) = review("exec.json", &exec);
    assert_eq!(c, 1, "{out:#}");
    let message = out["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(message.contains("no-exec/r"), "{message}");
    assert!(!message.contains("pods-only"), "{message}");
    let (c, out) = review("pod.json", &review_of("pod-1", "CREATE", &pod, None));
    assert_eq!(c, 0, "{out:#}");
}
