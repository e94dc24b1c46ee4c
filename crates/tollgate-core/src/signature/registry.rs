//! The OCI distribution API, as far as verifying a signature needs it: a tag resolved to its
//! manifest digest, the signature manifest at `sha256-<hex>.sig`, its payload blobs, with the
//! bearer-token flow registries use for anonymous and authenticated pulls. The bytes move
//! through a [`Transport`] the binary provides (HTTPS lives there: the library stays free of
//! TLS stacks); everything that decides what to ask and what to believe is here.

use super::keys::hex;
use crate::image::{ImageRef, DOCKER_HUB};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// The largest manifest read (a signature manifest is a few hundred bytes; an index of many
/// platforms is tens of kilobytes).
pub const MANIFEST_LIMIT: usize = 4 << 20;
/// The largest signature payload read (cosign's are under a kilobyte).
pub const BLOB_LIMIT: usize = 1 << 20;
/// The largest token answer read.
const TOKEN_LIMIT: usize = 1 << 20;

/// What a manifest request accepts: image manifests and indexes, OCI and Docker.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// What a referrers request accepts.
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// One HTTP GET.
pub trait Transport: Send + Sync {
    /// GETs `url` with `headers` and reads at most `limit` bytes of the body (more is an
    /// error); bounded in time by the implementation. Redirects are followed, without the
    /// `Authorization` header when they leave the host.
    fn get(&self, url: &str, headers: &[(&str, &str)], limit: usize) -> Result<Response, String>;
}

/// An HTTP answer.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a registry could not answer: distinct from "the answer is no".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The manifest or blob is not there (404).
    NotFound(String),
    /// The registry could not be reached or answered something unusable.
    Unreachable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotFound(m) | Failure::Unreachable(m) => f.write_str(m),
        }
    }
}

/// Credentials for one registry, from a Docker-style auth file.
#[derive(Clone)]
struct Basic {
    /// `base64(user:password)`.
    header: String,
}

/// A registry client over a transport.
pub struct Registry {
    transport: std::sync::Arc<dyn Transport>,
    /// Hosts spoken to over plain HTTP.
    insecure: Vec<String>,
    credentials: HashMap<String, Basic>,
    /// Bearer tokens by (host, repository).
    tokens: Mutex<HashMap<(String, String), String>>,
}

