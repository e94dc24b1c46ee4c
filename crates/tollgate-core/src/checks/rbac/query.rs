//! The two questions `tollgate rbac` answers over the manifests: who may do something
//! (`who-can`), and what one subject may do (`explain`). Both read the graph the checks use,
//! so a query and a finding never disagree about what a binding grants.

use super::{Binding, Graph, Names, Subject, SubjectKind};
use crate::checks::close_matches;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Resources of the core groups by their usual plural, with their API group: a query without
/// a group (`who-can get deployments`) means the group these live in, as `kubectl` resolves
/// it through discovery. Resources not listed match in any group.
const KNOWN_GROUPS: &[(&str, &str)] = &[
    ("pods", ""),
    ("services", ""),
    ("secrets", ""),
    ("configmaps", ""),
    ("serviceaccounts", ""),
    ("nodes", ""),
    ("namespaces", ""),
    ("persistentvolumes", ""),
    ("persistentvolumeclaims", ""),
    ("endpoints", ""),
    ("events", ""),
    ("replicationcontrollers", ""),
    ("resourcequotas", ""),
    ("limitranges", ""),
    ("deployments", "apps"),
    ("statefulsets", "apps"),
    ("daemonsets", "apps"),
    ("replicasets", "apps"),
    ("controllerrevisions", "apps"),
    ("jobs", "batch"),
    ("cronjobs", "batch"),
    ("roles", "rbac.authorization.k8s.io"),
    ("rolebindings", "rbac.authorization.k8s.io"),
    ("clusterroles", "rbac.authorization.k8s.io"),
    ("clusterrolebindings", "rbac.authorization.k8s.io"),
    ("networkpolicies", "networking.k8s.io"),
    ("ingresses", "networking.k8s.io"),
    ("certificatesigningrequests", "certificates.k8s.io"),
    (
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
    ),
    (
        "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io",
    ),
    (
        "validatingadmissionpolicies",
        "admissionregistration.k8s.io",
    ),
    (
        "validatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
    ),
    ("customresourcedefinitions", "apiextensions.k8s.io"),
    ("horizontalpodautoscalers", "autoscaling"),
    ("poddisruptionbudgets", "policy"),
    ("storageclasses", "storage.k8s.io"),
    ("priorityclasses", "scheduling.k8s.io"),
    ("leases", "coordination.k8s.io"),
];

/// Resources that are not namespaced: a RoleBinding cannot grant them.
const CLUSTER_SCOPED: &[&str] = &[
    "nodes",
    "namespaces",
    "persistentvolumes",
    "clusterroles",
    "clusterrolebindings",
    "customresourcedefinitions",
    "storageclasses",
    "priorityclasses",
    "certificatesigningrequests",
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
];

/// A `who-can` question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The verb (`get`, `create`, `escalate`).
    pub verb: String,
    /// The resource, with its subresource (`pods/exec`).
    pub resource: String,
    /// Its API group; `None` when the query did not say and the resource is not a known one.
    pub group: Option<String>,
    /// The namespace asked about; `None`: any namespace.
    pub namespace: Option<String>,
    /// The object's name, for rules narrowed by `resourceNames`.
    pub name: Option<String>,
}

impl Query {
    /// Reads `VERB RESOURCE[.GROUP][/SUBRESOURCE]` as `kubectl auth can-i` spells them
    /// (`deployments.apps`, `pods/exec`, `secret`).
    pub fn parse(
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Query, crate::Error> {
        Self::read(verb, resource, namespace, name).map_err(crate::Error::Usage)
    }

    fn read(
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Query, String> {
        let verb = verb.trim();
        if verb.is_empty() || verb.contains(char::is_whitespace) {
            return Err(format!("`{verb}` is not a verb (get, list, create, ...)"));
        }
        let (main, sub) = match resource.split_once('/') {
            Some((m, s)) => (m, Some(s)),
            None => (resource, None),
        };
        let (plural, group) = match main.split_once('.') {
            Some((p, g)) => (p.to_ascii_lowercase(), Some(g.to_owned())),
            None => (main.to_ascii_lowercase(), None),
        };
        if plural.is_empty() || sub.is_some_and(str::is_empty) {
            return Err(format!(
                "`{resource}` is not a resource (pods, deployments.apps, pods/exec)"
            ));
        }
        // `secret` and `Secret` mean `secrets`, as kubectl accepts them.
        let plural = if KNOWN_GROUPS.iter().any(|(r, _)| *r == plural) {
            plural
        } else {
            let with_s = format!("{plural}s");
            if KNOWN_GROUPS.iter().any(|(r, _)| *r == with_s) {
                with_s
            } else {
                plural
            }
        };
        let group = group.or_else(|| {
            KNOWN_GROUPS
                .iter()
                .find(|(r, _)| *r == plural)
                .map(|(_, g)| (*g).to_owned())
        });
        Ok(Query {
            verb: verb.to_owned(),
            resource: match sub {
                Some(s) => format!("{plural}/{s}"),
                None => plural,
            },
            group,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        })
    }

    fn cluster_scoped(&self) -> bool {
        let main = self.resource.split('/').next().unwrap_or_default();
        CLUSTER_SCOPED.contains(&main)
    }

    fn names(&self) -> Names<'_> {
        match &self.name {
            Some(n) => Names::Named(n),
            None => Names::Unnamed,
        }
    }
}

/// A binding and the role through which a subject holds a permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Via {
    /// `RoleBinding/ns/name` or `ClusterRoleBinding/name`.
    pub binding: String,
    /// `Role/ns/name` or `ClusterRole/name`.
    pub role: String,
}

