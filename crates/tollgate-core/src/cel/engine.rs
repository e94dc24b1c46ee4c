//! What every CEL dialect shares: a body of match conditions, variables, validations and
//! audit annotations, compiled once; the variables an admission request gives CEL
//! (`object`, `oldObject`, `request`, `namespaceObject`, `params`); and how a body's outcome
//! is decided, with the two dialects' differences (errors, default messages) named.

use super::{compile, eval, eval_bool, eval_string, Decls, Program, Scope, Value};
use serde_json::{json, Map};

/// A named expression (`matchConditions`, `variables`).
#[derive(Debug, Clone)]
pub struct Named {
    /// `name`.
    pub name: String,
    /// `expression`.
    pub program: Program,
}

/// One `validations` (or `expressions`) entry.
#[derive(Debug, Clone)]
pub struct Validation {
    /// `expression`.
    pub program: Program,
    /// `message`.
    pub message: Option<String>,
    /// `messageExpression`.
    pub message_expression: Option<Program>,
}

/// Whose rules decide messages and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Kubernetes' validator (ValidatingAdmissionPolicy, and Kyverno's `validate.cel`, which
    /// runs it).
    Kubernetes,
    /// Kyverno's ValidatingPolicy engine.
    Kyverno,
}

/// What an expression that fails to evaluate does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// It denies (`failurePolicy: Fail` in Kubernetes).
    Fail,
    /// It is passed over (`failurePolicy: Ignore`).
    Ignore,
    /// The policy reports an error (Kyverno's ValidatingPolicy).
    Error,
}

/// A compiled CEL body.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// `matchConditions` (Kyverno `celPreconditions`).
    pub match_conditions: Vec<Named>,
    /// `variables`, in order (each sees the ones before it).
    pub variables: Vec<Named>,
    /// `validations`.
    pub validations: Vec<Validation>,
    /// `auditAnnotations`: `(key, valueExpression)`, compiled at load, written to the
    /// webhook's response (`auditAnnotations`, keys prefixed with the policy name).
    pub audit_annotations: Vec<(String, Program)>,
    /// The first call that needs the cluster or a registry (`resource.List`, `authorizer`).
    pub external: Option<&'static str>,
}

/// A compile error in a body: the field path (`validations[1].expression`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    /// Path of the field below the body's root.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The names every admission dialect declares.
const NAMES: &[&str] = &[
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "authorizer",
    "variables",
    "exceptions",
];

/// The same, where `variables` is not (yet) known: match conditions.
const CONDITION_NAMES: &[&str] = &[
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "authorizer",
    "exceptions",
];

/// The sources of a body, as the policy writes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// `matchConditions` / `celPreconditions`: `[{name, expression}]`.
    pub match_conditions: Option<&'a serde_json::Value>,
    /// `variables`: `[{name, expression}]`.
    pub variables: Option<&'a serde_json::Value>,
    /// `validations` / `expressions`.
    pub validations: Option<&'a serde_json::Value>,
    /// `auditAnnotations`: `[{key, valueExpression}]`.
    pub audit_annotations: Option<&'a serde_json::Value>,
    /// The message a validation without one takes (Kyverno's `validate.message`).
    pub default_message: Option<&'a str>,
    /// Path prefixes for errors: (match conditions, variables, validations, annotations).
    pub paths: [&'a str; 4],
}

fn entries(v: Option<&serde_json::Value>) -> &[serde_json::Value] {
    v.and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn text<'v>(v: &'v serde_json::Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(serde_json::Value::as_str)
}

impl<'a> Sources<'a> {
    /// The body of a ValidatingPolicy or ValidatingAdmissionPolicy `spec`.
    pub fn of_spec(spec: &'a serde_json::Value) -> Self {
        Sources {
            match_conditions: spec.get("matchConditions"),
            variables: spec.get("variables"),
            validations: spec.get("validations"),
            audit_annotations: spec.get("auditAnnotations"),
            default_message: None,
            paths: [
                "spec.matchConditions",
                "spec.variables",
                "spec.validations",
                "spec.auditAnnotations",
            ],
        }
    }
}

