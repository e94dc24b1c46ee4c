//! PSS010 (baseline, Seccomp): a seccomp profile of `Unconfined` lets the container make
//! every system call, the kernel's whole attack surface.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, pod_field, shown, who};
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS010",
    family: Family::PssBaseline,
    title: "A pod disables seccomp",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, Seccomp: the seccomp profile must not be explicitly set to `Unconfined`. `securityContext.seccompProfile.type` of the pod and of every container must be unset, `RuntimeDefault` or `Localhost`. (Unset is allowed here; the restricted profile, PSS016, requires it to be set.)",
    fix: "Set `seccompProfile.type: RuntimeDefault` (or a `Localhost` profile installed on the nodes) instead of `Unconfined`.",
    check: Check::Set(check),
};

pub(crate) fn allowed(v: &Value) -> bool {
    matches!(v.as_str(), Some("RuntimeDefault" | "Localhost"))
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        let (path, v) = pod_field(pod, "seccompProfile.type");
        if let Some(v) = v.filter(|v| !allowed(v)) {
            emit.at(
                pod.resource,
                &path,
                format!("the pod's seccomp profile is {}", shown(v)),
            );
        }
        for c in pod.containers() {
            let (path, v) = container_field(&c, "seccompProfile.type");
            if let Some(v) = v.filter(|v| !allowed(v)) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{}'s seccomp profile is {}", who(&c), shown(v)),
                );
            }
        }
    }
}
