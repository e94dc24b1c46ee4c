//! PGP master keys as sops uses them: the data key (or a Shamir share) encrypted to the key of
//! a fingerprint, ASCII-armored in `enc`.
//!
//! Encryption runs in process (rPGP) with the public key from the GnuPG keyring: the legacy
//! `pubring.gpg` when it has the key (as sops's OpenPGP path reads it), else what `gpg --export`
//! gives for the fingerprint, once per fingerprint and process. Decryption tries the secret
//! keys of the legacy `secring.gpg` in process (what `gpg --export-secret-keys` writes, with no
//! passphrase), then GnuPG itself (`gpg -d`), as sops's fallback does: since GnuPG 2.1 secret
//! keys live in the agent's store, behind its passphrase cache, pinentry and smartcards, and
//! only GnuPG should open them.

use crate::error::{err, Result};
use pgp::composed::{
    ArmorOptions, Deserializable, Message, MessageBuilder, SignedPublicKey, SignedPublicSubKey,
    SignedSecretKey,
};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Password, Timestamp};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use zeroize::Zeroizing;

/// A fingerprint as sops compares it: spaces removed, uppercase, a trailing `!` (GnuPG's "this
/// subkey exactly") dropped.
pub fn normalize_fingerprint(fp: &str) -> String {
    fp.replace(' ', "")
        .trim_end_matches('!')
        .to_ascii_uppercase()
}