impl Body {
    /// Compiles every expression; all errors together.
    pub fn compile(src: &Sources<'_>) -> Result<Body, Vec<BodyError>> {
        let mut errors = Vec::new();
        let mut body = Body::default();
        let [mc_path, var_path, val_path, aa_path] = src.paths;
        let mut one = |path: String, source: Option<&str>, decls: &Decls<'_>| match source {
            None => {
                errors.push(BodyError {
                    path,
                    message: "the expression is missing".into(),
                });
                None
            }
            Some(s) => match compile(s, decls) {
                Ok(p) => Some(p),
                Err(message) => {
                    errors.push(BodyError { path, message });
                    None
                }
            },
        };
        let conditions = Decls {
            names: CONDITION_NAMES,
            variables: None,
        };
        for (i, m) in entries(src.match_conditions).iter().enumerate() {
            let path = format!("{mc_path}[{i}].expression");
            if let Some(program) = one(path, text(m, "expression"), &conditions) {
                body.match_conditions.push(Named {
                    name: text(m, "name").unwrap_or("").to_owned(),
                    program,
                });
            }
        }
        let declared: Vec<String> = entries(src.variables)
            .iter()
            .filter_map(|v| text(v, "name").map(str::to_owned))
            .collect();
        for (i, v) in entries(src.variables).iter().enumerate() {
            // A variable sees the ones declared before it.
            let earlier = declared.get(..i).unwrap_or(&[]);
            let decls = Decls {
                names: NAMES,
                variables: Some(earlier),
            };
            let path = format!("{var_path}[{i}].expression");
            if let Some(program) = one(path, text(v, "expression"), &decls) {
                body.variables.push(Named {
                    name: text(v, "name").unwrap_or("").to_owned(),
                    program,
                });
            }
        }
        let decls = Decls {
            names: NAMES,
            variables: Some(&declared),
        };
        for (i, v) in entries(src.validations).iter().enumerate() {
            let path = format!("{val_path}[{i}].expression");
            let program = one(path, text(v, "expression"), &decls);
            let message_expression = text(v, "messageExpression").and_then(|m| {
                one(
                    format!("{val_path}[{i}].messageExpression"),
                    Some(m),
                    &decls,
                )
            });
            if let Some(program) = program {
                body.validations.push(Validation {
                    program,
                    message: text(v, "message")
                        .or(src.default_message)
                        .map(str::to_owned),
                    message_expression,
                });
            }
        }
        for (i, a) in entries(src.audit_annotations).iter().enumerate() {
            let path = format!("{aa_path}[{i}].valueExpression");
            if let Some(program) = one(path, text(a, "valueExpression"), &decls) {
                body.audit_annotations
                    .push((text(a, "key").unwrap_or("").to_owned(), program));
            }
        }
        if errors.is_empty() {
            body.external = body.external_call();
            Ok(body)
        } else {
            Err(errors)
        }
    }

    fn programs(&self) -> impl Iterator<Item = &Program> {
        self.match_conditions
            .iter()
            .chain(&self.variables)
            .map(|n| &n.program)
            .chain(
                self.validations
                    .iter()
                    .flat_map(|v| std::iter::once(&v.program).chain(&v.message_expression)),
            )
    }

    fn external_call(&self) -> Option<&'static str> {
        self.programs().find_map(|p| {
            super::libs::external_call(p.source()).or_else(|| {
                // The authorizer asks the cluster's RBAC.
                p.source().contains("authorizer.").then_some("authorizer")
            })
        })
    }

    /// Decides the body on the request `scope` describes: match conditions, then variables,
    /// then each validation in order; the first that does not hold decides.
    pub fn evaluate(
        &self,
        scope: &Scope<'_>,
        dialect: Dialect,
        on_condition_error: OnError,
        on_validation_error: OnError,
    ) -> Outcome {
        self.evaluate_audited(
            scope,
            dialect,
            on_condition_error,
            on_validation_error,
            None,
        )
    }

    /// [`Body::evaluate`], and with `audit` the `auditAnnotations` of a request the body
    /// applies to (its match conditions hold): each `valueExpression` that gives a non-empty
    /// string, as `(key, value)`; null or empty leaves the key out, as the API server does.
    pub fn evaluate_audited(
        &self,
        scope: &Scope<'_>,
        dialect: Dialect,
        on_condition_error: OnError,
        on_validation_error: OnError,
        audit: Option<&mut Vec<(String, String)>>,
    ) -> Outcome {
        super::reset_budget();
        let mut condition_errors = Vec::new();
        for m in &self.match_conditions {
            match eval_bool(&m.program, scope) {
                Ok(true) => {}
                Ok(false) => return Outcome::Skip(format!("match condition {} not met", m.name)),
                Err(e) => condition_errors.push(format!("match condition {}: {e}", m.name)),
            }
        }
        if !condition_errors.is_empty() {
            let message = condition_errors.join("; ");
            return match on_condition_error {
                OnError::Fail => Outcome::Fail(message),
                OnError::Ignore => Outcome::Skip(message),
                OnError::Error => Outcome::Error(message),
            };
        }
        let mut scope = scope.child();
        let mut vars: Vec<(String, Value)> = Vec::new();
        let mut var_errors: Vec<(&str, String)> = Vec::new();
        let bind = |scope: &mut Scope<'_>, vars: &[(String, Value)]| {
            let map = vars
                .iter()
                .map(|(k, v)| (super::cel::objects::Key::from(k.as_str()), v.clone()))
                .collect::<std::collections::HashMap<_, _>>();
            scope.set(
                "variables",
                Value::Map(super::cel::objects::Map {
                    map: std::sync::Arc::new(map),
                }),
            );
        };
        bind(&mut scope, &vars);
        for v in &self.variables {
            // Variables are evaluated when first read in Kubernetes: one that fails is an
            // error only where it is used, so its error is kept, not returned.
            match eval(&v.program, &scope) {
                Ok(value) => {
                    vars.push((v.name.clone(), value));
                    bind(&mut scope, &vars);
                }
                Err(e) => var_errors.push((&v.name, e.0)),
            }
        }
        let explain = |p: &Program, e: String| {
            let culprit = var_errors
                .iter()
                .find(|(name, _)| p.source().contains(&format!("variables.{name}")));
            match culprit {
                Some((name, err)) => format!("variables.{name}: {err}"),
                None => e,
            }
        };
        let validate = || {
            for (index, v) in self.validations.iter().enumerate() {
                match eval_bool(&v.program, &scope) {
                    Ok(true) => {}
                    Ok(false) => return Outcome::Fail(message(v, index, &scope, dialect)),
                    Err(e) => {
                        let e = explain(&v.program, e.0);
                        match on_validation_error {
                            OnError::Fail => {
                                return Outcome::Fail(format!(
                                    "expression '{}' resulted in error: {e}",
                                    v.program.source().trim()
                                ))
                            }
                            OnError::Ignore => {}
                            OnError::Error => return Outcome::Error(e),
                        }
                    }
                }
            }
            Outcome::Pass
        };
        let outcome = validate();
        if let Some(out) = audit {
            for (key, program) in &self.audit_annotations {
                // An annotation that fails to evaluate is left out: it must not change the
                // decision the validations made.
                if let Ok(Value::String(v)) = eval(program, &scope) {
                    if !v.is_empty() {
                        out.push((key.clone(), v.to_string()));
                    }
                }
            }
        }
        outcome
    }
}

