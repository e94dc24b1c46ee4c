//! PSS017 (restricted, Capabilities): containers drop every capability and add back at most
//! NET_BIND_SERVICE.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, is_windows, shown, who};
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS017",
    family: Family::PssRestricted,
    title: "A container does not drop all capabilities",
    severity: Severity::Warning,
    inventory: false,
    description: "Pod Security Standards, restricted, Capabilities: containers must drop `ALL` capabilities, and are only permitted to add back `NET_BIND_SERVICE`. `securityContext.capabilities.drop` of every container must include `ALL`, and `capabilities.add` may only name `NET_BIND_SERVICE`. Linux only: a pod with `spec.os.name: windows` is exempt.",
    fix: "Set `securityContext.capabilities.drop: [ALL]` on every container and add back only `NET_BIND_SERVICE` if it binds a port below 1024.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods().iter().filter(|p| !is_windows(p)) {
        for c in pod.containers() {
            let (drop_path, drop) = container_field(&c, "capabilities.drop");
            let drops_all = drop
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("ALL")));
            if !drops_all {
                let at = if drop.is_some() {
                    drop_path.as_str()
                } else {
                    c.path
                };
                emit.at(
                    pod.resource,
                    at,
                    format!("{} does not drop ALL capabilities", who(&c)),
                );
            }
            let (add_path, add) = container_field(&c, "capabilities.add");
            for (i, cap) in add
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if cap.as_str() != Some("NET_BIND_SERVICE") {
                    emit.at(
                        pod.resource,
                        &format!("{add_path}[{i}]"),
                        format!("{} adds the capability {}", who(&c), shown(cap)),
                    );
                }
            }
        }
    }
}
