//! PSS012 (restricted, Volume Types): only volume types that go through the cluster's own
//! storage and configuration objects; the rest (nfs, iscsi, …) reach outside the cluster's
//! access control.

use super::super::{Check, Emit, Family, Model, Rule};
use super::volume_sources;
use crate::finding::Severity;

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
        for (path, name, kind, _) in volume_sources(pod) {
            if !ALLOWED.contains(&kind) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("volume {name} is of type {kind}"),
                );
            }
        }
    }
}
