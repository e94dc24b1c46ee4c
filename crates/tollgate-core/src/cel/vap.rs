//! Kubernetes `ValidatingAdmissionPolicy` and `ValidatingAdmissionPolicyBinding`
//! (`admissionregistration.k8s.io` v1, v1beta1), evaluated as the API server does: a
//! binding selects requests (the policy's constraints and its own), brings params through
//! `paramRef` (by name or selector, `parameterNotFoundAction`), and says what a failure
//! does (`validationActions`); the policy's `failurePolicy` decides what an error does.

use super::engine::{Body, BodyError, Dialect, OnError, Outcome, Sources};
use super::matching::{Attributes, MatchResources};
use super::Scope;
use crate::kyverno::PolicyError;
use crate::manifest::Resource;
use serde_json::Value;

const GROUP: &str = "admissionregistration.k8s.io/";

/// A loaded ValidatingAdmissionPolicy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `paramKind`: (apiVersion, kind).
    pub param_kind: Option<(String, String)>,
    /// `matchConstraints`.
    pub constraints: MatchResources,
    /// The expressions.
    pub body: Body,
    /// `failurePolicy: Ignore` (the default is Fail).
    pub ignore_failures: bool,
}

/// How a binding finds params.
#[derive(Debug, Clone, Default)]
pub struct ParamRef {
    /// `name`.
    pub name: Option<String>,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `selector`.
    pub selector: Option<crate::checks::selector::Selector>,
    /// `parameterNotFoundAction: Allow` (the default is Deny).
    pub allow_missing: bool,
}

/// A loaded ValidatingAdmissionPolicyBinding.
#[derive(Debug, Clone)]
pub struct Binding {
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `policyName`.
    pub policy: String,
    /// `paramRef`.
    pub param_ref: Option<ParamRef>,
    /// `matchResources`.
    pub constraints: Option<MatchResources>,
    /// `validationActions`: Deny, Warn, Audit.
    pub actions: Vec<String>,
}

/// Whether a document is a ValidatingAdmissionPolicy.
pub fn is_policy(r: &Resource) -> bool {
    r.api_version.starts_with(GROUP) && r.kind == "ValidatingAdmissionPolicy"
}

/// Whether a document is a ValidatingAdmissionPolicyBinding.
pub fn is_binding(r: &Resource) -> bool {
    r.api_version.starts_with(GROUP) && r.kind == "ValidatingAdmissionPolicyBinding"
}

fn error(res: &Resource, path: &str, message: String) -> PolicyError {
    PolicyError {
        file: res.origin.file.to_string(),
        line: super::line_of(res, path),
        policy: res.name.clone().unwrap_or_default(),
        rule: None,
        message,
    }
}

/// Reads a ValidatingAdmissionPolicy.
pub fn parse_policy(res: &Resource) -> Result<Policy, Vec<PolicyError>> {
    let spec = res.object.get("spec").cloned().unwrap_or(Value::Null);
    let mut errors = Vec::new();
    let constraints = match spec.get("matchConstraints").map(MatchResources::parse) {
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            errors.push(error(res, "spec.matchConstraints", e));
            None
        }
        None => {
            errors.push(error(
                res,
                "spec",
                "the policy has no matchConstraints".into(),
            ));
            None
        }
    };
    let body = Body::compile(&Sources::of_spec(&spec))
        .map_err(|es: Vec<BodyError>| {
            errors.extend(es.into_iter().map(|e| error(res, &e.path, e.message)));
        })
        .ok();
    let failure = spec.get("failurePolicy").and_then(Value::as_str);
    if let Some(f) = failure.filter(|f| !matches!(*f, "Fail" | "Ignore")) {
        errors.push(error(
            res,
            "spec.failurePolicy",
            format!("unknown failurePolicy `{f}`; use Fail or Ignore"),
        ));
    }
    let (Some(constraints), Some(body), true) = (constraints, body, errors.is_empty()) else {
        return Err(errors);
    };
    let param_kind = spec.get("paramKind").map(parse_param_kind);
    Ok(Policy {
        name: res.name.clone().unwrap_or_default(),
        file: res.origin.file.to_string(),
        param_kind,
        constraints,
        body,
        ignore_failures: failure == Some("Ignore"),
    })
}

