//! PSS006 (baseline, Host Ports): a hostPort binds the pod to a port of the node's address,
//! around NetworkPolicies and Services, and limits where it can be scheduled.

use super::super::{Check, Emit, Family, Model, Rule};
use super::who;
use crate::finding::Severity;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "PSS006",
    family: Family::PssBaseline,
    title: "A container uses a host port",
    severity: Severity::Error,
    inventory: false,
    description: "Pod Security Standards, baseline, Host Ports: host ports should be disallowed entirely (the standard's recommendation, and what Pod Security Admission enforces). `ports[*].hostPort` of every container must be unset or `0`: a host port is reachable on the node's own address, where NetworkPolicies on the pod network may not apply, and it ties the pod to nodes where the port is free.",
    fix: "Remove `hostPort` and expose the container through a Service (NodePort or LoadBalancer when it must be reached from outside).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for pod in model.pods() {
        for c in pod.containers() {
            let Some(ports) = c.value.get("ports").and_then(Value::as_array) else {
                continue;
            };
            for (i, p) in ports.iter().enumerate() {
                let Some(host) = p.get("hostPort").filter(|h| !h.is_null()) else {
                    continue;
                };
                if host.as_i64() != Some(0) {
                    emit.at(
                        pod.resource,
                        &format!("{}.ports[{i}].hostPort", c.path),
                        format!("{} binds host port {host}", who(&c)),
                    );
                }
            }
        }
    }
}
