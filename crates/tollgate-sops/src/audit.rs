//! What can be known of a SOPS file without any key: whether its metadata is well formed,
//! whether every value its selector says is encrypted is, whether its recipients are the ones
//! `.sops.yaml` names today, and, given a key, whether its MAC holds. The secrets audit
//! (`tollgate secrets audit`) runs this in CI, where no private key should be.

use crate::config::Config;
use crate::crypt::{self, Rules, Unsealed};
use crate::error::Result;
use crate::file::{self, recipient_sets};
use crate::keys::{Keyring, Recipient};
use crate::stores::Format;
use std::path::Path;

/// What is wrong with a SOPS file's metadata, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// The metadata cannot be read at all (the message says why).
    Unreadable(String),
    /// `mac` is missing or empty: sops refuses to decrypt the file.
    NoMac,
    /// `mac` is not an `ENC[...]` value.
    BadMac,
    /// `lastmodified` is not an RFC 3339 time (the MAC's AAD cannot be formed).
    BadLastModified(String),
    /// An age recipient that is not a valid key.
    BadRecipient(String),
    /// No recipient in any key group: nobody can decrypt it.
    NoRecipients,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::Unreadable(why) => write!(f, "the sops metadata cannot be read: {why}"),
            Malformed::NoMac => {
                f.write_str("the sops metadata has no MAC, so sops refuses to decrypt it")
            }
            Malformed::BadMac => f.write_str("the sops MAC is not an ENC[...] value"),
            Malformed::BadLastModified(v) => {
                write!(
                    f,
                    "sops.lastmodified `{}` is not an RFC 3339 time",
                    v.escape_debug()
                )
            }
            Malformed::BadRecipient(r) => {
                write!(f, "`{}` is not a valid age recipient", r.escape_debug())
            }
            Malformed::NoRecipients => {
                f.write_str("the sops metadata names no recipient: nobody can decrypt it")
            }
        }
    }
}

/// Recipients that differ from the matching creation rule's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The `.sops.yaml`.
    pub config: std::path::PathBuf,
    /// The index of the creation rule.
    pub rule: usize,
    /// Recipients the rule names that the file lacks.
    pub added: Vec<String>,
    /// Recipients the file has that the rule does not name.
    pub removed: Vec<String>,
    /// Only the key-group layout or the Shamir threshold differs.
    pub layout_only: bool,
}

/// The audit of one SOPS file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// Metadata problems.
    pub malformed: Vec<Malformed>,
    /// Values the selector says are encrypted that are not (or whose ciphertext is damaged).
    pub unsealed: Vec<Unsealed>,
    /// Recipient drift against `.sops.yaml`, if a rule matches and differs.
    pub drift: Option<Drift>,
}

/// Audits `bytes` (the file at `path`) from its metadata alone; `None` when it is not a SOPS
/// file. `config` is the `.sops.yaml` that governs it, if any.
pub fn audit(path: &Path, bytes: &[u8], config: Option<&Config>) -> Option<Audit> {
    let format = Format::from_path(path);
    let mut out = Audit::default();
    let mut sealed = match file::read_sealed(bytes, format) {
        Ok(s) => s,
        Err(e) if file::is_not_encrypted(&e) => return None,
        Err(e) => {
            out.malformed
                .push(Malformed::Unreadable(e.message().to_owned()));
            return Some(out);
        }
    };
    let m = &sealed.metadata;
    if m.mac.is_empty() {
        out.malformed.push(Malformed::NoMac);
    } else if !crate::cipher::is_well_formed(&m.mac) {
        out.malformed.push(Malformed::BadMac);
    }
    if m.canonical_lastmodified().is_err() {
        out.malformed
            .push(Malformed::BadLastModified(m.lastmodified.clone()));
    }
    for r in m.recipients() {
        if let Err(e) = Recipient::parse(r) {
            // A plugin's recipient is valid; tollgate just cannot wrap for it.
            if !e.message().contains("needs an age plugin") {
                out.malformed.push(Malformed::BadRecipient(r.to_owned()));
            }
        }
    }
    let any_recipient = m.key_groups.iter().any(crate::metadata::KeyGroup::has_keys);
    if !any_recipient {
        out.malformed.push(Malformed::NoRecipients);
    }
    let rules = Rules {
        selector: &sealed.metadata.selector,
        mac_only_encrypted: sealed.metadata.mac_only_encrypted,
    };
    if let Ok(found) = crypt::inspect(&mut sealed.docs, rules) {
        out.unsealed = found;
    }
    if let Some(config) = config {
        out.drift = drift(path, config, &sealed.metadata);
    }
    Some(out)
}

/// How the file's age recipients differ from its creation rule's. Files whose groups hold
/// other key types (PGP, KMS) are compared on their age recipients only.
fn drift(path: &Path, config: &Config, m: &crate::metadata::Metadata) -> Option<Drift> {
    let rule = config.rule_for(path)?;
    let (added, removed) = change(rule, m)?;
    Some(Drift {
        config: config.path.clone(),
        rule: rule.index,
        layout_only: added.is_empty() && removed.is_empty(),
        added,
        removed,
    })
}

/// The recipients `updatekeys` would add and remove to bring a file with metadata `m` to
/// `rule`; `None` when nothing would change (key groups and Shamir threshold alike). Keys of
/// other types (PGP, KMS) are compared for the types the rule names; a type the rule does not
/// name is kept as the file has it, as tollgate's updatekeys keeps it.
pub(crate) fn change(
    rule: &crate::config::CreationRule,
    m: &crate::metadata::Metadata,
) -> Option<(Vec<String>, Vec<String>)> {
    let before = recipient_sets(&m.key_groups);
    let after = &rule.key_groups;
    let managed = rule.unsupported_key_types();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let before_other: Vec<Vec<String>> = m
        .key_groups
        .iter()
        .map(|g| {
            sorted(
                g.other_identities()
                    .into_iter()
                    .filter(|id| {
                        id.split_once(':')
                            .is_some_and(|(t, _)| managed.contains(&t))
                    })
                    .collect(),
            )
        })
        .filter(|g| !g.is_empty())
        .collect();
    let after_other: Vec<Vec<String>> = rule
        .other_keys
        .iter()
        .map(|g| sorted(g.clone()))
        .filter(|g| !g.is_empty())
        .collect();
    // A threshold only means something with several groups.
    let threshold = |groups: usize, t: usize| if groups > 1 { t } else { 0 };
    if &before == after
        && before_other == after_other
        && threshold(before.len(), m.shamir_threshold)
            == threshold(after.len(), rule.shamir_threshold)
    {
        return None;
    }
    let (mut added, mut removed) = crate::bulk::diff(&before, after);
    let (more_added, more_removed) = crate::bulk::diff(&before_other, &after_other);
    added.extend(more_added);
    removed.extend(more_removed);
    Some((added, removed))
}

/// Verifies the MAC of `bytes` with `keyring`, decrypting in memory only. `Ok(())` when it
/// holds; the error says why not (tampering, wrong key, no key).
pub fn verify_mac(path: &Path, bytes: &[u8], keyring: &Keyring) -> Result<()> {
    let sealed = file::read_sealed(bytes, Format::from_path(path))?;
    // Decrypting checks the MAC; the plaintext is dropped (and zeroized) here.
    file::open_read_only(sealed, keyring, false).map(drop)
}
