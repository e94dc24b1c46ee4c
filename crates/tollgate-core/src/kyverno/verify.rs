//! Kyverno `verifyImages` rules with key attestors, evaluated by the verifier `check` uses
//! for `images.signatures` (one verifier, one cache): each image of the resource's pod spec
//! that `imageReferences` selects must satisfy every attestor set, `count` of its entries
//! (all by default) verifying. Keyless, certificate and nested attestors, keys from Secrets or
//! KMS, attestations and non-cosign types are not evaluated: the rule is reported so at load.
//! The mutation Kyverno makes (`mutateDigest`) is not applied; the image is verified by the
//! digest its tag resolves to, as Kyverno does before pinning it.

// Reads policies and resources: no indexing or unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use crate::image::ImageRef;
use crate::signature::{Outcome, PublicKey, Requirement, Verifier};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// A rule's `verifyImages`.
#[derive(Debug, Clone)]
pub struct VerifyImages {
    /// Its entries, in order.
    pub entries: Vec<ImageVerification>,
    /// Whether a key attestor leaves Kyverno's Rekor check on (no `rekor.ignoreTlog: true`):
    /// the transparency log is not consulted offline, and the load says so.
    pub tlog: bool,
    /// The verifier, set when the policy set is loaded (none: `tollgate test`, which has no
    /// registry access; the rule is then an error).
    pub verifier: Arc<OnceLock<Arc<Verifier>>>,
}

/// One `verifyImages` entry.
#[derive(Debug, Clone)]
pub struct ImageVerification {
    /// `imageReferences` (or the older `image`): wildcards.
    pub references: Vec<String>,
    /// `skipImageReferences`.
    pub skip: Vec<String>,
    /// `attestors`: each must hold.
    pub attestors: Vec<AttestorSet>,
    /// `verifyDigest` (default true): the image must name a digest, unless `mutateDigest`
    /// would have pinned it.
    pub verify_digest: bool,
    /// `mutateDigest` (default true).
    pub mutate_digest: bool,
    /// `repository`: where the signatures are, for every attestor.
    pub repository: Option<String>,
    /// `annotations` every signature must carry (besides each entry's).
    pub annotations: Vec<(String, String)>,
}

/// One attestor set: `count` of `entries` must verify.
#[derive(Debug, Clone)]
pub struct AttestorSet {
    /// How many entries must verify (`count`, else all).
    pub count: usize,
    /// The entries, one key each (several keys in one `publicKeys` are several entries, as
    /// Kyverno counts them).
    pub entries: Vec<KeyEntry>,
}

/// One key attestor.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// The key.
    pub key: PublicKey,
    /// `annotations` the signed payload must hold.
    pub annotations: Vec<(String, String)>,
    /// `repository` for this entry.
    pub repository: Option<String>,
    /// `.attestors[i].entries[j].keys`, for messages.
    pub path: String,
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What of `verifyImages` cannot be evaluated offline, if anything (the whole rule is then
/// reported as not evaluated, never half-checked).
pub fn unsupported(raw: &Value) -> Option<String> {
    let entries = raw.get("verifyImages")?.as_array()?;
    for e in entries {
        if let Some(t) = e.get("type").and_then(Value::as_str) {
            if !t.eq_ignore_ascii_case("cosign") {
                return Some(format!("verifyImages of type {t}"));
            }
        }
        if e.get("attestations")
            .is_some_and(|a| a.as_array().is_none_or(|a| !a.is_empty()))
        {
            return Some("verifyImages attestations".into());
        }
        for field in ["roots", "subject", "issuer"] {
            if e.get(field).is_some() {
                return Some("verifyImages with keyless attestors".into());
            }
        }
        for set in e
            .get("attestors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for entry in set
                .get("entries")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if entry.get("keyless").is_some() {
                    return Some("verifyImages with keyless attestors".into());
                }
                if entry.get("certificates").is_some() {
                    return Some("verifyImages with certificate attestors".into());
                }
                if entry.get("attestor").is_some() {
                    return Some("verifyImages with nested attestors".into());
                }
                let Some(keys) = entry.get("keys") else {
                    return Some("verifyImages with an attestor that is not a key".into());
                };
                if keys.get("kms").is_some() || keys.get("secret").is_some() {
                    return Some("verifyImages with keys from a KMS or a Secret".into());
                }
                let pem = keys.get("publicKeys").and_then(Value::as_str).unwrap_or("");
                if pem.contains("{{") || pem.starts_with("k8s://") {
                    return Some("verifyImages with keys from a variable or a Secret".into());
                }
            }
        }
    }
    None
}

