//! PSS005 (baseline, HostPath Volumes): a hostPath volume mounts the node's file system into
//! the pod: its kubelet credentials, the container runtime's socket, other pods' data.

use super::super::{Check, Emit, Family, Model, Rule};
use super::volume_sources;
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS005",
    family: Family::PssBaseline,
    title: "A pod mounts a hostPath volume",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, HostPath Volumes: HostPath volumes must be forbidden. `spec.volumes[*].hostPath` must be unset: a hostPath volume gives the pod the node's files (the container runtime's socket, the kubelet's credentials, every pod's volumes), read-only or not.",
    fix: "Use a PersistentVolumeClaim, a CSI volume, an emptyDir or a projected volume instead; node agents that need host files belong in an exempted namespace.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for (path, name, kind, source) in volume_sources(pod) {
            if kind == "hostPath" {
                let host = source.get("path").and_then(Value::as_str).unwrap_or("");
                emit.at(
                    pod.resource,
                    &format!("{path}.hostPath"),
                    format!("volume {name} mounts the node's {host}"),
                );
            }
        }
    }
}
