//! SOPS007 (with `--verify-mac` and a key): a SOPS file whose MAC does not match its values:
//! something changed the file after sops wrote it (a value swapped for another file's
//! ciphertext, a value removed), or it was encrypted for someone else.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use tollgate_sops::keys::Keyring;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SOPS007",
    family: Family::Secrets,
    title: "A SOPS file does not pass its MAC check",
    severity: Severity::Error,
    inventory: true,
    description: "Runs only with `tollgate secrets audit --verify-mac` and a key (`SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`, or the default keys file): each SOPS file is decrypted in memory, never to disk, and its MAC (a SHA-512 over every value, encrypted with the data key) is verified. A mismatch means the values are not the ones sops encrypted: a ciphertext copied in from another file or key path, a value deleted or reordered. A file none of the keys opens is reported too, naming the recipients, since CI then cannot vouch for it. The metadata-only rules (SOPS004-006) need no key.",
    fix: "Find who changed the file (`git log -p FILE`); restore it, or decrypt it with `--ignore-mac`, check every value, and encrypt it again.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    if !model.settings().secrets.verify_mac {
        return;
    }
    let files = model.sops_files();
    if files.is_empty() {
        return;
    }
    let keyring = Keyring::from_env();
    for f in files {
        let Some(first) = f.first() else { continue };
        // Files that cannot be read as SOPS files are SOPS005's.
        if f.audit
            .malformed
            .iter()
            .any(|m| matches!(m, tollgate_sops::audit::Malformed::Unreadable(_)))
        {
            continue;
        }
        if let Err(e) = tollgate_sops::audit::verify_mac(&f.path, &f.bytes, &keyring) {
            emit.at(
                first,
                "sops.mac",
                format!("{}: {}", first.origin.file, e.message()),
            );
        }
    }
}
