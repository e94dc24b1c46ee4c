//! RBAC010: cluster-admin (or any role granting everything) bound to someone other than the
//! cluster's own components.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC010",
    family: Family::Rbac,
    title: "cluster-admin (or a role granting `*` on `*`) bound to a non-system subject",
    severity: Severity::Error,
    inventory: false,
    description: "A binding to `cluster-admin`, or to any role with a rule granting every verb on every resource of every group, gives its subjects the whole cluster: every Secret, every node, RBAC itself. Only the cluster's own components (`system:` users and groups, ServiceAccounts of `kube-system`) should hold it.",
    fix: "Bind a role with the permissions the subject needs (`admin` or `edit` in one namespace through a RoleBinding, for people); keep cluster-admin for break-glass access outside the repository.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    let g = model.rbac();
    for b in &g.bindings {
        let everything = g.granted_by(b).iter().any(|e| e.rule.is_everything());
        if !everything {
            continue;
        }
        let scope = match b.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "cluster-wide".to_owned(),
        };
        for s in b.subjects.iter().filter(|s| !s.is_system()) {
            emit.at(
                b.resource,
                &format!("subjects[{}]", s.index),
                format!(
                    "{} gives {} every permission {scope} ({} grants `*` on `*`)",
                    b.display(),
                    s.display(),
                    b.role_display()
                ),
            );
        }
    }
}
