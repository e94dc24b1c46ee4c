//! NET003: a workload no NetworkPolicy selects accepts and opens any connection.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "NET003",
    family: Family::Netpol,
    title: "Workload is not selected by any NetworkPolicy",
    severity: Severity::Warning,
    inventory: true,
    description: "No NetworkPolicy of its namespace selects the workload's pods (by their template labels), so they are isolated in neither direction: every pod of the cluster may connect to them and they may connect anywhere.",
    fix: "Add a NetworkPolicy whose podSelector matches the workload's pod labels (or a namespace-wide default deny) and allow the traffic it needs.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    let net = model.netpol();
    for w in &net.workloads {
        if net.policies.iter().any(|p| p.selects(w)) {
            continue;
        }
        emit.at(
            w.resource,
            &w.labels_path(),
            format!(
                "{} {} is selected by no NetworkPolicy: its pods accept and open any connection",
                w.kind,
                w.display()
            ),
        );
    }
}
