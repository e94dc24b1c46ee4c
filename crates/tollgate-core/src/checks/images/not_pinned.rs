//! IMG002: an image not pinned by digest. A tag can be moved to another image; only a digest
//! names exactly one, which is what signature verification and reproducible rollouts need.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG002",
    family: Family::Images,
    title: "An image is not pinned by digest",
    severity: Severity::Info,
    inventory: false,
    description: "A tag can be moved to another image by anyone who can push to the repository; only a digest (`@sha256:…`) names exactly one image, which is what signature verification, reproducible rollouts and an audit of what ran rely on. Info by default: raise it with `severity: {IMG002: error}` in tollgate.yaml once the repository pins digests (Renovate and Flux's image automation keep them current). Images IMG001 reports (mutable tags) are reported here too: the digest is the fix for both.",
    fix: "Append the digest the tag resolves to (`app:1.4.2@sha256:…`, from `crane digest` or `docker buildx imagetools inspect`); tools such as Renovate keep it current.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for u in model.images() {
        if let Ok(image) = &u.parsed {
            if image.digest.is_none() {
                emit.at(
                    u.resource,
                    &u.path(),
                    format!(
                        "container {} image {} is not pinned by digest",
                        u.container, u.written
                    ),
                );
            }
        }
    }
}
