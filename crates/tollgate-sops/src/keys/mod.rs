//! Master keys: wrapping the data key for age (X25519 and SSH) recipients and PGP keys,
//! finding the user's identities where sops looks for them, and key groups with Shamir
//! thresholds.

pub mod pgp;
pub mod shamir;

use crate::cipher::DataKey;
use crate::error::{err, Error, Result};
use crate::metadata::{AgeEntry, KeyGroup, PgpEntry};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;
use zeroize::Zeroizing;

/// A recipient the data key can be wrapped for.
pub enum Recipient {
    /// `age1…`.
    X25519(age::x25519::Recipient),
    /// `ssh-ed25519 …` or `ssh-rsa …`.
    Ssh(age::ssh::Recipient),
}

impl Recipient {
    /// Parses a recipient as sops does (trimmed).
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.starts_with("ssh-") {
            return age::ssh::Recipient::from_str(s)
                .map(Recipient::Ssh)
                .map_err(|_| err!(Generic, "invalid SSH recipient `{s}`"));
        }
        if s.starts_with("age1pq1") || (s.starts_with("age1") && s[4..].contains('1')) {
            return Err(err!(
                Generic,
                "recipient `{s}` needs an age plugin or post-quantum support"
            )
            .with_hint("tollgate supports age X25519 (age1…) and ssh-ed25519/ssh-rsa recipients"));
        }
        age::x25519::Recipient::from_str(s)
            .map(Recipient::X25519)
            .map_err(|e| err!(Generic, "invalid age recipient `{s}`: {e}"))
    }

    fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            Recipient::X25519(r) => r,
            Recipient::Ssh(r) => r,
        }
    }
}

/// Wraps `secret` for one recipient as an ASCII-armored age file, as sops writes `enc`.
pub fn wrap(secret: &[u8], recipient: &str) -> Result<String> {
    let r = Recipient::parse(recipient)?;
    let fail = |e: &dyn std::fmt::Display| {
        err!(
            Generic,
            "could not wrap the data key for `{recipient}`: {e}"
        )
    };
    let enc = age::Encryptor::with_recipients(std::iter::once(r.as_dyn())).map_err(|e| fail(&e))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| fail(&e))?;
    let mut w = enc.wrap_output(armor).map_err(|e| fail(&e))?;
    w.write_all(secret).map_err(|e| fail(&e))?;
    w.finish()
        .and_then(age::armor::ArmoredWriter::finish)
        .map_err(|e| fail(&e))?;
    let mut text = String::from_utf8(out).map_err(|e| fail(&e))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The identities tollgate found, from every place sops looks. Never printed.
#[derive(Default)]
pub struct Keyring {
    x25519: Vec<age::x25519::Identity>,
    ssh: Vec<age::ssh::Identity>,
    key_cmd: Option<String>,
    /// Which key types are tried first (`--decryption-order`, `SOPS_DECRYPTION_ORDER`); empty
    /// means sops's default.
    order: Vec<KeyKind>,
    /// Where identities were looked for, for the "no key" message.
    pub tried: Vec<String>,
    /// Problems met while loading (unreadable files, encrypted SSH keys).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keyring({} age, {} ssh identities)",
            self.x25519.len(),
            self.ssh.len()
        )
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn home() -> Option<PathBuf> {
    env("HOME")
        .or_else(|| env("USERPROFILE"))
        .map(PathBuf::from)
}

/// `<UserConfigDir>/sops/age/keys.txt`, as Go's `os.UserConfigDir` resolves it per OS.
pub fn default_keys_path() -> Option<PathBuf> {
    if cfg!(windows) {
        return env("AppData").map(|d| PathBuf::from(d).join("sops").join("age").join("keys.txt"));
    }
    let base = match env("XDG_CONFIG_HOME") {
        Some(x) => PathBuf::from(x),
        None if cfg!(target_os = "macos") => home()?.join("Library").join("Application Support"),
        None => home()?.join(".config"),
    };
    Some(base.join("sops").join("age").join("keys.txt"))
}

/// The key types a data key can be opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// age X25519 and SSH identities.
    Age,
    /// PGP keys, through GnuPG's keyring.
    Pgp,
}

/// sops's default decryption order.
const DEFAULT_ORDER: [KeyKind; 2] = [KeyKind::Age, KeyKind::Pgp];