/// The message of a validation that does not hold.
fn message(v: &Validation, index: usize, scope: &Scope<'_>, dialect: Dialect) -> String {
    let written = v
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    match (&v.message_expression, dialect) {
        (Some(me), Dialect::Kyverno) => match eval_string(me, scope) {
            Ok(m) => m,
            Err(e) => format!("failed to evaluate message expression: {e}"),
        },
        (Some(me), Dialect::Kubernetes) => match eval_string(me, scope) {
            // Kubernetes falls back to `message` when the expression fails or is empty.
            Ok(m) if !m.trim().is_empty() => m.trim().to_owned(),
            _ => fallback(written, v, index, dialect),
        },
        (None, _) => fallback(written, v, index, dialect),
    }
}

fn fallback(written: Option<&str>, v: &Validation, index: usize, dialect: Dialect) -> String {
    match (written, dialect) {
        (Some(m), _) => m.to_owned(),
        (None, Dialect::Kubernetes) => {
            format!("failed expression: {}", v.program.source().trim())
        }
        (None, Dialect::Kyverno) => {
            format!("CEL expression validation failed at index {index}")
        }
    }
}

/// What a body decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every validation holds.
    Pass,
    /// A validation does not hold (or, under `failurePolicy: Fail`, could not be evaluated):
    /// the message to show.
    Fail(String),
    /// A match condition left the request out.
    Skip(String),
    /// The policy could not judge the request.
    Error(String),
}

