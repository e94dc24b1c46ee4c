//! The "simple signing" payload a cosign signature is made over: it names the manifest digest
//! it vouches for, so a valid signature copied next to another image proves nothing about it.
//! Only `critical.image.docker-manifest-digest` and `critical.type` bind; the identity is
//! ignored, as cosign's specification says; `optional` holds `cosign sign -a` annotations.

use serde_json::Value;

/// The type every cosign container signature carries.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// A payload, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The manifest digest signed.
    pub digest: String,
    /// `optional`'s string values (`cosign sign -a key=value`).
    pub annotations: Vec<(String, String)>,
}

/// Reads a payload, or says why it is not one cosign would accept.
pub fn parse(bytes: &[u8]) -> Result<Payload, String> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the signed payload is not JSON ({e})"))?;
    let critical = v
        .get("critical")
        .ok_or("the signed payload has no `critical` section")?;
    let kind = critical.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != SIGNATURE_TYPE {
        return Err(format!(
            "the signed payload's type is `{kind}`, not `{SIGNATURE_TYPE}`"
        ));
    }
    let digest = critical
        .pointer("/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .ok_or("the signed payload names no `critical.image.docker-manifest-digest`")?;
    let annotations = match v.get("optional") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Payload {
        digest: digest.to_owned(),
        annotations,
    })
}

/// Whether every `wanted` annotation is in `have` with that value.
pub fn satisfies(have: &[(String, String)], wanted: &[(String, String)]) -> bool {
    wanted
        .iter()
        .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosign_payload_gives_its_digest_and_annotations() {
        // The form cosign writes (identity ignored; `optional` from `-a env=prod`).
        let p = parse(br#"{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":{"env":"prod","n":3}}"#).unwrap();
        assert_eq!(p.digest, "sha256:ab");
        assert_eq!(
            p.annotations,
            vec![("env".into(), "prod".into()), ("n".into(), "3".into())]
        );
        let none = parse(br#"{"critical":{"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}"#).unwrap();
        assert!(none.annotations.is_empty());
    }

    #[test]
    fn a_payload_of_another_type_or_without_digest_is_refused() {
        let e = parse(br#"{"critical":{"image":{"docker-manifest-digest":"sha256:ab"},"type":"atomic container signature"}}"#).unwrap_err();
        assert!(e.contains("not `cosign container image signature`"), "{e}");
        let e = parse(br#"{"critical":{"type":"cosign container image signature"}}"#).unwrap_err();
        assert!(e.contains("docker-manifest-digest"), "{e}");
        assert!(parse(b"not json").is_err());
    }

    #[test]
    fn annotations_must_all_be_present_with_their_value() {
        let have = vec![("env".to_owned(), "prod".to_owned())];
        assert!(satisfies(&have, &[]));
        assert!(satisfies(&have, &[("env".into(), "prod".into())]));
        // Same key, other value; a key that is absent.
        assert!(!satisfies(&have, &[("env".into(), "dev".into())]));
        assert!(!satisfies(&have, &[("team".into(), "a".into())]));
    }
}
