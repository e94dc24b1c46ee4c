//! IMG001: an image tagged `latest`, or with no tag (which pulls `latest`), and no digest:
//! the same manifest can run different code from one pull to the next.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG001",
    family: Family::Images,
    title: "An image uses a mutable tag",
    severity: Severity::Error,
    inventory: false,
    description: "An image without a tag, or tagged `latest`, can change under the same name: the cluster may run something nobody reviewed, two nodes may run different code for one Deployment, and a rollback does not restore the old code. A digest (`@sha256:…`) pins the image whatever the tag says, so `app:latest@sha256:…` passes. Every container, init container and ephemeral container of every pod template is judged.",
    fix: "Use an immutable version tag (`app:1.4.2`) or a digest (`app@sha256:…`).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for u in model.images() {
        if let Ok(image) = &u.parsed {
            if image.is_mutable() {
                let why = if image.tag.is_some() {
                    "tagged latest"
                } else {
                    "untagged, so latest"
                };
                emit.at(
                    u.resource,
                    &u.path(),
                    format!(
                        "container {} uses the mutable image {} ({why})",
                        u.container, u.written
                    ),
                );
            }
        }
    }
}
