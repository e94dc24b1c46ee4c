//! PSS004 (baseline, Capabilities): capabilities beyond the container runtimes' default set
//! (`SYS_ADMIN`, `NET_ADMIN`, `SYS_PTRACE`, …) are the usual path from a container to the node.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, shown, who};
use crate::finding::Severity;
use serde_json::Value;

/// The capabilities the baseline profile allows adding: the container runtimes' defaults.
pub(crate) const ALLOWED: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS004",
    family: Family::PssBaseline,
    title: "A container adds capabilities beyond the baseline set",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, Capabilities: adding capabilities beyond the default set must be disallowed. `securityContext.capabilities.add` of every container may only name AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT; anything else (`SYS_ADMIN`, `NET_ADMIN`, `SYS_PTRACE`, `ALL`) is reported, on the list entry.",
    fix: "Remove the capability from `capabilities.add`; if the workload truly needs it, run it in a namespace exempted from the baseline profile and document why.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for c in pod.containers() {
            let (path, add) = container_field(&c, "capabilities.add");
            let Some(add) = add.and_then(Value::as_array) else {
                continue;
            };
            for (i, cap) in add.iter().enumerate() {
                if !cap.as_str().is_some_and(|s| ALLOWED.contains(&s)) {
                    emit.at(
                        pod.resource,
                        &format!("{path}[{i}]"),
                        format!("{} adds the capability {}", who(&c), shown(cap)),
                    );
                }
            }
        }
    }
}
