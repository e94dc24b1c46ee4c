//! RBAC009: whoever changes admission configuration can switch off the checks admission
//! enforces, this webhook's included.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC009",
    family: Family::Rbac,
    title: "Role may change admission webhooks or policies",
    severity: Severity::Warning,
    inventory: false,
    description: "Creating, changing or deleting ValidatingWebhookConfigurations, MutatingWebhookConfigurations or ValidatingAdmissionPolicies (and their bindings) turns admission control off or sends every object to a webhook of one's choosing, which then sees (and, mutating, rewrites) Secrets and pods.",
    fix: "Grant it only to the controller that installs the webhook (cert-manager's cainjector needs `patch` with `resourceNames`), never to workloads or people's standing roles.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[Probe {
    verbs: &["create", "update", "patch", "delete", "deletecollection"],
    group: "admissionregistration.k8s.io",
    resources: &[
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
    ],
}];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(model, emit, PROBES, "may change admission control");
}
