//! An in-memory OCI registry behind the signature verifier's [`Transport`], for tests that
//! must not need a server: manifests and blobs by repository, cosign signatures made with
//! the TEST-ONLY P-256 key (fixtures/images/keys/cosign.key), optionally the bearer-token
//! challenge real registries send, and a count of the requests it answered. The binary's
//! tests run the same verifier against a real registry (tests/images_cli.rs).

#![allow(dead_code, unreachable_pub)]

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tollgate_core::signature::{Response, Transport};

pub const HOST: &str = "fake.test";
const SIGNING_KEY: &str = include_str!("../../../../fixtures/images/keys/cosign.key");

pub fn digest_of(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[derive(Default)]
pub struct FakeRegistry {
    /// `/v2/...` path → body.
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
    /// Requests answered (token requests included).
    pub requests: AtomicUsize,
    /// Token requests answered.
    pub token_requests: AtomicUsize,
    /// When set, `/v2/` paths need `Authorization: Bearer TOKEN`.
    pub token: Option<String>,
    /// When set, the token service needs `Authorization: Basic CREDENTIALS` (a private
    /// repository).
    pub basic: Option<String>,
}

impl FakeRegistry {
    fn put(&self, path: String, body: Vec<u8>) {
        self.objects.lock().unwrap().insert(path, body);
    }

    /// A one-layer image under `repo:tag`; returns its manifest digest.
    pub fn image(&self, repo: &str, tag: &str, content: &str) -> String {
        let layer = digest_of(content.as_bytes());
        self.put(
            format!("/v2/{repo}/blobs/{layer}"),
            content.as_bytes().to_vec(),
        );
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[{{"digest":"{layer}"}}]}}"#
        );
        let digest = digest_of(manifest.as_bytes());
        self.put(
            format!("/v2/{repo}/manifests/{tag}"),
            manifest.clone().into_bytes(),
        );
        self.put(
            format!("/v2/{repo}/manifests/{digest}"),
            manifest.into_bytes(),
        );
        digest
    }

    /// Attaches one cosign signature layer over `payload`, signed (or `signature` given).
    pub fn attach(&self, repo: &str, digest: &str, payload: &str, signature: Option<String>) {
        use base64::Engine as _;
        use p256::pkcs8::DecodePrivateKey;
        let sig = signature.unwrap_or_else(|| {
            let key = p256::ecdsa::SigningKey::from_pkcs8_pem(SIGNING_KEY).unwrap();
            let s: p256::ecdsa::Signature = signature::Signer::sign(&key, payload.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(s.to_der().as_bytes())
        });
        let blob = digest_of(payload.as_bytes());
        self.put(
            format!("/v2/{repo}/blobs/{blob}"),
            payload.as_bytes().to_vec(),
        );
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{blob}","annotations":{{"dev.cosignproject.cosign/signature":"{sig}"}}}}]}}"#
        );
        let tag = format!("{}.sig", digest.replacen(':', "-", 1));
        self.put(format!("/v2/{repo}/manifests/{tag}"), manifest.into_bytes());
    }

    /// Signs `digest` of `repo` as cosign does, with `optional` annotations.
    pub fn sign(&self, repo: &str, digest: &str, annotations: &str) {
        self.attach(repo, digest, &payload(digest, annotations), None);
    }
}

/// A simple-signing payload; `optional` is JSON (`null`, `{"env":"prod"}`).
pub fn payload(digest: &str, optional: &str) -> String {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"x"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{optional}}}"#
    )
}

impl Transport for FakeRegistry {
    fn get(&self, url: &str, headers: &[(&str, &str)], limit: usize) -> Result<Response, String> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let path = url
            .strip_prefix(&format!("http://{HOST}"))
            .ok_or_else(|| format!("cannot connect: {url} is not the fake registry"))?;
        let answer = |status: u16, headers: Vec<(String, String)>, body: Vec<u8>| {
            if body.len() > limit {
                return Err(format!("the answer is larger than {limit} bytes"));
            }
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        let authorization = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| *v);
        if let Some(query) = path.strip_prefix("/token?") {
            self.token_requests.fetch_add(1, Ordering::SeqCst);
            if let Some(b) = &self.basic {
                if authorization != Some(&format!("Basic {b}")) {
                    return answer(401, vec![], b"{}".to_vec());
                }
            }
            assert!(query.contains("scope=repository%3A"), "{query}");
            let t = self.token.clone().unwrap_or_default();
            return answer(200, vec![], format!(r#"{{"token":"{t}"}}"#).into_bytes());
        }
        if let Some(t) = &self.token {
            if authorization != Some(&format!("Bearer {t}")) {
                let challenge = format!(
                    r#"Bearer realm="http://{HOST}/token",service="{HOST}",scope="repository:x:pull""#
                );
                return answer(401, vec![("www-authenticate".into(), challenge)], vec![]);
            }
        }
        match self.objects.lock().unwrap().get(path) {
            Some(body) => answer(200, vec![], body.clone()),
            None => answer(404, vec![], b"{}".to_vec()),
        }
    }
}
