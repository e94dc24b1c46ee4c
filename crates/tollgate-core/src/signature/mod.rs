//! Cosign-compatible image signature verification, shared by `tollgate images verify`, the
//! image-signature rule of `check` (so pre-commit, CI and the webhook) and Kyverno
//! `verifyImages`: one [`Verifier`] resolves an image to its digest, fetches the cosign
//! signature manifest beside it, and accepts the image when a simple-signing layer verifies
//! with a configured key over a payload that names that digest. Results are cached on disk;
//! offline, the cache is all there is, and what it cannot answer is "not verified offline",
//! never a pass.
//!
//! Key-based signatures only. Keyless ones (Fulcio certificates, Rekor inclusion) need the
//! Sigstore trust root and the network; they would be another kind of [`Requirement`] key,
//! checked where `Verifier::check_layers` checks a key. Sigstore bundles attached as OCI
//! referrers are not read yet (docs/images.md).

// Reads registry answers: no indexing or unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod cache;
pub mod keys;
pub mod payload;
pub mod registry;

pub use keys::PublicKey;
pub use registry::{Failure, Registry, Response, Transport};

use crate::image::ImageRef;
use base64::Engine as _;
use std::sync::Arc;

/// The media type of a cosign simple-signing layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The artifact type of a Sigstore bundle attached as an OCI referrer (any version).
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle";
/// The layer annotation that holds the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The most signature layers of one manifest that are fetched and tried: a registry (or
/// whoever can push to it) must not make one check fetch without end.
pub const MAX_SIGNATURE_LAYERS: usize = 32;

/// How the verifier reaches registries, decided by the binary.
#[derive(Clone, Default)]
pub struct Access {
    /// The HTTP transport; `None` is offline (the cache only).
    pub transport: Option<Arc<dyn Transport>>,
    /// Registries spoken to over plain HTTP (`--allow-insecure-registry`).
    pub insecure: Vec<String>,
    /// The cache directory (`None`: no disk cache).
    pub cache_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("online", &self.transport.is_some())
            .field("insecure", &self.insecure)
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

/// What an image must carry.
#[derive(Debug, Clone, Copy)]
pub struct Requirement<'a> {
    /// A signature by any one of these keys will do.
    pub keys: &'a [PublicKey],
    /// `optional` annotations the signed payload must hold.
    pub annotations: &'a [(String, String)],
    /// Where the signatures are stored instead of the image's own repository
    /// (`registry/repository`, as cosign's `COSIGN_REPOSITORY`).
    pub repository: Option<&'a str>,
}

/// The answer for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A signature verified with `keys[key]` over a payload naming `digest`.
    Verified {
        /// The manifest digest verified.
        digest: String,
        /// Index of the key in the requirement.
        key: usize,
    },
    /// The registry answered, and no signature is acceptable.
    Unverified {
        /// The manifest digest, when the image resolved.
        digest: Option<String>,
        /// Why, without secrets (there are none in a registry's public answers).
        reason: String,
    },
    /// Offline, and the cache does not know.
    Offline(String),
    /// The registry could not be asked (down, refused, the image missing).
    Unchecked(String),
}

/// The verifier: a registry client (when online) and the cache.
pub struct Verifier {
    registry: Option<Registry>,
    cache: cache::Cache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier(online: {})", self.registry.is_some())
    }
}

impl Verifier {
    /// A verifier reaching registries as `access` says.
    pub fn new(access: &Access) -> Verifier {
        Verifier {
            registry: access
                .transport
                .clone()
                .map(|t| Registry::new(t, access.insecure.clone())),
            cache: cache::Cache::new(access.cache_dir.as_deref()),
        }
    }

    /// Whether registries are asked (not `--offline`).
    pub fn online(&self) -> bool {
        self.registry.is_some()
    }

