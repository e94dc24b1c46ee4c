//! PSS010 (baseline, Seccomp): a seccomp profile of `Unconfined` lets the container make
//! every system call, the kernel's whole attack surface.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{settings, shown};
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

/// RuntimeDefault or Localhost, the profiles both profiles allow.
pub(crate) fn allowed(v: &Value) -> bool {
    matches!(v.as_str(), Some("RuntimeDefault" | "Localhost"))
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for (owner, path, v) in settings(pod, "seccompProfile.type") {
            if !allowed(v) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{owner}'s seccomp profile is {}", shown(v)),
                );
            }
        }
    }
}
