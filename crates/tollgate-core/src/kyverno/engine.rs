//! Evaluates Kyverno validate rules on one resource: match/exclude, context, preconditions,
//! then pattern, anyPattern, deny or foreach, with Kyverno's statuses (pass, fail, skip, error)
//! and its treatment of updates to resources that already violated the rule.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "foreach and path offsets come from the lists they index; panics contained per resource"
)]

use super::exception::Exception;
use super::images;
use super::jmes::{JmesError, Listed, Scope};
use super::matching::{applies, matches_block, Target};
use super::ops::condition;
use super::pattern::{self, Outcome};
use super::policy::{Body, Conditions, ContextEntry, Foreach, Lookup, Policy, Rule, Templated};
use super::vars::{self, substitute, substitute_str, Mode};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The resource satisfies the rule.
    Pass,
    /// It violates it.
    Fail,
    /// The rule does not apply (preconditions, conditional anchors).
    Skip,
    /// The rule could not be evaluated (unresolved variable, bad context).
    Error,
}

impl Status {
    /// `pass`, `fail`, `skip`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

/// The response of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResponse {
    /// Rule name (`autogen-...` for generated rules).
    pub rule: String,
    /// Verdict.
    pub status: Status,
    /// Why.
    pub message: String,
    /// For a failed pattern: the field path (`spec.containers[0].image`).
    pub field: Option<String>,
    /// The PolicyException (`ns/name`) that waives the rule here: Kyverno reports `skip`;
    /// the verdict is kept so `check` can count a waived failure as suppressed.
    pub waived_by: Option<String>,
}

/// Who sends the request, when a test gives user info.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    /// `userInfo.username`.
    pub username: String,
    /// `userInfo.groups`.
    pub groups: Vec<String>,
    /// Roles (`ns:name`).
    pub roles: Vec<String>,
    /// Cluster roles.
    pub cluster_roles: Vec<String>,
    /// `userInfo` as given.
    pub raw: Value,
}

/// The admission request around the resource.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: &'a str,
    /// The previous version (UPDATE) or the deleted object (DELETE).
    pub old_object: Option<&'a Value>,
    /// User info, when known.
    pub user: Option<&'a UserInfo>,
    /// Namespace labels for `namespaceSelector`.
    pub namespaces: Option<&'a HashMap<String, Map<String, Value>>>,
    /// When the request is for a subresource: the parent's group, version and kind and the
    /// subresource (`""`, `v1`, `Pod`, `exec` for a `kubectl exec`), which `match` reads as
    /// `Pod/exec`.
    pub subresource: Option<[&'a str; 4]>,
}

impl Request<'_> {
    /// A CREATE with nothing else known: how manifests in a repository are checked.
    pub fn create() -> Request<'static> {
        Request {
            operation: "CREATE",
            old_object: None,
            user: None,
            namespaces: None,
            subresource: None,
        }
    }

    /// Labels of a namespace, if the request knows them.
    pub fn namespace_labels(&self, ns: &str) -> Option<&Map<String, Value>> {
        self.namespaces.and_then(|m| m.get(ns))
    }
}

/// One resource prepared for evaluation: its identity and the JSON context every rule reads.
pub struct Subject<'a> {
    object: &'a Value,
    target: Target<'a>,
    ctx: Value,
    req: Request<'a>,
    /// Wall-clock budget of each rule on this resource.
    limit: Option<std::time::Duration>,
    /// PolicyExceptions that may waive rules for it.
    exceptions: &'a [Exception],
    /// Objects a `configMap` context entry may name (a test's resources and
    /// `clusterResources`).
    cluster: &'a [crate::manifest::Resource],
    /// The CEL scope of `validate.cel` rules (the object converted once for every rule on
    /// the resource), for the admission evaluation and the DELETE one.
    cel_scope: std::cell::OnceCell<crate::cel::Scope<'static>>,
    cel_scope_delete: std::cell::OnceCell<crate::cel::Scope<'static>>,
}

impl<'a> Subject<'a> {
    /// Builds the context (`request.*`, `images`) once for all policies.
    pub fn new(object: &'a Value, req: Request<'a>) -> Self {
        let delete = req.operation == "DELETE";
        let mut request = Map::new();
        request.insert("operation".into(), Value::String(req.operation.to_owned()));
        let mut target = Target::of(object);
        if let Some([group, version, kind, sub]) = req.subresource {
            target.group = group;
            target.version = version;
            target.kind = kind;
            target.subresource = sub;
        }
        let (obj, old) = if delete {
            (Value::Null, Some(req.old_object.unwrap_or(object).clone()))
        } else {
            (object.clone(), req.old_object.cloned())
        };
        request.insert("object".into(), obj);
        if let Some(old) = old {
            request.insert("oldObject".into(), old);
        }
        request.insert(
            "namespace".into(),
            Value::String(target.namespace.to_owned()),
        );
        if let Some(u) = req.user {
            request.insert("userInfo".into(), u.raw.clone());
            request.insert(
                "roles".into(),
                Value::Array(u.roles.iter().cloned().map(Value::String).collect()),
            );
            request.insert(
                "clusterRoles".into(),
                Value::Array(u.cluster_roles.iter().cloned().map(Value::String).collect()),
            );
        }
        let mut ctx = Map::new();
        ctx.insert("request".into(), Value::Object(request));
        if let Some(images) = images::images_of(object) {
            ctx.insert("images".into(), images);
        }
        if let Some(u) = req.user {
            if let Some(sa) = u.username.strip_prefix("system:serviceaccount:") {
                let (ns, name) = sa.split_once(':').unwrap_or(("", sa));
                ctx.insert("serviceAccountName".into(), Value::String(name.to_owned()));
                ctx.insert(
                    "serviceAccountNamespace".into(),
                    Value::String(ns.to_owned()),
                );
            }
        }
        Subject {
            object,
            target,
            ctx: Value::Object(ctx),
            req,
            limit: None,
            exceptions: &[],
            cluster: &[],
            cel_scope: std::cell::OnceCell::new(),
            cel_scope_delete: std::cell::OnceCell::new(),
        }
    }