/// Parses a decryption order (`age,pgp`): the types named first, in that order, then the others
/// as sops does. Types tollgate cannot use (kms, …) are accepted and have no effect.
pub fn decryption_order(list: &str) -> Result<Vec<KeyKind>> {
    let mut order = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind = match name {
            "age" => KeyKind::Age,
            "pgp" => KeyKind::Pgp,
            "kms" | "gcp_kms" | "azure_kv" | "hc_vault" | "hckms" => continue,
            other => {
                return Err(err!(
                    Generic,
                    "unknown key type `{other}` in the decryption order"
                )
                .with_hint("use age, pgp, kms, gcp_kms, azure_kv, hc_vault, hckms"))
            }
        };
        if !order.contains(&kind) {
            order.push(kind);
        }
    }
    order.extend(
        DEFAULT_ORDER
            .iter()
            .filter(|k| !order.contains(k))
            .collect::<Vec<_>>(),
    );
    Ok(order)
}

impl Keyring {
    /// Sets the order key types are tried in.
    pub fn set_order(&mut self, order: Vec<KeyKind>) {
        self.order = order;
    }

    /// Loads identities from `SOPS_AGE_SSH_PRIVATE_KEY_FILE` (or `~/.ssh/id_ed25519`, `id_rsa`),
    /// `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, the default `keys.txt`, and notes `SOPS_AGE_KEY_CMD`.
    pub fn from_env() -> Self {
        // An empty order is the default one (see `open_group`).
        let mut k = Keyring {
            order: env("SOPS_DECRYPTION_ORDER")
                .and_then(|o| decryption_order(&o).ok())
                .unwrap_or_default(),
            ..Keyring::default()
        };
        match env("SOPS_AGE_SSH_PRIVATE_KEY_FILE") {
            Some(p) => k.load_ssh_file(PathBuf::from(p), true),
            None => {
                if let Some(h) = home() {
                    k.load_ssh_file(h.join(".ssh").join("id_ed25519"), false);
                    k.load_ssh_file(h.join(".ssh").join("id_rsa"), false);
                }
            }
        }
        if let Some(text) = env("SOPS_AGE_KEY") {
            k.tried.push("SOPS_AGE_KEY".into());
            let text = Zeroizing::new(text);
            k.add_age_text(&text, "SOPS_AGE_KEY");
        }
        if let Some(p) = env("SOPS_AGE_KEY_FILE") {
            k.load_age_file(PathBuf::from(p), true);
        }
        if let Some(cmd) = env("SOPS_AGE_KEY_CMD") {
            k.tried.push("SOPS_AGE_KEY_CMD".into());
            k.key_cmd = Some(cmd);
        }
        if let Some(p) = default_keys_path() {
            k.load_age_file(p, false);
        }
        k
    }

