//! SOPS006: in a SOPS-encrypted file, a value the file's own selector says is encrypted is
//! plaintext: someone edited the file without sops (pasted a new password over the
//! `ENC[...]`), and the secret is now in git in the clear.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SOPS006",
    family: Family::Secrets,
    title: "A value of a SOPS file is in the clear where it must be encrypted",
    severity: Severity::Error,
    inventory: true,
    description: "A SOPS file records which values it encrypts (`encrypted_regex`, `unencrypted_suffix` and their siblings in its metadata); a value those say is encrypted but that is plaintext was put there by an edit that bypassed sops. The secret is now in git in the clear, and sops will refuse to decrypt the file (its MAC no longer matches). Values the selector leaves in the clear (`metadata`, keys ending in `_unencrypted`) are not judged. The finding names the key path, never the value, and its line is masked in every report.",
    fix: "Re-encrypt the file with `tollgate sops encrypt -i` after decrypting it with a key (or restore it and apply the change with `tollgate sops set`); rotate the exposed secret.",
    check: Check::Set(check),
};

/// The field path of a value from its keys (list items are not numbered in SOPS paths, so a
/// value inside a list is placed on the nearest key above it that can be found).
pub(crate) fn field_path(keys: &[String]) -> String {
    let mut path = String::new();
    for k in keys {
        tollgate_yaml::read::push_key(&mut path, k);
    }
    path
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    for f in model.sops_files() {
        let Some(first) = f.first() else { continue };
        for u in f.audit.unsealed.iter().filter(|u| !u.broken_ciphertext) {
            let r = f.resources.get(&u.doc).copied().unwrap_or(first);
            emit.secret_at(
                r,
                &field_path(&u.path),
                format!(
                    "{}: {} is plaintext, but the file's selector says it is encrypted",
                    r.origin.file,
                    u.path.join(".")
                ),
            );
        }
    }
}