impl Registry {
    /// A client; credentials come from the Docker config (`$DOCKER_CONFIG/config.json`,
    /// `~/.docker/config.json`) or `REGISTRY_AUTH_FILE`, plain `auths` entries only.
    pub fn new(transport: std::sync::Arc<dyn Transport>, insecure: Vec<String>) -> Registry {
        Registry {
            transport,
            insecure,
            credentials: read_credentials(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The host the API of `registry` is served on (Docker Hub's is not `docker.io`).
    fn api_host(registry: &str) -> &str {
        if registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        }
    }

    fn base(&self, registry: &str) -> String {
        let scheme = if self.insecure.iter().any(|h| h == registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", Self::api_host(registry))
    }

    /// The digest `image` names: its own, else what its tag points at now.
    pub fn resolve(&self, image: &ImageRef) -> Result<String, Failure> {
        if let Some(d) = &image.digest {
            return Ok(d.clone());
        }
        let tag = image.effective_tag().unwrap_or("latest");
        let (r, _) = self.manifest(&image.registry, &image.repository, tag)?;
        let computed = format!("sha256:{}", hex(&Sha256::digest(&r.body)));
        // The registry's own digest header names the same bytes; when it disagrees the
        // answer was altered on the way, and nothing it says can be believed.
        match r.header("docker-content-digest") {
            Some(h) if h != computed && h.starts_with("sha256:") => {
                Err(Failure::Unreachable(format!(
                    "{}: the manifest of tag {tag} does not match its Docker-Content-Digest ({h})",
                    image.name()
                )))
            }
            _ => Ok(computed),
        }
    }

    /// The manifest at `reference` (tag or digest) of `registry/repository`, and its JSON.
    pub fn manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
    ) -> Result<(Response, serde_json::Value), Failure> {
        let url = format!(
            "{}/v2/{repository}/manifests/{reference}",
            self.base(registry)
        );
        let r = self.get(registry, repository, &url, MANIFEST_TYPES, MANIFEST_LIMIT)?;
        let json = serde_json::from_slice(&r.body).map_err(|e| {
            Failure::Unreachable(format!(
                "{registry}/{repository}:{reference}: the manifest is not JSON ({e})"
            ))
        })?;
        Ok((r, json))
    }

    /// The artifact types of what is attached to `digest` as OCI 1.1 referrers: the
    /// referrers API, else the referrers tag (`sha256-<hex>`) registries without the API
    /// keep; nothing when neither answers.
    pub fn referrer_types(&self, registry: &str, repository: &str, digest: &str) -> Vec<String> {
        let url = format!("{}/v2/{repository}/referrers/{digest}", self.base(registry));
        let index = match self.get(registry, repository, &url, INDEX_TYPE, MANIFEST_LIMIT) {
            Ok(r) => serde_json::from_slice(&r.body).ok(),
            Err(_) => self
                .manifest(registry, repository, &digest.replacen(':', "-", 1))
                .ok()
                .map(|(_, m)| m),
        };
        index
            .as_ref()
            .and_then(|i: &serde_json::Value| i.get("manifests"))
            .and_then(serde_json::Value::as_array)
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m.get("artifactType").and_then(serde_json::Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The blob `digest` of `registry/repository`, checked against its digest.
    pub fn blob(&self, registry: &str, repository: &str, digest: &str) -> Result<Vec<u8>, Failure> {
        let Some(want) = digest.strip_prefix("sha256:") else {
            return Err(Failure::Unreachable(format!(
                "{registry}/{repository}: blob {digest} is not a sha256 digest"
            )));
        };
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base(registry));
        let r = self.get(registry, repository, &url, "*/*", BLOB_LIMIT)?;
        if hex(&Sha256::digest(&r.body)) != want {
            return Err(Failure::Unreachable(format!(
                "{registry}/{repository}: blob {digest} does not match its digest"
            )));
        }
        Ok(r.body)
    }

    /// A GET with the registry's authentication: a cached token, else the request alone,
    /// then the challenge of a 401 answered once.
    fn get(
        &self,
        registry: &str,
        repository: &str,
        url: &str,
        accept: &str,
        limit: usize,
    ) -> Result<Response, Failure> {
        let key = (registry.to_owned(), repository.to_owned());
        let token = self.tokens.lock().ok().and_then(|t| t.get(&key).cloned());
        let mut auth = token.map(|t| format!("Bearer {t}")).or_else(|| {
            self.credentials
                .get(registry)
                .map(|b| format!("Basic {}", b.header))
        });
        let mut r = self.send(url, accept, auth.as_deref(), limit)?;
        if r.status == 401 {
            let challenge = r.header("www-authenticate").unwrap_or("").to_owned();
            auth = Some(self.answer(registry, repository, &challenge)?);
            r = self.send(url, accept, auth.as_deref(), limit)?;
        }
        match r.status {
            200 => Ok(r),
            404 => Err(Failure::NotFound(format!("{url}: not found (404)"))),
            401 | 403 => Err(Failure::Unreachable(format!(
                "{url}: access denied ({}); give credentials in ~/.docker/config.json or REGISTRY_AUTH_FILE (`auths` entries; credential helpers are not read)",
                r.status
            ))),
            s => Err(Failure::Unreachable(format!("{url}: the registry answered {s}"))),
        }
    }

    fn send(
        &self,
        url: &str,
        accept: &str,
        auth: Option<&str>,
        limit: usize,
    ) -> Result<Response, Failure> {
        let mut headers = vec![("Accept", accept)];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        self.transport
            .get(url, &headers, limit)
            .map_err(|e| Failure::Unreachable(format!("{url}: {e}")))
    }

    /// The `Authorization` value that answers `challenge` (`Bearer realm=…,service=…` or
    /// `Basic`), fetching a token with the registry's credentials if it has any.
    fn answer(&self, registry: &str, repository: &str, challenge: &str) -> Result<String, Failure> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let basic = self.credentials.get(registry);
        if scheme.eq_ignore_ascii_case("basic") {
            return basic.map(|b| format!("Basic {}", b.header)).ok_or_else(|| {
                Failure::Unreachable(format!(
                    "{registry} asks for a password; give credentials in ~/.docker/config.json or REGISTRY_AUTH_FILE"
                ))
            });
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Failure::Unreachable(format!(
                "{registry} asks for `{scheme}` authentication, which is not supported (Bearer and Basic are)"
            )));
        }
        let params = challenge_params(params);
        let realm = params.get("realm").ok_or_else(|| {
            Failure::Unreachable(format!("{registry}: a Bearer challenge without a realm"))
        })?;
        if !(realm.starts_with("https://")
            || (realm.starts_with("http://") && !self.base(registry).starts_with("https")))
        {
            return Err(Failure::Unreachable(format!(
                "{registry}: the token service {realm} is not HTTPS"
            )));
        }
        let scope = format!("repository:{repository}:pull");
        let mut url = format!("{realm}?scope={}", query_escape(&scope));
        if let Some(service) = params.get("service") {
            url.push_str(&format!("&service={}", query_escape(service)));
        }
        let auth = basic.map(|b| format!("Basic {}", b.header));
        let r = self.send(&url, "application/json", auth.as_deref(), TOKEN_LIMIT)?;
        if r.status != 200 {
            return Err(Failure::Unreachable(format!(
                "{registry}: the token service {realm} answered {}",
                r.status
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| {
            Failure::Unreachable(format!("{registry}: the token answer is not JSON ({e})"))
        })?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                Failure::Unreachable(format!("{registry}: the token answer holds no token"))
            })?;
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(
                (registry.to_owned(), repository.to_owned()),
                token.to_owned(),
            );
        }
        Ok(format!("Bearer {token}"))
    }
}

/// `realm="…",service="…",scope="…"` as a map.
fn challenge_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v, n),
                None => (quoted, ""),
            }
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        out.insert(key, value.to_owned());
        rest = next.trim_start_matches(',').trim();
    }
    out
}