    /// Gives each rule at most `limit` on this resource; a rule that runs longer stops and
    /// reports an evaluation error.
    #[must_use]
    pub fn with_limit(mut self, limit: Option<std::time::Duration>) -> Self {
        self.limit = limit;
        self
    }

    /// The objects `configMap` context entries are looked up in.
    #[must_use]
    pub fn with_cluster(mut self, cluster: &'a [crate::manifest::Resource]) -> Self {
        self.cluster = cluster;
        self
    }

    /// The PolicyExceptions that apply where this resource is judged.
    #[must_use]
    pub fn with_exceptions(mut self, exceptions: &'a [Exception]) -> Self {
        self.exceptions = exceptions;
        self
    }

    /// The resource.
    pub fn object(&self) -> &Value {
        self.object
    }
}

/// Values a test's values file adds: at policy level (global and per resource) and per rule.
#[derive(Default)]
pub struct Values<'v> {
    /// Added before any rule runs (dotted keys).
    pub policy: Vec<(&'v str, &'v Value)>,
    /// Added when a rule's context loads, by rule name.
    pub rules: HashMap<&'v str, Vec<(&'v str, &'v Value)>>,
    /// `foreachValues` by rule name: element `i` of a foreach reads item `i` of each list
    /// (the rule's own context reads item 0), as Kyverno's CLI loads them.
    pub foreach: HashMap<&'v str, Vec<(&'v str, &'v [Value])>>,
}

/// What a test gives one rule: values, per-element values for its foreach, and the objects
/// its lookups read.
#[derive(Clone, Copy, Default)]
struct RuleInputs<'v> {
    values: &'v [(&'v str, &'v Value)],
    foreach: &'v [(&'v str, &'v [Value])],
    /// Where `configMap` entries are looked up ([`Subject::with_cluster`]).
    cluster: &'v [crate::manifest::Resource],
}

/// Evaluates every rule of a policy that applies to the subject.
pub fn evaluate(policy: &Policy, subject: &Subject<'_>, values: &Values<'_>) -> Vec<RuleResponse> {
    evaluate_rules(policy, subject, values, |_| true)
}

/// Evaluates the rules `keep` selects.
pub fn evaluate_rules(
    policy: &Policy,
    subject: &Subject<'_>,
    values: &Values<'_>,
    keep: impl Fn(&Rule) -> bool,
) -> Vec<RuleResponse> {
    if let Some(ns) = &policy.namespace {
        if subject.target.namespace != ns {
            return Vec::new();
        }
    }
    let mut ctx = Scope::new(&subject.ctx);
    for (k, v) in &values.policy {
        ctx.set_dotted(k, (*v).clone());
    }
    let mode = Mode {
        delete: subject.req.operation == "DELETE",
    };
    // On DELETE the rule reads the deleted object.
    let target = if mode.delete {
        subject.req.old_object.unwrap_or(subject.object)
    } else {
        subject.object
    };
    let mut out = Vec::new();
    let key = (!subject.exceptions.is_empty()).then(|| policy.key());
    for rule in policy.rules.iter().filter(|r| keep(r)) {
        if !applies(rule, &subject.target, &subject.req) {
            continue;
        }
        let waived_by = key
            .as_deref()
            .and_then(|k| waiver(subject, k, rule, &ctx, mode))
            .map(|ex| ex.key.clone());
        let rule_values = values
            .rules
            .get(rule.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        // Autogen rules read the values written for their source rule.
        let rule_values = if rule_values.is_empty() {
            base_name(&rule.name)
                .and_then(|b| values.rules.get(b))
                .map(Vec::as_slice)
                .unwrap_or(&[])
        } else {
            rule_values
        };
        let by_rule = |name: &str| values.foreach.get(name).map(Vec::as_slice);
        let inputs = RuleInputs {
            values: rule_values,
            foreach: by_rule(&rule.name)
                .or_else(|| base_name(&rule.name).and_then(by_rule))
                .unwrap_or(&[]),
            cluster: subject.cluster,
        };
        let (resp, tripped) = crate::limit::run(subject.limit, || {
            judge_rule(rule, subject, &ctx, inputs, target, mode)
        });
        let resp = if tripped {
            Some(respond(
                rule,
                Status::Error,
                format!(
                    "evaluation stopped after {:?}, the time limit of one rule on one resource (--eval-timeout)",
                    subject.limit.unwrap_or_default()
                ),
                None,
            ))
        } else {
            resp
        };
        let Some(mut resp) = resp else {
            continue;
        };
        resp.waived_by = waived_by;
        out.push(resp);
    }
    out
}

/// The PolicyException that waives `rule` of the policy `key` for the subject, if one does:
/// it names both, its `match` selects the resource, and its conditions hold (one that cannot
/// be evaluated waives nothing).
fn waiver<'s>(
    subject: &Subject<'s>,
    key: &str,
    rule: &Rule,
    ctx: &Scope<'_>,
    mode: Mode,
) -> Option<&'s Exception> {
    subject.exceptions.iter().find(|e| {
        e.covers(key, &rule.name)
            && matches_block(&e.matches, &subject.target, &subject.req)
            && e.conditions
                .as_ref()
                .is_none_or(|c| conditions(c, ctx, mode).unwrap_or(false))
    })
}

