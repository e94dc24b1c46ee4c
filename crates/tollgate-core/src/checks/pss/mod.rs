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
        c.value.get("securityContext").and_then(|sc| get(sc, field)),
    )
}

/// `spec.securityContext.FIELD` of a pod: its path and value.
pub(crate) fn pod_field<'a>(pod: &Pod<'a>, field: &str) -> (String, Option<&'a Value>) {
    (
        format!("{}.securityContext.{field}", pod.spec_path),
        pod.spec
            .get("securityContext")
            .and_then(|sc| get(sc, field)),
    )
}

/// `securityContext.FIELD` where it is set, on the pod and on each container: `(who sets it,
/// its path, its value)`, the pod first ("the pod", "container NAME").
pub(crate) fn settings<'a>(pod: &Pod<'a>, field: &str) -> Vec<(String, String, &'a Value)> {
    let mut out = Vec::new();
    if let (path, Some(v)) = pod_field(pod, field) {
        out.push(("the pod".to_owned(), path, v));
    }
    for c in pod.containers() {
        if let (path, Some(v)) = container_field(&c, field) {
            out.push((who(&c), path, v));
        }
    }
    out
}

/// The pod's volumes: `(path, name, source kind, source)` for each source field of each
/// volume (`spec.volumes[1]`, `data`, `hostPath`, `{path: /var}`), null sources left out.
pub(crate) fn volume_sources<'a>(pod: &Pod<'a>) -> Vec<(String, &'a str, &'a str, &'a Value)> {
    let mut out = Vec::new();
    let volumes = pod.spec.get("volumes").and_then(Value::as_array);
    for (i, v) in volumes.into_iter().flatten().enumerate() {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        for (kind, source) in v.as_object().into_iter().flatten() {
            if kind != "name" && !source.is_null() {
                out.push((
                    format!("{}.volumes[{i}]", pod.spec_path),
                    name,
                    kind.as_str(),
                    source,
                ));
            }
        }
    }
    out
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
