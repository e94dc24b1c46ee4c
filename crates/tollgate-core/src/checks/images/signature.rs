//! IMG007: an image `images.signatures` covers whose cosign signature does not verify. A tag
//! or even a digest says which image runs, not who built it; a signature by the team's key
//! over the image's digest does, and is what a compromised CI job or registry cannot forge.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use crate::signature::Outcome;

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG007",
    family: Family::Images,
    title: "An image's signature does not verify",
    severity: Severity::Error,
    inventory: false,
    description: "Every container image matching an `images.signatures` rule of tollgate.yaml (`match` wildcards over the reference as written, normalized, or its repository) must carry a cosign signature, key-based, that verifies with one of the rule's `keys` over a payload naming the image's manifest digest, with the rule's `annotations` in the payload's `optional` section. A tag is resolved to its digest through the registry first (cached five minutes); for a multi-platform image the index's digest is what is signed, as cosign signs it. An image signed by another key, a payload naming another digest, a tampered signature or an image with no `sha256-…sig` signature manifest are all reported here, with the reason. When the registry cannot be asked the finding is IMG008 instead, never a pass. See docs/images.md.",
    fix: "Sign the image by its digest with the rule's key (`cosign sign --key cosign.key IMAGE@sha256:…`, with `-a key=value` for each required annotation), or use an image that is signed; if the key rotated, add the new public key to the rule's `keys`.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for s in model.signed() {
        let (Some(u), Some(rule)) = (
            model.images().get(s.image),
            model.settings().signatures.get(s.rule),
        ) else {
            continue;
        };
        let Outcome::Unverified { digest, reason } = &s.outcome else {
            continue;
        };
        let digest = digest
            .as_deref()
            .filter(|d| !u.written.ends_with(*d))
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        emit.at(
            u.resource,
            &u.path(),
            format!(
                "container {} image {}{digest} is not signed as images.signatures[{}] (tollgate.yaml:{}) requires: {reason}; keys: {}",
                u.container,
                u.written,
                s.rule,
                rule.line,
                rule.keys
                    .iter()
                    .map(crate::signature::key_name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}
