//! RBAC011: a binding to `system:anonymous`, `system:unauthenticated` or
//! `system:authenticated` grants its role to anyone who can reach the API server.

use super::super::{Check, Emit, Family, Model, Rule};
use super::is_everyone;
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC011",
    family: Family::Rbac,
    title: "Role bound to anonymous or to every authenticated user",
    severity: Severity::Error,
    inventory: false,
    description: "`system:anonymous` and `system:unauthenticated` are requests without credentials; `system:authenticated` is everyone with any credential, including every ServiceAccount of every namespace and, on managed clusters, any account of the cloud provider. A role bound to them is granted to the world.",
    fix: "Bind the role to the groups or ServiceAccounts that need it. The cluster's own `system:` bindings (discovery, public-info-viewer) are not reported.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for b in &model.rbac().bindings {
        // The API server's bootstrap bindings (`system:discovery`, ...) bind these groups on
        // purpose.
        if b.name.starts_with("system:") {
            continue;
        }
        for s in b.subjects.iter().filter(|s| is_everyone(s.name)) {
            emit.at(
                b.resource,
                &format!("subjects[{}]", s.index),
                format!(
                    "{} grants {} to {} (anyone {})",
                    b.display(),
                    b.role_display(),
                    s.display(),
                    if s.name == "system:authenticated" {
                        "with any credential"
                    } else {
                        "without credentials"
                    }
                ),
            );
        }
    }
}
