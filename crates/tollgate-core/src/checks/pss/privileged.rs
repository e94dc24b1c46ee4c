//! PSS003 (baseline, Privileged Containers): a privileged container has every capability and
//! the node's devices; it is the node.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, who};
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS003",
    family: Family::PssBaseline,
    title: "A container is privileged",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, Privileged Containers: privileged pods disable most security mechanisms and must be disallowed. `securityContext.privileged` of every container, init container and ephemeral container must be unset or `false`; a privileged container has all capabilities, every device of the node, and no seccomp or AppArmor confinement.",
    fix: "Remove `privileged: true`; add only the capabilities the container needs (within the baseline list).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for c in pod.containers() {
            let (path, v) = container_field(&c, "privileged");
            if v == Some(&Value::Bool(true)) {
                emit.at(pod.resource, &path, format!("{} is privileged", who(&c)));
            }
        }
    }
}