/// Percent-encoding for a query value.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The plain `auths` entries of the Docker or containers auth file, by registry host.
fn read_credentials() -> HashMap<String, Basic> {
    let mut files = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(std::path::PathBuf::from(f));
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        files.push(std::path::PathBuf::from(d).join("config.json"));
    } else if let Some(h) = std::env::var_os("HOME") {
        files.push(std::path::PathBuf::from(h).join(".docker/config.json"));
    }
    let mut out = HashMap::new();
    for f in files {
        let Ok(text) = std::fs::read(&f) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
            continue;
        };
        out.extend(auths_of(&v));
    }
    out
}

/// `auths` of one auth file: `{"host": {"auth": base64(user:pass)}}` or username/password.
fn auths_of(v: &serde_json::Value) -> Vec<(String, Basic)> {
    use base64::Engine as _;
    let Some(auths) = v.get("auths").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    auths
        .iter()
        .filter_map(|(host, entry)| {
            let header = match entry.get("auth").and_then(serde_json::Value::as_str) {
                Some(a) if !a.is_empty() => a.to_owned(),
                _ => {
                    let user = entry.get("username")?.as_str()?;
                    let pass = entry.get("password")?.as_str()?;
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
                }
            };
            Some((normalize_host(host), Basic { header }))
        })
        .collect()
}

/// `https://index.docker.io/v1/` → `docker.io`; `https://ghcr.io` → `ghcr.io`.
fn normalize_host(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_registries_write_them() {
        let p = challenge_params(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        // The scope holds `:` and would break a naive split on `=`/`,`.
        assert_eq!(p["scope"], "repository:library/nginx:pull");
        let unquoted = challenge_params("realm=https://r/t,service=s");
        assert_eq!(unquoted["realm"], "https://r/t");
        assert_eq!(unquoted["service"], "s");
    }

    #[test]
    fn auth_file_entries_are_keyed_by_registry_host() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"ghcr.io":{"username":"u","password":"p"},"empty.io":{}},"credHelpers":{"x.io":"ecr-login"}}"#,
        )
        .unwrap();
        let mut got: Vec<(String, String)> = auths_of(&v)
            .into_iter()
            .map(|(h, b)| (h, b.header))
            .collect();
        got.sort();
        // `dTpw` is base64("u:p"): the two forms give the same header.
        assert_eq!(
            got,
            vec![
                ("docker.io".into(), "dTpw".into()),
                ("ghcr.io".into(), "dTpw".into())
            ]
        );
    }

    #[test]
    fn scopes_are_escaped_in_the_token_query() {
        assert_eq!(
            query_escape("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
