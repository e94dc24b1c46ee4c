//! A real OCI registry for the image-signature tests: Debian's `docker-registry` (the CNCF
//! distribution server) started on 127.0.0.1 with its storage in a temporary directory and
//! stopped on drop, and the pushes a CI job makes: image blobs and manifests, indexes, and
//! cosign signatures signed by the `openssl` command line (an independent signer) with the
//! TEST-ONLY keys of fixtures/images/keys.

#![allow(dead_code, unreachable_pub)]

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/keys")
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A running registry; killed when dropped.
pub struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub host: String,
    scheme: &'static str,
    agent: ureq::Agent,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// Starts `docker-registry` (installed by scripts/install-test-tools.sh; a missing one
    /// fails the test) over plain HTTP and waits until `/v2/` answers.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// The same over HTTPS with `tls.crt`/`tls.key` of `certs` (as `tollgate webhook certs`
    /// writes them); the test's own pushes trust its `ca.crt`.
    pub fn start_tls(certs: &Path) -> Registry {
        Registry::start_with(Some(certs))
    }

    fn start_with(certs: Option<&Path>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        let tls = certs.map_or_else(String::new, |c| {
            format!(
                ", tls: {{certificate: {}, key: {}}}",
                c.join("tls.crt").display(),
                c.join("tls.key").display()
            )
        });
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}{tls}}}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "docker-registry (Debian's package; scripts/install-test-tools.sh installs it)",
            );
        let mut config = ureq::Agent::config_builder().http_status_as_error(false);
        if let Some(c) = certs {
            let pem = std::fs::read(c.join("ca.crt")).unwrap();
            let roots: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
                    _ => None,
                })
                .collect();
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                    .build(),
            );
        }
        let agent: ureq::Agent = config.build().into();
        let r = Registry {
            child,
            _dir: dir,
            host: format!("127.0.0.1:{port}"),
            scheme: if certs.is_some() { "https" } else { "http" },
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = r
                .agent
                .get(&format!("{}://{}/v2/", r.scheme, r.host))
                .call()
                .is_ok_and(|a| a.status() == 200);
            if ok {
                return r;
            }
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Uploads a blob; returns its digest.
    pub fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let started = self
            .agent
            .post(&format!(
                "{}://{}/v2/{repo}/blobs/uploads/",
                self.scheme, self.host
            ))
            .send_empty()
            .unwrap();
        assert_eq!(started.status(), 202, "blob upload start");
        let location = started
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let url = if location.starts_with('/') {
            format!("{}://{}{location}", self.scheme, self.host)
        } else {
            location
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let done = self
            .agent
            .put(&format!("{url}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .unwrap();
        assert_eq!(done.status(), 201, "blob upload of {digest}");
        digest
    }

    /// Puts a manifest under `reference` (a tag or its digest); returns its digest.
    pub fn manifest(&self, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> String {
        let put = self
            .agent
            .put(&format!(
                "{}://{}/v2/{repo}/manifests/{reference}",
                self.scheme, self.host
            ))
            .header("Content-Type", media_type)
            .send(body)
            .unwrap();
        assert_eq!(put.status(), 201, "manifest put {repo}:{reference}");
        sha256(body)
    }

    /// Pushes a one-layer image (the layer's bytes make it distinct) as `repo:tag`; returns
    /// the manifest digest.
    pub fn image(&self, repo: &str, tag: &str, content: &str) -> String {
        let layer = self.blob(repo, content.as_bytes());
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
        );
        let config_digest = self.blob(repo, config.as_bytes());
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{}}}]}}"#,
            config.len(),
            content.len()
        );
        self.manifest(repo, tag, OCI_MANIFEST, manifest.as_bytes())
    }

    /// Pushes an index of `children` (manifest digests) as `repo:tag`; returns its digest.
    pub fn index(&self, repo: &str, tag: &str, children: &[&str]) -> String {
        let entries: Vec<String> = children
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let arch = ["amd64", "arm64", "s390x"][i % 3];
                let size = self.manifest_size(repo, d);
                format!(
                    r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            entries.join(",")
        );
        self.manifest(repo, tag, OCI_INDEX, body.as_bytes())
    }

    fn manifest_size(&self, repo: &str, digest: &str) -> usize {
        let mut a = self
            .agent
            .get(&format!(
                "{}://{}/v2/{repo}/manifests/{digest}",
                self.scheme, self.host
            ))
            .header("Accept", OCI_MANIFEST)
            .call()
            .unwrap();
        a.body_mut().read_to_vec().unwrap().len()
    }

    /// Attaches cosign signature layers to `digest` at `sig_repo:sha256-<hex>.sig`: each is a
    /// payload (as `payload` builds) and the base64 signature to annotate it with.
    pub fn attach(&self, sig_repo: &str, digest: &str, layers: &[(String, String)]) {
        let config = self.blob(sig_repo, b"{}");
        let entries: Vec<String> = layers
            .iter()
            .map(|(payload, signature)| {
                let d = self.blob(sig_repo, payload.as_bytes());
                format!(
                    r#"{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{d}","size":{},"annotations":{{"dev.cosignproject.cosign/signature":"{signature}"}}}}"#,
                    payload.len()
                )
            })
            .collect();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{}]}}"#,
            entries.join(",")
        );
        let tag = format!("{}.sig", digest.replacen(':', "-", 1));
        self.manifest(sig_repo, &tag, OCI_MANIFEST, manifest.as_bytes());
    }

    /// Signs `digest` of `repo` with the TEST-ONLY key `key` (`cosign`, `other`, `ed25519`,
    /// `rsa`), `optional` annotations as `cosign sign -a` puts them, stored beside the image.
    pub fn sign(&self, repo: &str, digest: &str, key: &str, annotations: &[(&str, &str)]) {
        let p = payload(&format!("{}/{repo}", self.host), digest, annotations);
        let s = signature(key, &p);
        self.attach(repo, digest, &[(p, s)]);
    }
}

/// A simple-signing payload as cosign writes it.
pub fn payload(reference: &str, digest: &str, annotations: &[(&str, &str)]) -> String {
    let optional = if annotations.is_empty() {
        "null".to_owned()
    } else {
        let pairs: Vec<String> = annotations
            .iter()
            .map(|(k, v)| format!(r#""{k}":"{v}""#))
            .collect();
        format!("{{{}}}", pairs.join(","))
    };
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{optional}}}"#
    )
}

/// The base64 signature of `payload` with a TEST-ONLY key, made by `openssl`: ECDSA and RSA
/// over SHA-256 (`dgst -sha256 -sign`, DER for ECDSA, PKCS#1 v1.5 for RSA), ed25519 over
/// the payload itself (`pkeyutl -sign -rawin`).
pub fn signature(key: &str, payload: &str) -> String {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("payload");
    std::fs::write(&input, payload).unwrap();
    let key_file = keys().join(format!("{key}.key"));
    let out = if key == "ed25519" {
        Command::new("openssl")
            .args(["pkeyutl", "-sign", "-rawin", "-inkey"])
            .arg(&key_file)
            .arg("-in")
            .arg(&input)
            .output()
    } else {
        Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&key_file)
            .arg(&input)
            .output()
    }
    .expect("openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}
