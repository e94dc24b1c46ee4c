//! Kyverno policy documents (`ClusterPolicy`, `Policy`) read into checked rules: operators,
//! JMESPath and anchors are validated when the policy is loaded, and every error names the
//! file, policy, rule and line.

use super::autogen;
use super::jmes::Expr;
use super::ops::{Operator, OPERATORS};
use super::pattern::{parse_anchor, Anchor};
use super::vars;
use crate::manifest::Resource;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `metadata.name`.
    pub name: String,
    /// For a namespaced `Policy`: its namespace (it only sees resources there).
    pub namespace: Option<String>,
    /// `Enforce` (errors) or `Audit` (warnings).
    pub enforce: bool,
    /// `policies.kyverno.io/severity`, if set.
    pub severity: Option<String>,
    /// `policies.kyverno.io/title`, if set.
    pub title: Option<String>,
    /// `policies.kyverno.io/scored: "false"` makes a failure a warning (Kyverno's `warn`).
    pub scored: bool,
    /// The rules we evaluate, autogen rules included.
    pub rules: Vec<Rule>,
    /// Rules we do not evaluate: (rule name, what it is).
    pub unsupported: Vec<(String, String)>,
    /// The file it came from.
    pub file: String,
    /// The line of the document.
    pub line: u32,
}

impl Policy {
    /// How test results name the policy: `ns/name` for a namespaced `Policy`.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One validate rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's name (`autogen-...` for generated ones).
    pub name: String,
    /// Which resources it applies to.
    pub matches: MatchBlock,
    /// Which of those it leaves out.
    pub exclude: Option<MatchBlock>,
    /// `context` entries.
    pub context: Vec<ContextEntry>,
    /// `preconditions`.
    pub preconditions: Option<Conditions>,
    /// `validate.message`.
    pub message: Option<String>,
    /// What the rule checks.
    pub body: Body,
    /// Enforce (a per-rule `failureAction` overrides the policy's).
    pub enforce: bool,
    /// `validate.allowExistingViolations` (default true).
    pub allow_existing_violations: bool,
    /// Names of context entries that need the cluster or a registry (`configMap`, `apiCall`,
    /// `imageRegistry`, `globalReference`), here or in a foreach; offline they cannot resolve.
    pub external: Vec<String>,
    /// Where its context entries may be read, for deferred loading.
    pub refs: ContextRefs,
}

/// The text of a rule's (or foreach entry's) preconditions and of the rest of it, as written:
/// a context entry whose value fails only fails the rule if one of them names it (Kyverno
/// 1.10+ loads context entries when a variable first reads them).
#[derive(Debug, Clone, Default)]
pub struct ContextRefs {
    /// `preconditions`, as JSON text.
    pub preconditions: String,
    /// The checks and the message, as JSON text.
    pub rest: String,
}

impl ContextRefs {
    fn of(preconditions: Option<&Value>, rest: &[Option<&Value>]) -> Self {
        let text = |v: Option<&Value>| v.map(Value::to_string).unwrap_or_default();
        ContextRefs {
            preconditions: text(preconditions),
            rest: rest.iter().map(|v| text(*v)).collect::<Vec<_>>().join("\n"),
        }
    }
}

fn external_names(context: &[ContextEntry], body: &Body, out: &mut Vec<String>) {
    for e in context {
        if let ContextEntry::External { name, .. } = e {
            out.push(name.clone());
        }
    }
    if let Body::Foreach(fes) = body {
        for fe in fes {
            external_names(&fe.context, &fe.body, out);
        }
    }
}

/// A policy value whose `{{ }}` variables are known at load time, so evaluation does not scan
/// it again for every resource.
#[derive(Debug, Clone)]
pub struct Templated {
    /// The value as written.
    pub value: Value,
    /// Whether any string or key in it holds a variable.
    pub has_vars: bool,
    /// For a string that is one variable (`{{ request.object.x }}`, the usual condition key):
    /// its expression, compiled.
    pub whole: Option<Arc<Expr>>,
}

impl Templated {
    fn new(value: Value) -> Self {
        Templated {
            has_vars: vars::tree_has_vars(&value),
            whole: value.as_str().and_then(vars::whole_variable),
            value,
        }
    }
}

