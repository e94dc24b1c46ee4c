//! The RBAC graph of a set of manifests: Roles and ClusterRoles (aggregation resolved as the
//! controller-manager does), their bindings and subjects, and the questions asked of it:
//! which rule grants what (the checks), who can do something (`rbac who-can`) and what one
//! subject can do (`rbac explain`). No cluster is needed: the manifests are the truth.

pub mod admission_config;
pub mod anonymous_binding;
pub mod approve_csr;
mod builtin_roles;
pub mod cluster_admin_binding;
pub mod create_workloads;
pub mod default_service_account;
pub mod escalation_verbs;
pub mod missing_role;
pub mod node_proxy;
pub mod pod_exec;
mod query;
pub mod read_secrets;
pub mod token_request;
pub mod wildcard;

pub use query::{
    explain, service_accounts, who_can, Explanation, Grant, Query, Scope, SubjectGrants,
    SubjectRef, Via, WhoCan,
};

use super::selector::{labels, Labels, Selector};
use super::{malformed, namespace_of, strings, Emit, Model};
use crate::engine::EvalError;
use crate::manifest::Resource;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The API group of RBAC objects.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One entry of a role's `rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule<'a> {
    /// Its index in `rules`.
    pub index: usize,
    /// `verbs`.
    pub verbs: Vec<&'a str>,
    /// `apiGroups`.
    pub api_groups: Vec<&'a str>,
    /// `resources`, with subresources as `pods/exec`.
    pub resources: Vec<&'a str>,
    /// `resourceNames`: when set, only these objects.
    pub resource_names: Vec<&'a str>,
    /// `nonResourceURLs` (ClusterRoles only).
    pub non_resource_urls: Vec<&'a str>,
}

/// Which objects a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names<'q> {
    /// Any object: `resourceNames` does not narrow the grant (the checks ask this: a rule
    /// that may read one Secret still reads Secrets).
    Any,
    /// A request for no particular object (`list`, `create`, or a name not given): rules
    /// narrowed by `resourceNames` do not grant it, as the API server's authorizer decides.
    Unnamed,
    /// The object of this name.
    Named(&'q str),
}

impl PolicyRule<'_> {
    /// Whether this rule allows `verb` on `resource` (`pods`, `pods/exec`) in `group` (`None`:
    /// any group), with Kubernetes's matching: `*` matches every verb, group and resource
    /// (subresources included), `*/exec` every resource's `exec` subresource.
    pub fn allows(
        &self,
        verb: &str,
        group: Option<&str>,
        resource: &str,
        names: Names<'_>,
    ) -> bool {
        let verb_ok = self.verbs.iter().any(|v| *v == "*" || *v == verb);
        let group_ok = match group {
            Some(g) => self.api_groups.iter().any(|x| *x == "*" || *x == g),
            None => !self.api_groups.is_empty(),
        };
        let sub = resource.split_once('/').map(|(_, s)| s);
        let resource_ok = self.resources.iter().any(|r| {
            *r == "*"
                || *r == resource
                || sub.is_some_and(|s| r.strip_prefix("*/").is_some_and(|rs| rs == s))
        });
        let names_ok = match names {
            Names::Any => true,
            Names::Unnamed => self.resource_names.is_empty(),
            Names::Named(n) => self.resource_names.is_empty() || self.resource_names.contains(&n),
        };
        verb_ok && group_ok && resource_ok && names_ok
    }

    /// Whether it grants every verb on every resource of every group.
    pub fn is_everything(&self) -> bool {
        self.verbs.contains(&"*") && self.api_groups.contains(&"*") && self.resources.contains(&"*")
    }

    /// `verbs [..] on resources [..] (apiGroups [..])`, for messages.
    pub fn describe(&self) -> String {
        let list = |v: &[&str]| v.join(", ");
        if !self.non_resource_urls.is_empty() {
            return format!(
                "{} on URLs {}",
                list(&self.verbs),
                list(&self.non_resource_urls)
            );
        }
        let groups: Vec<&str> = self
            .api_groups
            .iter()
            .map(|g| if g.is_empty() { "\"\"" } else { g })
            .collect();
        let mut out = format!(
            "{} on {} (apiGroups {})",
            list(&self.verbs),
            list(&self.resources),
            list(&groups)
        );
        if !self.resource_names.is_empty() {
            out.push_str(&format!(" named {}", list(&self.resource_names)));
        }
        out
    }
}

/// Role or ClusterRole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    /// A namespaced `Role`.
    Role,
    /// A `ClusterRole`.
    ClusterRole,
}

