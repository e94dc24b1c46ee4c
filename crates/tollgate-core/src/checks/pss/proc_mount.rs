//! PSS009 (baseline, /proc Mount Type): an `Unmasked` /proc shows the node's kernel
//! interfaces the runtime normally masks.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, shown, who};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS009",
    family: Family::PssBaseline,
    title: "A container unmasks /proc",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, /proc Mount Type: the default /proc masks are set up to reduce attack surface, and should be required. `securityContext.procMount` of every container must be unset or `Default`; `Unmasked` exposes kernel interfaces under /proc the runtime hides.",
    fix: "Remove `procMount` (or set it to `Default`).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for c in pod.containers() {
            let (path, v) = container_field(&c, "procMount");
            if let Some(v) = v.filter(|v| v.as_str() != Some("Default")) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{} sets procMount {}", who(&c), shown(v)),
                );
            }
        }
    }
}
