//! SOPS001: a Secret manifest in a file that a `.sops.yaml` creation rule's `path_regex`
//! matches is not SOPS-encrypted: the team said files there are encrypted, and this one was
//! committed without sops.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use std::path::Path;
use tollgate_sops::config::Config as SopsConfig;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SOPS001",
    family: Family::Secrets,
    title: "A file .sops.yaml says must be encrypted is not",
    severity: Severity::Error,
    // It judges the file an object was read from, which an admission request does not have.
    inventory: true,
    description: "A `.sops.yaml` creation rule with a `path_regex` names the files a team encrypts; a Secret manifest in such a file without SOPS metadata was committed (or is about to be) without sops, usually by hand or by a tool that rewrote the file. The rule uses sops's own matching: the nearest `.sops.yaml` above the file, the path relative to it, the first rule that matches. A rule without `path_regex` matches every file, so it says how to encrypt, not which files must be: it never makes a file required. Only Secret manifests are required (a broad `path_regex: .*\\.yaml` with `encrypted_regex: ^(data|stringData)$`, Flux's documented setup, does not make every Deployment a finding); the values themselves are SECRET001's.",
    fix: "Encrypt the file in place with `tollgate sops encrypt -i FILE` (or `sops -e -i`); if the value was ever pushed, rotate the secret. If the file should not be encrypted, narrow the creation rule's `path_regex`.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    let mut configs = super::Configs::default();
    for r in model.resources() {
        if r.kind != "Secret" || r.sops_encrypted() {
            continue;
        }
        let file = Path::new(&*r.origin.file);
        if !file.is_file() {
            // stdin, an admission request, a rendered document without a source
            continue;
        }
        let Some(config) = configs.for_file(file) else {
            continue;
        };
        let Some(rule) = config.rule_for(file) else {
            continue;
        };
        let Some(regex) = SopsConfig::path_regex_of(rule) else {
            continue;
        };
        emit.at(
            r,
            "",
            format!(
                "{} matches {} creation_rules[{}] (path_regex `{regex}`) but is not SOPS-encrypted",
                r.origin.file,
                config.path.display(),
                rule.index
            ),
        );
    }
}
