//! PSS015 (restricted, Running as Non-root user): `runAsUser: 0` is root, whatever
//! `runAsNonRoot` hopes.

use super::super::{Check, Emit, Family, Model, Rule};
use super::settings;
use crate::finding::Severity;

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

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for (owner, path, v) in settings(pod, "runAsUser") {
            if v.as_i64() == Some(0) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{owner} runs as user 0 (root)"),
                );
            }
        }
    }
}