impl RoleKind {
    fn name(self) -> &'static str {
        match self {
            RoleKind::Role => "Role",
            RoleKind::ClusterRole => "ClusterRole",
        }
    }
}

/// A Role or ClusterRole of the set.
#[derive(Debug)]
pub struct Role<'a> {
    /// The object.
    pub resource: &'a Resource,
    /// Role or ClusterRole.
    pub kind: RoleKind,
    /// Its namespace (Roles only).
    pub namespace: Option<&'a str>,
    /// Its name.
    pub name: &'a str,
    /// Its own `rules`.
    pub rules: Vec<PolicyRule<'a>>,
    labels: Labels,
    /// `aggregationRule.clusterRoleSelectors`, when it aggregates.
    aggregation: Option<Vec<Selector>>,
    /// For an aggregating ClusterRole: the rules it gains, as (role index, rule position).
    /// The aggregation controller replaces the role's own `rules` with these.
    aggregated: Vec<(usize, usize)>,
}

impl Role<'_> {
    /// `ClusterRole/name` or `Role/namespace/name`.
    pub fn display(&self) -> String {
        match self.namespace {
            Some(ns) => format!("Role/{ns}/{}", self.name),
            None => format!("ClusterRole/{}", self.name),
        }
    }

    /// Whether it aggregates other ClusterRoles.
    pub fn aggregates(&self) -> bool {
        self.aggregation.is_some()
    }
}

/// The kind of a binding subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectKind {
    /// A user name.
    User,
    /// A group name.
    Group,
    /// A ServiceAccount (namespaced).
    ServiceAccount,
}

impl SubjectKind {
    /// `User`, `Group`, `ServiceAccount`.
    pub fn name(self) -> &'static str {
        match self {
            SubjectKind::User => "User",
            SubjectKind::Group => "Group",
            SubjectKind::ServiceAccount => "ServiceAccount",
        }
    }

    /// Parses a kind as subjects and queries spell it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "User" => Some(SubjectKind::User),
            "Group" => Some(SubjectKind::Group),
            "ServiceAccount" => Some(SubjectKind::ServiceAccount),
            _ => None,
        }
    }
}

/// One entry of a binding's `subjects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject<'a> {
    /// Its index in `subjects`.
    pub index: usize,
    /// User, Group or ServiceAccount.
    pub kind: SubjectKind,
    /// Its name.
    pub name: &'a str,
    /// The ServiceAccount's namespace.
    pub namespace: Option<&'a str>,
}

impl Subject<'_> {
    /// A component of the cluster itself: `system:` users and groups (other than the
    /// anonymous and all-users ones) and ServiceAccounts of `kube-system`.
    pub fn is_system(&self) -> bool {
        match self.kind {
            SubjectKind::ServiceAccount => self.namespace == Some("kube-system"),
            _ => self.name.starts_with("system:") && !is_everyone(self.name),
        }
    }

    /// `ServiceAccount/ns/name`, `User/name`, `Group/name`.
    pub fn display(&self) -> String {
        match self.namespace {
            Some(ns) if self.kind == SubjectKind::ServiceAccount => {
                format!("ServiceAccount/{ns}/{}", self.name)
            }
            _ => format!("{}/{}", self.kind.name(), self.name),
        }
    }
}

/// The names that stand for anyone: unauthenticated requests, or every authenticated one.
pub fn is_everyone(name: &str) -> bool {
    matches!(
        name,
        "system:anonymous" | "system:unauthenticated" | "system:authenticated"
    )
}

/// A RoleBinding or ClusterRoleBinding of the set.
#[derive(Debug)]
pub struct Binding<'a> {
    /// The object.
    pub resource: &'a Resource,
    /// Its namespace (RoleBindings only).
    pub namespace: Option<&'a str>,
    /// Its name.
    pub name: &'a str,
    /// `roleRef.kind`.
    pub role_kind: RoleKind,
    /// `roleRef.name`.
    pub role_name: &'a str,
    /// Its subjects.
    pub subjects: Vec<Subject<'a>>,
    /// The role it refers to, when it is in the set.
    pub role: Option<usize>,
}

impl Binding<'_> {
    /// `ClusterRoleBinding/name` or `RoleBinding/namespace/name`.
    pub fn display(&self) -> String {
        match self.namespace {
            Some(ns) => format!("RoleBinding/{ns}/{}", self.name),
            None => format!("ClusterRoleBinding/{}", self.name),
        }
    }

    /// The role it refers to, as `ClusterRole/name` or `Role/namespace/name`.
    pub fn role_display(&self) -> String {
        match (self.role_kind, self.namespace) {
            (RoleKind::Role, Some(ns)) => format!("Role/{ns}/{}", self.role_name),
            _ => format!("{}/{}", self.role_kind.name(), self.role_name),
        }
    }
}

