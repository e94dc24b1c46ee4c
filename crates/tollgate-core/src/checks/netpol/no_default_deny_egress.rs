//! NET002: without a default-deny egress policy, a compromised pod can reach anything the
//! network routes to.

use super::super::{Check, Emit, Family, Model, Rule};
use super::report_missing_default_deny;
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "NET002",
    family: Family::Netpol,
    title: "Namespace has no default-deny egress NetworkPolicy",
    severity: Severity::Info,
    inventory: true,
    description: "Egress is open until a policy selects a pod for egress: a compromised pod can reach the cloud metadata service, other namespaces and the internet. Default-deny egress is a stronger posture than most teams start with (every workload then needs DNS allowed), hence info.",
    fix: "Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Egress]`, plus one allowing DNS (UDP and TCP 53 to kube-system's DNS pods) and the destinations each workload needs.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_missing_default_deny(
        model,
        emit,
        false,
        "pods no policy selects may connect anywhere",
    );
}