    /// Adds identities from key-file text (one `AGE-SECRET-KEY-1…` per line, `#` comments).
    pub fn add_age_text(&mut self, text: &str, source: &str) {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match age::x25519::Identity::from_str(line) {
                Ok(id) => self.x25519.push(id),
                Err(_) if line.starts_with("AGE-PLUGIN-") => {
                    self.warnings
                        .push(format!("{source}: age plugin identities are not supported"));
                }
                Err(_) => self
                    .warnings
                    .push(format!("{source}: a line is not an age identity")),
            }
        }
    }

    fn load_age_file(&mut self, path: PathBuf, explicit: bool) {
        self.tried.push(path.display().to_string());
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                self.add_age_text(&text, &path.display().to_string());
            }
            Err(e) if explicit || e.kind() != std::io::ErrorKind::NotFound => {
                self.warnings.push(format!("{}: {e}", path.display()));
            }
            Err(_) => {}
        }
    }

    fn load_ssh_file(&mut self, path: PathBuf, explicit: bool) {
        self.tried.push(path.display().to_string());
        let data = match std::fs::read(&path) {
            Ok(d) => Zeroizing::new(d),
            Err(e) => {
                if explicit || e.kind() != std::io::ErrorKind::NotFound {
                    self.warnings.push(format!("{}: {e}", path.display()));
                }
                return;
            }
        };
        match age::ssh::Identity::from_buffer(&data[..], Some(path.display().to_string())) {
            Ok(age::ssh::Identity::Unencrypted(k)) => self.ssh.push(k.into()),
            Ok(age::ssh::Identity::Encrypted(_)) => self.warnings.push(format!(
                "{}: passphrase-protected SSH keys are not supported",
                path.display()
            )),
            Ok(age::ssh::Identity::Unsupported(_)) | Err(_) => {
                self.warnings.push(format!(
                    "{}: not a supported SSH private key",
                    path.display()
                ));
            }
        }
    }

    fn cmd_identities(&self, recipient: &str) -> Vec<age::x25519::Identity> {
        let Some(cmd) = &self.key_cmd else {
            return Vec::new();
        };
        let words = split_command(cmd);
        let Some((prog, args)) = words.split_first() else {
            return Vec::new();
        };
        let out = std::process::Command::new(prog)
            .args(args)
            .env("SOPS_AGE_RECIPIENT", recipient)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output();
        let mut tmp = Keyring::default();
        if let Ok(out) = out {
            if out.status.success() {
                let text = Zeroizing::new(String::from_utf8_lossy(&out.stdout).into_owned());
                tmp.add_age_text(&text, "SOPS_AGE_KEY_CMD");
            }
        }
        std::mem::take(&mut tmp.x25519)
    }

    /// Opens one `enc` block, trying every identity.
    pub fn unwrap(&self, entry: &AgeEntry) -> Option<Zeroizing<Vec<u8>>> {
        let extra = self.cmd_identities(&entry.recipient);
        let ids = self
            .x25519
            .iter()
            .chain(extra.iter())
            .map(|i| i as &dyn age::Identity)
            .chain(self.ssh.iter().map(|i| i as &dyn age::Identity));
        let reader = age::armor::ArmoredReader::new(entry.enc.as_bytes());
        let dec = age::Decryptor::new(reader).ok()?;
        let mut r = dec.decrypt(ids).ok()?;
        let mut out = Zeroizing::new(Vec::new());
        r.read_to_end(&mut out).ok()?;
        Some(out)
    }

    /// Opens one group's data key (or share) with the first key that can, in decryption
    /// order; why each PGP key could not is noted in `why`.
    fn open_group(&self, g: &KeyGroup, why: &mut Vec<String>) -> Option<Zeroizing<Vec<u8>>> {
        let order = if self.order.is_empty() {
            &DEFAULT_ORDER[..]
        } else {
            &self.order[..]
        };
        for kind in order {
            match kind {
                KeyKind::Age => {
                    if let Some(k) = g.age.iter().find_map(|e| self.unwrap(e)) {
                        return Some(k);
                    }
                }
                KeyKind::Pgp => {
                    for p in &g.pgp {
                        match pgp::Gnupg::global().decrypt(&p.enc) {
                            Ok(k) => return Some(k),
                            Err(e) => why.push(format!("PGP {}: {e}", p.fp)),
                        }
                    }
                }
            }
        }
        None
    }

    /// Recovers the data key from the key groups (all groups, or `threshold` of them).
    pub fn data_key(&self, groups: &[KeyGroup], threshold: usize) -> Result<DataKey> {
        let mut why = Vec::new();
        if groups.len() <= 1 {
            if let Some(k) = groups.first().and_then(|g| self.open_group(g, &mut why)) {
                return DataKey::from_slice(&k);
            }
            return Err(self.no_key(groups, &why));
        }
        let need = if threshold == 0 {
            groups.len()
        } else {
            threshold
        };
        let mut shares = Vec::new();
        for g in groups {
            if let Some(share) = self.open_group(g, &mut why) {
                shares.push(share);
                if shares.len() == need {
                    let key = shamir::combine(&shares)?;
                    return DataKey::from_slice(&key);
                }
            }
        }
        Err(self.no_key(groups, &why).context(format!(
            "only {} of the {need} key groups needed could be opened",
            shares.len()
        )))
    }

    /// Says which keys the file has, by type, where tollgate looked, and what to do.
    fn no_key(&self, groups: &[KeyGroup], why: &[String]) -> Error {
        let age: Vec<&str> = groups
            .iter()
            .flat_map(|g| g.age.iter().map(|a| a.recipient.as_str()))
            .collect();
        let pgp: Vec<&str> = groups
            .iter()
            .flat_map(|g| g.pgp.iter().map(|p| p.fp.as_str()))
            .collect();
        let other: Vec<String> = groups.iter().flat_map(KeyGroup::other_identities).collect();
        let mut msg = String::from("failed to get the data key: no key could decrypt it");
        if age.is_empty() && pgp.is_empty() && other.is_empty() {
            msg.push_str(" (the file names no keys)");
        }
        if !age.is_empty() {
            msg.push_str(&format!("\n  age recipients: {}", age.join(", ")));
        }
        if !pgp.is_empty() {
            msg.push_str(&format!("\n  PGP keys: {}", pgp.join(", ")));
        }
        if !other.is_empty() {
            msg.push_str(&format!(
                "\n  keys tollgate cannot use (cloud KMS, Vault): {}",
                other.join(", ")
            ));
        }
        if !age.is_empty() {
            msg.push_str(&format!(
                "\n  age identities looked for in: {}",
                if self.tried.is_empty() {
                    "nothing".into()
                } else {
                    self.tried.join(", ")
                }
            ));
        }
        if !pgp.is_empty() {
            msg.push_str(&format!(
                "\n  GnuPG keyring: {}",
                pgp::Gnupg::global().home().display()
            ));
            for w in why {
                msg.push_str(&format!("\n    {w}"));
            }
        }
        let hint = if !age.is_empty() {
            "set SOPS_AGE_KEY_FILE to an age key file of one of the recipients"
        } else if !pgp.is_empty() {
            "import the secret key of one of the PGP keys into GnuPG (`gpg --import`), or set GNUPGHOME to the keyring that has it"
        } else if !other.is_empty() {
            "tollgate opens age and PGP keys only: decrypt this file with Go sops, or add an age recipient to it with sops"
        } else {
            "the metadata lists no keys; the file cannot be decrypted"
        };
        Error::new(crate::error::ErrorKind::CouldNotRetrieveKey, msg).with_hint(hint)
    }
}

