//! RBAC004: exec, attach and port-forward open a shell or a socket inside someone else's pod.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC004",
    family: Family::Rbac,
    title: "Role may exec into, attach to or port-forward pods",
    severity: Severity::Warning,
    inventory: false,
    description: "`pods/exec` and `pods/attach` run commands in a running container, with its ServiceAccount token, mounted Secrets and network position; `pods/portforward` reaches ports no Service exposes. Websocket clients use `get` on these subresources, so both `create` and `get` grant them.",
    fix: "Grant it to people through a break-glass role bound for a limited time, not to workloads or standing groups.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[Probe {
    verbs: &["create", "get"],
    group: "",
    resources: &["pods/exec", "pods/attach", "pods/portforward"],
}];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(
        model,
        emit,
        PROBES,
        "may run commands in or connect to pods",
    );
}
