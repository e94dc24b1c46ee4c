//! RBAC008: approving CertificateSigningRequests issues client certificates the API server
//! trusts.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC008",
    family: Family::Rbac,
    title: "Role may approve CertificateSigningRequests",
    severity: Severity::Warning,
    inventory: false,
    description: "`update` on `certificatesigningrequests/approval` (with `approve` on a signer) approves client certificates; with the `kubernetes.io/kube-apiserver-client` signer that is a login as any user or group, `system:masters` included.",
    fix: "Leave approval to the controller-manager's approvers; grant it to a dedicated controller with `approve` limited to its own signer through `resourceNames`.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[
    Probe {
        verbs: &["update", "patch"],
        group: "certificates.k8s.io",
        resources: &["certificatesigningrequests/approval"],
    },
    Probe {
        verbs: &["approve"],
        group: "certificates.k8s.io",
        resources: &["signers"],
    },
];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(model, emit, PROBES, "may approve certificates");
}