/// One rule on the subject, with Kyverno's re-check of the old object on UPDATE.
fn judge_rule(
    rule: &Rule,
    subject: &Subject<'_>,
    ctx: &Scope<'_>,
    inputs: RuleInputs<'_>,
    target: &Value,
    mode: Mode,
) -> Option<RuleResponse> {
    if let Body::Cel(cel) = &rule.body {
        return Some(cel_rule(rule, cel, subject, ctx, inputs, mode));
    }
    if let Body::VerifyImages(v) = &rule.body {
        return Some(verify_rule(rule, v, subject, ctx, mode));
    }
    let mut resp = run_rule(rule, ctx, inputs, target, mode)?;
    if resp.status == Status::Fail
        && subject.req.operation == "UPDATE"
        && rule.enforce
        && rule.allow_existing_violations
    {
        // A test gives one version of each resource (the old object is the object itself);
        // Kyverno's CLI does not re-check it then, so neither do we.
        if let Some(old) = subject
            .req
            .old_object
            .filter(|o| !std::ptr::eq(*o, subject.object))
        {
            let mut old_ctx = ctx.child();
            old_ctx.set_dotted("request.object", old.clone());
            let prior = run_rule(rule, &old_ctx, inputs, old, mode).map(|r| r.status);
            if prior == Some(Status::Fail) {
                resp.status = Status::Skip;
                resp.message =
                    "skipping modified resource as validation results have not changed".into();
            }
        }
    }
    Some(resp)
}

/// A `verifyImages` rule: its preconditions, then the signatures of the images it selects
/// (a deleted object's images are not admitted, so not judged).
fn verify_rule(
    rule: &Rule,
    v: &super::verify::VerifyImages,
    subject: &Subject<'_>,
    ctx: &Scope<'_>,
    mode: Mode,
) -> RuleResponse {
    use super::verify::Verdict;
    if mode.delete {
        return respond(
            rule,
            Status::Skip,
            "a deleted object runs no image".into(),
            None,
        );
    }
    match preconditions(rule.preconditions.as_ref(), ctx, mode) {
        Err(e) => return respond(rule, Status::Error, e, None),
        Ok(false) => return respond(rule, Status::Skip, "preconditions not met".into(), None),
        Ok(true) => {}
    }
    match super::verify::judge(v, subject.object) {
        Verdict::Pass(m) => respond(rule, Status::Pass, m, None),
        Verdict::Fail(m, field) => respond(rule, Status::Fail, m, Some(field)),
        Verdict::Error(m) => respond(rule, Status::Error, m, None),
        Verdict::Skip => respond(
            rule,
            Status::Skip,
            "no image of the rule's imageReferences".into(),
            None,
        ),
    }
}

/// A `validate.cel` rule, as Kyverno runs it: its JMESPath preconditions, then Kubernetes'
/// validator over the CEL body (errors deny, as under `failurePolicy: Fail`), once per param
/// when the rule has `paramKind`.
fn cel_rule(
    rule: &Rule,
    cel: &super::policy::CelRule,
    subject: &Subject<'_>,
    ctx: &Scope<'_>,
    inputs: RuleInputs<'_>,
    mode: Mode,
) -> RuleResponse {
    use crate::cel::engine::{request_scope, Dialect, Identity, Input, OnError, Outcome};
    match preconditions(rule.preconditions.as_ref(), ctx, mode) {
        Err(e) => return respond(rule, Status::Error, e, None),
        Ok(false) => return respond(rule, Status::Skip, "preconditions not met".into(), None),
        Ok(true) => {}
    }
    let old = if mode.delete {
        Some(subject.req.old_object.unwrap_or(subject.object))
    } else {
        subject.req.old_object
    };
    let input = Input {
        object: (!mode.delete).then_some(subject.object),
        old_object: old,
        operation: subject.req.operation,
        user_info: subject.req.user.map(|u| &u.raw),
        namespace_labels: subject.req.namespace_labels(subject.target.namespace),
        namespace_object: None,
        subresource: subject.target.subresource,
        dry_run: false,
    };
    let id = Identity::of(old.filter(|_| mode.delete).unwrap_or(subject.object));
    // Every validate.cel rule on this resource reads the same request: build its scope once.
    let cell = if mode.delete {
        &subject.cel_scope_delete
    } else {
        &subject.cel_scope
    };
    let scope = cell.get_or_init(|| request_scope(&input, &id));
    let run = |scope: &crate::cel::Scope<'_>| {
        cel.body
            .evaluate(scope, Dialect::Kubernetes, OnError::Fail, OnError::Fail)
    };
    let outcome = match (&cel.param_kind, &cel.param_ref) {
        (None, _) => run(scope),
        (Some(kind), pref) => {
            let all: Vec<&Value> = inputs.cluster.iter().map(|r| &r.object).collect();
            let found = pref
                .as_ref()
                .map(|p| crate::cel::vap::find_params(kind, p, &id.namespace, &all))
                .unwrap_or_default();
            if found.is_empty() {
                return respond(
                    rule,
                    Status::Error,
                    format!(
                        "error in parameterized resource: no {} {} found",
                        kind.1,
                        pref.as_ref()
                            .and_then(|p| p.name.as_deref())
                            .unwrap_or("by selector")
                    ),
                    None,
                );
            }
            let mut last = Outcome::Pass;
            for p in found {
                let mut with = scope.child();
                with.set_json("params", p);
                last = run(&with);
                if matches!(last, Outcome::Fail(_)) {
                    break;
                }
            }
            last
        }
    };
    match outcome {
        Outcome::Pass => respond(
            rule,
            Status::Pass,
            format!("Validation rule '{}' passed.", rule.name),
            None,
        ),
        Outcome::Fail(m) => respond(rule, Status::Fail, m, None),
        Outcome::Skip(_) => respond(rule, Status::Skip, "cel preconditions not met".into(), None),
        Outcome::Error(m) => respond(rule, Status::Error, m, None),
    }
}

