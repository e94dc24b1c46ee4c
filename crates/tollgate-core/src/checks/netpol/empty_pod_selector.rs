//! NET004: a policy whose podSelector matches no workload protects nothing, often because of
//! a label typo.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "NET004",
    family: Family::Netpol,
    title: "NetworkPolicy selects no workload in the manifests",
    severity: Severity::Info,
    inventory: true,
    description: "The policy's `podSelector` matches the pod labels of no workload in its namespace, so it isolates and allows nothing. A label that changed in the workload but not in the policy, or a policy in the wrong namespace, leaves the workload open while the policy looks in place. Namespace-wide policies (`podSelector: {}`) are not reported.",
    fix: "Make `spec.podSelector` match the labels of the workload's pod template (not the workload's own metadata labels), in the workload's namespace.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    let net = model.netpol();
    for p in &net.policies {
        if p.pod_selector.is_empty() || net.workloads.iter().any(|w| p.selects(w)) {
            continue;
        }
        emit.at(
            p.resource,
            "spec.podSelector",
            format!(
                "NetworkPolicy {} selects no workload of namespace {}",
                p.display(),
                p.namespace
            ),
        );
    }
}
