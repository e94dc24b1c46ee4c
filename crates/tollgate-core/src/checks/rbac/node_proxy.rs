//! RBAC006: `nodes/proxy` reaches the kubelet API, which runs commands in any pod of the node.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC006",
    family: Family::Rbac,
    title: "Role grants nodes/proxy",
    severity: Severity::Error,
    inventory: false,
    description: "`nodes/proxy` forwards requests to the kubelet API of any node: exec into every pod on it, read their logs and environment, bypassing the audit log's view of `pods/exec` and admission. It is cluster-admin by another name.",
    fix: "Remove it. Monitoring agents need `nodes/metrics` or `nodes/stats`, not `nodes/proxy`.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[Probe {
    verbs: &["get", "create", "update", "patch"],
    group: "",
    resources: &["nodes/proxy"],
}];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(model, emit, PROBES, "may proxy to kubelets");
}