/// The source rule of an autogen rule.
pub fn base_name(rule: &str) -> Option<&str> {
    rule.strip_prefix("autogen-cronjob-")
        .or_else(|| rule.strip_prefix("autogen-"))
}

fn respond(rule: &Rule, status: Status, message: String, field: Option<String>) -> RuleResponse {
    RuleResponse {
        rule: rule.name.clone(),
        status,
        message,
        field,
        waived_by: None,
    }
}

fn run_rule(
    rule: &Rule,
    ctx: &Scope<'_>,
    inputs: RuleInputs<'_>,
    target: &Value,
    mode: Mode,
) -> Option<RuleResponse> {
    let needs_own = !rule.context.is_empty()
        || !inputs.values.is_empty()
        || !inputs.foreach.is_empty()
        || matches!(rule.body, Body::Foreach(_));
    if !needs_own {
        // Read-only rules share the subject's context.
        return Some(check_rule(rule, ctx, target, mode));
    }
    let mut owned = ctx.child();
    let ctx = &mut owned;
    for (k, v) in inputs.values {
        ctx.set_dotted(k, (*v).clone());
    }
    for (k, list) in inputs.foreach {
        if let Some(v) = list.first() {
            ctx.set_dotted(k, v.clone());
        }
    }
    match prepare(
        &rule.context,
        &rule.refs,
        rule.preconditions.as_ref(),
        ctx,
        mode,
        inputs.cluster,
    ) {
        Prepared::Ready => {}
        Prepared::Skip => {
            return Some(respond(
                rule,
                Status::Skip,
                "preconditions not met".into(),
                None,
            ))
        }
        Prepared::Error(e) => return Some(respond(rule, Status::Error, e, None)),
    }
    let msg = Message::new(rule, ctx, mode, inputs);
    match &rule.body {
        Body::Foreach(entries) => foreach_all(entries, ctx, target, mode, 0, &msg)
            .map(|(status, message, field)| respond(rule, status, message, field)),
        body => {
            let (status, message, field) = check_body(body, ctx, target, mode, &msg);
            Some(respond(rule, status, message, field))
        }
    }
}

/// What loading a rule's context and checking its preconditions decided.
enum Prepared {
    /// Go on to the checks.
    Ready,
    /// The preconditions exclude the resource.
    Skip,
    /// A context entry the rule reads, or a precondition, could not be evaluated.
    Error(String),
}

/// Loads the context entries, then the preconditions, as Kyverno 1.10+ does with deferred
/// loading: an entry that fails is an error only where it is read. One that the
/// preconditions read fails the rule; one that only the checks read fails it if the
/// preconditions hold; one nothing reads is never loaded in Kyverno, so it is ignored here.
fn prepare(
    entries: &[ContextEntry],
    refs: &super::policy::ContextRefs,
    conditions: Option<&Conditions>,
    ctx: &mut Scope<'_>,
    mode: Mode,
    cluster: &[crate::manifest::Resource],
) -> Prepared {
    let failed = load_context(entries, ctx, mode, cluster);
    let read_in = |text: &str| failed.iter().find(|(name, _)| mentions(text, name));
    if let Some((_, e)) = read_in(&refs.preconditions) {
        return Prepared::Error(format!("failed to load context: {e}"));
    }
    match preconditions(conditions, ctx, mode) {
        Err(e) => return Prepared::Error(e),
        Ok(false) => return Prepared::Skip,
        Ok(true) => {}
    }
    match read_in(&refs.rest) {
        Some((_, e)) => Prepared::Error(format!("failed to load context: {e}")),
        None => Prepared::Ready,
    }
}

