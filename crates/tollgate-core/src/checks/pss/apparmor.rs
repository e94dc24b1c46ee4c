//! PSS007 (baseline, AppArmor): the runtime's default AppArmor profile confines what a
//! container may touch; `Unconfined` (or another profile than the node's own) removes that.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{settings, shown};
use crate::finding::Severity;
use serde_json::Value;

/// The annotation prefix that set AppArmor profiles before the `appArmorProfile` field (v1.30).
const ANNOTATION: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS007",
    family: Family::PssBaseline,
    title: "A pod overrides or disables the default AppArmor profile",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, AppArmor: on supported hosts the `RuntimeDefault` AppArmor profile applies by default; the baseline policy prevents overriding or disabling it. `securityContext.appArmorProfile.type` of the pod and of every container must be unset, `RuntimeDefault` or `Localhost`, and the older annotations `container.apparmor.security.beta.kubernetes.io/NAME` must be unset, `runtime/default` or `localhost/PROFILE`.",
    fix: "Remove the `Unconfined` profile (or the `unconfined` annotation); use `RuntimeDefault`, or a `Localhost` profile installed on the nodes.",
    check: Check::Set(check),
};

fn allowed_type(v: &Value) -> bool {
    matches!(v.as_str(), Some("RuntimeDefault" | "Localhost"))
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for (owner, path, v) in settings(pod, "appArmorProfile.type") {
            if !allowed_type(v) {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{owner}'s AppArmor profile is {}", shown(v)),
                );
            }
        }
        let annotations = pod
            .metadata
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object);
        for (key, value) in annotations.into_iter().flatten() {
            let Some(container) = key.strip_prefix(ANNOTATION) else {
                continue;
            };
            let ok = value
                .as_str()
                .is_some_and(|s| s == "runtime/default" || s.starts_with("localhost/"));
            if !ok {
                let mut path = format!("{}.annotations", pod.metadata_path);
                tollgate_yaml::read::push_key(&mut path, key);
                emit.at(
                    pod.resource,
                    &path,
                    format!(
                        "container {container}'s AppArmor annotation is {}",
                        shown(value)
                    ),
                );
            }
        }
    }
}
