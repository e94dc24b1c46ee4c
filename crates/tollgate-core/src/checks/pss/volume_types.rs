//! PSS012 (restricted, Volume Types): only volume types that go through the cluster's own
//! storage and configuration objects; the rest (nfs, iscsi, …) reach outside the cluster's
//! access control.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use serde_json::Value;

/// The volume sources the restricted profile allows.
const ALLOWED: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS012",
    family: Family::PssRestricted,
    title: "A pod uses a volume type the restricted profile does not allow",
    severity: Severity::Warning,
    inventory: false,
    description: "Pod Security Standards, restricted, Volume Types: the restricted policy only permits configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret volumes. Every other source in `spec.volumes[*]` (hostPath, nfs, iscsi, cephfs, gitRepo, …) is reported: such volumes are defined in the pod itself, outside the PersistentVolume objects the cluster's administrators control.",
    fix: "Define the storage as a PersistentVolume and claim it (`persistentVolumeClaim`), or use a CSI driver.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        let Some(volumes) = pod.spec.get("volumes").and_then(Value::as_array) else {
            continue;
        };
        for (i, v) in volumes.iter().enumerate() {
            let Some(fields) = v.as_object() else {
                continue;
            };
            let name = v.get("name").and_then(Value::as_str).unwrap_or("");
            for (source, value) in fields {
                if source == "name" || value.is_null() || ALLOWED.contains(&source.as_str()) {
                    continue;
                }
                emit.at(
                    pod.resource,
                    &format!("{}.volumes[{i}]", pod.spec_path),
                    format!("volume {name} is of type {source}"),
                );
            }
        }
    }
}