/// Reads `verifyImages` (after [`unsupported`] said it can be evaluated); errors name the
/// field.
pub fn parse(raw: &Value) -> Result<VerifyImages, (String, String)> {
    let mut out = Vec::new();
    let list = raw
        .get("verifyImages")
        .and_then(Value::as_array)
        .ok_or_else(|| ("verifyImages".to_owned(), "expected a list".to_owned()))?;
    for (i, e) in list.iter().enumerate() {
        let at = format!("verifyImages[{i}]");
        let mut references = super::testrun::strs(e.get("imageReferences"));
        references.extend(super::testrun::strs(e.get("image")));
        if references.is_empty() {
            return Err((at, "an entry needs imageReferences".into()));
        }
        let flag = |name: &str| e.get(name).and_then(Value::as_bool).unwrap_or(true);
        let mut attestors = Vec::new();
        // The older form: one `key` on the entry.
        if let Some(pem) = e.get("key").and_then(Value::as_str) {
            attestors.push(AttestorSet {
                count: 1,
                entries: keys_of(pem, &format!("{at}.key"), Vec::new(), None)?,
            });
        }
        for (s, set) in e
            .get("attestors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut entries = Vec::new();
            for (j, entry) in set
                .get("entries")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let path = format!(".attestors[{s}].entries[{j}].keys");
                let pem = entry
                    .pointer("/keys/publicKeys")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        (
                            format!("{at}{path}"),
                            "a key attestor needs publicKeys".to_owned(),
                        )
                    })?;
                entries.extend(keys_of(
                    pem,
                    &path,
                    pairs(entry.get("annotations")),
                    entry
                        .get("repository")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )?);
            }
            if entries.is_empty() {
                return Err((
                    format!("{at}.attestors[{s}]"),
                    "an attestor set needs entries".into(),
                ));
            }
            let count = match set.get("count").and_then(Value::as_u64) {
                None | Some(0) => entries.len(),
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            };
            if count > entries.len() {
                return Err((
                    format!("{at}.attestors[{s}].count"),
                    format!("count {count} is more than the {} entries", entries.len()),
                ));
            }
            attestors.push(AttestorSet { count, entries });
        }
        if attestors.is_empty() {
            return Err((at, "an entry needs attestors with keys".into()));
        }
        out.push(ImageVerification {
            references,
            skip: super::testrun::strs(e.get("skipImageReferences")),
            attestors,
            verify_digest: flag("verifyDigest"),
            mutate_digest: flag("mutateDigest"),
            repository: e
                .get("repository")
                .and_then(Value::as_str)
                .map(str::to_owned),
            annotations: pairs(e.get("annotations")),
        });
    }
    let tlog = list.iter().any(|e| {
        e.get("attestors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|s| {
                s.get("entries")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .any(|entry| {
                entry
                    .pointer("/keys/rekor/ignoreTlog")
                    .and_then(Value::as_bool)
                    != Some(true)
            })
    });
    Ok(VerifyImages {
        entries: out,
        tlog,
        verifier: Arc::new(OnceLock::new()),
    })
}

