//! Kubernetes `MatchResources`, as ValidatingAdmissionPolicy, its bindings and Kyverno's
//! ValidatingPolicy write them: resource rules by API group, version, resource (plural, with
//! `/subresource`), operation, name and scope; exclusions; namespace and object selectors.

use crate::checks::selector::{self, Selector};
use serde_json::{Map, Value};

/// One `resourceRules` entry.
#[derive(Debug, Clone, Default)]
pub struct ResourceRule {
    /// `apiGroups` (`""` core, `*` any).
    pub api_groups: Vec<String>,
    /// `apiVersions`.
    pub api_versions: Vec<String>,
    /// `resources`: plurals, `pods/exec`, `*`, `*/*`, `pods/*`.
    pub resources: Vec<String>,
    /// `operations` (`*` any).
    pub operations: Vec<String>,
    /// `resourceNames` (empty: any).
    pub resource_names: Vec<String>,
    /// `scope`: `Cluster`, `Namespaced` or `*`.
    pub scope: String,
}

/// `matchConstraints` / `matchResources`.
#[derive(Debug, Clone, Default)]
pub struct MatchResources {
    /// `resourceRules`.
    pub rules: Vec<ResourceRule>,
    /// `excludeResourceRules`.
    pub exclude: Vec<ResourceRule>,
    /// `namespaceSelector`.
    pub namespace_selector: Option<Selector>,
    /// `objectSelector`.
    pub object_selector: Option<Selector>,
    /// `matchPolicy: Exact` (the default, `Equivalent`, also matches other versions of the
    /// same group and resource).
    pub exact: bool,
}

/// What is being admitted, as a request describes it.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    /// API group.
    pub group: &'a str,
    /// API version.
    pub version: &'a str,
    /// Resource (plural).
    pub resource: &'a str,
    /// Subresource (`""` for the resource itself).
    pub subresource: &'a str,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub operation: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// The object's namespace (`""` when cluster-scoped).
    pub namespace: &'a str,
    /// The object's labels (the new object's, else the old one's).
    pub labels: Option<&'a Map<String, Value>>,
    /// The namespace's labels, when known (for a Namespace: its own).
    pub namespace_labels: Option<&'a Map<String, Value>>,
    /// Whether the kind is a Namespace.
    pub is_namespace: bool,
}

/// The strings of a list field (others and non-strings left out).
pub(crate) fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_rule(v: &Value) -> ResourceRule {
    ResourceRule {
        api_groups: strs(v.get("apiGroups")),
        api_versions: strs(v.get("apiVersions")),
        resources: strs(v.get("resources")),
        operations: strs(v.get("operations")),
        resource_names: strs(v.get("resourceNames")),
        scope: v
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("*")
            .to_owned(),
    }
}

/// A label selector, when present; `Err` names what is wrong with it.
pub fn parse_selector(v: Option<&Value>) -> Result<Option<Selector>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Selector::parse(v).map(Some),
    }
}

/// Whether a selector selects an object with `labels` (none: no labels).
pub fn selects(sel: &Selector, labels: Option<&Map<String, Value>>) -> bool {
    sel.matches(&labels.map(selector::of_map).unwrap_or_default())
}

impl MatchResources {
    /// Reads `matchConstraints` / `matchResources`.
    pub fn parse(v: &Value) -> Result<Self, String> {
        let rules = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(parse_rule).collect())
                .unwrap_or_default()
        };
        Ok(MatchResources {
            rules: rules("resourceRules"),
            exclude: rules("excludeResourceRules"),
            namespace_selector: parse_selector(v.get("namespaceSelector"))
                .map_err(|e| format!("namespaceSelector: {e}"))?,
            object_selector: parse_selector(v.get("objectSelector"))
                .map_err(|e| format!("objectSelector: {e}"))?,
            exact: v.get("matchPolicy").and_then(Value::as_str) == Some("Exact"),
        })
    }

    /// Whether the request is one these constraints select.
    pub fn matches(&self, a: &Attributes<'_>) -> bool {
        if let Some(sel) = &self.namespace_selector {
            // Cluster-scoped objects other than namespaces are never skipped by it.
            let applies = a.is_namespace || !a.namespace.is_empty();
            if applies && !selects(sel, a.namespace_labels) {
                return false;
            }
        }
        if let Some(sel) = &self.object_selector {
            if !selects(sel, a.labels) {
                return false;
            }
        }
        self.rules.iter().any(|r| rule_matches(r, a, self.exact))
            && !self.exclude.iter().any(|r| rule_matches(r, a, true))
    }
}

