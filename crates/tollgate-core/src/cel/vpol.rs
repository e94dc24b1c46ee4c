//! Kyverno `ValidatingPolicy` (`policies.kyverno.io` v1alpha1, v1beta1, v1): match
//! constraints, match conditions, variables and validations, the validation actions, and
//! autogen for pod controllers as Kyverno generates it (the policy's text rewritten so
//! `object.spec` reads the pod template).

use super::engine::{Body, BodyError, Dialect, OnError, Outcome, Sources};
use super::matching::{Attributes, MatchResources};
use super::Scope;
use crate::finding::Severity;
use crate::kyverno::PolicyError;
use crate::manifest::Resource;
use serde_json::{json, Value};

/// A loaded ValidatingPolicy.
#[derive(Debug, Clone)]
pub struct ValidatingPolicy {
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `policies.kyverno.io/title`.
    pub title: Option<String>,
    /// The severity of a failure: error for `Deny`, warning for `Warn` or `Audit` alone.
    pub severity: Severity,
    /// `failurePolicy: Ignore`: match conditions that fail to evaluate leave it out.
    pub ignore_failures: bool,
    /// The policy as written, then one variant per autogen group (pod controllers,
    /// CronJobs): each with its own constraints and rewritten body.
    pub variants: Vec<(MatchResources, Body)>,
    /// `spec.evaluation.admission.enabled: false`: not evaluated in admission.
    pub admission: bool,
    /// `spec.evaluation.background.enabled: false`: with admission disabled too, not
    /// evaluated on repositories either.
    pub background: bool,
}

/// Whether a document is a ValidatingPolicy.
pub fn is_vpol(r: &Resource) -> bool {
    r.api_version.starts_with("policies.kyverno.io/") && r.kind == "ValidatingPolicy"
}

fn error(res: &Resource, name: &str, path: &str, message: String) -> PolicyError {
    PolicyError {
        file: res.origin.file.to_string(),
        line: super::line_of(res, path),
        policy: name.to_owned(),
        rule: None,
        message,
    }
}

/// Reads a ValidatingPolicy; every error with its file and line.
pub fn parse(res: &Resource) -> Result<ValidatingPolicy, Vec<PolicyError>> {
    let name = res.name.clone().unwrap_or_default();
    let spec = res.object.get("spec").cloned().unwrap_or(Value::Null);
    let mut errors = Vec::new();
    let actions: Vec<&str> = spec
        .get("validationActions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(bad) = actions
        .iter()
        .find(|a| !matches!(**a, "Deny" | "Warn" | "Audit"))
    {
        errors.push(error(
            res,
            &name,
            "spec.validationActions",
            format!("unknown validation action `{bad}`; use Deny, Warn or Audit"),
        ));
    }
    // Kyverno's default is Deny when none is given.
    let severity = if actions.is_empty() || actions.contains(&"Deny") {
        Severity::Error
    } else {
        Severity::Warning
    };
    let Some(constraints) = spec.get("matchConstraints") else {
        errors.push(error(
            res,
            &name,
            "spec",
            "the policy has no matchConstraints".into(),
        ));
        return Err(errors);
    };
    let base = match MatchResources::parse(constraints) {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(error(res, &name, "spec.matchConstraints", e));
            None
        }
    };
    let compile = |spec: &Value, errors: &mut Vec<PolicyError>| {
        Body::compile(&Sources::of_spec(spec))
            .map_err(|es: Vec<BodyError>| {
                errors.extend(
                    es.into_iter()
                        .map(|e| error(res, &name, &e.path, e.message)),
                );
            })
            .ok()
    };
    let body = compile(&spec, &mut errors);
    let (Some(base), Some(body), true) = (base, body, errors.is_empty()) else {
        return Err(errors);
    };
    let mut variants = vec![(base, body)];
    for (constraints, rewritten) in autogen(&spec) {
        // The rewritten text compiled cleanly before the rewrite; a failure here is ours.
        if let (Ok(m), Some(b)) = (
            MatchResources::parse(&constraints),
            compile(&rewritten, &mut errors),
        ) {
            variants.push((m, b));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let enabled = |p: &str| spec.pointer(p).and_then(Value::as_bool) != Some(false);
    Ok(ValidatingPolicy {
        title: res
            .object
            .pointer("/metadata/annotations/policies.kyverno.io~1title")
            .and_then(Value::as_str)
            .map(str::to_owned),
        name,
        file: res.origin.file.to_string(),
        severity,
        ignore_failures: spec.get("failurePolicy").and_then(Value::as_str) == Some("Ignore"),
        variants,
        admission: enabled("/evaluation/admission/enabled"),
        background: enabled("/evaluation/background/enabled"),
    })
}

/// Pod controllers autogen covers: (resource, group, the replacement group).
const CONTROLLERS: &[(&str, &str, bool)] = &[
    ("daemonsets", "apps", false),
    ("deployments", "apps", false),
    ("jobs", "batch", false),
    ("replicasets", "apps", false),
    ("statefulsets", "apps", false),
    ("cronjobs", "batch", true),
];

/// Whether a field is absent or holds nothing.
fn empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.values().all(|x| empty(Some(x))),
        _ => false,
    }
}

