//! RBAC012: a namespace's `default` ServiceAccount runs every pod that names no other, so a
//! role bound to it goes to all of them.

use super::super::{Check, Emit, Family, Model, Rule};
use super::SubjectKind;
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC012",
    family: Family::Rbac,
    title: "Role bound to a namespace's `default` ServiceAccount",
    severity: Severity::Warning,
    inventory: false,
    description: "Pods that set no `serviceAccountName` run as `default`, and its token is mounted unless disabled. A role bound to it is held by every such pod of the namespace, including ones added later for other purposes.",
    fix: "Create a ServiceAccount for the workload, bind the role to it and set `serviceAccountName` on its pods.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for b in &model.rbac().bindings {
        for s in b
            .subjects
            .iter()
            .filter(|s| s.kind == SubjectKind::ServiceAccount && s.name == "default")
        {
            emit.at(
                b.resource,
                &format!("subjects[{}]", s.index),
                format!(
                    "{} grants {} to {}, which every pod without a serviceAccountName uses",
                    b.display(),
                    b.role_display(),
                    s.display()
                ),
            );
        }
    }
}
