//! RBAC002: `escalate`, `bind` and `impersonate` let a subject step past the permissions it
//! was given.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe, RBAC_GROUP};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC002",
    family: Family::Rbac,
    title: "Role grants escalate, bind or impersonate",
    severity: Severity::Error,
    inventory: false,
    description: "RBAC stops a subject from granting permissions it does not hold, unless it may `escalate` (edit roles beyond its own rights) or `bind` (bind any role, cluster-admin included). `impersonate` lets it act as any user, group or ServiceAccount. Each is a path to cluster-admin.",
    fix: "Remove the verb. Controllers that manage RBAC should get `bind` with `resourceNames` limited to the roles they hand out.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[
    Probe {
        verbs: &["escalate", "bind"],
        group: RBAC_GROUP,
        resources: &["roles", "clusterroles"],
    },
    Probe {
        verbs: &["impersonate"],
        group: "",
        resources: &["users", "groups", "serviceaccounts"],
    },
    Probe {
        verbs: &["impersonate"],
        group: "authentication.k8s.io",
        resources: &["userextras/scopes", "uids"],
    },
];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(model, emit, PROBES, "may escalate its privileges");
}