/// What an admission request gives CEL, as JSON before conversion.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// `object` (`None` on DELETE).
    pub object: Option<&'a serde_json::Value>,
    /// `oldObject` (UPDATE, DELETE).
    pub old_object: Option<&'a serde_json::Value>,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub operation: &'a str,
    /// `request.userInfo`, when known.
    pub user_info: Option<&'a serde_json::Value>,
    /// Labels of the object's namespace, when known.
    pub namespace_labels: Option<&'a Map<String, serde_json::Value>>,
    /// The object's Namespace itself, when known (a test's resources may hold it).
    pub namespace_object: Option<&'a serde_json::Value>,
    /// The subresource (`""` for the resource).
    pub subresource: &'a str,
    /// `request.dryRun`.
    pub dry_run: bool,
}

/// The identity of what is admitted, read from the object (or the old one).
#[derive(Debug, Clone)]
pub struct Identity {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Resource (plural).
    pub resource: String,
    /// Name.
    pub name: String,
    /// Namespace (`""` when cluster-scoped).
    pub namespace: String,
}

impl Identity {
    /// Reads it from an object.
    pub fn of(o: &serde_json::Value) -> Self {
        let s = |p: &str| o.pointer(p).and_then(|v| v.as_str()).unwrap_or("");
        let api = s("/apiVersion");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let kind = s("/kind");
        Identity {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            resource: crate::kyverno::engine::plural_of(kind),
            name: s("/metadata/name").to_owned(),
            namespace: s("/metadata/namespace").to_owned(),
        }
    }

    /// The match attributes of a request for it.
    pub fn attributes<'a>(&'a self, input: &Input<'a>) -> super::matching::Attributes<'a> {
        let labels = input
            .object
            .or(input.old_object)
            .and_then(|o| o.pointer("/metadata/labels"))
            .and_then(|l| l.as_object());
        let is_namespace = self.kind == "Namespace" && self.group.is_empty();
        super::matching::Attributes {
            group: &self.group,
            version: &self.version,
            resource: &self.resource,
            subresource: input.subresource,
            operation: input.operation,
            name: &self.name,
            namespace: &self.namespace,
            labels,
            namespace_labels: if is_namespace {
                labels
            } else {
                input.namespace_labels
            },
            is_namespace,
        }
    }
}