/// Whether `text` names the variable `name` (as a whole name: `{{ image.tag }}` and
/// `image[0]` name `image`, `images` does not).
fn mentions(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text.get(..at).and_then(|b| b.chars().next_back());
        let after = text
            .get(at.saturating_add(name.len())..)
            .and_then(|a| a.chars().next());
        before.is_none_or(|c| !ident(c) && c != '.') && after.is_none_or(|c| !ident(c))
    })
}

/// The rule's message, substituted only when a verdict needs it: most rules pass.
/// It travels down every foreach level with the rule, and so carries the test's
/// per-element values too.
struct Message<'a> {
    rule: &'a Rule,
    ctx: &'a Scope<'a>,
    mode: Mode,
    text: std::cell::OnceCell<String>,
    /// What the test gives the rule, for each foreach element.
    inputs: RuleInputs<'a>,
}

impl<'a> Message<'a> {
    fn new(rule: &'a Rule, ctx: &'a Scope<'a>, mode: Mode, inputs: RuleInputs<'a>) -> Self {
        Message {
            rule,
            ctx,
            mode,
            text: std::cell::OnceCell::new(),
            inputs,
        }
    }

    fn get(&self) -> &str {
        self.text
            .get_or_init(|| rule_message(self.rule, self.ctx, self.mode))
    }
}

fn rule_message(rule: &Rule, ctx: &Scope<'_>, mode: Mode) -> String {
    match &rule.message {
        Some(m) => match substitute_str(m, ctx, mode) {
            Ok(v) => super::functions::to_string(&v),
            Err(_) => m.clone(),
        },
        None => format!("validation error: rule {} failed", rule.name),
    }
}

/// Preconditions, pattern/anyPattern/deny, for a rule without foreach.
fn check_rule(rule: &Rule, ctx: &Scope<'_>, target: &Value, mode: Mode) -> RuleResponse {
    match preconditions(rule.preconditions.as_ref(), ctx, mode) {
        Err(e) => return respond(rule, Status::Error, e, None),
        Ok(false) => return respond(rule, Status::Skip, "preconditions not met".into(), None),
        Ok(true) => {}
    }
    let msg = Message::new(rule, ctx, mode, RuleInputs::default());
    let (status, message, field) = check_body(&rule.body, ctx, target, mode, &msg);
    respond(rule, status, message, field)
}

type Verdict = (Status, String, Option<String>);

fn check_body(
    body: &Body,
    ctx: &Scope<'_>,
    target: &Value,
    mode: Mode,
    msg: &Message<'_>,
) -> Verdict {
    match body {
        // Judged before the JMESPath checks are reached (see cel_rule); a CEL rule is never
        // a foreach element.
        Body::Cel(_) | Body::VerifyImages(_) => (
            Status::Error,
            "a CEL or verifyImages body reached the JMESPath checks (a tollgate bug)".into(),
            None,
        ),
        Body::Deny(conds) => {
            let Some(conds) = conds else {
                return (Status::Fail, msg.get().to_owned(), None);
            };
            match conditions(conds, ctx, mode) {
                Ok(true) => (Status::Fail, msg.get().to_owned(), None),
                Ok(false) => (Status::Pass, "rule passed".into(), None),
                Err(e) => (
                    Status::Error,
                    format!("failed to check deny conditions: {e}"),
                    None,
                ),
            }
        }
        Body::Pattern(p) => {
            let p = match materialize(p, ctx, mode) {
                Ok(p) => p,
                Err(e) => return (Status::Error, e, None),
            };
            match pattern::validate(target, &p) {
                Outcome::Pass => (Status::Pass, "rule passed".into(), None),
                Outcome::Skip { message } => (Status::Skip, message, None),
                Outcome::Error { message } => {
                    (Status::Error, format!("{}: {message}", msg.get()), None)
                }
                Outcome::Fail { path, message } => (
                    Status::Fail,
                    format!("{} ({message})", msg.get()),
                    Some(field_path(&path)),
                ),
            }
        }
        Body::AnyPattern(ps) => {
            let mut failures = Vec::new();
            let mut first_field = None;
            let mut skipped = 0;
            for (i, p) in ps.iter().enumerate() {
                let p = match materialize(p, ctx, mode) {
                    Ok(p) => p,
                    Err(e) => return (Status::Error, e, None),
                };
                match pattern::validate(target, &p) {
                    Outcome::Pass => return (Status::Pass, "rule passed".into(), None),
                    Outcome::Skip { .. } => skipped += 1,
                    Outcome::Error { message } => failures.push(format!("[{i}] {message}")),
                    Outcome::Fail { path, message } => {
                        first_field.get_or_insert_with(|| field_path(&path));
                        failures.push(format!("[{i}] {message}"));
                    }
                }
            }
            if failures.is_empty() && skipped > 0 {
                return (Status::Skip, "all patterns skipped".into(), None);
            }
            (
                Status::Fail,
                format!("{} ({})", msg.get(), failures.join("; ")),
                first_field,
            )
        }
        Body::Foreach(entries) => {
            // A nested foreach inside a foreach element.
            foreach_all(entries, ctx, target, mode, 1, msg).unwrap_or((
                Status::Skip,
                "no elements".into(),
                None,
            ))
        }
    }
}

