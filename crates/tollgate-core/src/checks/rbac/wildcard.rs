//! RBAC001: `*` in a role rule's verbs, resources or apiGroups grants whatever the API adds
//! later, not just what exists today.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC001",
    family: Family::Rbac,
    title: "Role rule uses a wildcard (`*`) in verbs, resources or apiGroups",
    severity: Severity::Warning,
    inventory: false,
    description: "A `*` grants every verb, resource or API group, including the ones a CRD or a new Kubernetes version adds later (`escalate`, `bind`, `impersonate`, Secrets, `pods/exec`). What the role can do is then not what its author reviewed.",
    fix: "List the verbs, resources and apiGroups the workload needs (`kubectl auth can-i --list --as=system:serviceaccount:NS:NAME` on a test cluster shows what it uses).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for role in &model.rbac().roles {
        // An aggregating ClusterRole's own rules are replaced by the controller; the rules it
        // gains are reported on the roles that define them.
        if role.aggregates() {
            continue;
        }
        for rule in &role.rules {
            let fields: Vec<&str> = [
                ("verbs", &rule.verbs),
                ("resources", &rule.resources),
                ("apiGroups", &rule.api_groups),
            ]
            .into_iter()
            .filter(|(_, values)| values.contains(&"*"))
            .map(|(name, _)| name)
            .collect();
            if fields.is_empty() {
                continue;
            }
            emit.at(
                role.resource,
                &format!("rules[{}]", rule.index),
                format!(
                    "{} rules[{}] uses `*` in {} ({})",
                    role.display(),
                    rule.index,
                    fields.join(" and "),
                    rule.describe()
                ),
            );
        }
    }
}
