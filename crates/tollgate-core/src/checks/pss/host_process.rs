//! PSS001 (baseline, HostProcess): a Windows HostProcess container runs as a process on the
//! node, with the node's network and file system: host access by another name.

use super::super::{Check, Emit, Family, Model, Rule};
use super::settings;
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS001",
    family: Family::PssBaseline,
    title: "A pod runs Windows HostProcess containers",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, HostProcess: Windows pods may run HostProcess containers, which run directly on the node with host networking and file system access. The standard forbids `securityContext.windowsOptions.hostProcess: true` on the pod and on every container, init container and ephemeral container (allowed: unset or `false`).",
    fix: "Remove `windowsOptions.hostProcess` (or set it to `false`); run node-level agents from a dedicated, exempted namespace.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for (owner, path, v) in settings(pod, "windowsOptions.hostProcess") {
            if v == &Value::Bool(true) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{owner} sets windowsOptions.hostProcess: true"),
                );
            }
        }
    }
}