fn any_or(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

fn rule_matches(r: &ResourceRule, a: &Attributes<'_>, exact: bool) -> bool {
    if !any_or(&r.api_groups, a.group) || !any_or(&r.operations, a.operation) {
        return false;
    }
    // Equivalent: another version of the same group and resource is the same object.
    if exact && !any_or(&r.api_versions, a.version) {
        return false;
    }
    let resource_ok = r.resources.iter().any(|res| {
        let (name, sub) = res.split_once('/').unwrap_or((res, ""));
        let name_ok = name == "*" || name == a.resource;
        let sub_ok = if res.contains('/') {
            sub == "*" || sub == a.subresource
        } else {
            a.subresource.is_empty()
        };
        name_ok && sub_ok
    });
    if !resource_ok {
        return false;
    }
    if !r.resource_names.is_empty() && !r.resource_names.iter().any(|n| n == a.name) {
        return false;
    }
    let namespaced = !a.namespace.is_empty();
    match r.scope.as_str() {
        "Cluster" => !namespaced,
        "Namespaced" => namespaced,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs<'a>(resource: &'a str, sub: &'a str, op: &'a str, ns: &'a str) -> Attributes<'a> {
        Attributes {
            group: "apps",
            version: "v1",
            resource,
            subresource: sub,
            operation: op,
            name: "web",
            namespace: ns,
            labels: None,
            namespace_labels: None,
            is_namespace: false,
        }
    }

    #[test]
    fn resource_rules_as_the_api_server_reads_them() {
        let m = MatchResources::parse(&serde_json::json!({
            "resourceRules": [{
                "apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]
            }]
        }))
        .unwrap();
        // The resource itself, on a listed operation.
        assert!(m.matches(&attrs("deployments", "", "CREATE", "default")));
        // DELETE is not listed.
        assert!(!m.matches(&attrs("deployments", "", "DELETE", "default")));
        // `deployments` does not cover the scale subresource; `deployments/*` would.
        assert!(!m.matches(&attrs("deployments", "scale", "UPDATE", "default")));
        let sub = MatchResources::parse(&serde_json::json!({
            "resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"],
                "operations": ["*"], "resources": ["deployments/*"], "scope": "Namespaced"}]
        }))
        .unwrap();
        assert!(sub.matches(&attrs("deployments", "scale", "UPDATE", "default")));
        // Scope Namespaced leaves cluster-scoped objects out.
        assert!(!sub.matches(&attrs("deployments", "scale", "UPDATE", "")));
    }

    #[test]
    fn exclusions_and_selectors() {
        let m = MatchResources::parse(&serde_json::json!({
            "resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"],
                "operations": ["*"], "resources": ["*"]}],
            "excludeResourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["*"], "resources": ["deployments"], "resourceNames": ["web"]}],
            "namespaceSelector": {"matchExpressions": [
                {"key": "env", "operator": "NotIn", "values": ["dev"]}]}
        }))
        .unwrap();
        // `web` is excluded by name; `api` is not.
        assert!(!m.matches(&attrs("deployments", "", "CREATE", "default")));
        let mut a = attrs("deployments", "", "CREATE", "default");
        a.name = "api";
        assert!(m.matches(&a));
        // A namespace labelled env=dev is left out by NotIn.
        let dev: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"env": "dev"})).unwrap();
        a.namespace_labels = Some(&dev);
        assert!(!m.matches(&a));
        // A cluster-scoped object is never skipped by the namespace selector.
        a.namespace = "";
        assert!(m.matches(&a));
    }
}
