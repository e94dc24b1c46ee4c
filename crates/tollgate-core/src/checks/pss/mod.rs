//! The Kubernetes Pod Security Standards (the `latest` standard, as of Kubernetes v1.34) as
//! built-in rules: one rule per control of the `baseline` and `restricted` profiles, applied
//! to every pod template with the exemptions the standard allows. Baseline controls are
//! errors (what a namespace labelled `pod-security.kubernetes.io/enforce: baseline` rejects),
//! restricted ones warnings, both configurable per rule. The rules are cross-checked against
//! the kyverno/policies pod-security tests (`tests/pss_corpus.rs`).

pub mod apparmor;
pub mod capabilities_baseline;
pub mod capabilities_restricted;
pub mod host_namespaces;
pub mod host_path;
pub mod host_ports;
pub mod host_process;
pub mod privilege_escalation;
pub mod privileged;
pub mod proc_mount;
pub mod run_as_non_root;
pub mod run_as_user;
pub mod seccomp_baseline;
pub mod seccomp_restricted;
pub mod selinux;
pub mod sysctls;
pub mod volume_types;

use super::pods::{Container, Pod};
use serde_json::Value;

/// The value at a dotted path under `v`.
pub(crate) fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

/// `securityContext.FIELD` of a container: its path and value.
pub(crate) fn container_field<'a>(
    c: &Container<'_, 'a>,
    field: &str,
) -> (String, Option<&'a Value>) {
    (
        format!("{}.securityContext.{field}", c.path),
        get(c.value, &format!("securityContext.{field}")),
    )
}

/// `spec.securityContext.FIELD` of a pod: its path and value.
pub(crate) fn pod_field<'a>(pod: &Pod<'a>, field: &str) -> (String, Option<&'a Value>) {
    (
        format!("{}.securityContext.{field}", pod.spec_path),
        get(pod.spec, &format!("securityContext.{field}")),
    )
}

/// A pod the standard treats as Windows (`spec.os.name: windows`): the Linux-only restricted
/// controls (privilege escalation, seccomp, capabilities) do not apply to it.
pub(crate) fn is_windows(pod: &Pod<'_>) -> bool {
    get(pod.spec, "os.name").and_then(Value::as_str) == Some("windows")
}

/// `container NAME` (or its list and position when unnamed), for messages.
pub(crate) fn who(c: &Container<'_, '_>) -> String {
    if c.name.is_empty() {
        format!("the container at {}", c.path)
    } else {
        format!("container {}", c.name)
    }
}

/// A value for messages: strings bare, the rest as JSON.
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    }
}
