//! PSS002 (baseline, Host Namespaces): hostNetwork, hostPID and hostIPC let a pod see and
//! reach the node's processes, network and shared memory.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS002",
    family: Family::PssBaseline,
    title: "A pod shares the host's namespaces",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, Host Namespaces: sharing the host's namespaces must be disallowed. `spec.hostNetwork`, `spec.hostPID` and `spec.hostIPC` must be unset or `false`: with them a pod sees every process on the node (and can signal or trace them), listens on and sniffs the node's interfaces, and reads the host's shared memory.",
    fix: "Remove `hostNetwork`, `hostPID` and `hostIPC`, or move the workload to a dedicated, isolated node pool and exempt its namespace.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            let (path, v) = pod.spec_field(field);
            if v == Some(&Value::Bool(true)) {
                emit.at(pod.resource, &path, format!("the pod sets {field}: true"));
            }
        }
    }
}
