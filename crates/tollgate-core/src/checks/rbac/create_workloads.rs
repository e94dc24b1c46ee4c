//! RBAC005: whoever creates pods chooses their ServiceAccount, volumes and host access.

use super::super::{Check, Emit, Family, Model, Rule};
use super::{report_capability, Probe};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "RBAC005",
    family: Family::Rbac,
    title: "Role may create Pods or pod controllers",
    severity: Severity::Warning,
    inventory: false,
    description: "A subject that creates Pods (or Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, ReplicationControllers) can run them as any ServiceAccount of the namespace and mount any Secret there, so it holds the union of their rights; without Pod Security admission it can also reach the node.",
    fix: "Leave workload creation to the GitOps controller; grant `create` on pods only to subjects that need it, in namespaces enforcing the `restricted` Pod Security level.",
    check: Check::Set(check),
};

const PROBES: &[Probe] = &[
    Probe {
        verbs: &["create"],
        group: "",
        resources: &["pods", "replicationcontrollers"],
    },
    Probe {
        verbs: &["create"],
        group: "apps",
        resources: &["deployments", "statefulsets", "daemonsets", "replicasets"],
    },
    Probe {
        verbs: &["create"],
        group: "batch",
        resources: &["jobs", "cronjobs"],
    },
];

fn check(model: &Model<'_>, emit: &mut Emit) {
    report_capability(model, emit, PROBES, "may create workloads");
}
