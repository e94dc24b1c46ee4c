//! PSS014 (restricted, Running as Non-root): without `runAsNonRoot: true` the image decides,
//! and most images run as root; a container escape then starts as root on the node.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{container_field, pod_field, who};
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS014",
    family: Family::PssRestricted,
    title: "A container may run as root",
    severity: Severity::Warning,
    inventory: false,
    description: "Pod Security Standards, restricted, Running as Non-root: containers must be required to run as non-root users. Either `spec.securityContext.runAsNonRoot: true`, or `runAsNonRoot: true` on every container; a container's own `runAsNonRoot: false` overrides the pod's. Reported per container that is not covered: on its `runAsNonRoot: false`, or on the container when neither it nor the pod sets it. (The kubelet then refuses to start an image whose user is root.)",
    fix: "Set `securityContext.runAsNonRoot: true` on the pod (and remove any container's `runAsNonRoot: false`); build the image with a numeric non-root `USER`.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        let (_, pod_level) = pod_field(pod, "runAsNonRoot");
        let pod_true = pod_level == Some(&Value::Bool(true));
        for c in pod.containers() {
            let (path, v) = container_field(&c, "runAsNonRoot");
            match v {
                Some(Value::Bool(true)) => {}
                Some(_) => emit.at(
                    pod.resource,
                    &path,
                    format!("{} sets runAsNonRoot: false", who(&c)),
                ),
                None if pod_true => {}
                None => emit.at(
                    pod.resource,
                    c.path,
                    format!(
                        "{} may run as root: neither it nor the pod sets runAsNonRoot: true",
                        who(&c)
                    ),
                ),
            }
        }
    }
}
