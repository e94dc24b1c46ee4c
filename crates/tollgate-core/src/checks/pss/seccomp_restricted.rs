//! PSS016 (restricted, Seccomp): a seccomp profile must be set; without one most runtimes run
//! the container unconfined.

use super::super::{Check, Emit, Family, Model, Rule};
use super::seccomp_baseline::allowed;
use super::{container_field, is_windows, pod_field, shown, who};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS016",
    family: Family::PssRestricted,
    title: "A container has no seccomp profile",
    severity: Severity::Warning,
    inventory: false,
    description: "Pod Security Standards, restricted, Seccomp: the seccomp profile must be explicitly set to one of the allowed values (`RuntimeDefault`, `Localhost`); both `Unconfined` and the absence of a profile are prohibited. A container's `securityContext.seccompProfile.type` counts, else the pod's `spec.securityContext.seccompProfile.type`. Reported on the offending value, or on the container when neither sets one. Linux only: a pod with `spec.os.name: windows` is exempt.",
    fix: "Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods().iter().filter(|p| !is_windows(p)) {
        let (pod_path, pod_type) = pod_field(pod, "seccompProfile.type");
        if let Some(t) = pod_type.filter(|t| !allowed(t)) {
            emit.at(
                pod.resource,
                &pod_path,
                format!("the pod's seccomp profile is {}", shown(t)),
            );
        }
        for c in pod.containers() {
            let (path, t) = container_field(&c, "seccompProfile.type");
            match t {
                Some(t) if allowed(t) => {}
                Some(t) => emit.at(pod.resource, &path, format!("{}'s seccomp profile is {}", who(&c), shown(t))),
                // The pod's profile applies (reported above if it is not allowed).
                None if pod_type.is_some() => {}
                None => emit.at(
                    pod.resource,
                    c.path,
                    format!("{} has no seccomp profile: neither it nor the pod sets seccompProfile.type", who(&c)),
                ),
            }
        }
    }
}