/// Whether Kyverno generates controller variants: one rule for core/v1 pods, no names, no
/// exclusions, no object selector labels.
fn can_autogen(spec: &Value) -> bool {
    let Some(m) = spec.get("matchConstraints") else {
        return false;
    };
    let one = |v: Option<&Value>, want: &str| {
        v.and_then(Value::as_array)
            .is_some_and(|a| a.len() == 1 && a.first().and_then(Value::as_str) == Some(want))
    };
    let Some([rule]) = m
        .get("resourceRules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    else {
        return false;
    };
    empty(m.get("excludeResourceRules"))
        && m.get("objectSelector")
            .is_none_or(|s| empty(s.get("matchLabels")) && empty(s.get("matchExpressions")))
        && empty(rule.get("resourceNames"))
        && one(rule.get("apiGroups"), "")
        && one(rule.get("apiVersions"), "v1")
        && one(rule.get("resources"), "pods")
}

/// Replaces `from` with `to` in `text` except where `.namespace` follows (Kyverno keeps
/// `object.metadata.namespace` reading the controller's namespace).
fn replace_protected(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let after = tail.get(from.len()..).unwrap_or("");
        let protected = after
            .strip_prefix(".namespace")
            .is_some_and(|n| !n.starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric()));
        out.push_str(if protected { from } else { to });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The controller variants of a pod policy: (match constraints, rewritten spec).
fn autogen(spec: &Value) -> Vec<(Value, Value)> {
    if !can_autogen(spec) {
        return Vec::new();
    }
    let chosen: Option<Vec<String>> = spec
        .pointer("/autogen/podControllers/controllers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect()
        });
    let operations = spec
        .pointer("/matchConstraints/resourceRules/0/operations")
        .cloned()
        .unwrap_or_else(|| json!([]));
    if operations.as_array().is_none_or(Vec::is_empty) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for cronjob in [false, true] {
        let targets: Vec<(&str, &str)> = CONTROLLERS
            .iter()
            .filter(|(r, _, c)| {
                *c == cronjob && chosen.as_ref().is_none_or(|ch| ch.iter().any(|x| x == r))
            })
            .map(|(r, g, _)| (*r, *g))
            .collect();
        if targets.is_empty() {
            continue;
        }
        let mut groups: Vec<&str> = targets.iter().map(|(_, g)| *g).collect();
        groups.sort_unstable();
        groups.dedup();
        let rules: Vec<Value> = groups
            .iter()
            .map(|g| {
                let mut resources: Vec<&str> = targets
                    .iter()
                    .filter(|(_, tg)| tg == g)
                    .map(|(r, _)| *r)
                    .collect();
                resources.sort_unstable();
                json!({"apiGroups": [g], "apiVersions": ["v1"], "resources": resources,
                       "operations": operations})
            })
            .collect();
        let mut constraints = serde_json::Map::new();
        constraints.insert("resourceRules".into(), Value::Array(rules));
        if let Some(ns) = spec.pointer("/matchConstraints/namespaceSelector") {
            constraints.insert("namespaceSelector".into(), ns.clone());
        }
        let constraints = Value::Object(constraints);
        let (spec_to, meta_to) = if cronjob {
            (
                "spec.jobTemplate.spec.template.spec",
                "spec.jobTemplate.spec.template.metadata",
            )
        } else {
            ("spec.template.spec", "spec.template.metadata")
        };
        let mut text = spec.to_string();
        for (from, to) in [("spec", spec_to), ("metadata", meta_to)] {
            for root in ["object", "oldObject"] {
                text = replace_protected(&text, &format!("{root}.{from}"), &format!("{root}.{to}"));
            }
        }
        if let Ok(rewritten) = serde_json::from_str(&text) {
            out.push((constraints, rewritten));
        }
    }
    out
}