/// A subject that may do what was asked, and every way it may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectGrants {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: &'static str,
    /// The ServiceAccount's namespace.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
    /// The bindings and roles that grant it, sorted.
    pub via: Vec<Via>,
}

/// The answer to `who-can`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WhoCan {
    /// Every subject that may, sorted by kind, namespace and name.
    pub subjects: Vec<SubjectGrants>,
    /// Bindings whose role is neither in the manifests nor a modelled built-in: they may
    /// grant it too, depending on the cluster's role of that name.
    pub unresolved: Vec<Via>,
}

fn applies_in(b: &Binding<'_>, q: &Query) -> bool {
    match (b.namespace, &q.namespace) {
        // A ClusterRoleBinding grants in every namespace and for cluster-scoped resources.
        (None, _) => true,
        // A RoleBinding grants only namespaced resources, only in its namespace.
        (Some(_), _) if q.cluster_scoped() => false,
        (Some(ns), Some(want)) => ns == want,
        (Some(_), None) => true,
    }
}

/// The way through a binding and the rules it grants; `None` (and the binding noted as
/// unresolved) when its role is neither in the manifests nor a modelled built-in.
fn resolved<'g, 'a>(
    g: &'g Graph<'a>,
    b: &Binding<'_>,
    unresolved: &mut BTreeSet<Via>,
) -> Option<(Via, Vec<super::Effective<'g, 'a>>)> {
    let via = Via {
        binding: b.display(),
        role: b.role_display(),
    };
    if !g.resolves(b) {
        unresolved.insert(via);
        return None;
    }
    Some((via, g.granted_by(b)))
}