/// ClusterRoles every cluster has, which a repository binds without defining: the
/// user-facing ones (`cluster-admin`, `admin`, `edit`, `view`, modelled in `builtin_roles`)
/// and the `system:` roles of the components (known by name only).
pub fn is_builtin_cluster_role(name: &str) -> bool {
    builtin_roles::NAMES.contains(&name) || name.starts_with("system:")
}

/// The rules of the built-in user-facing ClusterRoles, by name.
fn builtin_rules() -> Vec<(&'static str, Vec<PolicyRule<'static>>)> {
    builtin_roles::NAMES
        .iter()
        .map(|name| {
            let rules = builtin_roles::rules_of(name)
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(index, (verbs, groups, resources))| PolicyRule {
                    index,
                    verbs: verbs.to_vec(),
                    api_groups: groups.to_vec(),
                    resources: resources.to_vec(),
                    resource_names: Vec::new(),
                    non_resource_urls: Vec::new(),
                })
                .collect();
            (*name, rules)
        })
        .collect()
}

/// Every role and binding of a set of manifests.
#[derive(Debug, Default)]
pub struct Graph<'a> {
    /// Roles and ClusterRoles, in input order.
    pub roles: Vec<Role<'a>>,
    /// RoleBindings and ClusterRoleBindings, in input order.
    pub bindings: Vec<Binding<'a>>,
    /// Objects too malformed to use (each names its file and line).
    pub errors: Vec<EvalError>,
    /// The built-in ClusterRoles, for bindings to them when the set does not define them.
    builtin: Vec<(&'static str, Vec<PolicyRule<'static>>)>,
}

/// A rule that applies through a role: the role that has it (its own or, for an aggregating
/// ClusterRole, one it aggregates) and the rule.
#[derive(Debug, Clone, Copy)]
pub struct Effective<'g, 'a> {
    /// The role whose `rules` the rule is written in (`None`: a built-in ClusterRole).
    pub source: Option<&'g Role<'a>>,
    /// The rule.
    pub rule: &'g PolicyRule<'a>,
}

fn is_rbac(r: &Resource) -> bool {
    r.api_version
        .split_once('/')
        .is_some_and(|(g, _)| g == RBAC_GROUP)
}

