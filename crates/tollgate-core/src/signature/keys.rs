//! The public keys a cosign signature is checked with: PKIX PEM as `cosign generate-key-pair`
//! writes (`-----BEGIN PUBLIC KEY-----`, ECDSA P-256), and ed25519 and RSA keys in the same
//! container. A key is named by the SHA-256 of its DER form, so a cached verification can
//! never be credited to another key that happens to share a file name.

use sha2::{Digest, Sha256};

/// A key a signature may be made with.
#[derive(Clone)]
pub struct PublicKey {
    /// Where it came from (a file, `policy P rule R`), for findings.
    pub source: String,
    /// Hex SHA-256 of the key's DER SubjectPublicKeyInfo.
    pub fingerprint: String,
    key: Algorithm,
}

#[derive(Clone)]
enum Algorithm {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({} {} {})",
            self.algorithm(),
            self.short(),
            self.source
        )
    }
}

impl PublicKey {
    /// Reads one PEM public key; `source` names it in errors and findings.
    pub fn from_pem(pem: &str, source: &str) -> Result<PublicKey, String> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|e| {
            format!("{source}: not a PEM public key ({e}); cosign writes one with `cosign generate-key-pair` (cosign.pub)")
        })?;
        let key = match label {
            "PUBLIC KEY" => Self::from_spki(&der).ok_or_else(|| {
                format!("{source}: a public key of an unsupported algorithm (ECDSA P-256, ed25519 and RSA are supported)")
            })?,
            "RSA PUBLIC KEY" => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                Algorithm::Rsa(
                    rsa::RsaPublicKey::from_pkcs1_der(&der)
                        .map_err(|e| format!("{source}: not an RSA public key ({e})"))?,
                )
            }
            "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" | "PRIVATE KEY"
            | "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
                return Err(format!(
                    "{source}: this is a private key; give the public one (cosign.pub), and keep the private key out of the repository"
                ))
            }
            other => {
                return Err(format!(
                    "{source}: a PEM `{other}` block, not a public key (`-----BEGIN PUBLIC KEY-----`)"
                ))
            }
        };
        Ok(PublicKey {
            source: source.to_owned(),
            fingerprint: hex(&Sha256::digest(&der)),
            key,
        })
    }

    /// Reads the PEM public key in `path`, named `source` (the path as the user wrote it).
    pub fn read(path: &std::path::Path, source: &str) -> Result<PublicKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read key {}: {e}", path.display()))?;
        PublicKey::from_pem(&text, source)
    }

    fn from_spki(der: &[u8]) -> Option<Algorithm> {
        use p256::pkcs8::DecodePublicKey;
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Some(Algorithm::P256(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Some(Algorithm::Ed25519(k));
        }
        rsa::RsaPublicKey::from_public_key_der(der)
            .ok()
            .map(Algorithm::Rsa)
    }

    /// `ecdsa-p256`, `ed25519` or `rsa`.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            Algorithm::P256(_) => "ecdsa-p256",
            Algorithm::Ed25519(_) => "ed25519",
            Algorithm::Rsa(_) => "rsa",
        }
    }

    /// The first 12 hex digits of the fingerprint, for messages.
    pub fn short(&self) -> &str {
        self.fingerprint.get(..12).unwrap_or(&self.fingerprint)
    }

    /// Whether `signature` is this key's over `payload`, as cosign makes them: ECDSA with
    /// SHA-256 (ASN.1 DER), ed25519 over the payload itself, RSA PKCS#1 v1.5 or PSS with
    /// SHA-256.
    pub fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
        use ::signature::Verifier;
        match &self.key {
            Algorithm::P256(k) => {
                // cosign writes ASN.1 DER; the fixed 64-byte form is accepted too.
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
                    .ok();
                sig.is_some_and(|s| k.verify(payload, &s).is_ok())
            }
            Algorithm::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify(payload, &s).is_ok()),
            Algorithm::Rsa(k) => {
                let pkcs1 = rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|s| {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone())
                        .verify(payload, &s)
                        .is_ok()
                });
                pkcs1
                    || rsa::pss::Signature::try_from(signature).is_ok_and(|s| {
                        rsa::pss::VerifyingKey::<Sha256>::new(k.clone())
                            .verify(payload, &s)
                            .is_ok()
                    })
            }
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // TEST-ONLY keys, made with `openssl genpkey` for these tests.
    const P256_PUB: &str = include_str!("../../../../fixtures/images/keys/cosign.pub");
    const ED25519_PUB: &str = include_str!("../../../../fixtures/images/keys/ed25519.pub");
    const RSA_PUB: &str = include_str!("../../../../fixtures/images/keys/rsa.pub");

    #[test]
    fn every_supported_algorithm_is_read_and_named_by_its_der() {
        let p = PublicKey::from_pem(P256_PUB, "cosign.pub").unwrap();
        assert_eq!(p.algorithm(), "ecdsa-p256");
        assert_eq!(p.fingerprint.len(), 64);
        assert_eq!(
            PublicKey::from_pem(ED25519_PUB, "e").unwrap().algorithm(),
            "ed25519"
        );
        assert_eq!(
            PublicKey::from_pem(RSA_PUB, "r").unwrap().algorithm(),
            "rsa"
        );
        // The same key under another name is the same fingerprint.
        assert_eq!(
            PublicKey::from_pem(P256_PUB, "other").unwrap().fingerprint,
            p.fingerprint
        );
    }

    #[test]
    fn what_is_not_a_public_key_is_refused_with_what_to_do() {
        let e = PublicKey::from_pem("hello", "k.pub").unwrap_err();
        assert!(e.starts_with("k.pub: not a PEM public key"), "{e}");
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = PublicKey::from_pem(private, "k.pub").unwrap_err();
        assert!(e.contains("this is a private key"), "{e}");
    }

    #[test]
    fn a_signature_verifies_only_over_its_payload() {
        let p = PublicKey::from_pem(P256_PUB, "cosign.pub").unwrap();
        // Not a signature at all, of any encoding.
        assert!(!p.verifies(b"payload", b"garbage"));
        assert!(!p.verifies(b"payload", &[]));
    }
}
