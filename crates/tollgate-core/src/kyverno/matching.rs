//! `match` and `exclude`: kinds (with group/version and wildcards), names, namespaces,
//! annotations, label and namespace selectors, operations, and user info when the request has it.

use super::engine::Request;
use super::policy::{Filter, KindSelector, LabelSelector, MatchBlock, Rule};
use crate::wildcard;
use serde_json::{Map, Value};

/// The identity of the resource under test.
pub struct Target<'a> {
    /// API group (`""` for core).
    pub group: &'a str,
    /// API version.
    pub version: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Name (or `generateName`).
    pub name: &'a str,
    /// Namespace (`""` for cluster-scoped).
    pub namespace: &'a str,
    /// `metadata.labels`.
    pub labels: Option<&'a Map<String, Value>>,
    /// `metadata.annotations`.
    pub annotations: Option<&'a Map<String, Value>>,
    /// The subresource the request is for (`exec` of `Pod/exec`); empty for the resource.
    pub subresource: &'a str,
}

impl<'a> Target<'a> {
    /// Reads the identity of an object.
    pub fn of(object: &'a Value) -> Self {
        let api = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let meta = object.get("metadata");
        let get = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
        let name = get("name")
            .filter(|n| !n.is_empty())
            .or_else(|| get("generateName"));
        Target {
            group,
            version,
            kind: object.get("kind").and_then(Value::as_str).unwrap_or(""),
            name: name.unwrap_or(""),
            namespace: get("namespace").unwrap_or(""),
            labels: meta
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object),
            annotations: meta
                .and_then(|m| m.get("annotations"))
                .and_then(Value::as_object),
            subresource: "",
        }
    }
}

fn kind_matches(sel: &KindSelector, t: &Target<'_>) -> bool {
    // `Pod` is the resource, `Pod/exec` its subresource, `Pod/*` any subresource.
    let sub_ok = sel.subresource == "*" || sel.subresource == t.subresource;
    sub_ok
        && wildcard::matches(&sel.kind, t.kind)
        && (sel.group == "*" || wildcard::matches(&sel.group, t.group))
        && (sel.version == "*" || wildcard::matches(&sel.version, t.version))
}

fn label_str(v: &Value) -> String {
    super::functions::to_string(v)
}

/// Whether labels satisfy a selector (wildcards allowed in `matchLabels`).
pub fn selector_matches(sel: &LabelSelector, labels: Option<&Map<String, Value>>) -> bool {
    let empty = Map::new();
    let labels = labels.unwrap_or(&empty);
    let labels_ok = sel.match_labels.iter().all(|(k, v)| {
        labels
            .iter()
            .any(|(lk, lv)| wildcard::matches(k, lk) && wildcard::matches(v, &label_str(lv)))
    });
    labels_ok
        && sel.match_expressions.iter().all(|(key, op, values)| {
            let have = labels.get(key).map(label_str);
            match op.as_str() {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                _ => have.is_none(),
            }
        })
}

fn filter_matches(f: &Filter, t: &Target<'_>, req: &Request<'_>, in_exclude: bool) -> bool {
    if !f.kinds.is_empty() && !f.kinds.iter().any(|k| kind_matches(k, t)) {
        return false;
    }
    if !f.names.is_empty() && !f.names.iter().any(|n| wildcard::matches(n, t.name)) {
        return false;
    }
    if !f.namespaces.is_empty() {
        let ns = if t.kind == "Namespace" {
            t.name
        } else {
            t.namespace
        };
        if !f.namespaces.iter().any(|n| wildcard::matches(n, ns)) {
            return false;
        }
    }
    if !f.annotations.is_empty() {
        let ok = f.annotations.iter().all(|(k, v)| {
            t.annotations.is_some_and(|a| {
                a.iter().any(|(ak, av)| {
                    wildcard::matches(k, ak) && wildcard::matches(v, &label_str(av))
                })
            })
        });
        if !ok {
            return false;
        }
    }
    if let Some(sel) = &f.selector {
        if !selector_matches(sel, t.labels) {
            return false;
        }
    }
    if let Some(sel) = &f.namespace_selector {
        if t.kind == "Namespace" {
            return false;
        }
        if !selector_matches(sel, req.namespace_labels(t.namespace)) {
            return false;
        }
    }
    if !f.operations.is_empty() && !f.operations.iter().any(|o| o == req.operation) {
        return false;
    }
    let has_user_filter =
        !f.subjects.is_empty() || !f.roles.is_empty() || !f.cluster_roles.is_empty();
    if has_user_filter {
        match req.user {
            Some(user) => {
                let subject_ok = f.subjects.is_empty()
                    || f.subjects.iter().any(|(kind, name, ns)| {
                        let username = user.username.as_str();
                        match kind.as_str() {
                            "ServiceAccount" => wildcard::matches(
                                &format!("system:serviceaccount:{ns}:{name}"),
                                username,
                            ),
                            "Group" => user.groups.iter().any(|g| wildcard::matches(name, g)),
                            _ => wildcard::matches(name, username),
                        }
                    });
                let roles_ok = f.roles.is_empty()
                    || f.roles
                        .iter()
                        .any(|r| user.roles.iter().any(|u| wildcard::matches(r, u)));
                let croles_ok = f.cluster_roles.is_empty()
                    || f.cluster_roles
                        .iter()
                        .any(|r| user.cluster_roles.iter().any(|u| wildcard::matches(r, u)));
                if !(subject_ok && roles_ok && croles_ok) {
                    return false;
                }
            }
            // Without user info, match ignores these constraints; exclude cannot be met.
            None if in_exclude => return false,
            None => {}
        }
    }
    true
}

fn block_matches(b: &MatchBlock, t: &Target<'_>, req: &Request<'_>, in_exclude: bool) -> bool {
    let any_ok = b.any.is_empty() || b.any.iter().any(|f| filter_matches(f, t, req, in_exclude));
    let all_ok = b.all.iter().all(|f| filter_matches(f, t, req, in_exclude));
    any_ok && all_ok && !(b.any.is_empty() && b.all.is_empty())
}

/// Whether a `match` block (of a PolicyException) selects the resource.
pub fn matches_block(b: &MatchBlock, t: &Target<'_>, req: &Request<'_>) -> bool {
    block_matches(b, t, req, false)
}

/// Whether a rule applies to the target under this request.
pub fn applies(rule: &Rule, t: &Target<'_>, req: &Request<'_>) -> bool {
    if !block_matches(&rule.matches, t, req, false) {
        return false;
    }
    match &rule.exclude {
        Some(ex) => !block_matches(ex, t, req, true),
        None => true,
    }
}