/// Substitutes the variables of a pattern, or returns it as it is when it has none.
fn materialize<'p>(
    p: &'p Templated,
    ctx: &Scope<'_>,
    mode: Mode,
) -> Result<Cow<'p, Value>, String> {
    if p.has_vars {
        substitute(&p.value, ctx, mode)
            .map(Cow::Owned)
            .map_err(|e| format!("variable substitution failed: {e}"))
    } else {
        Ok(Cow::Borrowed(&p.value))
    }
}

/// `/spec/containers/0/image/` to `spec.containers[0].image`.
fn field_path(p: &str) -> String {
    let mut out = String::new();
    for seg in p.split('/').filter(|s| !s.is_empty()) {
        if seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// Runs each foreach entry; `None` when no element was checked at all.
fn foreach_all(
    entries: &[Foreach],
    ctx: &Scope<'_>,
    target: &Value,
    mode: Mode,
    nesting: usize,
    msg: &Message<'_>,
) -> Option<Verdict> {
    let mut applied = 0;
    for fe in entries {
        let expr = if mode.delete {
            match vars::expr_for(&fe.list, mode) {
                Ok(e) => e,
                Err(_) => continue,
            }
        } else {
            fe.list_expr.clone()
        };
        let elements = match expr.search_list(ctx) {
            Ok(Listed::Items(items)) => items,
            Ok(Listed::Other(v)) => vec![v],
            // An unknown key (or any error) skips this foreach entry.
            Err(_) => continue,
        };
        let (verdict, count) = foreach_elements(fe, &elements, ctx, target, mode, nesting, msg);
        if verdict.0 != Status::Pass {
            return Some(verdict);
        }
        applied += count;
    }
    (applied > 0).then(|| (Status::Pass, "rule passed".into(), None))
}

const ELEMENT_N: [&str; 4] = ["element0", "element1", "element2", "element3"];
const INDEX_N: [&str; 4] = [
    "elementIndex0",
    "elementIndex1",
    "elementIndex2",
    "elementIndex3",
];

/// `element0`, `elementIndex1`...: the names a nested foreach level adds besides `element`;
/// the usual depths come from `names` without formatting.
fn level_name(names: &[&'static str], prefix: &str, nesting: usize) -> Cow<'static, str> {
    match names.get(nesting) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(format!("{prefix}{nesting}")),
    }
}

fn foreach_elements(
    fe: &Foreach,
    elements: &[Cow<'_, Value>],
    ctx: &Scope<'_>,
    target: &Value,
    mode: Mode,
    nesting: usize,
    msg: &Message<'_>,
) -> (Verdict, usize) {
    let mut applied = 0;
    let last = elements.len().saturating_sub(1);
    for (index, element) in elements.iter().enumerate() {
        let element: &Value = element;
        if crate::limit::exceeded() {
            // The caller reports the time limit; what was judged so far does not count.
            break;
        }
        if element.is_null() {
            continue;
        }
        // Each element gets its own scope over the rule's; the element is borrowed, not copied.
        let mut scope = ctx.child();
        let idx = Value::from(index as u64);
        scope.set_ref("element", element);
        scope.set_ref(level_name(&ELEMENT_N, "element", nesting), element);
        scope.set("elementIndex", idx.clone());
        scope.set(level_name(&INDEX_N, "elementIndex", nesting), idx);
        for (k, list) in msg.inputs.foreach {
            if let Some(v) = list.get(index) {
                scope.set_dotted(k, v.clone());
            }
        }
        // Kyverno: a map element is the pattern's target unless `elementScope: false`;
        // `elementScope: true` on anything else fails the rule.
        let element_target = match fe.element_scope {
            Some(true) if !element.is_object() => {
                return (
                    (
                        Status::Error,
                        format!("failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps (element {index})"),
                        None,
                    ),
                    applied,
                );
            }
            Some(false) => target,
            _ if element.is_object() => element,
            _ => target,
        };
        let verdict = (|| -> Option<Verdict> {
            match prepare(
                &fe.context,
                &fe.refs,
                fe.preconditions.as_ref(),
                &mut scope,
                mode,
                msg.inputs.cluster,
            ) {
                Prepared::Ready => {}
                Prepared::Skip => {
                    return Some((Status::Skip, "preconditions not met".into(), None))
                }
                Prepared::Error(e) => return Some((Status::Error, e, None)),
            }
            match &*fe.body {
                Body::Foreach(nested) => {
                    foreach_all(nested, &scope, element_target, mode, nesting + 1, msg)
                }
                body => Some(check_body(body, &scope, element_target, mode, msg)),
            }
        })();
        let Some((status, message, field)) = verdict else {
            continue;
        };
        match status {
            Status::Pass => applied += 1,
            Status::Skip => {}
            Status::Error if index < last => {}
            Status::Error => {
                return (
                    (
                        Status::Error,
                        format!("validation failure: {message}"),
                        field,
                    ),
                    applied,
                );
            }
            Status::Fail => {
                // The rule's message may name the element (`{{ element.image }}`).
                let message = if message.contains("{{") {
                    substitute_str(&message, &scope, mode)
                        .map(|v| super::functions::to_string(&v))
                        .unwrap_or(message)
                } else {
                    message
                };
                // A path inside a map element is relative to it; put it under the list's path
                // when the list is a plain field of the resource.
                let field = match (field, element_prefix(&fe.list, index)) {
                    (Some(f), Some(prefix)) if element.is_object() => Some(if f.is_empty() {
                        prefix
                    } else {
                        format!("{prefix}.{f}")
                    }),
                    (Some(_), Some(prefix)) => Some(prefix),
                    (None, Some(prefix)) => Some(prefix),
                    (f, None) => f,
                };
                return ((Status::Fail, message, field), applied);
            }
        }
    }
    ((Status::Pass, String::new(), None), applied)
}

/// `request.object.spec.containers` (or with a trailing `[]`) and index 2 give
/// `spec.containers[2]`; other list expressions have no field path.
fn element_prefix(list: &str, index: usize) -> Option<String> {
    let path = list.trim().strip_prefix("request.object.")?;
    let path = path.strip_suffix("[]").unwrap_or(path);
    let plain = path
        .split('.')
        .all(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    plain.then(|| format!("{path}[{index}]"))
}

/// Loads every variable entry in order; an entry that fails is left unset (so later entries
/// that read it fail too) and returned with its error.
fn load_context(
    entries: &[ContextEntry],
    ctx: &mut Scope<'_>,
    mode: Mode,
    cluster: &[crate::manifest::Resource],
) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    for entry in entries {
        match entry {
            ContextEntry::Variable { name, .. } => {
                if let Err(e) = load_entry(entry, ctx, mode) {
                    failed.push((name.clone(), e));
                }
            }
            // A value the test gives wins; else the test's objects answer it.
            ContextEntry::External {
                name,
                lookup: Some(lookup),
            } if !cluster.is_empty() && ctx.get(name).is_none() => {
                let answer = match lookup {
                    Lookup::ConfigMap(cm, ns) => config_map(cm, ns, ctx, mode, cluster),
                    Lookup::ApiGet(path, jmes) => {
                        api_get(path, jmes.as_deref(), ctx, mode, cluster)
                    }
                };
                match answer {
                    Ok(v) => ctx.set(name.clone(), v),
                    Err(e) => failed.push((name.clone(), e)),
                }
            }
            ContextEntry::External { .. } => {}
        }
    }
    failed
}

/// What a Kubernetes API `GET` on `path` answers from the test's objects, as Kyverno's CLI
/// answers it from `clusterResources`: one object (`.../{plural}/{name}`) or a list
/// (`{"items": [...]}`, namespaced or across namespaces), then the entry's `jmesPath`.
fn api_get(
    path: &str,
    jmes: Option<&str>,
    ctx: &Scope<'_>,
    mode: Mode,
    cluster: &[crate::manifest::Resource],
) -> Result<Value, String> {
    let path =
        super::functions::to_string(&*substitute_str(path, ctx, mode).map_err(|e| e.to_string())?);
    let bare = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = bare.trim_matches('/').split('/').collect();
    // /api/v1/... or /apis/GROUP/VERSION/...
    let (group, rest) = match parts.as_slice() {
        ["api", _, rest @ ..] => ("", rest),
        ["apis", group, _, rest @ ..] => (*group, rest),
        _ => return Err(format!("apiCall {path}: not a Kubernetes API path")),
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        [plural] => (None, *plural, None),
        _ => return Err(format!("apiCall {path}: not an object or list path")),
    };
    // Built-in kinds by their plural; others (CRDs) by the plural of their kind and group.
    let known = crate::manifest::kind_of_plural(plural);
    let is_kind = |r: &crate::manifest::Resource| match known {
        Some(kind) => r.kind == kind,
        None => {
            let in_group = r.api_version.rsplit_once('/').map_or("", |(g, _)| g) == group;
            in_group && plural_of(&r.kind) == plural
        }
    };
    let selected = cluster.iter().filter(|r| {
        is_kind(r) && namespace.is_none_or(|ns| r.namespace.as_deref().unwrap_or("default") == ns)
    });
    let answer = match name {
        Some(n) => selected
            .clone()
            .find(|r| r.name.as_deref() == Some(n))
            .map(|r| r.object.clone())
            .ok_or_else(|| format!("apiCall {path}: {plural} \"{n}\" not found"))?,
        None => {
            let items: Vec<&crate::manifest::Resource> = selected.collect();
            let kind = known
                .or_else(|| items.first().map(|r| r.kind.as_str()))
                .unwrap_or(plural);
            serde_json::json!({
                "apiVersion": "v1",
                "kind": format!("{kind}List"),
                "metadata": {},
                "items": items.iter().map(|r| r.object.clone()).collect::<Vec<_>>(),
            })
        }
    };
    match jmes {
        Some(j) => {
            let j = super::functions::to_string(
                &*substitute_str(j, ctx, mode).map_err(|e| e.to_string())?,
            );
            let expr = vars::expr_for(j.trim(), mode)?;
            expr.search(&answer)
                .map(std::borrow::Cow::into_owned)
                .map_err(|e| e.to_string())
        }
        None => Ok(answer),
    }
}

/// The resource name the API server gives a kind by default (`ComputeClass` ->
/// `computeclasses`, `Policy` -> `policies`), for kinds no table knows.
pub(crate) fn plural_of(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if let Some(stem) = k
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else if k.ends_with('s') || k.ends_with('x') || k.ends_with("ch") || k.ends_with("sh") {
        format!("{k}es")
    } else {
        format!("{k}s")
    }
}

/// The ConfigMap a `configMap` context entry names (its name and namespace substituted), as
/// Kyverno loads it: the whole object, so `{{ entry.data.key }}` reads a value.
fn config_map(
    name: &str,
    namespace: &str,
    ctx: &Scope<'_>,
    mode: Mode,
    cluster: &[crate::manifest::Resource],
) -> Result<Value, String> {
    let text = |t: &str| {
        substitute_str(t, ctx, mode)
            .map(|v| super::functions::to_string(&v))
            .map_err(|e| e.to_string())
    };
    let (name, namespace) = (text(name)?, text(namespace)?);
    cluster
        .iter()
        .find(|r| {
            r.kind == "ConfigMap"
                && r.name.as_deref() == Some(name.as_str())
                && r.namespace.as_deref().unwrap_or("default") == namespace
        })
        .map(|r| r.object.clone())
        .ok_or_else(|| format!("failed to get configmap {namespace}/{name}: not found"))
}

fn load_entry(entry: &ContextEntry, ctx: &mut Scope<'_>, mode: Mode) -> Result<(), String> {
    {
        let ContextEntry::Variable {
            name,
            value,
            jmes_path,
            default,
        } = entry
        else {
            // configMap, apiCall, imageRegistry and globalReference are never fetched.
            return Ok(());
        };
        let default = match default {
            Some(d) => Some(substitute(d, ctx, mode).map_err(|e| e.to_string())?),
            None => None,
        };
        let path = match jmes_path {
            Some(p) => {
                let p = super::functions::to_string(
                    &*substitute_str(p, ctx, mode).map_err(|e| e.to_string())?,
                );
                let p = p
                    .trim()
                    .trim_start_matches("{{")
                    .trim_end_matches("}}")
                    .trim()
                    .to_owned();
                Some(p)
            }
            None => None,
        };
        let mut output = default.clone();
        if let Some(v) = value {
            let v = substitute(v, ctx, mode).map_err(|e| {
                format!("failed to substitute variables in context entry {name}: {e}")
            })?;
            match &path {
                Some(p) => match vars::expr(p)
                    .and_then(|e| e.search(&v).map(Cow::into_owned).map_err(|e| e.to_string()))
                {
                    Ok(r) => output = Some(r),
                    Err(e) if default.is_none() => {
                        return Err(format!("failed to apply jmespath {p} to variable: {e}"))
                    }
                    Err(_) => {}
                },
                None => output = Some(v),
            }
        } else if let Some(p) = &path {
            match vars::expr_for(p, mode)
                .map_err(JmesError::Runtime)
                .and_then(|e| e.search(&*ctx).map(Cow::into_owned))
            {
                Ok(Value::Null) if default.is_some() => {}
                Ok(r) => output = Some(r),
                Err(e) if default.is_none() => {
                    return Err(format!("failed to apply jmespath {p}: {e}"))
                }
                Err(_) => {}
            }
        }
        match output {
            Some(Value::Null) | None => {
                return Err(format!(
                    "unable to add context entry for variable {name} since it evaluated to nil"
                ))
            }
            Some(v) => ctx.set_dotted(name, v),
        }
    }
    Ok(())
}

/// Preconditions: an unresolved variable reads as an empty string (Kyverno's behaviour).
fn preconditions(c: Option<&Conditions>, ctx: &Scope<'_>, mode: Mode) -> Result<bool, String> {
    match c {
        None => Ok(true),
        // An unresolved variable is an error here too (Kyverno 1.8 and later), not "".
        Some(c) => conditions(c, ctx, mode),
    }
}

fn side<'a>(t: &'a Templated, ctx: &'a Scope<'_>, mode: Mode) -> Result<Cow<'a, Value>, String> {
    let v = &t.value;
    if !t.has_vars {
        return Ok(Cow::Borrowed(v));
    }
    if let (Some(e), Value::String(s)) = (&t.whole, v) {
        return vars::substitute_whole(s, e, ctx, mode).map_err(|e| e.to_string());
    }
    match v {
        // The common case, `{{ request.object.x }}`, reads the value where it is.
        Value::String(s) => substitute_str(s, ctx, mode).map_err(|e| e.to_string()),
        _ => substitute(v, ctx, mode)
            .map(Cow::Owned)
            .map_err(|e| e.to_string()),
    }
}

fn conditions(c: &Conditions, ctx: &Scope<'_>, mode: Mode) -> Result<bool, String> {
    // Kyverno substitutes every condition before evaluating any of them, so one unresolved
    // variable is an error even when another condition already decides.
    let resolve =
        |list: &Option<Vec<super::policy::Condition>>| -> Result<Option<Vec<bool>>, String> {
            let Some(list) = list else { return Ok(None) };
            let mut out = Vec::with_capacity(list.len());
            for cond in list {
                let key = side(&cond.key, ctx, mode)?;
                let value = side(&cond.value, ctx, mode)?;
                out.push(condition(cond.operator, &key, &value));
            }
            Ok(Some(out))
        };
    let any = resolve(&c.any)?;
    let all = resolve(&c.all)?;
    let any_ok = any.is_none_or(|r| r.is_empty() || r.iter().any(|b| *b));
    let all_ok = all.is_none_or(|r| r.iter().all(|b| *b));
    Ok(any_ok && all_ok)
}
