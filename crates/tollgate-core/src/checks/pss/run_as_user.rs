//! PSS015 (restricted, Running as Non-root user): `runAsUser: 0` is root, whatever
//! `runAsNonRoot` hopes.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, pod_field, who};
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS015",
    family: Family::PssRestricted,
    title: "A pod runs as UID 0",
    severity: Severity::Warning,
    inventory: false,
    description: "Pod Security Standards, restricted, Running as Non-root user: containers must not set `runAsUser` to 0. `securityContext.runAsUser` of the pod and of every container must be unset or a non-zero user id.",
    fix: "Set `runAsUser` to the image's non-root user id (or remove it and set `runAsNonRoot: true`).",
    check: Check::Set(check),
};

fn is_root(v: Option<&Value>) -> bool {
    v.and_then(Value::as_i64) == Some(0)
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        let (path, v) = pod_field(pod, "runAsUser");
        if is_root(v) {
            emit.at(pod.resource, &path, "the pod runs as user 0 (root)".into());
        }
        for c in pod.containers() {
            let (path, v) = container_field(&c, "runAsUser");
            if is_root(v) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{} runs as user 0 (root)", who(&c)),
                );
            }
        }
    }
}
