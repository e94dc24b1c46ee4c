//! RBAC003: reading Secrets reads every credential of the namespace (or the cluster),
//! ServiceAccount tokens included.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC003",
    family: Family::Rbac,
    title: "Role may read Secrets (get, list or watch)",
    severity: Severity::Warning,
    inventory: false,
    description: "`get`, `list` or `watch` on `secrets` reads every credential in scope: database passwords, TLS keys and the tokens of other ServiceAccounts, which then act with their rights. `list` and `watch` return the values too, not only names.",
    fix: "Mount the Secrets the workload needs instead of reading them through the API; if it must read them, grant `get` with `resourceNames` for those Secrets only.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[Probe {
    verbs: &["get", "list", "watch"],
    group: "",
    resources: &["secrets"],
}];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(model, emit, PROBES, "may read Secrets");
}