    /// Verifies `image` against `req`.
    pub fn verify(&self, image: &ImageRef, req: Requirement<'_>) -> Outcome {
        if req.keys.is_empty() {
            return Outcome::Unverified {
                digest: image.digest.clone(),
                reason: "no key is configured".into(),
            };
        }
        let digest = match self.digest(image) {
            Ok(d) => d,
            Err(o) => return o,
        };
        let (sig_registry, sig_repository) = match signature_home(image, req.repository) {
            Ok(home) => home,
            Err(reason) => {
                return Outcome::Unverified {
                    digest: Some(digest),
                    reason,
                }
            }
        };
        let home = format!("{sig_registry}/{sig_repository}");
        // Every key the cache knows for this digest: judge its annotations without asking.
        let mut known = 0usize;
        for (i, key) in req.keys.iter().enumerate() {
            if let Some(sets) = self.cache.verified(&digest, &key.fingerprint, &home) {
                known = known.saturating_add(1);
                if sets.iter().any(|s| payload::satisfies(s, req.annotations)) {
                    return Outcome::Verified { digest, key: i };
                }
            }
        }
        // Online, a miss asks the registry (a signature with the annotations may have been
        // added since the cache was written); offline, the cache's answer is all there is.
        let Some(registry) = &self.registry else {
            if known == req.keys.len() {
                return Outcome::Unverified {
                    digest: Some(digest),
                    reason: format!(
                        "its signatures (as cached) lack the annotations {}",
                        pairs(req.annotations)
                    ),
                };
            }
            return Outcome::Offline(format!(
                "no cached verification of {digest} with {}",
                key_names(req.keys)
            ));
        };
        let tag = format!("{}.sig", digest.replacen(':', "-", 1));
        let manifest = match registry.manifest(&sig_registry, &sig_repository, &tag) {
            Ok((_, m)) => m,
            Err(Failure::NotFound(_)) => {
                let bundled = registry
                    .referrer_types(&sig_registry, &sig_repository, &digest)
                    .iter()
                    .any(|t| t.starts_with(SIGSTORE_BUNDLE));
                let mut reason =
                    format!("it has no cosign signature ({home}:{tag} does not exist)");
                if bundled {
                    reason.push_str("; a Sigstore bundle is attached to it as an OCI referrer, which is not verified yet (docs/images.md)");
                }
                return Outcome::Unverified {
                    digest: Some(digest),
                    reason,
                };
            }
            Err(Failure::Unreachable(e)) => return Outcome::Unchecked(e),
        };
        self.check_layers(
            registry,
            &manifest,
            &digest,
            (&sig_registry, &sig_repository),
            req,
        )
    }

    /// The digest `image` names, or what its tag points at (cached for the TTL).
    fn digest(&self, image: &ImageRef) -> Result<String, Outcome> {
        if let Some(d) = &image.digest {
            return Ok(d.clone());
        }
        let tagged = format!(
            "{}:{}",
            image.name(),
            image.effective_tag().unwrap_or("latest")
        );
        if let Some(d) = self.cache.tag(&tagged, self.registry.is_none()) {
            return Ok(d);
        }
        let Some(registry) = &self.registry else {
            return Err(Outcome::Offline(format!(
                "the digest of {tagged} is not in the cache"
            )));
        };
        match registry.resolve(image) {
            Ok(d) => {
                self.cache.put_tag(&tagged, &d);
                Ok(d)
            }
            Err(Failure::NotFound(_)) => Err(Outcome::Unchecked(format!(
                "{tagged} does not exist in the registry"
            ))),
            Err(Failure::Unreachable(e)) => Err(Outcome::Unchecked(e)),
        }
    }