/// Reads a ValidatingAdmissionPolicyBinding.
pub fn parse_binding(res: &Resource) -> Result<Binding, Vec<PolicyError>> {
    let spec = res.object.get("spec").cloned().unwrap_or(Value::Null);
    let mut errors = Vec::new();
    let policy = spec
        .get("policyName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if policy.is_empty() {
        errors.push(error(res, "spec", "the binding has no policyName".into()));
    }
    let actions: Vec<String> = spec
        .get("validationActions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if actions.is_empty() {
        errors.push(error(
            res,
            "spec",
            "the binding has no validationActions (Deny, Warn or Audit); the API server requires them".into(),
        ));
    }
    if let Some(bad) = actions
        .iter()
        .find(|a| !matches!(a.as_str(), "Deny" | "Warn" | "Audit"))
    {
        errors.push(error(
            res,
            "spec.validationActions",
            format!("unknown validation action `{bad}`; use Deny, Warn or Audit"),
        ));
    }
    if actions.iter().any(|a| a == "Deny") && actions.iter().any(|a| a == "Warn") {
        errors.push(error(
            res,
            "spec.validationActions",
            "Deny and Warn may not be used together (the API server refuses the binding)".into(),
        ));
    }
    let constraints = match spec.get("matchResources").map(MatchResources::parse) {
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            errors.push(error(res, "spec.matchResources", e));
            None
        }
        None => None,
    };
    let param_ref = match spec.get("paramRef").map(parse_param_ref) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            errors.push(error(res, "spec.paramRef.selector", e));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Binding {
        name: res.name.clone().unwrap_or_default(),
        file: res.origin.file.to_string(),
        policy,
        param_ref,
        constraints,
        actions,
    })
}

/// Reads a `paramKind`: (apiVersion, kind).
pub fn parse_param_kind(p: &Value) -> (String, String) {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    (s("apiVersion"), s("kind"))
}

/// Reads a `paramRef` (a binding's, or a Kyverno `validate.cel` rule's).
pub fn parse_param_ref(p: &Value) -> Result<ParamRef, String> {
    let selector = super::matching::parse_selector(p.get("selector"))?;
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(ParamRef {
        name: s("name"),
        namespace: s("namespace"),
        selector,
        allow_missing: s("parameterNotFoundAction").as_deref() == Some("Allow"),
    })
}

/// One binding's verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What the policy decided (a `Fail` carries the message).
    pub outcome: Outcome,
    /// The binding's actions, for the severity of a failure.
    pub actions: Vec<String>,
    /// `auditAnnotations` that gave a value, keyed `POLICY/KEY` as the API server writes
    /// them.
    pub annotations: Vec<(String, String)>,
}

impl Policy {
    /// Whether the policy's constraints, and the binding's, select the request.
    pub fn selects(&self, binding: Option<&Binding>, attrs: &Attributes<'_>) -> bool {
        self.constraints.matches(attrs)
            && binding
                .and_then(|b| b.constraints.as_ref())
                .is_none_or(|m| m.matches(attrs))
    }

    /// The policy's verdict through `binding` (or, without one, as a `kyverno test` of the
    /// bare policy: no params, Deny). `None` when the request is not selected. `params` are
    /// the objects a paramRef may name.
    pub fn evaluate(
        &self,
        binding: Option<&Binding>,
        attrs: &Attributes<'_>,
        scope: &Scope<'_>,
        params: &[&Value],
    ) -> Option<Decision> {
        if !self.selects(binding, attrs) {
            return None;
        }
        let actions = binding.map_or_else(|| vec!["Deny".to_owned()], |b| b.actions.clone());
        let on_error = if self.ignore_failures {
            OnError::Ignore
        } else {
            OnError::Fail
        };
        let mut annotations = Vec::new();
        let prefixed = |annotations: Vec<(String, String)>| {
            annotations
                .into_iter()
                .map(|(k, v)| (format!("{}/{k}", self.name), v))
                .collect()
        };
        let decide = |outcome, annotations| {
            Some(Decision {
                outcome,
                actions: actions.clone(),
                annotations: prefixed(annotations),
            })
        };
        let Some(kind) = &self.param_kind else {
            let outcome = self.body.evaluate_audited(
                scope,
                Dialect::Kubernetes,
                on_error,
                on_error,
                Some(&mut annotations),
            );
            return decide(outcome, annotations);
        };
        let Some(pref) = binding.and_then(|b| b.param_ref.as_ref()) else {
            // The API server treats a paramKind without a paramRef as a misconfiguration.
            let message = format!(
                "policy {} has paramKind {} but no binding paramRef names its params",
                self.name, kind.1
            );
            let outcome = match on_error {
                OnError::Ignore => Outcome::Skip(message),
                _ => Outcome::Fail(message),
            };
            return decide(outcome, Vec::new());
        };
        let found = find_params(kind, pref, attrs.namespace, params);
        if found.is_empty() {
            let message = format!(
                "no params found for policy binding {} ({} {})",
                binding.map_or("", |b| b.name.as_str()),
                kind.1,
                pref.name.as_deref().unwrap_or("by selector")
            );
            let outcome = if pref.allow_missing {
                Outcome::Skip(message)
            } else {
                Outcome::Fail(format!("{message} with `Deny` parameterNotFoundAction"))
            };
            return decide(outcome, Vec::new());
        }
        // Each param is a separate evaluation; the first that denies decides.
        let mut last = Outcome::Pass;
        for p in found {
            let mut with = scope.child();
            with.set_json("params", p);
            annotations.clear();
            match self.body.evaluate_audited(
                &with,
                Dialect::Kubernetes,
                on_error,
                on_error,
                Some(&mut annotations),
            ) {
                Outcome::Fail(m) => return decide(Outcome::Fail(m), annotations),
                other => last = other,
            }
        }
        decide(last, annotations)
    }
}

