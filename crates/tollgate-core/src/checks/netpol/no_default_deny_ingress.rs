//! NET001: a namespace without a default-deny ingress policy admits traffic to every pod no
//! policy selects, including the ones added later.

use super::super::{Check, Emit, Family, Model, Rule};
use super::report_missing_default_deny;
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "NET001",
    family: Family::Netpol,
    title: "Namespace has no default-deny ingress NetworkPolicy",
    severity: Severity::Warning,
    inventory: true,
    description: "Pods are open to every other pod of the cluster until a NetworkPolicy selects them for ingress. Per-workload policies protect the workloads that have one; a policy with `podSelector: {}` and `policyTypes: [Ingress]` protects the namespace, so a new workload starts closed. Namespaces are those of Namespace objects and those workloads are deployed to.",
    fix: "Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress]` (no ingress rules) to the namespace, then allow what each workload needs.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_missing_default_deny(
        model,
        emit,
        true,
        "pods no policy selects accept traffic from anywhere",
    );
}
