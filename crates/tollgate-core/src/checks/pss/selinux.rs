//! PSS008 (baseline, SELinux): a custom SELinux type, user or role lifts the confinement the
//! container types give; only the container types are allowed.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{settings, shown};
use crate::finding::Severity;

/// The SELinux types the baseline profile allows (`container_engine_t` since v1.31).
const TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS008",
    family: Family::PssBaseline,
    title: "A pod sets a custom SELinux type, user or role",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, SELinux: setting the SELinux type is restricted, and setting a custom SELinux user or role option is forbidden. `seLinuxOptions.type` of the pod and of every container must be unset, empty, `container_t`, `container_init_t`, `container_kvm_t` or `container_engine_t`; `seLinuxOptions.user` and `seLinuxOptions.role` must be unset or empty. Another type (`spc_t`, `unconfined_t`) runs the container unconfined.",
    fix: "Remove the `seLinuxOptions` type, user and role (or use one of the container types).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for (owner, path, t) in settings(pod, "seLinuxOptions.type") {
            if !t
                .as_str()
                .is_some_and(|s| s.is_empty() || TYPES.contains(&s))
            {
                emit.at(
                    pod.resource,
                    &path,
                    format!("{owner} sets the SELinux type {}", shown(t)),
                );
            }
        }
        for key in ["user", "role"] {
            for (owner, path, v) in settings(pod, &format!("seLinuxOptions.{key}")) {
                if v.as_str() != Some("") {
                    emit.at(
                        pod.resource,
                        &path,
                        format!("{owner} sets the SELinux {key} {}", shown(v)),
                    );
                }
            }
        }
    }
}
