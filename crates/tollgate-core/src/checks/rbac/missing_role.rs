//! RBAC013: a binding whose role is not in the manifests grants whatever that role is on the
//! cluster, which the review of this repository did not see.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{is_builtin_cluster_role, RoleKind};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC013",
    family: Family::Rbac,
    title: "Binding refers to a role that is not in the manifests",
    severity: Severity::Info,
    inventory: true,
    description: "The binding names a Role or ClusterRole the set does not define (and that is not one of the cluster's built-in roles: cluster-admin, admin, edit, view, `system:*`). What it grants is decided by whatever role of that name exists on the cluster, possibly created later by someone else; a typo grants nothing and fails silently.",
    fix: "Add the role to the repository next to the binding, or fix the name in `roleRef`.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for b in &model.rbac().bindings {
        if b.role.is_some()
            || (b.role_kind == RoleKind::ClusterRole && is_builtin_cluster_role(b.role_name))
        {
            continue;
        }
        emit.at(
            b.resource,
            "roleRef",
            format!(
                "{} refers to {}, which is not in the manifests",
                b.display(),
                b.role_display()
            ),
        );
    }
}
