//! RBAC007: minting ServiceAccount tokens is acting as those ServiceAccounts.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC007",
    family: Family::Rbac,
    title: "Role may create ServiceAccount tokens",
    severity: Severity::Warning,
    inventory: false,
    description: "`create` on `serviceaccounts/token` issues a token for any ServiceAccount in scope, with its permissions, for as long as the requester asks (up to the API server's maximum).",
    fix: "Use projected ServiceAccount token volumes in the pods that need tokens; if a controller must mint them, limit it with `resourceNames`.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[Probe {
    verbs: &["create"],
    group: "",
    resources: &["serviceaccounts/token"],
}];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(model, emit, PROBES, "may mint ServiceAccount tokens");
}
