//! The SOPS value cipher: AES-256-GCM with a 32-byte IV, the AAD path rule, and the
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` text form.

use crate::error::{err, Result};
use crate::time::parse_rfc3339;
use crate::tree::{Node, Scalar};
use aes_gcm::aead::consts::{U12, U32};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore;
use zeroize::Zeroizing;

/// The 32-byte key that encrypts every value, comment and the MAC of one file, with its AES
/// key schedule built once (a file has thousands of values).
pub struct DataKey {
    bytes: Zeroizing<[u8; 32]>,
    gcm32: AesGcm<Aes256, U32>,
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        Self::from_bytes(k)
    }

    /// A key from 32 bytes (what an age stanza or Shamir gives back).
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            err!(
                CouldNotRetrieveKey,
                "the data key has {} bytes instead of 32",
                bytes.len()
            )
        })?;
        Ok(Self::from_bytes(Zeroizing::new(arr)))
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        let gcm32 = AesGcm::<Aes256, U32>::new((&*bytes).into());
        DataKey { bytes, gcm32 }
    }

    /// The key bytes, for wrapping.
    pub fn expose(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

/// A fresh random 32-byte IV.
pub fn random_iv() -> [u8; 32] {
    let mut iv = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    iv
}

/// Encrypts `plaintext` into sops's `ENC[...]` form. An empty plaintext is never encrypted.
pub fn encrypt(
    key: &DataKey,
    plaintext: &[u8],
    aad: &[u8],
    type_name: &str,
    iv: &[u8; 32],
) -> Result<String> {
    let mut buf = plaintext.to_vec();
    let tag = key
        .gcm32
        .encrypt_in_place_detached(Nonce::<U32>::from_slice(iv), aad, &mut buf)
        .map_err(|_| err!(ErrorEncryptingTree, "AES-GCM encryption failed"))?;
    let out = format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{type_name}]",
        B64.encode(&buf),
        B64.encode(iv),
        B64.encode(tag)
    );
    zeroize::Zeroize::zeroize(&mut buf);
    Ok(out)
}

/// The parts of an `ENC[...]` string.
struct Parts<'a> {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    type_name: &'a str,
}

/// Whether `s` is an `ENC[AES256_GCM,...]` value with every part present and base64.
pub fn is_well_formed(s: &str) -> bool {
    parse(s).is_ok()
}

fn parse(s: &str) -> Result<Parts<'_>> {
    let bad = || {
        err!(ErrorDecryptingTree, "value does not match sops' data format")
            .with_hint("the ENC[...] value is truncated or was edited by hand; restore it from version control")
    };
    let inner = s.strip_prefix("ENC[AES256_GCM,").ok_or_else(bad)?;
    let end = inner.rfind(']').ok_or_else(bad)?;
    let inner = &inner[..end];
    let mut fields = [None; 4];
    for part in inner.split(',') {
        let (name, value) = part.split_once(':').ok_or_else(bad)?;
        let slot = match name {
            "data" => 0,
            "iv" => 1,
            "tag" => 2,
            "type" => 3,
            _ => return Err(bad()),
        };
        if value.is_empty() {
            return Err(bad());
        }
        if let Some(field) = fields.get_mut(slot) {
            *field = Some(value);
        }
    }
    let [Some(data), Some(iv), Some(tag), Some(type_name)] = fields else {
        return Err(bad());
    };
    let decode = |v: &str| B64.decode(v).map_err(|_| bad());
    Ok(Parts {
        data: decode(data)?,
        iv: decode(iv)?,
        tag: decode(tag)?,
        type_name,
    })
}

/// A decrypted value and the IV it was encrypted with (kept so unchanged values keep their
/// ciphertext on re-encryption).
pub struct Decrypted {
    /// The value: a scalar, or a comment.
    pub node: Node,
    /// The IV of the ciphertext.
    pub iv: Vec<u8>,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decrypted(redacted)")
    }
}

/// Decrypts an `ENC[...]` string with the AAD of its path.
pub fn decrypt(key: &DataKey, s: &str, aad: &[u8]) -> Result<Decrypted> {
    let parts = parse(s)?;
    let tag: [u8; 16] = parts
        .tag
        .as_slice()
        .try_into()
        .map_err(|_| err!(ErrorDecryptingTree, "the GCM tag is not 16 bytes"))?;
    let mut buf = Zeroizing::new(parts.data);
    let fail = || {
        err!(
            ErrorDecryptingTree,
            "could not decrypt a value (authentication failed)"
        )
        .with_hint(
            "the value was tampered with, its key was renamed or moved, or the data key is wrong",
        )
    };
    // Go sops accepts any IV length when decrypting; 32 is what sops writes, 12 is the GCM default.
    match parts.iv.len() {
        32 => key
            .gcm32
            .decrypt_in_place_detached(
                Nonce::<U32>::from_slice(&parts.iv),
                aad,
                &mut buf,
                Tag::from_slice(&tag),
            )
            .map_err(|_| fail())?,
        12 => AesGcm::<Aes256, U12>::new(key.expose().into())
            .decrypt_in_place_detached(
                Nonce::<U12>::from_slice(&parts.iv),
                aad,
                &mut buf,
                Tag::from_slice(&tag),
            )
            .map_err(|_| fail())?,
        n => {
            return Err(err!(
                ErrorDecryptingTree,
                "unsupported IV length {n} (expected 32 bytes)"
            ))
        }
    }
    let node = typed(parts.type_name, &buf)?;
    Ok(Decrypted { node, iv: parts.iv })
}

fn typed(type_name: &str, bytes: &[u8]) -> Result<Node> {
    let text = || {
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
            err!(
                ErrorDecryptingTree,
                "a decrypted `{type_name}` value is not valid UTF-8"
            )
        })
    };
    let bad = || {
        err!(
            ErrorDecryptingTree,
            "a decrypted value is not a valid `{type_name}`"
        )
    };
    let scalar = match type_name {
        // The binary store encrypts arbitrary bytes as `str`.
        "str" => match std::str::from_utf8(bytes) {
            Ok(s) => Scalar::Str(s.to_owned()),
            Err(_) => Scalar::Bytes(bytes.to_vec()),
        },
        "comment" => return Ok(Node::Comment(text()?)),
        "int" => Scalar::Int(text()?.parse().map_err(|_| bad())?),
        "float" => Scalar::Float(parse_go_float(&text()?).ok_or_else(bad)?),
        "bool" => Scalar::Bool(match text()?.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err(bad()),
        }),
        "time" => Scalar::Time(parse_rfc3339(&text()?).ok_or_else(bad)?),
        "bytes" => Scalar::Bytes(bytes.to_vec()),
        other => {
            return Err(err!(
                ErrorDecryptingTree,
                "unknown datatype `{other}` in an encrypted value"
            ))
        }
    };
    Ok(Node::Scalar(scalar))
}

/// Go's `strconv.ParseFloat` spellings, including `+Inf` and `NaN`.
fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().trim_start_matches('+') {
        "inf" | "infinity" => return Some(f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.eq_ignore_ascii_case("-inf") || s.eq_ignore_ascii_case("-infinity") {
        return Some(f64::NEG_INFINITY);
    }
    s.replace('_', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aad_binding() {
        let key = DataKey::generate();
        let iv = random_iv();
        let enc = encrypt(&key, b"s3cr3t", b"stringData:password:", "str", &iv).unwrap();
        assert!(enc.starts_with("ENC[AES256_GCM,data:"));
        let d = decrypt(&key, &enc, b"stringData:password:").unwrap();
        assert_eq!(d.node, Node::str("s3cr3t"));
        assert_eq!(d.iv, iv);
        let wrong = decrypt(&key, &enc, b"stringData:user:").unwrap_err();
        assert_eq!(wrong.exit_code(), 25);
        let truncated = decrypt(&key, &enc[..40], b"stringData:password:").unwrap_err();
        assert_eq!(truncated.exit_code(), 25);
        assert!(!format!("{truncated}").contains("s3cr3t"));
    }

    #[test]
    fn typed_values() {
        let key = DataKey::generate();
        for (bytes, ty, want) in [
            (&b"5432"[..], "int", Node::Scalar(Scalar::Int(5432))),
            (b"True", "bool", Node::Scalar(Scalar::Bool(true))),
            (b"+Inf", "float", Node::Scalar(Scalar::Float(f64::INFINITY))),
            (b"a comment", "comment", Node::Comment("a comment".into())),
        ] {
            let enc = encrypt(&key, bytes, b"k:", ty, &random_iv()).unwrap();
            assert_eq!(decrypt(&key, &enc, b"k:").unwrap().node, want);
        }
    }
}
