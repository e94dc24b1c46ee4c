//! IMG004: `imagePullPolicy: IfNotPresent` or `Never` on an image with a mutable tag. Each
//! node keeps whatever `latest` was when it first pulled it: one Deployment runs different
//! code on different nodes, and a new push never arrives.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG004",
    family: Family::Images,
    title: "A mutable image tag is not pulled on every start",
    severity: Severity::Warning,
    inventory: false,
    description: "Kubernetes defaults `imagePullPolicy` to `Always` for an image tagged `latest` or untagged, because such a tag moves; setting `IfNotPresent` or `Never` on one undoes that: each node runs the `latest` it happened to pull first, pods of one Deployment differ by node, and a fix pushed under the same tag never reaches nodes that have an old copy. Images with a version tag or a digest are not judged (pulling them once is right).",
    fix: "Pin the image (a version tag or a digest), or remove `imagePullPolicy` (or set it to `Always`).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for u in model.images() {
        let (Ok(image), Some(policy)) = (&u.parsed, u.pull_policy) else {
            continue;
        };
        if image.is_mutable() && policy != "Always" {
            emit.at(
                u.resource,
                &format!("{}.imagePullPolicy", u.container_path),
                format!(
                    "container {} pulls the mutable image {} with imagePullPolicy {policy}: nodes keep the copy they pulled first",
                    u.container, u.written
                ),
            );
        }
    }
}
