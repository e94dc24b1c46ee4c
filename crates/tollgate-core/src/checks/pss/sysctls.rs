//! PSS011 (baseline, Sysctls): sysctls outside the namespaced, safe set change the node's
//! kernel for every pod on it.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{pod_field, shown};
use crate::finding::Severity;
use serde_json::Value;

/// The sysctls the baseline profile allows (v1.27 and v1.29 added the last five).
const SAFE: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS011",
    family: Family::PssBaseline,
    title: "A pod sets an unsafe sysctl",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, Sysctls: sysctls can disable security mechanisms or affect all containers on a host, and should be disallowed except for an allowed safe subset. `spec.securityContext.sysctls[*].name` may only be kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_local_reserved_ports (v1.27+), net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl and net.ipv4.tcp_keepalive_probes (v1.29+).",
    fix: "Remove the sysctl, or set it on dedicated nodes (a node-level configuration) rather than from a pod.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        let (path, v) = pod_field(pod, "sysctls");
        let Some(list) = v.and_then(Value::as_array) else {
            continue;
        };
        for (i, s) in list.iter().enumerate() {
            let name = s.get("name").unwrap_or(&Value::Null);
            if !name.as_str().is_some_and(|n| SAFE.contains(&n)) {
                emit.at(
                    pod.resource,
                    &format!("{path}[{i}].name"),
                    format!("the pod sets the sysctl {}", shown(name)),
                );
            }
        }
    }
}
