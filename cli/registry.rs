//! The HTTP transport image-signature checks reach registries through: ureq over rustls
//! (ring, as the webhook), HTTPS with the Mozilla roots (or `SSL_CERT_FILE`'s, for a private
//! CA), every call bounded in time and size. The library decides what to ask; this only
//! moves bytes, so the core stays free of a TLS stack.

use std::sync::Arc;
use std::time::Duration;
use tollgate_core::signature::{Access, Response, Transport};

/// A registry call that takes longer than this fails (the finding says the registry could
/// not be checked): a registry that is down must not hang CI or an admission request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting alone.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the policy commands reach registries: online unless `offline`, the cache in the
/// user's cache directory.
pub(crate) fn access(offline: bool, insecure: &[String]) -> Access {
    Access {
        transport: if offline {
            None
        } else {
            Some(Arc::new(Http::new()) as Arc<dyn Transport>)
        },
        insecure: insecure.to_vec(),
        cache_dir: tollgate_core::signature::cache::default_dir(),
    }
}

/// ureq's agent, configured once.
pub(crate) struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub(crate) fn new() -> Http {
        let roots = std::env::var_os("SSL_CERT_FILE")
            .and_then(|f| std::fs::read(f).ok())
            .map(|pem| {
                ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|certs| !certs.is_empty())
            .map_or(ureq::tls::RootCerts::WebPki, |certs| {
                ureq::tls::RootCerts::new_with_certs(&certs)
            });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .max_redirects(5)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .build()
            .new_agent();
        Http { agent }
    }
}

impl Transport for Http {
    fn get(&self, url: &str, headers: &[(&str, &str)], limit: usize) -> Result<Response, String> {
        let mut request = self.agent.get(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut answer = request.call().map_err(describe)?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned()))
            })
            .collect();
        let body = answer
            .body_mut()
            .with_config()
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    format!("the answer is larger than {limit} bytes")
                }
                other => describe(other),
            })?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// ureq's error, in the words a user acts on.
fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => format!(
            "no answer within {} seconds",
            CALL_TIMEOUT.as_secs()
        ),
        // What a TLS client reads from a plain-HTTP server is "corrupt".
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => format!(
            "TLS handshake failed: {io} (a registry served over plain HTTP must be listed with --allow-insecure-registry)"
        ),
        ureq::Error::Io(io) => format!("cannot connect: {io}"),
        ureq::Error::HostNotFound => "the host name does not resolve".into(),
        ureq::Error::Tls(t) => format!("TLS: {t} (a registry served over plain HTTP must be listed with --allow-insecure-registry)"),
        ureq::Error::Rustls(t) => format!("TLS: {t} (a registry served over plain HTTP must be listed with --allow-insecure-registry; a private CA goes in SSL_CERT_FILE)"),
        other => other.to_string(),
    }
}
