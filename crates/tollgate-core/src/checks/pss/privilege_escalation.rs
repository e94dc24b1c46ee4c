//! PSS013 (restricted, Privilege Escalation): without `allowPrivilegeEscalation: false` a
//! process can gain more privileges than its parent (setuid binaries, file capabilities).

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, is_windows, who};
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS013",
    family: Family::PssRestricted,
    title: "A container allows privilege escalation",
    severity: Severity::Warning,
    inventory: false,
    description: "Pod Security Standards, restricted, Privilege Escalation: privilege escalation (such as via set-user-ID or set-group-ID file mode) should not be allowed. `securityContext.allowPrivilegeEscalation` of every container must be `false`; unset means allowed. Linux only: a pod with `spec.os.name: windows` is exempt, as the standard says.",
    fix: "Set `securityContext.allowPrivilegeEscalation: false` on every container.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods().iter().filter(|p| !is_windows(p)) {
        for c in pod.containers() {
            let (path, v) = container_field(&c, "allowPrivilegeEscalation");
            match v {
                Some(Value::Bool(false)) => {}
                Some(_) => emit.at(
                    pod.resource,
                    &path,
                    format!("{} allows privilege escalation", who(&c)),
                ),
                None => emit.at(
                    pod.resource,
                    c.path,
                    format!("{} does not set allowPrivilegeEscalation: false", who(&c)),
                ),
            }
        }
    }
}