/// The check of a rule.
#[derive(Debug, Clone)]
pub enum Body {
    /// `validate.pattern`.
    Pattern(Templated),
    /// `validate.anyPattern`.
    AnyPattern(Vec<Templated>),
    /// `validate.deny`: fails when the conditions hold.
    Deny(Option<Conditions>),
    /// `validate.foreach`.
    Foreach(Vec<Foreach>),
    /// `validate.cel`, with the rule's `celPreconditions`.
    Cel(Box<CelRule>),
    /// `verifyImages` with key attestors.
    VerifyImages(Box<super::verify::VerifyImages>),
}

/// A `validate.cel` rule: a CEL body evaluated as Kubernetes' validator does, with params
/// from `paramKind`/`paramRef`.
#[derive(Debug, Clone)]
pub struct CelRule {
    /// The expressions, variables and `celPreconditions`.
    pub body: crate::cel::engine::Body,
    /// `paramKind`: (apiVersion, kind).
    pub param_kind: Option<(String, String)>,
    /// `paramRef`.
    pub param_ref: Option<crate::cel::vap::ParamRef>,
}

/// One `foreach` entry.
#[derive(Debug, Clone)]
pub struct Foreach {
    /// JMESPath selecting the list.
    pub list: String,
    /// `list`, compiled.
    pub list_expr: Arc<Expr>,
    /// Per-element context entries.
    pub context: Vec<ContextEntry>,
    /// Per-element preconditions.
    pub preconditions: Option<Conditions>,
    /// What each element is checked with (never another `Foreach` with an empty list).
    pub body: Box<Body>,
    /// Where its context entries may be read.
    pub refs: ContextRefs,
    /// `elementScope`: whether a pattern is matched against the element (`true`, which
    /// needs map elements) or the whole resource (`false`); unset, maps are, other elements
    /// are not.
    pub element_scope: Option<bool>,
}

/// `any` / `all` condition blocks.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// At least one must hold.
    pub any: Option<Vec<Condition>>,
    /// All must hold.
    pub all: Option<Vec<Condition>>,
}

/// `key <operator> value`.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Left side (variables allowed).
    pub key: Templated,
    /// The operator.
    pub operator: Operator,
    /// Right side (variables allowed).
    pub value: Templated,
    /// Message of a failing deny condition.
    pub message: Option<String>,
}

/// A `context` entry.
#[derive(Debug, Clone)]
pub enum ContextEntry {
    /// `variable`: computed from a value and/or a JMESPath.
    Variable {
        /// Name.
        name: String,
        /// `value`.
        value: Option<Value>,
        /// `jmesPath`.
        jmes_path: Option<String>,
        /// `default`.
        default: Option<Value>,
    },
    /// `configMap`, `apiCall`, `imageRegistry`, `globalReference`: never fetched from a
    /// cluster; a test's values file supplies the name, or (configMap) a ConfigMap among the
    /// test's resources and `clusterResources`.
    External {
        /// Name.
        name: String,
        /// How a test's objects can answer it, when they can.
        lookup: Option<Lookup>,
    },
}

/// A context entry a test's objects can answer (templates, substituted when read).
#[derive(Debug, Clone)]
pub enum Lookup {
    /// `configMap`: `name` and `namespace` (`default` when unset).
    ConfigMap(String, String),
    /// `apiCall` with `GET` on an API path: the path and the `jmesPath` applied to the answer.
    ApiGet(String, Option<String>),
}

/// `match` or `exclude`.
#[derive(Debug, Clone, Default)]
pub struct MatchBlock {
    /// One must match.
    pub any: Vec<Filter>,
    /// All must match.
    pub all: Vec<Filter>,
}

/// One resource filter (with user info).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `kinds`, parsed.
    pub kinds: Vec<KindSelector>,
    /// `name` and `names`.
    pub names: Vec<String>,
    /// `namespaces`.
    pub namespaces: Vec<String>,
    /// `annotations`.
    pub annotations: Vec<(String, String)>,
    /// `selector`.
    pub selector: Option<LabelSelector>,
    /// `namespaceSelector`.
    pub namespace_selector: Option<LabelSelector>,
    /// `operations`.
    pub operations: Vec<String>,
    /// `subjects`: (kind, name, namespace).
    pub subjects: Vec<(String, String, String)>,
    /// `roles`.
    pub roles: Vec<String>,
    /// `clusterRoles`.
    pub cluster_roles: Vec<String>,
}

/// `group/version/Kind/subresource`, each part possibly a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSelector {
    /// API group (`""` for core, `*` for any).
    pub group: String,
    /// Version (`*` for any).
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Subresource (`""` for the resource itself).
    pub subresource: String,
}