impl<'a> Graph<'a> {
    /// Reads every RBAC object of `resources`; malformed ones become errors, the rest is used.
    pub fn build(resources: &'a [Resource]) -> Graph<'a> {
        let mut g = Graph {
            builtin: builtin_rules(),
            ..Graph::default()
        };
        for r in resources.iter().filter(|r| is_rbac(r)) {
            let result = match r.kind.as_str() {
                "Role" | "ClusterRole" => read_role(r).map(|role| g.roles.push(role)),
                "RoleBinding" | "ClusterRoleBinding" => read_binding(r).map(|b| g.bindings.push(b)),
                _ => Ok(()),
            };
            if let Err(e) = result {
                g.errors.push(e);
            }
        }
        g.aggregate();
        let index: HashMap<(RoleKind, Option<&str>, &str), usize> = g
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.kind, r.namespace, r.name), i))
            .collect();
        for b in &mut g.bindings {
            let ns = match b.role_kind {
                RoleKind::Role => b.namespace,
                RoleKind::ClusterRole => None,
            };
            b.role = index.get(&(b.role_kind, ns, b.role_name)).copied();
        }
        g
    }

    /// Resolves `aggregationRule`s: each aggregating ClusterRole gains the rules of every
    /// ClusterRole its selectors match, transitively (a role aggregated into another may
    /// aggregate too), as the aggregation controller converges to.
    fn aggregate(&mut self) {
        let cluster: Vec<usize> = (0..self.roles.len())
            .filter(|&i| {
                self.roles
                    .get(i)
                    .is_some_and(|r| r.kind == RoleKind::ClusterRole)
            })
            .collect();
        // Direct edges: aggregating role -> the ClusterRoles its selectors match.
        let edges: Vec<(usize, Vec<usize>)> = cluster
            .iter()
            .filter_map(|&i| {
                let role = self.roles.get(i)?;
                let selectors = role.aggregation.as_ref()?;
                let matched = cluster
                    .iter()
                    .copied()
                    .filter(|&j| j != i)
                    .filter(|&j| {
                        self.roles
                            .get(j)
                            .is_some_and(|o| selectors.iter().any(|s| s.matches(&o.labels)))
                    })
                    .collect();
                Some((i, matched))
            })
            .collect();
        let direct: HashMap<usize, Vec<usize>> = edges.into_iter().collect();
        for (&role, _) in direct.iter() {
            let mut seen = BTreeSet::from([role]);
            let mut stack = vec![role];
            let mut gained = Vec::new();
            while let Some(at) = stack.pop() {
                for &next in direct.get(&at).into_iter().flatten() {
                    if !seen.insert(next) {
                        continue;
                    }
                    if direct.contains_key(&next) {
                        // Its own rules are replaced by what it aggregates: follow it.
                        stack.push(next);
                    } else if let Some(r) = self.roles.get(next) {
                        gained.extend((0..r.rules.len()).map(|k| (next, k)));
                    }
                }
            }
            gained.sort_unstable();
            if let Some(r) = self.roles.get_mut(role) {
                r.aggregated = gained;
            }
        }
    }

    /// The rules that apply through role `i`: its own, or for an aggregating ClusterRole the
    /// rules it aggregates.
    pub fn effective(&self, i: usize) -> Vec<Effective<'_, 'a>> {
        let Some(role) = self.roles.get(i) else {
            return Vec::new();
        };
        if role.aggregates() {
            role.aggregated
                .iter()
                .filter_map(|&(r, k)| {
                    let source = self.roles.get(r)?;
                    Some(Effective {
                        source: Some(source),
                        rule: source.rules.get(k)?,
                    })
                })
                .collect()
        } else {
            role.rules
                .iter()
                .map(|rule| Effective {
                    source: Some(role),
                    rule,
                })
                .collect()
        }
    }

    /// The rules a binding grants: its role's, or a built-in ClusterRole's when it names one
    /// the set does not define; nothing for other roles that are not in the set.
    pub fn granted_by(&self, b: &Binding<'_>) -> Vec<Effective<'_, 'a>> {
        match b.role {
            Some(i) => self.effective(i),
            None if b.role_kind == RoleKind::ClusterRole => self
                .builtin
                .iter()
                .find(|(name, _)| *name == b.role_name)
                .map(|(_, rules)| {
                    rules
                        .iter()
                        .map(|rule| Effective { source: None, rule })
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Whether a binding's role is known: in the set, or a modelled built-in ClusterRole.
    pub fn resolves(&self, b: &Binding<'_>) -> bool {
        b.role.is_some()
            || (b.role_kind == RoleKind::ClusterRole
                && self.builtin.iter().any(|(name, _)| *name == b.role_name))
    }
}

fn name_of(r: &Resource) -> Result<&str, EvalError> {
    r.object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(r, "metadata", "has no metadata.name"))
}

fn read_role(r: &Resource) -> Result<Role<'_>, EvalError> {
    let kind = if r.kind == "Role" {
        RoleKind::Role
    } else {
        RoleKind::ClusterRole
    };
    let name = name_of(r)?;
    let mut rules = Vec::new();
    match r.object.get("rules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                let at = format!("rules[{index}]");
                if !item.is_object() {
                    return Err(malformed(r, &at, "a rule must be a mapping"));
                }
                let list = |key: &str| {
                    strings(item, key)
                        .map(Option::unwrap_or_default)
                        .map_err(|e| malformed(r, &at, &e))
                };
                rules.push(PolicyRule {
                    index,
                    verbs: list("verbs")?,
                    api_groups: list("apiGroups")?,
                    resources: list("resources")?,
                    resource_names: list("resourceNames")?,
                    non_resource_urls: list("nonResourceURLs")?,
                });
            }
        }
        Some(_) => return Err(malformed(r, "rules", "rules must be a list")),
    }
    let aggregation = match (kind, r.object.get("aggregationRule")) {
        (RoleKind::ClusterRole, Some(rule)) if !rule.is_null() => {
            let selectors = match rule.get("clusterRoleSelectors") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        Selector::parse(s).map_err(|e| {
                            malformed(r, &format!("aggregationRule.clusterRoleSelectors[{i}]"), &e)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => {
                    return Err(malformed(
                        r,
                        "aggregationRule",
                        "clusterRoleSelectors must be a list",
                    ))
                }
            };
            Some(selectors)
        }
        _ => None,
    };
    Ok(Role {
        resource: r,
        kind,
        namespace: (kind == RoleKind::Role).then(|| namespace_of(r)),
        name,
        rules,
        labels: labels(r.object.pointer("/metadata/labels")),
        aggregation,
        aggregated: Vec::new(),
    })
}

