//! The user-facing ClusterRoles every cluster has (`cluster-admin`, `admin`, `edit`, `view`),
//! as the API server's bootstrap policy defines them (Kubernetes 1.30+), so that a binding to
//! them answers `who-can` without the cluster. Repositories bind these far more than they
//! define roles; leaving them out would hide the most common grants (`edit` reads Secrets and
//! execs into pods). A set that defines a role of the same name wins over this table.

/// `(verbs, apiGroups, resources)` of one rule.
type RuleSpec = (
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

const VIEW_CORE: &[&str] = &[
    "configmaps",
    "endpoints",
    "persistentvolumeclaims",
    "persistentvolumeclaims/status",
    "pods",
    "replicationcontrollers",
    "replicationcontrollers/scale",
    "serviceaccounts",
    "services",
    "services/status",
    "bindings",
    "events",
    "limitranges",
    "namespaces/status",
    "pods/log",
    "pods/status",
    "replicationcontrollers/status",
    "resourcequotas",
    "resourcequotas/status",
    "namespaces",
];
const APPS: &[&str] = &[
    "controllerrevisions",
    "daemonsets",
    "daemonsets/status",
    "deployments",
    "deployments/scale",
    "deployments/status",
    "replicasets",
    "replicasets/scale",
    "replicasets/status",
    "statefulsets",
    "statefulsets/scale",
    "statefulsets/status",
];
const AUTOSCALING: &[&str] = &[
    "horizontalpodautoscalers",
    "horizontalpodautoscalers/status",
];
const BATCH: &[&str] = &["cronjobs", "cronjobs/status", "jobs", "jobs/status"];
const POLICY: &[&str] = &["poddisruptionbudgets", "poddisruptionbudgets/status"];
const NETWORKING: &[&str] = &["ingresses", "ingresses/status", "networkpolicies"];

const VIEW: &[RuleSpec] = &[
    (READ, &[""], VIEW_CORE),
    (READ, &["apps"], APPS),
    (READ, &["autoscaling"], AUTOSCALING),
    (READ, &["batch"], BATCH),
    (READ, &["policy"], POLICY),
    (READ, &["networking.k8s.io"], NETWORKING),
    (READ, &["discovery.k8s.io"], &["endpointslices"]),
];

const EDIT_CORE: &[&str] = &[
    "pods",
    "pods/attach",
    "pods/exec",
    "pods/portforward",
    "pods/proxy",
    "configmaps",
    "events",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "replicationcontrollers/scale",
    "secrets",
    "serviceaccounts",
    "services",
    "services/proxy",
];

const EDIT_EXTRA: &[RuleSpec] = &[
    (WRITE, &[""], EDIT_CORE),
    (
        READ,
        &[""],
        &[
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
            "secrets",
            "services/proxy",
        ],
    ),
    (&["impersonate"], &[""], &["serviceaccounts"]),
    (&["create"], &[""], &["serviceaccounts/token"]),
    (WRITE, &["apps"], APPS),
    (WRITE, &["autoscaling"], AUTOSCALING),
    (WRITE, &["batch"], BATCH),
    (WRITE, &["policy"], POLICY),
    (WRITE, &["networking.k8s.io"], NETWORKING),
    (WRITE, &["discovery.k8s.io"], &["endpointslices"]),
];

const ADMIN_EXTRA: &[RuleSpec] = &[
    (
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        &["rbac.authorization.k8s.io"],
        &["rolebindings", "roles"],
    ),
    (
        &["create"],
        &["authorization.k8s.io"],
        &["localsubjectaccessreviews"],
    ),
];

const CLUSTER_ADMIN: &[RuleSpec] = &[(&["*"], &["*"], &["*"])];

/// The rules of a built-in ClusterRole, when `name` is one this table knows.
pub(super) fn rules_of(name: &str) -> Option<Vec<RuleSpec>> {
    match name {
        "cluster-admin" => Some(CLUSTER_ADMIN.to_vec()),
        "view" => Some(VIEW.to_vec()),
        "edit" => Some([VIEW, EDIT_EXTRA].concat()),
        "admin" => Some([VIEW, EDIT_EXTRA, ADMIN_EXTRA].concat()),
        _ => None,
    }
}

/// The names this table defines.
pub(super) const NAMES: &[&str] = &["admin", "cluster-admin", "edit", "view"];