/// Wraps `secret` (the data key or one share) for every key of one group.
fn wrap_group(secret: &[u8], g: &mut KeyGroup) -> Result<()> {
    for a in &mut g.age {
        a.enc = wrap(secret, &a.recipient)?;
    }
    let now = crate::time::Timestamp::now_utc().rfc3339();
    for p in &mut g.pgp {
        wrap_pgp(secret, p, &now)?;
    }
    Ok(())
}

fn wrap_pgp(secret: &[u8], p: &mut PgpEntry, now: &str) -> Result<()> {
    p.enc = pgp::Gnupg::global().encrypt(secret, &p.fp)?;
    p.created_at = now.to_owned();
    Ok(())
}

/// Wraps the data key for every recipient of every group (splitting it for Shamir when there
/// is more than one group).
pub fn wrap_groups(key: &DataKey, groups: &mut [KeyGroup], threshold: usize) -> Result<()> {
    if groups.is_empty() || groups.iter().any(|g| !g.has_keys()) {
        return Err(empty_key_group());
    }
    if groups.len() > 1 && groups.iter().any(KeyGroup::has_other_keys) {
        // New shares for the other groups would not match the share a KMS key still wraps.
        return Err(err!(
            Generic,
            "cannot split the data key anew: a key group has keys of a type tollgate cannot wrap (KMS, Vault)"
        )
        .with_hint("change this file's key groups with Go sops"));
    }
    if groups.len() <= 1 {
        for g in groups.iter_mut() {
            wrap_group(key.expose(), g)?;
        }
        return Ok(());
    }
    let t = if threshold == 0 {
        groups.len()
    } else {
        threshold
    };
    let shares = shamir::split(key.expose(), groups.len(), t)?;
    for (g, share) in groups.iter_mut().zip(shares.iter()) {
        wrap_group(share, g)?;
    }
    Ok(())
}

/// sops's words for a key group without keys (its functional tests compare them).
pub fn empty_key_group() -> Error {
    err!(
        Generic,
        "Could not generate data key: [empty key group provided]"
    )
    .with_hint("give every key group a recipient: --age age1… or --pgp FINGERPRINT, or `age:`/`pgp:` in the .sops.yaml rule")
}

/// Splits a command line like a POSIX shell does for simple quoting (`'…'`, `"…"`, `\`).
pub fn split_command(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_x25519() {
        let id = age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        let enc = wrap(&[7u8; 32], &recipient).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        let mut ring = Keyring::default();
        ring.x25519.push(id);
        let entry = AgeEntry { recipient, enc };
        assert_eq!(*ring.unwrap(&entry).unwrap(), vec![7u8; 32]);
        assert!(!format!("{ring:?}").contains("AGE-SECRET"));
        assert_eq!(
            Keyring::default()
                .data_key(
                    &[KeyGroup {
                        age: vec![entry],
                        ..KeyGroup::default()
                    }],
                    0
                )
                .unwrap_err()
                .exit_code(),
            128
        );
    }

    #[test]
    fn splits_commands() {
        assert_eq!(
            split_command("cat '/a b/k.txt' x\\ y \"q\\\"\""),
            vec!["cat", "/a b/k.txt", "x y", "q\""]
        );
    }
}
