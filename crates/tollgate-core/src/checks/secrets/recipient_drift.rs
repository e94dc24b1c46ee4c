//! SOPS004: a SOPS file whose recipients are not the ones its `.sops.yaml` creation rule
//! names today: someone left the team and can still decrypt it, or a new key cannot. Found
//! from the metadata alone, so CI needs no key.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SOPS004",
    family: Family::Secrets,
    title: "A SOPS file's recipients differ from .sops.yaml",
    severity: Severity::Error,
    // It judges a file against the repository's .sops.yaml.
    inventory: true,
    description: "When a `.sops.yaml` creation rule changes (a key added for a new cluster or person, one removed when someone leaves), every file it matches must be re-keyed with `updatekeys`; until then a removed key still decrypts the file and an added one cannot. The rule compares each SOPS file's age recipients, key groups and Shamir threshold with the rule sops would pick for it (the nearest `.sops.yaml`, first matching `path_regex`), as `tollgate sops updatekeys --dry-run --check` does, and names the recipients to add and remove. PGP and KMS entries are kept, not compared (tollgate does not yet read PGP rules). Removing a recipient does not revoke what it could read before: rotate the data key (`tollgate sops rotate -i`) and the secrets themselves.",
    fix: "Run `tollgate sops updatekeys FILE` (or `sops updatekeys`) with a key that can decrypt it, and commit the result; after removing a recipient, also `tollgate sops rotate -i FILE` and rotate the secret values.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for f in model.sops_files() {
        let (Some(d), Some(r)) = (&f.audit.drift, f.first()) else {
            continue;
        };
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        let what = if d.layout_only {
            "its key groups or Shamir threshold differ".to_owned()
        } else {
            format!("add {}; remove {}", list(&d.added), list(&d.removed))
        };
        emit.at(
            r,
            "sops",
            format!(
                "{}'s recipients differ from {} creation_rules[{}]: {what}",
                r.origin.file,
                crate::render::relative_to_cwd(&d.config).display(),
                d.rule
            ),
        );
    }
}