/// The scope of a request: `object`, `oldObject`, `request`, `namespaceObject`, and `params`
/// and `exceptions` empty (a policy's own scope sets them).
pub fn request_scope(input: &Input<'_>, id: &Identity) -> Scope<'static> {
    let mut scope = Scope::new();
    let null = serde_json::Value::Null;
    scope.set_json("object", input.object.unwrap_or(&null));
    scope.set_json("oldObject", input.old_object.unwrap_or(&null));
    let request = json!({
        "kind": {"group": id.group, "version": id.version, "kind": id.kind},
        "resource": {"group": id.group, "version": id.version, "resource": id.resource},
        "requestKind": {"group": id.group, "version": id.version, "kind": id.kind},
        "requestResource": {"group": id.group, "version": id.version, "resource": id.resource},
        "subResource": input.subresource,
        "name": id.name,
        "namespace": id.namespace,
        "operation": input.operation,
        "userInfo": input.user_info.cloned().unwrap_or_else(|| json!({})),
        "dryRun": input.dry_run,
    });
    scope.set_json("request", &request);
    // Offline the namespace is known by name (and labels when given), as Kyverno's CLI
    // builds it.
    let namespace = if id.namespace.is_empty() || id.kind == "Namespace" {
        serde_json::Value::Null
    } else if let Some(ns) = input.namespace_object {
        ns.clone()
    } else {
        let mut meta = Map::new();
        meta.insert("name".into(), id.namespace.clone().into());
        if let Some(l) = input.namespace_labels {
            meta.insert("labels".into(), serde_json::Value::Object(l.clone()));
        }
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    };
    scope.set_json("namespaceObject", &namespace);
    scope.set_json("params", &null);
    scope.set_json(
        "exceptions",
        &json!({"allowedImages": [], "allowedValues": []}),
    );
    scope
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: serde_json::Value) -> Body {
        Body::compile(&Sources {
            match_conditions: v.get("matchConditions"),
            variables: v.get("variables"),
            validations: v.get("validations"),
            audit_annotations: None,
            default_message: None,
            paths: [
                "matchConditions",
                "variables",
                "validations",
                "auditAnnotations",
            ],
        })
        .unwrap()
    }

    fn scope_for(object: &serde_json::Value) -> Scope<'static> {
        let input = Input {
            object: Some(object),
            old_object: None,
            operation: "CREATE",
            user_info: None,
            namespace_labels: None,
            namespace_object: None,
            subresource: "",
            dry_run: false,
        };
        request_scope(&input, &Identity::of(object))
    }

    #[test]
    fn the_first_failing_validation_decides_with_its_message() {
        let b = body(json!({
            "variables": [{"name": "replicas", "expression": "object.spec.replicas"}],
            "validations": [
                {"expression": "variables.replicas >= 1", "message": "at least one"},
                {"expression": "variables.replicas <= 5",
                 "messageExpression": "'replicas ' + string(variables.replicas) + ' > 5'"}
            ]
        }));
        let o = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 7}});
        // 7 >= 1 holds; 7 <= 5 does not: the second validation's messageExpression speaks.
        assert_eq!(
            b.evaluate(
                &scope_for(&o),
                Dialect::Kubernetes,
                OnError::Fail,
                OnError::Fail
            ),
            Outcome::Fail("replicas 7 > 5".into())
        );
        let o = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 3}});
        assert_eq!(
            b.evaluate(
                &scope_for(&o),
                Dialect::Kubernetes,
                OnError::Fail,
                OnError::Fail
            ),
            Outcome::Pass
        );
    }

    #[test]
    fn errors_follow_the_dialect() {
        // `object.spec.replicas` is absent: the expression errors (no such key).
        let b = body(json!({"validations": [{"expression": "object.spec.replicas > 1"}]}));
        let o = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}});
        let s = scope_for(&o);
        // Kubernetes under failurePolicy Fail denies with the error.
        match b.evaluate(&s, Dialect::Kubernetes, OnError::Fail, OnError::Fail) {
            Outcome::Fail(m) => assert!(m.contains("no such key: replicas"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Under Ignore the validation is passed over.
        assert_eq!(
            b.evaluate(&s, Dialect::Kubernetes, OnError::Ignore, OnError::Ignore),
            Outcome::Pass
        );
        // Kyverno's ValidatingPolicy reports an error.
        assert!(matches!(
            b.evaluate(&s, Dialect::Kyverno, OnError::Error, OnError::Error),
            Outcome::Error(_)
        ));
    }

    #[test]
    fn match_conditions_and_default_messages() {
        let b = body(json!({
            "matchConditions": [{"name": "only-web", "expression": "object.metadata.name == 'web'"}],
            "validations": [{"expression": "false"}]
        }));
        let web = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}});
        let db = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db"}});
        // db does not meet the condition: skipped.
        assert!(matches!(
            b.evaluate(
                &scope_for(&db),
                Dialect::Kubernetes,
                OnError::Fail,
                OnError::Fail
            ),
            Outcome::Skip(_)
        ));
        // Without a message each dialect writes its own.
        assert_eq!(
            b.evaluate(
                &scope_for(&web),
                Dialect::Kubernetes,
                OnError::Fail,
                OnError::Fail
            ),
            Outcome::Fail("failed expression: false".into())
        );
        assert_eq!(
            b.evaluate(
                &scope_for(&web),
                Dialect::Kyverno,
                OnError::Error,
                OnError::Error
            ),
            Outcome::Fail("CEL expression validation failed at index 0".into())
        );
    }

    #[test]
    fn undeclared_variables_are_compile_errors() {
        let e = Body::compile(&Sources {
            validations: Some(&json!([{"expression": "variables.nope == 1"}])),
            paths: ["m", "v", "validations", "a"],
            ..Sources::default()
        })
        .unwrap_err();
        assert_eq!(e[0].path, "validations[0].expression");
        assert!(e[0].message.contains("'nope'"), "{}", e[0].message);
    }
}