/// Every subject that may do `q`, over the bindings of `g`.
pub fn who_can(g: &Graph<'_>, q: &Query) -> WhoCan {
    // Sorted by kind name (Group, ServiceAccount, User), namespace, name.
    let mut subjects: BTreeMap<(&'static str, Option<String>, String), BTreeSet<Via>> =
        BTreeMap::new();
    let mut unresolved = BTreeSet::new();
    for b in g.bindings.iter().filter(|b| applies_in(b, q)) {
        let Some((via, grants)) = resolved(g, b, &mut unresolved) else {
            continue;
        };
        let allowed = grants.iter().any(|e| {
            e.rule
                .allows(&q.verb, q.group.as_deref(), &q.resource, q.names())
        });
        if !allowed {
            continue;
        }
        for s in &b.subjects {
            subjects
                .entry((
                    s.kind.name(),
                    s.namespace.map(str::to_owned),
                    s.name.to_owned(),
                ))
                .or_default()
                .insert(via.clone());
        }
    }
    WhoCan {
        subjects: subjects
            .into_iter()
            .map(|((kind, namespace, name), via)| SubjectGrants {
                kind,
                namespace,
                name,
                via: via.into_iter().collect(),
            })
            .collect(),
        unresolved: unresolved.into_iter().collect(),
    }
}

/// A subject as a query names it: `ServiceAccount/NAMESPACE/NAME`, `User/NAME`, `Group/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SubjectRef {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: &'static str,
    /// The ServiceAccount's namespace.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl SubjectRef {
    /// Reads `KIND/[NAMESPACE/]NAME` (the kind in any case; `sa` for ServiceAccount).
    pub fn parse(s: &str) -> Result<SubjectRef, crate::Error> {
        Self::read(s).map_err(crate::Error::Usage)
    }

    fn read(s: &str) -> Result<SubjectRef, String> {
        let parts: Vec<&str> = s.splitn(3, '/').collect();
        let kind = match parts.first().map(|k| k.to_ascii_lowercase()).as_deref() {
            Some("serviceaccount" | "sa") => SubjectKind::ServiceAccount,
            Some("user") => SubjectKind::User,
            Some("group") => SubjectKind::Group,
            _ => {
                return Err(format!(
                    "`{s}`: a subject is ServiceAccount/NAMESPACE/NAME, User/NAME or Group/NAME"
                ))
            }
        };
        match (kind, parts.as_slice()) {
            (SubjectKind::ServiceAccount, [_, ns, name]) if !ns.is_empty() && !name.is_empty() => {
                Ok(SubjectRef {
                    kind: kind.name(),
                    namespace: Some((*ns).to_owned()),
                    name: (*name).to_owned(),
                })
            }
            (SubjectKind::ServiceAccount, _) => Err(format!(
                "`{s}`: a ServiceAccount is named ServiceAccount/NAMESPACE/NAME"
            )),
            (_, [_, name]) if !name.is_empty() => Ok(SubjectRef {
                kind: kind.name(),
                namespace: None,
                name: (*name).to_owned(),
            }),
            // User and group names may contain `/` (OIDC issuers): keep the rest whole.
            (_, [_, first, rest]) => Ok(SubjectRef {
                kind: kind.name(),
                namespace: None,
                name: format!("{first}/{rest}"),
            }),
            _ => Err(format!("`{s}`: the subject has no name")),
        }
    }

    fn of(s: &Subject<'_>) -> SubjectRef {
        SubjectRef {
            kind: s.kind.name(),
            namespace: s.namespace.map(str::to_owned),
            name: s.name.to_owned(),
        }
    }

    /// `Kind/[ns/]name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The groups the API server puts this subject in, which bindings may name instead.
    fn implicit_groups(&self) -> Vec<String> {
        match (self.kind, &self.namespace) {
            ("ServiceAccount", Some(ns)) => vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".to_owned(),
            ],
            ("User", _) if self.name == "system:anonymous" => {
                vec!["system:unauthenticated".to_owned()]
            }
            ("User", _) => vec!["system:authenticated".to_owned()],
            _ => Vec::new(),
        }
    }
}

/// One permission a subject holds, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `apiGroups`.
    #[serde(rename = "apiGroups")]
    pub api_groups: Vec<String>,
    /// `resources`.
    pub resources: Vec<String>,
    /// `resourceNames`, when narrowed.
    #[serde(rename = "resourceNames", skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// `nonResourceURLs`.
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
    /// The binding.
    pub binding: String,
    /// The role.
    pub role: String,
    /// The group through which the subject is bound, when not by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The permissions of one namespace (or, with `namespace: None`, cluster-wide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// The namespace; `None` for what ClusterRoleBindings grant everywhere.
    pub namespace: Option<String>,
    /// The permissions, sorted.
    pub grants: Vec<Grant>,
}

/// What one subject may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The subject.
    pub subject: SubjectRef,
    /// Cluster-wide first, then each namespace in order.
    pub scopes: Vec<Scope>,
    /// Bindings of the subject whose role is not in the manifests.
    pub unresolved: Vec<Via>,
}

/// The effective permissions of `who`: its own bindings and those of the groups the API
/// server puts it in. An error (with close matches) when no binding or ServiceAccount of the
/// manifests names it.
pub fn explain(
    g: &Graph<'_>,
    who: &SubjectRef,
    service_accounts: &[SubjectRef],
) -> Result<Explanation, crate::Error> {
    let groups = who.implicit_groups();
    let named = |s: &Subject<'_>| SubjectRef::of(s) == *who;
    let known =
        g.bindings.iter().any(|b| b.subjects.iter().any(named)) || service_accounts.contains(who);
    if !known {
        let mut candidates: BTreeSet<String> = g
            .bindings
            .iter()
            .flat_map(|b| b.subjects.iter().map(|s| SubjectRef::of(s).display()))
            .collect();
        candidates.extend(service_accounts.iter().map(SubjectRef::display));
        let close = close_matches(&who.display(), candidates.iter().map(String::as_str));
        return Err(crate::Error::NotFound(if close.is_empty() {
            format!("no binding in the manifests names {}", who.display())
        } else {
            format!(
                "no binding in the manifests names {}; did you mean {}?",
                who.display(),
                close.join(", ")
            )
        }));
    }
    let mut scopes: BTreeMap<Option<String>, BTreeSet<Grant>> = BTreeMap::new();
    let mut unresolved = BTreeSet::new();
    for b in &g.bindings {
        let through = b.subjects.iter().find_map(|s| {
            if named(s) {
                Some(None)
            } else if s.kind == SubjectKind::Group && groups.iter().any(|gr| gr == s.name) {
                Some(Some(s.name.to_owned()))
            } else {
                None
            }
        });
        let Some(group) = through else { continue };
        let Some((via, grants)) = resolved(g, b, &mut unresolved) else {
            continue;
        };
        let scope = scopes.entry(b.namespace.map(str::to_owned)).or_default();
        for e in grants {
            let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            scope.insert(Grant {
                verbs: own(&e.rule.verbs),
                api_groups: own(&e.rule.api_groups),
                resources: own(&e.rule.resources),
                resource_names: own(&e.rule.resource_names),
                non_resource_urls: own(&e.rule.non_resource_urls),
                binding: via.binding.clone(),
                role: match e.source {
                    // Through an aggregating role: name both.
                    Some(src) if src.display() != via.role => {
                        format!("{} (aggregated from {})", via.role, src.display())
                    }
                    _ => via.role.clone(),
                },
                group: group.clone(),
            });
        }
    }
    Ok(Explanation {
        subject: who.clone(),
        scopes: scopes
            .into_iter()
            .map(|(namespace, grants)| Scope {
                namespace,
                grants: grants.into_iter().collect(),
            })
            .collect(),
        unresolved: unresolved.into_iter().collect(),
    })
}

