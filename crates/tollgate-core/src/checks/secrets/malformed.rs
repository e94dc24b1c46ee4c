//! SOPS005: a SOPS file whose metadata is broken: no MAC, no version, a `lastmodified` that
//! is not a time, a recipient that is not a key, an `ENC[...]` value that does not parse.
//! sops refuses such a file, so the Secret never reaches the cluster.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SOPS005",
    family: Family::Secrets,
    title: "A SOPS file's metadata or ciphertext is malformed",
    severity: Severity::Error,
    inventory: true,
    description: "sops (and Flux's kustomize-controller, which uses it) refuses a file whose `sops` block has no `mac` or `version`, an unparsable `lastmodified` (it is part of the MAC), an age recipient that is not a valid key, or no recipient at all; and it fails on an `ENC[...]` value that is truncated or has a missing part. Such files come from hand edits, bad merges (conflict markers in the metadata) or tools that rewrote the YAML. The rule reads the metadata only; it needs no key. Findings name what is wrong and where, never a value.",
    fix: "Restore the file from version control, or decrypt it with a key that still opens it and encrypt it again (`tollgate sops decrypt -i` then `encrypt -i`); resolve merge conflicts in SOPS files by re-encrypting, not by hand.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for f in model.sops_files() {
        let Some(first) = f.first() else { continue };
        for m in &f.audit.malformed {
            emit.at(first, "sops", format!("{}: {m}", first.origin.file));
        }
        for u in f.audit.unsealed.iter().filter(|u| u.broken_ciphertext) {
            let r = f.resources.get(&u.doc).copied().unwrap_or(first);
            emit.at(
                r,
                &super::unsealed_value::field_path(&u.path),
                format!(
                    "{}: the ENC[...] value at {} does not parse (truncated or edited)",
                    r.origin.file,
                    u.path.join(".")
                ),
            );
        }
    }
}