impl ValidatingPolicy {
    /// Whether some variant's constraints select the request.
    pub fn selects(&self, attrs: &Attributes<'_>) -> bool {
        self.variants.iter().any(|(m, _)| m.matches(attrs))
    }

    /// The policy's verdict on a request (`scope` is its [`super::engine::request_scope`]):
    /// `None` when no variant's constraints select it.
    pub fn evaluate(&self, attrs: &Attributes<'_>, scope: &Scope<'_>) -> Option<Outcome> {
        let (_, body) = self.variants.iter().find(|(m, _)| m.matches(attrs))?;
        let on_condition = if self.ignore_failures {
            OnError::Ignore
        } else {
            OnError::Error
        };
        Some(body.evaluate(scope, Dialect::Kyverno, on_condition, OnError::Error))
    }

    /// [`ValidatingPolicy::evaluate`] under Kyverno's CEL PolicyExceptions: the
    /// exceptions naming this policy are asked first; one that holds exempts the request
    /// (the keys of those that do are returned with the outcome the policy would have had,
    /// so `check` can count a waived failure as suppressed); partial ones give the policy
    /// `exceptions.allowedImages` and `exceptions.allowedValues`.
    pub fn evaluate_excepted(
        &self,
        attrs: &Attributes<'_>,
        scope: &Scope<'_>,
        exceptions: &[super::exception::CelException],
    ) -> Option<(Outcome, Vec<String>)> {
        if !self.selects(attrs) {
            return None;
        }
        match super::exception::exemption(exceptions, "ValidatingPolicy", &self.name, scope) {
            Err(e) => Some((Outcome::Error(e), Vec::new())),
            Ok(ex) if !ex.by.is_empty() => Some((self.evaluate(attrs, scope)?, ex.by)),
            Ok(ex) if ex.allowed.0.is_empty() && ex.allowed.1.is_empty() => {
                Some((self.evaluate(attrs, scope)?, Vec::new()))
            }
            Ok(ex) => {
                let mut with = scope.child();
                with.set_json(
                    "exceptions",
                    &json!({"allowedImages": ex.allowed.0, "allowedValues": ex.allowed.1}),
                );
                Some((self.evaluate(attrs, &with)?, Vec::new()))
            }
        }
    }

    /// The first call that needs the cluster, in any variant.
    pub fn external(&self) -> Option<&'static str> {
        self.variants.first().and_then(|(_, b)| b.external)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autogen_rewrites_pod_paths_but_keeps_the_namespace() {
        let spec = json!({
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["pods"]}]},
            "validations": [{"expression":
                "object.spec.containers.all(c, has(c.image)) && object.metadata.namespace != 'x' && has(object.metadata.labels)"}]
        });
        let variants = autogen(&spec);
        assert_eq!(variants.len(), 2);
        let (m, s) = &variants[0];
        // Deployments and friends: the pod template; `metadata.namespace` stays the
        // controller's own (Kyverno protects `.namespace`).
        assert_eq!(
            s.pointer("/validations/0/expression").unwrap(),
            "object.spec.template.spec.containers.all(c, has(c.image)) && object.metadata.namespace != 'x' && has(object.spec.template.metadata.labels)"
        );
        assert_eq!(
            m.pointer("/resourceRules/0/resources").unwrap(),
            &json!(["daemonsets", "deployments", "replicasets", "statefulsets"])
        );
        assert_eq!(
            m.pointer("/resourceRules/1/resources").unwrap(),
            &json!(["jobs"])
        );
        // CronJobs: one level deeper.
        let (_, c) = &variants[1];
        assert!(c
            .pointer("/validations/0/expression")
            .and_then(Value::as_str)
            .unwrap()
            .starts_with("object.spec.jobTemplate.spec.template.spec.containers"));
    }

    #[test]
    fn autogen_only_for_plain_pod_policies() {
        // Two resource rules: Kyverno does not generate.
        let spec = json!({"matchConstraints": {"resourceRules": [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]},
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["services"]}]}});
        assert!(autogen(&spec).is_empty());
        // Controllers chosen by the policy.
        let spec = json!({
            "autogen": {"podControllers": {"controllers": ["deployments"]}},
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["pods"]}]}});
        let v = autogen(&spec);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].0.pointer("/resourceRules/0/resources").unwrap(),
            &json!(["deployments"])
        );
    }
}