impl WhoCan {
    /// One line per subject, with the bindings and roles that grant it.
    pub fn to_human(&self, q: &Query) -> String {
        let mut out = String::new();
        let what = format!(
            "{} {}{}{}",
            q.verb,
            q.resource,
            q.name
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default(),
            match &q.namespace {
                Some(ns) => format!(" in namespace {ns}"),
                None => " in any namespace".to_owned(),
            }
        );
        if self.subjects.is_empty() {
            out.push_str(&format!("no subject may {what}\n"));
        } else {
            out.push_str(&format!("may {what}:\n"));
        }
        for s in &self.subjects {
            let who = SubjectRef {
                kind: s.kind,
                namespace: s.namespace.clone(),
                name: s.name.clone(),
            };
            out.push_str(&format!("  {}\n", who.display()));
            for v in &s.via {
                out.push_str(&format!("      via {} -> {}\n", v.binding, v.role));
            }
        }
        for v in &self.unresolved {
            out.push_str(&format!(
                "note: {} refers to {}, which is not in the manifests: it may grant this too\n",
                v.binding, v.role
            ));
        }
        out
    }
}

impl Explanation {
    /// The permissions grouped per namespace, cluster-wide first.
    pub fn to_human(&self) -> String {
        let mut out = format!("{}\n", self.subject.display());
        if self.scopes.is_empty() {
            out.push_str("  no permissions granted by the manifests\n");
        }
        for scope in &self.scopes {
            match &scope.namespace {
                Some(ns) => out.push_str(&format!("  namespace {ns}:\n")),
                None => out.push_str("  cluster-wide:\n"),
            }
            for grant in &scope.grants {
                let what = if grant.non_resource_urls.is_empty() {
                    let groups: Vec<&str> = grant
                        .api_groups
                        .iter()
                        .map(|g| if g.is_empty() { "\"\"" } else { g.as_str() })
                        .collect();
                    let mut w = format!(
                        "{} {} (apiGroups {})",
                        grant.verbs.join(","),
                        grant.resources.join(","),
                        groups.join(",")
                    );
                    if !grant.resource_names.is_empty() {
                        w.push_str(&format!(" named {}", grant.resource_names.join(",")));
                    }
                    w
                } else {
                    format!(
                        "{} URLs {}",
                        grant.verbs.join(","),
                        grant.non_resource_urls.join(",")
                    )
                };
                out.push_str(&format!(
                    "    {what}\n      via {} -> {}",
                    grant.binding, grant.role
                ));
                if let Some(g) = &grant.group {
                    out.push_str(&format!(" (as member of Group/{g})"));
                }
                out.push('\n');
            }
        }
        for v in &self.unresolved {
            out.push_str(&format!(
                "note: {} refers to {}, which is not in the manifests\n",
                v.binding, v.role
            ));
        }
        out
    }
}

/// The ServiceAccounts defined by the manifests, for `explain` of one that is bound only
/// through groups.
pub fn service_accounts(resources: &[crate::manifest::Resource]) -> Vec<SubjectRef> {
    resources
        .iter()
        .filter(|r| r.kind == "ServiceAccount" && r.api_version == "v1")
        .filter_map(|r| {
            Some(SubjectRef {
                kind: "ServiceAccount",
                namespace: Some(crate::checks::namespace_of(r).to_owned()),
                name: r.name.clone()?,
            })
        })
        .collect()
}