    /// Judges the layers of a signature manifest: each simple-signing layer's payload is
    /// fetched (checked against its digest), its signature tried with each key, and a
    /// payload that verifies must name `digest` with cosign's type.
    fn check_layers(
        &self,
        registry: &Registry,
        manifest: &serde_json::Value,
        digest: &str,
        (sig_registry, sig_repository): (&str, &str),
        req: Requirement<'_>,
    ) -> Outcome {
        let home = format!("{sig_registry}/{sig_repository}");
        let layers = manifest
            .get("layers")
            .and_then(serde_json::Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let mut verified: Vec<cache::Signed> = vec![Vec::new(); req.keys.len()];
        let mut problems: Vec<String> = Vec::new();
        let mut signed_layers = 0usize;
        for layer in layers.iter().take(MAX_SIGNATURE_LAYERS) {
            let media = layer.get("mediaType").and_then(serde_json::Value::as_str);
            let sig = layer
                .get("annotations")
                .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                .and_then(serde_json::Value::as_str);
            let (Some(SIMPLE_SIGNING), Some(sig), Some(blob)) = (
                media,
                sig,
                layer.get("digest").and_then(serde_json::Value::as_str),
            ) else {
                continue;
            };
            signed_layers = signed_layers.saturating_add(1);
            let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig.trim()) else {
                problems.push("a signature annotation is not base64".into());
                continue;
            };
            let body = match registry.blob(sig_registry, sig_repository, blob) {
                Ok(b) => b,
                Err(Failure::Unreachable(e)) => return Outcome::Unchecked(e),
                Err(Failure::NotFound(e)) => {
                    problems.push(format!("a signed payload is missing ({e})"));
                    continue;
                }
            };
            for (i, key) in req.keys.iter().enumerate() {
                if !key.verifies(&body, &sig) {
                    continue;
                }
                match payload::parse(&body) {
                    Ok(p) if p.digest == digest => {
                        if let Some(v) = verified.get_mut(i) {
                            v.push(p.annotations);
                        }
                    }
                    Ok(p) => problems.push(format!(
                        "a payload signed with {} names another image ({})",
                        key.short(),
                        p.digest
                    )),
                    Err(e) => problems.push(e),
                }
            }
        }
        for (key, sets) in req.keys.iter().zip(&verified) {
            if !sets.is_empty() {
                self.cache
                    .put_verified(digest, &key.fingerprint, &home, sets.clone());
            }
        }
        if let Some(i) = verified
            .iter()
            .position(|sets| sets.iter().any(|s| payload::satisfies(s, req.annotations)))
        {
            return Outcome::Verified {
                digest: digest.to_owned(),
                key: i,
            };
        }
        let reason = if verified.iter().any(|s| !s.is_empty()) {
            format!(
                "its signatures lack the annotations {}",
                pairs(req.annotations)
            )
        } else if let Some(p) = problems.first() {
            p.clone()
        } else if signed_layers == 0 {
            format!(
                "{home}:{} holds no cosign signature layer",
                digest.replacen(':', "-", 1)
            )
        } else {
            format!(
                "none of its {signed_layers} signature(s) verifies with {}",
                key_names(req.keys)
            )
        };
        Outcome::Unverified {
            digest: Some(digest.to_owned()),
            reason,
        }
    }
}

/// Where `image`'s signatures live: its own repository, or the one configured.
fn signature_home(image: &ImageRef, repository: Option<&str>) -> Result<(String, String), String> {
    match repository {
        None => Ok((image.registry.clone(), image.repository.clone())),
        Some(r) => {
            let parsed = ImageRef::parse(r)
                .map_err(|e| format!("the signature repository `{r}` is not a repository: {e}"))?;
            Ok((parsed.registry, parsed.repository))
        }
    }
}

/// `key cosign.pub (ecdsa-p256 1a2b3c4d5e6f)`, for messages.
pub fn key_name(key: &PublicKey) -> String {
    format!("key {} ({} {})", key.source, key.algorithm(), key.short())
}

fn key_names(keys: &[PublicKey]) -> String {
    keys.iter().map(key_name).collect::<Vec<_>>().join(" or ")
}

fn pairs(p: &[(String, String)]) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