impl KindSelector {
    /// Parses Kyverno's kind notations.
    pub fn parse(input: &str) -> Self {
        let mut parts: Vec<String> = input.split('/').map(str::to_owned).collect();
        // `Pod.status`-style subresource on the last segment.
        let mut dotted_sub = String::new();
        if let Some(last) = parts.last_mut() {
            if let Some((k, s)) = last.clone().split_once('.') {
                if k.chars().next().is_some_and(char::is_uppercase) {
                    *last = k.to_owned();
                    dotted_sub = s.to_owned();
                }
            }
        }
        let upper = |s: &str| s.chars().next().is_some_and(char::is_uppercase);
        let sel = |g: &str, v: &str, k: &str, s: &str| KindSelector {
            group: g.into(),
            version: v.into(),
            kind: k.into(),
            subresource: s.into(),
        };
        let mut out = match parts.as_slice() {
            [k] => sel("*", "*", k, ""),
            [a, b] if a == "*" && b == "*" => sel("*", "*", "*", "*"),
            [a, b] if a == "*" => sel("*", "*", "*", b),
            [a, b] if upper(a) => sel("*", "*", a, b),
            [v, k] => sel("", v, k, ""),
            [v, k, s] if upper(k) => sel("", v, k, s),
            [g, v, k] => sel(g, v, k, ""),
            [g, v, k, s] => sel(g, v, k, s),
            _ => sel("", "", "", ""),
        };
        if !dotted_sub.is_empty() {
            out.subresource = dotted_sub;
        }
        out
    }
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default)]
pub struct LabelSelector {
    /// `matchLabels` (wildcards allowed).
    pub match_labels: Vec<(String, String)>,
    /// `matchExpressions`: key, operator, values.
    pub match_expressions: Vec<(String, String, Vec<String>)>,
}

/// A policy that could not be loaded, or a part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy file.
    pub file: String,
    /// Line of the offending field (or of the document).
    pub line: u32,
    /// Policy name.
    pub policy: String,
    /// Rule name, when the error is inside a rule.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    /// Where it is (`file:line`, or the file when no policy was read) and what, apart: a
    /// load error prints them as `where: what`, once.
    pub fn located(&self) -> (String, String) {
        if self.policy.is_empty() {
            return (self.file.clone(), self.message.clone());
        }
        let what = match &self.rule {
            Some(r) => format!("policy {}, rule {r}: {}", self.policy, self.message),
            None => format!("policy {}: {}", self.policy, self.message),
        };
        (format!("{}:{}", self.file, self.line), what)
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (at, what) = self.located();
        write!(f, "{at}: {what}")
    }
}

/// Whether a loaded document is a Kyverno policy we read.
pub fn is_policy(r: &Resource) -> bool {
    r.api_version.starts_with("kyverno.io/")
        && matches!(r.kind.as_str(), "ClusterPolicy" | "Policy")
}

/// Whether a document belongs to Kyverno's other policy types (CEL, mutate, cleanup, ...).
pub fn is_other_kyverno(r: &Resource) -> bool {
    (r.api_version.starts_with("policies.kyverno.io/") || r.api_version.starts_with("kyverno.io/"))
        && !is_policy(r)
        && !crate::cel::vpol::is_vpol(r)
        && !crate::cel::exception::is_exception(r)
}

struct Ctx<'a> {
    res: &'a Resource,
    policy: &'a str,
    rule: Option<String>,
    /// Where the rule's fields are in the document (the source rule for autogen rules).
    base: String,
}

impl Ctx<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> PolicyError {
        let path = if field.is_empty() {
            self.base.clone()
        } else if self.base.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.base)
        };
        // The deepest known position on the way to the field.
        let mut p = path.as_str();
        let line = loop {
            if let Some((l, _)) = self.res.origin.position_of(p) {
                break l;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => break self.res.origin.line,
            }
        };
        PolicyError {
            file: self.res.origin.file.to_string(),
            line,
            policy: self.policy.to_owned(),
            rule: self.rule.clone(),
            message: message.into(),
        }
    }
}

fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// Reads a `match` block and optional `any`/`all` conditions of another Kyverno document
/// (a PolicyException), with errors located as a policy's are.
pub(super) fn parse_match_and_conditions(
    res: &Resource,
    name: &str,
    matches: &Value,
    conditions: Option<&Value>,
) -> Result<(MatchBlock, Option<Conditions>), PolicyError> {
    let ctx = Ctx {
        res,
        policy: name,
        rule: None,
        base: "spec".into(),
    };
    let m = parse_match(&ctx, matches, "match")?;
    let c = conditions
        .map(|c| parse_conditions(&ctx, c, "conditions"))
        .transpose()?;
    Ok((m, c))
}

/// Reads one policy document.
pub fn parse(res: &Resource) -> Result<Policy, Vec<PolicyError>> {
    let obj = &res.object;
    let name = res.name.clone().unwrap_or_default();
    let mut ctx = Ctx {
        res,
        policy: &name,
        rule: None,
        base: String::new(),
    };
    if name.is_empty() {
        return Err(vec![ctx.err("metadata", "the policy has no metadata.name")]);
    }
    let annotations = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    let annotation = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    let spec = obj.get("spec").and_then(Value::as_object);
    let Some(spec) = spec else {
        return Err(vec![ctx.err("spec", "the policy has no spec")]);
    };
    let action = string(spec.get("validationFailureAction"))
        .or_else(|| string(spec.get("failureAction")))
        .unwrap_or_else(|| "Audit".into());
    let enforce = action.eq_ignore_ascii_case("enforce");
    let raw_rules: Vec<Value> = match spec.get("rules") {
        Some(Value::Array(r)) => r.clone(),
        _ => return Err(vec![ctx.err("spec.rules", "the policy has no rules")]),
    };
    let mut policy = Policy {
        name: name.clone(),
        namespace: (res.kind == "Policy")
            .then(|| res.namespace.clone().unwrap_or_else(|| "default".into())),
        enforce,
        severity: annotation("policies.kyverno.io/severity").map(str::to_owned),
        title: annotation("policies.kyverno.io/title").map(str::to_owned),
        scored: annotation("policies.kyverno.io/scored") != Some("false"),
        rules: Vec::new(),
        unsupported: Vec::new(),
        file: res.origin.file.to_string(),
        line: res.origin.line,
    };
    let mut errors = Vec::new();
    let generated = autogen::expand(&raw_rules, annotation(autogen::ANNOTATION));
    let all = raw_rules
        .iter()
        .enumerate()
        .chain(generated.iter().map(|(i, r)| (*i, r)));
    let source_rules = raw_rules.len();
    let mut failed_sources = std::collections::HashSet::new();
    for (position, (index, raw)) in all.enumerate() {
        // A generated rule repeats its source rule's mistakes; report those once.
        let generated = position >= source_rules;
        if generated && failed_sources.contains(&index) {
            continue;
        }
        let rule_name = string(raw.get("name")).unwrap_or_default();
        ctx.rule = Some(rule_name.clone());
        ctx.base = format!("spec.rules[{index}]");
        if rule_name.is_empty() {
            errors.push(ctx.err("", "the rule has no name"));
            continue;
        }
        if let Some(kind) = unsupported_kind(raw) {
            policy.unsupported.push((rule_name, kind));
            continue;
        }
        match parse_rule(&ctx, raw, &rule_name, enforce) {
            Ok(r) => policy.rules.push(r),
            Err(e) => {
                failed_sources.insert(index);
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(policy)
    } else {
        Err(errors)
    }
}

/// What kind of rule this is when it is not one we evaluate.
fn unsupported_kind(raw: &Value) -> Option<String> {
    if raw.get("verifyImages").is_some() {
        return super::verify::unsupported(raw);
    }
    if raw.get("generate").is_some() {
        return Some("generate".into());
    }
    if raw.get("mutate").is_some() {
        return Some("mutate".into());
    }
    let v = raw.get("validate")?;
    if v.get("podSecurity").is_some() {
        return Some("validate.podSecurity".into());
    }
    if v.get("manifests").is_some() {
        return Some("validate.manifests".into());
    }
    None
}

fn parse_rule(ctx: &Ctx<'_>, raw: &Value, name: &str, enforce: bool) -> Result<Rule, PolicyError> {
    let empty = Map::new();
    let verify = raw.get("verifyImages").is_some();
    let validate = match raw.get("validate").and_then(Value::as_object) {
        Some(v) => v,
        None if verify => &empty,
        None => {
            return Err(ctx.err(
                "",
                "the rule has no validate, mutate, generate or verifyImages block",
            ))
        }
    };
    let matches = match raw.get("match") {
        Some(m) => parse_match(ctx, m, "match")?,
        None => return Err(ctx.err("", "the rule has no match block")),
    };
    if matches.any.is_empty() && matches.all.is_empty() {
        return Err(ctx.err("match", "match needs `any`, `all` or `resources`"));
    }
    let exclude = match raw.get("exclude") {
        Some(e) if !e.is_null() => Some(parse_match(ctx, e, "exclude")?),
        _ => None,
    };
    let context = parse_context(ctx, raw.get("context"), "context")?;
    let preconditions = match raw.get("preconditions") {
        Some(p) if !p.is_null() => Some(parse_conditions(ctx, p, "preconditions")?),
        _ => None,
    };
    let message = string(validate.get("message"));
    if let Some(m) = &message {
        vars::check(m).map_err(|e| ctx.err("validate.message", e))?;
    }
    let body = match validate.get("cel") {
        _ if verify => Body::VerifyImages(Box::new(
            super::verify::parse(raw).map_err(|(field, message)| ctx.err(&field, message))?,
        )),
        Some(c) => parse_cel(ctx, c, raw.get("celPreconditions"), message.as_deref())?,
        None => parse_body(ctx, validate, "validate")?,
    };
    let mut external = Vec::new();
    external_names(&context, &body, &mut external);
    if let Body::Cel(c) = &body {
        if let Some(call) = c.body.external {
            external.push(call.to_owned());
        }
    }
    let rule_action = string(validate.get("failureAction"))
        .or_else(|| string(raw.pointer("/verifyImages/0/failureAction")));
    Ok(Rule {
        name: name.to_owned(),
        matches,
        exclude,
        context,
        preconditions,
        message,
        body,
        enforce: rule_action.map_or(enforce, |a| a.eq_ignore_ascii_case("enforce")),
        allow_existing_violations: validate
            .get("allowExistingViolations")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        external,
        refs: ContextRefs::of(raw.get("preconditions"), &[raw.get("validate")]),
    })
}

/// Reads `validate.cel`: every expression compiled, the first error located at its field.
fn parse_cel(
    ctx: &Ctx<'_>,
    cel: &Value,
    preconditions: Option<&Value>,
    message: Option<&str>,
) -> Result<Body, PolicyError> {
    let body = crate::cel::engine::Body::compile(&crate::cel::engine::Sources {
        match_conditions: preconditions,
        variables: cel.get("variables"),
        validations: cel.get("expressions"),
        audit_annotations: cel.get("auditAnnotations"),
        default_message: message,
        paths: [
            "celPreconditions",
            "validate.cel.variables",
            "validate.cel.expressions",
            "validate.cel.auditAnnotations",
        ],
    })
    .map_err(|errors| {
        let first = errors.first().map(|e| e.path.clone()).unwrap_or_default();
        let all = errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        ctx.err(&first, all)
    })?;
    let param_kind = cel.get("paramKind").map(crate::cel::vap::parse_param_kind);
    let param_ref = match cel.get("paramRef") {
        Some(p) => Some(
            crate::cel::vap::parse_param_ref(p).map_err(|e| ctx.err("validate.cel.paramRef", e))?,
        ),
        None => None,
    };
    Ok(Body::Cel(Box::new(CelRule {
        body,
        param_kind,
        param_ref,
    })))
}

fn parse_body(ctx: &Ctx<'_>, v: &Map<String, Value>, at: &str) -> Result<Body, PolicyError> {
    let present: Vec<&str> = ["pattern", "anyPattern", "deny", "foreach"]
        .into_iter()
        .filter(|k| v.get(*k).is_some_and(|x| !x.is_null()))
        .collect();
    let [kind] = present.as_slice() else {
        return Err(ctx.err(
            at,
            format!(
                "{at} needs exactly one of pattern, anyPattern, deny, foreach (found {})",
                if present.is_empty() {
                    "none".into()
                } else {
                    present.join(", ")
                }
            ),
        ));
    };
    match *kind {
        "pattern" => {
            let p = &v["pattern"];
            check_pattern(ctx, p, &format!("{at}.pattern"))?;
            Ok(Body::Pattern(Templated::new(p.clone())))
        }
        "anyPattern" => {
            let Value::Array(ps) = &v["anyPattern"] else {
                return Err(ctx.err(
                    &format!("{at}.anyPattern"),
                    "anyPattern must be a list of patterns",
                ));
            };
            for (i, p) in ps.iter().enumerate() {
                check_pattern(ctx, p, &format!("{at}.anyPattern[{i}]"))?;
            }
            Ok(Body::AnyPattern(
                ps.iter().cloned().map(Templated::new).collect(),
            ))
        }
        "deny" => {
            let conds = match v["deny"].get("conditions") {
                Some(c) if !c.is_null() => {
                    Some(parse_conditions(ctx, c, &format!("{at}.deny.conditions"))?)
                }
                _ => None,
            };
            Ok(Body::Deny(conds))
        }
        _ => {
            let Value::Array(entries) = &v["foreach"] else {
                return Err(ctx.err(&format!("{at}.foreach"), "foreach must be a list"));
            };
            let mut out = Vec::new();
            for (i, e) in entries.iter().enumerate() {
                let here = format!("{at}.foreach[{i}]");
                let Some(e) = e.as_object() else {
                    return Err(ctx.err(&here, "a foreach entry must be a map"));
                };
                let Some(list) = string(e.get("list")) else {
                    return Err(ctx.err(&here, "a foreach entry needs `list`"));
                };
                let list_expr = list
                    .trim()
                    .trim_start_matches("{{")
                    .trim_end_matches("}}")
                    .trim()
                    .to_owned();
                let compiled = super::jmes::compile(&list_expr).map_err(|m| {
                    ctx.err(
                        &format!("{here}.list"),
                        format!("invalid JMESPath in list: {m}"),
                    )
                })?;
                let context = parse_context(ctx, e.get("context"), &format!("{here}.context"))?;
                let preconditions = match e.get("preconditions") {
                    Some(p) if !p.is_null() => {
                        Some(parse_conditions(ctx, p, &format!("{here}.preconditions"))?)
                    }
                    _ => None,
                };
                let body = parse_body(ctx, e, &here)?;
                let rest =
                    ["pattern", "anyPattern", "deny", "foreach", "context"].map(|k| e.get(k));
                out.push(Foreach {
                    list: list_expr,
                    list_expr: Arc::new(compiled),
                    context,
                    preconditions,
                    body: Box::new(body),
                    refs: ContextRefs::of(e.get("preconditions"), &rest),
                    element_scope: e.get("elementScope").and_then(Value::as_bool),
                });
            }
            Ok(Body::Foreach(out))
        }
    }
}

/// Checks a validate pattern: variables compile, anchors stand where they may.
fn check_pattern(ctx: &Ctx<'_>, p: &Value, at: &str) -> Result<(), PolicyError> {
    match p {
        Value::String(s) => vars::check(s).map_err(|e| ctx.err(at, e)),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_pattern(ctx, x, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        Value::Object(m) => {
            for (k, v) in m {
                let child = format!("{at}.{}", path_key(k));
                vars::check(k).map_err(|e| ctx.err(&child, e))?;
                if let Some((anchor, _)) = parse_anchor(k) {
                    match anchor {
                        Anchor::AddIfNotPresent => {
                            return Err(ctx.err(
                                &child,
                                format!(
                                    "the anchor in `{k}` (+()) is only allowed in mutate patterns"
                                ),
                            ));
                        }
                        Anchor::Existence if !v.is_array() => {
                            return Err(ctx.err(
                                &child,
                                format!("the existence anchor `{k}` must hold a list"),
                            ));
                        }
                        _ => {}
                    }
                } else if k.contains("(") && k.ends_with(')') && !k.starts_with('(') {
                    let prefix = k.split('(').next().unwrap_or("");
                    if prefix.len() == 1 {
                        return Err(ctx.err(&child, format!("unknown anchor `{prefix}()` in `{k}`; anchors are (), =(), ^(), X(), <()")));
                    }
                }
                check_pattern(ctx, v, &child)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn path_key(k: &str) -> String {
    let mut out = String::new();
    tollgate_yaml::read::push_key(&mut out, k);
    out
}

fn parse_conditions(ctx: &Ctx<'_>, v: &Value, at: &str) -> Result<Conditions, PolicyError> {
    match v {
        Value::Array(list) => Ok(Conditions {
            any: None,
            all: Some(parse_condition_list(ctx, list, at)?),
        }),
        Value::Object(m) => {
            let mut out = Conditions::default();
            for (k, v) in m {
                let here = format!("{at}.{k}");
                let Value::Array(list) = v else {
                    if v.is_null() {
                        continue;
                    }
                    return Err(ctx.err(&here, format!("`{k}` must be a list of conditions")));
                };
                let parsed = Some(parse_condition_list(ctx, list, &here)?);
                match k.as_str() {
                    "any" => out.any = parsed,
                    "all" => out.all = parsed,
                    other => {
                        return Err(ctx.err(
                            &here,
                            format!("unknown condition block `{other}`; use any or all"),
                        ))
                    }
                }
            }
            Ok(out)
        }
        _ => Err(ctx.err(at, "conditions must be a map with any/all or a list")),
    }
}

fn parse_condition_list(
    ctx: &Ctx<'_>,
    list: &[Value],
    at: &str,
) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::with_capacity(list.len());
    for (i, c) in list.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let op_name = c.get("operator").and_then(Value::as_str).unwrap_or("");
        let Some(operator) = Operator::parse(op_name) else {
            return Err(ctx.err(
                &format!("{here}.operator"),
                format!("unknown operator `{op_name}`; valid operators: {OPERATORS}"),
            ));
        };
        let key = c.get("key").cloned().unwrap_or(Value::Null);
        let value = c.get("value").cloned().unwrap_or(Value::Null);
        check_vars(ctx, &key, &format!("{here}.key"))?;
        check_vars(ctx, &value, &format!("{here}.value"))?;
        out.push(Condition {
            key: Templated::new(key),
            operator,
            value: Templated::new(value),
            message: string(c.get("message")),
        });
    }
    Ok(out)
}

fn check_vars(ctx: &Ctx<'_>, v: &Value, at: &str) -> Result<(), PolicyError> {
    match v {
        Value::String(s) => vars::check(s).map_err(|e| ctx.err(at, e)),
        Value::Array(a) => a.iter().try_for_each(|x| check_vars(ctx, x, at)),
        Value::Object(m) => m.values().try_for_each(|x| check_vars(ctx, x, at)),
        _ => Ok(()),
    }
}

fn parse_context(
    ctx: &Ctx<'_>,
    v: Option<&Value>,
    at: &str,
) -> Result<Vec<ContextEntry>, PolicyError> {
    let Some(Value::Array(entries)) = v else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let Some(name) = string(e.get("name")) else {
            return Err(ctx.err(&here, "a context entry needs a name"));
        };
        if let Some(var) = e.get("variable") {
            let jmes_path = string(var.get("jmesPath"));
            if let Some(j) = &jmes_path {
                let src = j
                    .trim()
                    .trim_start_matches("{{")
                    .trim_end_matches("}}")
                    .trim();
                super::jmes::compile(src).map_err(|m| {
                    ctx.err(
                        &format!("{here}.variable.jmesPath"),
                        format!("invalid JMESPath: {m}"),
                    )
                })?;
            }
            let value = var.get("value").cloned();
            if let Some(v) = &value {
                check_vars(ctx, v, &format!("{here}.variable.value"))?;
            }
            out.push(ContextEntry::Variable {
                name,
                value,
                jmes_path,
                default: var.get("default").cloned(),
            });
        } else if ["configMap", "apiCall", "imageRegistry", "globalReference"]
            .iter()
            .any(|k| e.get(*k).is_some())
        {
            let config_map = e.get("configMap").map(|cm| {
                let field = |k: &str| string(cm.get(k)).unwrap_or_default();
                let ns = field("namespace");
                Lookup::ConfigMap(
                    field("name"),
                    if ns.is_empty() { "default".into() } else { ns },
                )
            });
            let api_get = e
                .get("apiCall")
                .filter(|c| string(c.get("method")).is_none_or(|m| m.eq_ignore_ascii_case("GET")))
                .and_then(|c| {
                    let path = string(c.get("urlPath"))?;
                    Some(Lookup::ApiGet(path, string(c.get("jmesPath"))))
                });
            let lookup = config_map.or(api_get);
            out.push(ContextEntry::External { name, lookup });
        } else {
            return Err(ctx.err(&here, format!("context entry {name} has no variable, configMap, apiCall, imageRegistry or globalReference")));
        }
    }
    Ok(out)
}

fn parse_match(ctx: &Ctx<'_>, v: &Value, at: &str) -> Result<MatchBlock, PolicyError> {
    let mut out = MatchBlock::default();
    let Some(m) = v.as_object() else {
        return Err(ctx.err(at, format!("{at} must be a map")));
    };
    for key in ["any", "all"] {
        if let Some(Value::Array(fs)) = m.get(key) {
            for (i, f) in fs.iter().enumerate() {
                let filter = parse_filter(ctx, f, &format!("{at}.{key}[{i}]"))?;
                if key == "any" {
                    out.any.push(filter);
                } else {
                    out.all.push(filter);
                }
            }
        }
    }
    // The legacy form: `resources` plus user info at the top level is one filter.
    if m.contains_key("resources")
        || m.contains_key("subjects")
        || m.contains_key("roles")
        || m.contains_key("clusterRoles")
    {
        out.all.push(parse_filter(ctx, v, at)?);
    }
    Ok(out)
}

fn parse_selector(
    ctx: &Ctx<'_>,
    v: Option<&Value>,
    at: &str,
) -> Result<Option<LabelSelector>, PolicyError> {
    let Some(Value::Object(m)) = v else {
        return Ok(None);
    };
    let mut sel = LabelSelector::default();
    if let Some(Value::Object(labels)) = m.get("matchLabels") {
        for (k, v) in labels {
            sel.match_labels
                .push((k.clone(), super::functions::to_string(v)));
        }
    }
    if let Some(Value::Array(exprs)) = m.get("matchExpressions") {
        for (i, e) in exprs.iter().enumerate() {
            let op = string(e.get("operator")).unwrap_or_default();
            if !matches!(op.as_str(), "In" | "NotIn" | "Exists" | "DoesNotExist") {
                return Err(ctx.err(
                    &format!("{at}.matchExpressions[{i}].operator"),
                    format!(
                        "unknown selector operator `{op}`; use In, NotIn, Exists or DoesNotExist"
                    ),
                ));
            }
            sel.match_expressions.push((
                string(e.get("key")).unwrap_or_default(),
                op,
                strs(e.get("values")),
            ));
        }
    }
    Ok(Some(sel))
}

fn parse_filter(ctx: &Ctx<'_>, f: &Value, at: &str) -> Result<Filter, PolicyError> {
    let r = f.get("resources").cloned().unwrap_or(Value::Null);
    let here = format!("{at}.resources");
    let mut names = strs(r.get("names"));
    if let Some(n) = string(r.get("name")) {
        names.push(n);
    }
    let annotations = match r.get("annotations") {
        Some(Value::Object(a)) => a
            .iter()
            .map(|(k, v)| (k.clone(), super::functions::to_string(v)))
            .collect(),
        _ => Vec::new(),
    };
    let subjects = match f.get("subjects") {
        Some(Value::Array(s)) => s
            .iter()
            .map(|x| {
                (
                    string(x.get("kind")).unwrap_or_default(),
                    string(x.get("name")).unwrap_or_default(),
                    string(x.get("namespace")).unwrap_or_default(),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Filter {
        kinds: strs(r.get("kinds"))
            .iter()
            .map(|k| KindSelector::parse(k))
            .collect(),
        names,
        namespaces: strs(r.get("namespaces")),
        annotations,
        selector: parse_selector(ctx, r.get("selector"), &format!("{here}.selector"))?,
        namespace_selector: parse_selector(
            ctx,
            r.get("namespaceSelector"),
            &format!("{here}.namespaceSelector"),
        )?,
        operations: strs(r.get("operations")),
        subjects,
        roles: strs(f.get("roles")),
        cluster_roles: strs(f.get("clusterRoles")),
    })
}

#[cfg(test)]
mod tests {
    use super::KindSelector;

    #[test]
    fn kind_notations() {
        let k = KindSelector::parse("Pod");
        assert_eq!(
            (k.group.as_str(), k.version.as_str(), k.kind.as_str()),
            ("*", "*", "Pod")
        );
        let k = KindSelector::parse("apps/v1/Deployment");
        assert_eq!(
            (k.group.as_str(), k.version.as_str(), k.kind.as_str()),
            ("apps", "v1", "Deployment")
        );
        let k = KindSelector::parse("v1/Pod");
        assert_eq!((k.group.as_str(), k.version.as_str()), ("", "v1"));
        let k = KindSelector::parse("Pod/exec");
        assert_eq!((k.kind.as_str(), k.subresource.as_str()), ("Pod", "exec"));
        let k = KindSelector::parse("networking.k8s.io/v1/Ingress");
        assert_eq!(k.group, "networking.k8s.io");
        let k = KindSelector::parse("*/*");
        assert_eq!(k.subresource, "*");
    }
}