/// Whether `fp` (a full fingerprint or a 16-digit key id, as sops accepts) looks like one.
pub fn is_fingerprint(fp: &str) -> bool {
    let n = normalize_fingerprint(fp);
    matches!(n.len(), 16 | 40 | 64) && n.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where GnuPG keeps its keys and which binary runs it.
pub struct Gnupg {
    /// `GNUPGHOME`, else `~/.gnupg`.
    home: PathBuf,
    /// Whether `GNUPGHOME` named it (passed on as `--homedir` only then, as sops does).
    explicit_home: bool,
    /// `SOPS_GPG_EXEC`, else `gpg`.
    binary: String,
    /// Public keys found per fingerprint (`None`: not in the keyring), for this process.
    public: Mutex<HashMap<String, Option<Arc<SignedPublicKey>>>>,
    /// The secret keys of the legacy `secring.gpg`, read once.
    secring: OnceLock<Vec<SignedSecretKey>>,
}

impl std::fmt::Debug for Gnupg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gnupg({})", self.home.display())
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Gnupg {
    /// The GnuPG setup of this process's environment, shared by every operation.
    pub fn global() -> &'static Gnupg {
        static G: OnceLock<Gnupg> = OnceLock::new();
        G.get_or_init(Gnupg::from_env)
    }

    fn from_env() -> Self {
        let (home, explicit_home) = match env("GNUPGHOME") {
            Some(h) => (PathBuf::from(h), true),
            None => (
                env("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".gnupg"),
                false,
            ),
        };
        Gnupg {
            home,
            explicit_home,
            binary: env("SOPS_GPG_EXEC").unwrap_or_else(|| "gpg".into()),
            public: Mutex::new(HashMap::new()),
            secring: OnceLock::new(),
        }
    }

    /// The keyring directory, for messages.
    pub fn home(&self) -> &std::path::Path {
        &self.home
    }

    fn gpg(&self) -> Command {
        let mut c = Command::new(&self.binary);
        if self.explicit_home {
            c.arg("--homedir").arg(&self.home);
        }
        c
    }

    /// The public key for `fp`, from `pubring.gpg` or `gpg --export`.
    fn public_key(&self, fp: &str) -> Result<Arc<SignedPublicKey>> {
        let want = normalize_fingerprint(fp);
        if let Some(found) = self.public.lock().ok().and_then(|m| m.get(&want).cloned()) {
            return found.ok_or_else(|| no_public_key(fp, self));
        }
        let found = self.lookup_public(&want);
        if let Ok(mut m) = self.public.lock() {
            m.insert(want, found.clone());
        }
        found.ok_or_else(|| no_public_key(fp, self))
    }

    fn lookup_public(&self, want: &str) -> Option<Arc<SignedPublicKey>> {
        // GnuPG 2.1 migrates pubring.gpg to pubring.kbx and leaves the old file behind: keys
        // imported since are only in the new store, so a miss here still asks GnuPG.
        let in_legacy = std::fs::read(self.home.join("pubring.gpg"))
            .ok()
            .and_then(|bytes| find_public(&bytes, want));
        in_legacy.or_else(|| {
            let out = self
                .gpg()
                .args(["--batch", "--export", want])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| find_public(&out.stdout, want))
                .flatten()
        })
    }

    /// Encrypts `secret` for the key of `fp`; the armored message, as sops stores it.
    pub fn encrypt(&self, secret: &[u8], fp: &str) -> Result<String> {
        let key = self.public_key(fp)?;
        let want = normalize_fingerprint(fp);
        let fail = |e: &dyn std::fmt::Display| {
            err!(
                Generic,
                "could not encrypt the data key for PGP key {fp}: {e}"
            )
        };
        let mut rng = rand::thread_rng();
        let mut builder = MessageBuilder::from_bytes("", secret.to_vec())
            .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        match encryption_subkey(&key, &want) {
            Some(sub) => builder.encrypt_to_key(&mut rng, sub),
            None if primary_encrypts(&key) => builder.encrypt_to_key(&mut rng, &key.primary_key),
            None => {
                return Err(err!(
                    Generic,
                    "PGP key {fp} has no valid encryption key (expired, revoked, or signing only)"
                ))
            }
        }
        .map_err(|e| fail(&e))?;
        let text = builder
            .to_armored_string(&mut rng, ArmorOptions::default())
            .map_err(|e| fail(&e))?;
        // sops trims GnuPG's output and writes the block without a final line break.
        Ok(text.trim().to_owned())
    }

    fn secring(&self) -> &[SignedSecretKey] {
        self.secring.get_or_init(|| {
            let Ok(bytes) = std::fs::read(self.home.join("secring.gpg")).map(Zeroizing::new) else {
                return Vec::new();
            };
            let armored = bytes.starts_with(b"-----BEGIN");
            let keys = if armored {
                SignedSecretKey::from_armor_many(&bytes[..]).map(|(k, _)| k)
            } else {
                SignedSecretKey::from_bytes_many(&bytes[..])
            };
            keys.map(|k| k.flatten().collect()).unwrap_or_default()
        })
    }

    /// Opens an `enc` block: in process with `secring.gpg`, else with GnuPG. The error says
    /// why not (for the "no key" message; GnuPG's own words, which name no secret).
    pub fn decrypt(&self, enc: &str) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
        for key in self.secring() {
            if let Some(plain) = decrypt_with(enc, key) {
                return Ok(plain);
            }
        }
        let child = self
            .gpg()
            .args(["--quiet", "-d"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return Err(format!("cannot run `{}`: {e}", self.binary)),
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A gpg that exits early closes the pipe; its status says why.
            let _ = stdin.write_all(enc.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("`{}` failed: {e}", self.binary))?;
        let plain = Zeroizing::new(out.stdout);
        if out.status.success() && !plain.is_empty() {
            return Ok(plain);
        }
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .map(|l| l.trim_start_matches("gpg: ").trim())
            .rfind(|l| !l.is_empty())
            .unwrap_or("GnuPG returned no data");
        Err(why.to_owned())
    }
}

fn no_public_key(fp: &str, g: &Gnupg) -> crate::error::Error {
    err!(
        Generic,
        "PGP key {fp} is not in the GnuPG keyring ({})",
        g.home.display()
    )
    .with_hint("import it with `gpg --import KEY.asc`, or set GNUPGHOME to the keyring that has it")
}

/// The key in the binary keyring `bytes` that `want` names.
fn find_public(bytes: &[u8], want: &str) -> Option<Arc<SignedPublicKey>> {
    let found = SignedPublicKey::from_bytes_many(bytes)
        .ok()?
        .flatten()
        .find(|k| names(k, want));
    found.map(Arc::new)
}

/// Whether the fingerprint `want` (or its 16-digit key id) names `key` or one of its subkeys.
fn names(key: &SignedPublicKey, want: &str) -> bool {
    let matches = |fp: String| fp == want || (want.len() == 16 && fp.ends_with(want));
    matches(hex(&key.primary_key.fingerprint()))
        || key
            .public_subkeys
            .iter()
            .any(|s| matches(hex(&s.key.fingerprint())))
}

fn hex(fp: &pgp::types::Fingerprint) -> String {
    fp.as_bytes().iter().map(|b| format!("{b:02X}")).collect()
}

/// Whether a binding signature is still in force: not expired at `now`.
fn in_force(sig: &Signature, created: Timestamp, now: u32) -> bool {
    let key_alive = sig
        .key_expiration_time()
        .map(|d| d.as_secs())
        .filter(|&d| d > 0)
        .is_none_or(|d| created.as_secs().saturating_add(d) > now);
    let sig_alive = match (sig.created(), sig.signature_expiration_time()) {
        (Some(c), Some(d)) if d.as_secs() > 0 => c.as_secs().saturating_add(d.as_secs()) > now,
        _ => true,
    };
    key_alive && sig_alive
}

/// The subkey to encrypt to, as GnuPG picks it: the one `want` names if it is a subkey's
/// fingerprint, else the newest subkey whose binding (verified against the primary key) allows
/// encryption and is neither expired nor revoked.
fn encryption_subkey<'k>(key: &'k SignedPublicKey, want: &str) -> Option<&'k SignedPublicSubKey> {
    let now = Timestamp::now().as_secs();
    let usable = |s: &&SignedPublicSubKey| {
        let revoked = s
            .signatures
            .iter()
            .any(|sig| sig.typ() == Some(SignatureType::SubkeyRevocation));
        let binding = s.signatures.iter().find(|sig| {
            sig.typ() == Some(SignatureType::SubkeyBinding)
                && (sig.key_flags().encrypt_comms() || sig.key_flags().encrypt_storage())
        });
        !revoked
            && s.key.algorithm().can_encrypt()
            && binding.is_some_and(|b| in_force(b, s.key.created_at(), now))
            && s.verify_bindings(&key.primary_key).is_ok()
    };
    let exact = key
        .public_subkeys
        .iter()
        .filter(usable)
        .find(|s| hex(&s.key.fingerprint()) == want);
    exact.or_else(|| {
        key.public_subkeys
            .iter()
            .filter(usable)
            .max_by_key(|s| s.key.created_at().as_secs())
    })
}