fn read_binding(r: &Resource) -> Result<Binding<'_>, EvalError> {
    let cluster = r.kind == "ClusterRoleBinding";
    let name = name_of(r)?;
    let namespace = (!cluster).then(|| namespace_of(r));
    let Some(role_ref) = r.object.get("roleRef").filter(|v| v.is_object()) else {
        return Err(malformed(
            r,
            "",
            "has no roleRef (a binding must name the role it grants)",
        ));
    };
    let role_kind = match role_ref.get("kind").and_then(Value::as_str) {
        Some("ClusterRole") => RoleKind::ClusterRole,
        Some("Role") if !cluster => RoleKind::Role,
        Some("Role") => {
            return Err(malformed(
                r,
                "roleRef.kind",
                "a ClusterRoleBinding can only refer to a ClusterRole",
            ))
        }
        _ => {
            return Err(malformed(
                r,
                "roleRef",
                "roleRef.kind must be Role or ClusterRole",
            ))
        }
    };
    let Some(role_name) = role_ref.get("name").and_then(Value::as_str) else {
        return Err(malformed(r, "roleRef", "roleRef.name must be a string"));
    };
    let mut subjects = Vec::new();
    match r.object.get("subjects") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (index, s) in items.iter().enumerate() {
                let at = format!("subjects[{index}]");
                let kind = s
                    .get("kind")
                    .and_then(Value::as_str)
                    .and_then(SubjectKind::parse)
                    .ok_or_else(|| {
                        malformed(r, &at, "kind must be User, Group or ServiceAccount")
                    })?;
                let Some(subject_name) = s.get("name").and_then(Value::as_str) else {
                    return Err(malformed(r, &at, "name must be a string"));
                };
                let ns = s.get("namespace").and_then(Value::as_str);
                let namespace = match kind {
                    SubjectKind::ServiceAccount => match (ns, namespace) {
                        (Some(ns), _) => Some(ns),
                        // kubectl fills it in for RoleBindings; the binding's namespace is meant.
                        (None, Some(own)) => Some(own),
                        (None, None) => return Err(malformed(
                            r,
                            &at,
                            "a ServiceAccount subject of a ClusterRoleBinding needs a namespace",
                        )),
                    },
                    _ => None,
                };
                subjects.push(Subject {
                    index,
                    kind,
                    name: subject_name,
                    namespace,
                });
            }
        }
        Some(_) => return Err(malformed(r, "subjects", "subjects must be a list")),
    }
    Ok(Binding {
        resource: r,
        namespace,
        name,
        role_kind,
        role_name,
        subjects,
        role: None,
    })
}

/// What a capability check looks for: any of `verbs` on any of `resources` in `group`.
pub(crate) struct Probe {
    pub verbs: &'static [&'static str],
    pub group: &'static str,
    pub resources: &'static [&'static str],
}

/// The first `verb resource` of `probes` the rule allows, for the message.
fn first_grant(rule: &PolicyRule<'_>, probes: &[Probe]) -> Option<String> {
    probes.iter().find_map(|p| {
        p.resources.iter().find_map(|res| {
            p.verbs
                .iter()
                .find(|v| rule.allows(v, Some(p.group), res, Names::Any))
                .map(|v| format!("{v} {res}"))
        })
    })
}

/// Reports every role rule that grants one of `probes` (`what` says what it amounts to): on
/// the rule's line for roles that grant it themselves, on `aggregationRule` for ClusterRoles
/// that gain it by aggregation.
pub(crate) fn report_capability(model: &Model<'_>, emit: &mut Emit, probes: &[Probe], what: &str) {
    let g = model.rbac();
    for (i, role) in g.roles.iter().enumerate() {
        if role.aggregates() {
            for e in g.effective(i) {
                let (Some(source), Some(grant)) = (e.source, first_grant(e.rule, probes)) else {
                    continue;
                };
                emit.at(
                    role.resource,
                    "aggregationRule",
                    format!(
                        "{} {what}: it aggregates {} rules[{}] ({grant})",
                        role.display(),
                        source.display(),
                        e.rule.index
                    ),
                );
            }
        } else {
            for rule in &role.rules {
                if let Some(grant) = first_grant(rule, probes) {
                    emit.at(
                        role.resource,
                        &format!("rules[{}]", rule.index),
                        format!(
                            "{} rules[{}] {what} ({grant}: {})",
                            role.display(),
                            rule.index,
                            rule.describe()
                        ),
                    );
                }
            }
        }
    }
}