/// Every PEM block of `pem` as its own entry.
fn keys_of(
    pem: &str,
    path: &str,
    annotations: Vec<(String, String)>,
    repository: Option<String>,
) -> Result<Vec<KeyEntry>, (String, String)> {
    const END: &str = "-----END PUBLIC KEY-----";
    let blocks: Vec<&str> = pem
        .split_inclusive(END)
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .collect();
    blocks
        .into_iter()
        .map(|block| {
            let key = PublicKey::from_pem(block, &format!("policy key {path}"))
                .map_err(|e| (path.to_owned(), e))?;
            Ok(KeyEntry {
                key,
                annotations: annotations.clone(),
                repository: repository.clone(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// One image of a resource: where it is and what it says.
struct Image<'v> {
    field: String,
    written: &'v str,
}

/// The images of the pod spec of `object`, containers first as Kyverno lists them.
fn images(object: &Value) -> Vec<Image<'_>> {
    let mut out = Vec::new();
    let Some((spec, prefix)) = super::images::pod_spec(object) else {
        return out;
    };
    for group in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec
            .get(group)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(image) = c.get("image").and_then(Value::as_str) {
                out.push(Image {
                    field: format!("{prefix}.{group}[{i}].image"),
                    written: image,
                });
            }
        }
    }
    out
}

/// What one rule concluded.
pub enum Verdict {
    /// Every selected image verified (`notes`: what Kyverno would have mutated).
    Pass(String),
    /// An image did not: the message and its field.
    Fail(String, String),
    /// The registry could not answer, or there is no registry access.
    Error(String),
    /// No image was selected.
    Skip,
}

/// Judges the images of `object`.
pub fn judge(v: &VerifyImages, object: &Value) -> Verdict {
    let found = images(object);
    let mut checked = Vec::new();
    for entry in &v.entries {
        for image in &found {
            let kyverno_ref = super::images::parse(image.written).map(|i| i.reference());
            let selected = |patterns: &[String]| {
                patterns.iter().any(|p| {
                    crate::wildcard::matches(p, image.written)
                        || kyverno_ref
                            .as_ref()
                            .is_ok_and(|r| crate::wildcard::matches(p, r))
                })
            };
            if !selected(&entry.references) || selected(&entry.skip) {
                continue;
            }
            let Ok(parsed) = ImageRef::parse(image.written) else {
                return Verdict::Fail(
                    format!(
                        "failed to verify image {}: not an image reference",
                        image.written
                    ),
                    image.field.clone(),
                );
            };
            let Some(verifier) = v.verifier.get() else {
                return Verdict::Error(format!(
                    "failed to verify image {}: no registry access here (`tollgate check` and the webhook verify signatures)",
                    image.written
                ));
            };
            match check_image(entry, verifier, &parsed) {
                Checked::Verified(digest) => {
                    if parsed.digest.is_none() && entry.verify_digest && !entry.mutate_digest {
                        return Verdict::Fail(
                            format!("missing digest for {}", image.written),
                            image.field.clone(),
                        );
                    }
                    checked.push(format!("{}@{digest}", image.written));
                }
                Checked::Unanswered(e) => {
                    return Verdict::Error(format!("failed to verify image {}: {e}", image.written))
                }
                Checked::Failed(reason) => {
                    return Verdict::Fail(
                        format!("failed to verify image {}: {reason}", image.written),
                        image.field.clone(),
                    )
                }
            }
        }
    }
    if checked.is_empty() {
        Verdict::Skip
    } else {
        Verdict::Pass(format!(
            "verified image signatures for {}",
            checked.join(", ")
        ))
    }
}

/// What the attestors of one entry say of one image.
enum Checked {
    /// Every attestor set holds: the digest verified.
    Verified(String),
    /// A set does not: why (the rule fails).
    Failed(String),
    /// The registry or the cache could not answer (the rule is an error).
    Unanswered(String),
}

fn check_image(entry: &ImageVerification, verifier: &Verifier, image: &ImageRef) -> Checked {
    let mut digest = image.digest.clone().unwrap_or_default();
    for set in &entry.attestors {
        let mut verified = 0usize;
        let mut last = String::new();
        for e in &set.entries {
            let mut annotations = entry.annotations.clone();
            annotations.extend(e.annotations.iter().cloned());
            let req = Requirement {
                keys: std::slice::from_ref(&e.key),
                annotations: &annotations,
                repository: e.repository.as_deref().or(entry.repository.as_deref()),
            };
            match verifier.verify(image, req) {
                Outcome::Verified { digest: d, .. } => {
                    digest = d;
                    verified = verified.saturating_add(1);
                    if verified >= set.count {
                        break;
                    }
                }
                Outcome::Unverified { reason, .. } => last = format!("{}: {reason}", e.path),
                Outcome::Offline(reason) => {
                    return Checked::Unanswered(format!("not verified offline: {reason}"))
                }
                Outcome::Unchecked(reason) => return Checked::Unanswered(reason),
            }
        }
        if verified < set.count {
            return Checked::Failed(last);
        }
    }
    Checked::Verified(digest)
}