/// The param objects a paramRef names: of the kind, by name or selector, in its namespace
/// (else the request's, for namespaced requests).
pub fn find_params<'v>(
    kind: &(String, String),
    pref: &ParamRef,
    request_namespace: &str,
    params: &[&'v Value],
) -> Vec<&'v Value> {
    let namespace = pref.namespace.as_deref().unwrap_or(request_namespace);
    params
        .iter()
        .copied()
        .filter(|p| {
            let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).unwrap_or("");
            let ns = s("/metadata/namespace");
            s("/apiVersion") == kind.0
                && s("/kind") == kind.1
                && (ns.is_empty() || ns == namespace)
                && match (&pref.name, &pref.selector) {
                    (Some(n), _) => s("/metadata/name") == n,
                    (None, Some(sel)) => super::matching::selects(
                        sel,
                        p.pointer("/metadata/labels").and_then(Value::as_object),
                    ),
                    (None, None) => false,
                }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::engine::{request_scope, Identity, Input};
    use super::*;
    use serde_json::json;

    fn run(p: &Policy, b: &Binding, o: &Value, params: &[&Value]) -> Outcome {
        let inp = input(o);
        let id = Identity::of(o);
        p.evaluate(
            Some(b),
            &id.attributes(&inp),
            &request_scope(&inp, &id),
            params,
        )
        .unwrap()
        .outcome
    }

    fn doc(v: Value) -> Resource {
        Resource::from_admission(v, "test.yaml")
    }

    fn replicas_policy() -> Policy {
        parse_policy(&doc(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "max-replicas"},
            "spec": {
                "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"],
                    "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                    "resources": ["deployments"]}]},
                "validations": [{"expression": "object.spec.replicas <= int(params.data.max)",
                    "messageExpression": "'replicas must be at most ' + params.data.max"}]
            }
        })))
        .unwrap()
    }

    fn binding(param_ref: Value) -> Binding {
        parse_binding(&doc(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "max-replicas-prod"},
            "spec": {"policyName": "max-replicas", "validationActions": ["Deny"],
                     "paramRef": param_ref}
        })))
        .unwrap()
    }

    fn deployment(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "prod"},
               "spec": {"replicas": replicas}})
    }

    fn input(o: &Value) -> Input<'_> {
        Input {
            object: Some(o),
            old_object: None,
            operation: "CREATE",
            user_info: None,
            namespace_labels: None,
            namespace_object: None,
            subresource: "",
            dry_run: false,
        }
    }

    #[test]
    fn params_by_name_from_the_request_namespace() {
        let p = replicas_policy();
        let b = binding(json!({"name": "limits", "parameterNotFoundAction": "Deny"}));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "limits", "namespace": "prod"}, "data": {"max": "3"}});
        let o = deployment(5);
        // 5 > 3: denied, with the message expression reading params.
        let d = run(&p, &b, &o, &[&cm]);
        assert_eq!(d, Outcome::Fail("replicas must be at most 3".into()));
        let o = deployment(2);
        let d = run(&p, &b, &o, &[&cm]);
        assert_eq!(d, Outcome::Pass);
    }

    #[test]
    fn missing_params_follow_parameter_not_found_action() {
        let p = replicas_policy();
        let o = deployment(5);
        // The ConfigMap is in another namespace: not found for a request in prod.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "limits", "namespace": "dev"}, "data": {"max": "3"}});
        let deny = binding(json!({"name": "limits", "parameterNotFoundAction": "Deny"}));
        let d = run(&p, &deny, &o, &[&cm]);
        assert!(matches!(d, Outcome::Fail(m) if m.contains("no params found")));
        let allow = binding(json!({"name": "limits", "parameterNotFoundAction": "Allow"}));
        let d = run(&p, &allow, &o, &[&cm]);
        assert!(matches!(d, Outcome::Skip(_)));
    }

    #[test]
    fn params_by_selector_each_evaluated() {
        let p = replicas_policy();
        let b = binding(json!({"selector": {"matchLabels": {"limits": "true"}},
            "namespace": "prod", "parameterNotFoundAction": "Deny"}));
        let loose = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "prod", "labels": {"limits": "true"}},
            "data": {"max": "10"}});
        let strict = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "b", "namespace": "prod", "labels": {"limits": "true"}},
            "data": {"max": "4"}});
        let unlabelled = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "prod"}, "data": {"max": "1"}});
        let o = deployment(5);
        // 5 <= 10 holds, 5 <= 4 does not: the stricter param denies. The unlabelled one
        // (max 1) is not selected, so its message does not appear.
        let d = run(&p, &b, &o, &[&loose, &strict, &unlabelled]);
        assert_eq!(d, Outcome::Fail("replicas must be at most 4".into()));
    }

    #[test]
    fn bindings_are_checked_as_the_api_server_checks_them() {
        let e = parse_binding(&doc(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "b"},
            "spec": {"policyName": "p", "validationActions": ["Deny", "Warn"]}
        })))
        .unwrap_err();
        assert!(e[0].message.contains("Deny and Warn"), "{}", e[0].message);
    }
}