/// Old keys (RSA "sign and encrypt") encrypt with the primary key when it is allowed to.
fn primary_encrypts(key: &SignedPublicKey) -> bool {
    key.primary_key.algorithm().can_encrypt()
        && key.details.revocation_signatures.is_empty()
        && key.details.users.iter().any(|u| {
            u.signatures.iter().any(|s| {
                let flags = s.key_flags();
                flags.encrypt_comms() || flags.encrypt_storage()
            })
        })
}

fn decrypt_with(enc: &str, key: &SignedSecretKey) -> Option<Zeroizing<Vec<u8>>> {
    let (msg, _) = Message::from_string(enc).ok()?;
    let mut msg = msg.decrypt(&Password::empty(), key).ok()?;
    if msg.is_compressed() {
        msg = msg.decompress().ok()?;
    }
    msg.as_data_vec().ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_compare_as_sops_compares_them() {
        assert_eq!(
            normalize_fingerprint("fbc7 b9e2 a4f9 289a c0c1  d484 3d16 cee4 a273 81b4"),
            "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
        );
        assert_eq!(
            normalize_fingerprint("3D16CEE4A27381B4!"),
            "3D16CEE4A27381B4"
        );
        assert!(is_fingerprint("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"));
        assert!(is_fingerprint("3d16cee4a27381b4"));
        assert!(!is_fingerprint("age1xyz"));
        assert!(!is_fingerprint("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B"));
    }
}
