//! `tollgate test`: runs `kyverno-test.yaml` suites (the `cli.kyverno.io/v1alpha1` Test schema
//! and the older one) and compares every (result entry, resource) expectation with what the
//! engine produced. Strict by default; `lenient` reproduces `kyverno test`'s leniencies.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "counters over test results (bounded by the file) and indices from the same results"
)]

use super::engine::{evaluate, Request, RuleResponse, Status, Subject, UserInfo, Values};
use super::policy::{self, Policy, PolicyError};
use crate::manifest::{self, Input, Resource};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How expectations are judged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Reproduce `kyverno test`: a rule that produced nothing, or an invalid policy, is a skip
    /// rather than a failure, whatever was expected.
    pub lenient: bool,
    /// Wall-clock limit of one rule on one resource (as `check --eval-timeout`).
    pub timeout: Option<std::time::Duration>,
}

/// One compared expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Policy name as the test writes it.
    pub policy: String,
    /// Rule name as the test writes it.
    pub rule: String,
    /// `kind/namespace/name` of the resource.
    pub resource: String,
    /// The declared result.
    pub expected: String,
    /// What the engine produced (`none` when the rule produced nothing).
    pub got: String,
    /// `pass`, `fail` or `skip` (lenient only).
    pub outcome: Outcome,
    /// Why, for failures and skips.
    pub reason: String,
}

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The expectation holds.
    Pass,
    /// It does not.
    Fail,
    /// Not judged (lenient mode only).
    Skip,
}

/// One test file's result.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// The test file.
    pub file: String,
    /// `metadata.name` (or the legacy `name`).
    pub name: String,
    /// Every expectation.
    pub rows: Vec<Row>,
    /// Why the test could not run at all (its rows are then empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Warnings (deprecated schema, policies that did not load, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl TestResult {
    /// Rows with this outcome.
    pub fn count(&self, o: Outcome) -> usize {
        self.rows.iter().filter(|r| r.outcome == o).count()
    }
}

/// Test files below the paths: `kyverno-test.yaml` in any directory (hidden ones included),
/// and files named explicitly.
pub fn find(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            let is_test = |f: &Path| {
                matches!(
                    f.file_name().and_then(|n| n.to_str()),
                    Some("kyverno-test.yaml" | "kyverno-test.yml")
                )
            };
            out.extend(manifest::files_below(p, true, is_test).0);
        } else {
            errors.push(format!("{}: no such file or directory", p.display()));
        }
    }
    out.sort();
    out.dedup();
    (out, errors)
}

/// Reads one YAML file into JSON documents.
fn yaml_docs(path: &Path) -> Result<Vec<Value>, String> {
    let text = Input::File(path.to_owned()).read()?;
    let mut docs = manifest::json_documents(&text)?;
    docs.retain(|v| !v.is_null());
    Ok(docs)
}

/// The strings of a field that is a list of them or one string.
pub(super) fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// A rule's `foreachValues`: each name with one value per foreach element.
type ForeachValues = Vec<(String, Vec<Value>)>;

/// A values file: values by dotted key, at each level.
#[derive(Default)]
struct ValuesFile {
    global: Vec<(String, Value)>,
    /// policy -> resource name -> values.
    resources: HashMap<String, HashMap<String, Vec<(String, Value)>>>,
    /// policy -> rule -> values.
    rules: HashMap<String, HashMap<String, Vec<(String, Value)>>>,
    /// policy -> rule -> `foreachValues`.
    foreach: HashMap<String, HashMap<String, ForeachValues>>,
    namespaces: HashMap<String, Map<String, Value>>,
    /// `subresources`: the kind of a subresource's object (`Scale`) -> its parent's group,
    /// version and kind and the subresource's name (`apps`, `v1`, `Deployment`, `scale`).
    subresources: HashMap<String, [String; 4]>,
}

fn pairs(v: Option<&Value>) -> Vec<(String, Value)> {
    match v {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_owned()
}

fn read_values(v: &Value) -> ValuesFile {
    let mut out = ValuesFile {
        global: pairs(v.get("globalValues")),
        ..Default::default()
    };
    // `policies[].resources[]` and `policies[].rules[]` both map names to values.
    let named = |list: Option<&Value>| -> HashMap<String, Vec<(String, Value)>> {
        let Some(Value::Array(items)) = list else {
            return HashMap::new();
        };
        items
            .iter()
            .map(|i| (str_of(i.get("name")), pairs(i.get("values"))))
            .collect()
    };
    if let Some(Value::Array(ps)) = v.get("policies") {
        for p in ps {
            let name = str_of(p.get("name"));
            out.resources
                .entry(name.clone())
                .or_default()
                .extend(named(p.get("resources")));
            out.rules
                .entry(name.clone())
                .or_default()
                .extend(named(p.get("rules")));
            for r in p
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(Value::Object(lists)) = r.get("foreachValues") else {
                    continue;
                };
                let lists = lists
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_array().cloned().unwrap_or_default()))
                    .collect();
                out.foreach
                    .entry(name.clone())
                    .or_default()
                    .insert(str_of(r.get("name")), lists);
            }
        }
    }
    if let Some(Value::Array(subs)) = v.get("subresources") {
        for entry in subs {
            let field = |k: &str| entry.pointer(k).and_then(Value::as_str).unwrap_or("");
            let name = field("/subresource/name");
            let Some((_, sub)) = name.split_once('/') else {
                continue;
            };
            out.subresources.insert(
                field("/subresource/kind").to_owned(),
                [
                    field("/parentResource/group").to_owned(),
                    field("/parentResource/version").to_owned(),
                    field("/parentResource/kind").to_owned(),
                    sub.to_owned(),
                ],
            );
        }
    }
    if let Some(Value::Array(ns)) = v.get("namespaceSelector") {
        for n in ns {
            if let (Some(name), Some(Value::Object(labels))) =
                (n.get("name").and_then(Value::as_str), n.get("labels"))
            {
                out.namespaces.insert(name.to_owned(), labels.clone());
            }
        }
    }
    if let Some(Value::Array(ns)) = v.get("namespaces") {
        for n in ns {
            if let Some(name) = n.pointer("/metadata/name").and_then(Value::as_str) {
                let labels = n
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                out.namespaces.entry(name.to_owned()).or_insert(labels);
            }
        }
    }
    out
}

fn read_userinfo(v: &Value) -> UserInfo {
    let raw = v.get("userInfo").cloned().unwrap_or(Value::Null);
    UserInfo {
        username: str_of(raw.get("username")),
        groups: strs(raw.get("groups")),
        roles: strs(v.get("roles")),
        cluster_roles: strs(v.get("clusterRoles")),
        raw,
    }
}

fn load_resources(dir: &Path, files: &[String], errors: &mut Vec<String>) -> Vec<Resource> {
    let inputs: Vec<Input> = files.iter().map(|f| Input::File(dir.join(f))).collect();
    let inv = manifest::load(&inputs);
    for e in inv.errors {
        errors.push(format!("{}: {}", e.file, e.message));
    }
    inv.resources
}

fn display(r: &Resource) -> String {
    crate::finding::ResourceRef::of(r).display()
}

/// Runs one test file.
/// Runs one test file: [`load`] it, then for each `results` entry [`resolve`] the resources
/// it names and [`judge`] the expectation on each.
pub fn run(path: &Path, opts: Options) -> TestResult {
    let mut result = TestResult {
        file: path.display().to_string(),
        name: String::new(),
        rows: Vec::new(),
        error: None,
        warnings: Vec::new(),
    };
    let suite = match load(path, &mut result) {
        Ok(suite) => suite,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    // Each (policy, resource) is evaluated once, however many expectations refer to it.
    let mut cache: Cache = HashMap::new();
    for entry in &suite.entries {
        let expectation = resolve(&suite, entry, opts);
        result
            .rows
            .extend(judge(&suite, &expectation, &mut cache, opts));
    }
    result
}

/// Responses per (policy, resource, operation a result names), each evaluated once.
type Cache = HashMap<(String, usize, Option<String>), Vec<RuleResponse>>;

/// A test file read: its policies, resources and values, ready to judge expectations on.
struct Suite {
    /// Loaded policies by key (`name`, or `namespace/name` for a namespaced Policy).
    policies: HashMap<String, Policy>,
    /// Policies that did not load, by key, with why.
    invalid: HashMap<String, Vec<PolicyError>>,
    /// Kyverno documents of kinds not evaluated, by name: their kind.
    other: HashMap<String, String>,
    /// PolicyExceptions of the test's `exceptions` files.
    exceptions: Vec<super::exception::Exception>,
    /// `clusterResources` and the resources, for configMap context entries.
    cluster: Vec<Resource>,
    /// Resources, with Kyverno's CLI defaults, a later duplicate replacing an earlier one.
    resources: Vec<Resource>,
    values: ValuesFile,
    user: Option<UserInfo>,
    /// The `results` entries.
    entries: Vec<Value>,
    /// CEL policies (ValidatingPolicy, ValidatingAdmissionPolicy and bindings) and the
    /// `paramResources`.
    cel: crate::cel::policies::CelSet,
    /// What the `context:` file answers for `resource.*` and `image.GetMetadata`.
    lookups: Option<std::sync::Arc<crate::cel::libs::Lookups>>,
}

/// Reads a test file and what it names. Warnings (deprecated schema, unreadable or duplicate
/// resources) and the test's name go into `result`; an error stops the file.
fn load(path: &Path, result: &mut TestResult) -> Result<Suite, String> {
    let doc = match yaml_docs(path)? {
        d if d.len() == 1 && d[0].is_object() => d.into_iter().next().unwrap_or_default(),
        _ => return Err("a test file must hold exactly one YAML map".into()),
    };
    result.name = doc
        .pointer("/metadata/name")
        .or_else(|| doc.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if doc.get("apiVersion").is_none() || doc.get("kind").is_none() || doc.get("name").is_some() {
        result
            .warnings
            .push("deprecated test schema: use apiVersion cli.kyverno.io/v1alpha1, kind Test and metadata.name".into());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    // A file the test names that does not exist fails the test in both modes: evaluating
    // without it would judge nothing, or the wrong thing.
    for (what, key) in [
        ("policy", "policies"),
        ("resource", "resources"),
        ("exception", "exceptions"),
        ("cluster resource", "clusterResources"),
        ("param resource", "paramResources"),
    ] {
        if let Some(missing) = strs(doc.get(key)).iter().find(|f| !dir.join(f).exists()) {
            return Err(format!("{what} file {missing} does not exist"));
        }
    }
    let mut load_errors = Vec::new();

    let policy_docs = load_resources(dir, &strs(doc.get("policies")), &mut load_errors);
    let mut policies: HashMap<String, Policy> = HashMap::new();
    let mut invalid: HashMap<String, Vec<PolicyError>> = HashMap::new();
    let mut other: HashMap<String, String> = HashMap::new();
    for d in &policy_docs {
        if policy::is_policy(d) {
            match policy::parse(d) {
                Ok(p) => {
                    policies.insert(p.key(), p);
                }
                Err(e) => {
                    let key = match (&d.kind[..], &d.namespace) {
                        ("Policy", Some(ns)) => format!("{ns}/{}", d.name.as_deref().unwrap_or("")),
                        _ => d.name.clone().unwrap_or_default(),
                    };
                    invalid.insert(key, e);
                }
            }
        } else if policy::is_other_kyverno(d) {
            other.insert(d.name.clone().unwrap_or_default(), d.kind.clone());
        }
    }

    let mut cel = crate::cel::policies::CelSet::from_resources(&policy_docs);
    for e in std::mem::take(&mut cel.errors) {
        invalid.entry(e.policy.clone()).or_default().push(e);
    }
    // Params of ValidatingAdmissionPolicies come from `paramResources` only.
    cel.params = load_resources(dir, &strs(doc.get("paramResources")), &mut load_errors)
        .into_iter()
        .map(|r| r.object)
        .collect();
    let lookups = match doc.get("context").and_then(Value::as_str) {
        Some(f) => {
            if !dir.join(f).exists() {
                return Err(format!("context file {f} does not exist"));
            }
            let d = yaml_docs(&dir.join(f)).map_err(|e| format!("context file {f}: {e}"))?;
            Some(std::sync::Arc::new(read_context(
                d.first().unwrap_or(&Value::Null),
            )))
        }
        None => None,
    };

    let mut exceptions = Vec::new();
    for d in load_resources(dir, &strs(doc.get("exceptions")), &mut load_errors) {
        if super::exception::is_exception(&d) {
            match super::exception::parse(&d) {
                Ok(e) => exceptions.push(e),
                Err(e) => load_errors.push(format!("{}: {e}", d.origin.file)),
            }
        } else if crate::cel::exception::is_exception(&d) {
            match crate::cel::exception::parse(&d) {
                Ok(e) => cel.exceptions.push(e),
                Err(e) => load_errors.extend(e.iter().map(|e| format!("{}: {e}", d.origin.file))),
            }
        }
    }

    // Resources, with Kyverno's CLI defaults.
    let mut resources = load_resources(dir, &strs(doc.get("resources")), &mut load_errors);
    for r in &mut resources {
        if r.namespace.is_none() && !crate::manifest::is_cluster_scoped(&r.kind) {
            r.namespace = Some("default".into());
            if let Some(Value::Object(meta)) = r.object.get_mut("metadata") {
                meta.insert("namespace".into(), Value::String("default".into()));
            }
        }
    }
    // What a configMap context entry may name: `clusterResources` and the test's resources.
    // Objects, or `ClusterResource` documents (cli.kyverno.io) that wrap them in
    // `spec.resources`.
    let mut cluster = Vec::new();
    for f in strs(doc.get("clusterResources")) {
        let docs =
            yaml_docs(&dir.join(&f)).map_err(|e| format!("cluster resource file {f}: {e}"))?;
        for d in docs {
            let wrapped = (d.get("kind").and_then(Value::as_str) == Some("ClusterResource"))
                .then(|| {
                    d.pointer("/spec/resources")
                        .and_then(Value::as_array)
                        .cloned()
                })
                .flatten();
            let objects = wrapped.unwrap_or_else(|| vec![d]);
            cluster.extend(objects.into_iter().map(|o| Resource::from_admission(o, &f)));
        }
    }
    // The test's own resources join them only when some rule has an entry to look up: most
    // tests have none, and the copy is per test file.
    let looks_up = policies
        .values()
        .any(|p| p.rules.iter().any(|r| !r.external.is_empty()));
    if looks_up {
        cluster.extend(resources.iter().cloned());
    }
    result.warnings.extend(load_errors);
    let resources = dedup(resources, &mut result.warnings);

    let values = match doc.get("variables").and_then(Value::as_str) {
        Some(f) => {
            let d = yaml_docs(&dir.join(f)).map_err(|e| format!("values file {f}: {e}"))?;
            read_values(d.first().unwrap_or(&Value::Null))
        }
        None => doc.get("values").map(read_values).unwrap_or_default(),
    };
    let user = match doc.get("userinfo").and_then(Value::as_str) {
        Some(f) => {
            let d = yaml_docs(&dir.join(f)).map_err(|e| format!("userinfo file {f}: {e}"))?;
            Some(read_userinfo(d.first().unwrap_or(&Value::Null)))
        }
        None => None,
    };
    let entries = match doc.get("results") {
        Some(Value::Array(entries)) => entries.clone(),
        _ => Vec::new(),
    };
    Ok(Suite {
        policies,
        invalid,
        other,
        exceptions,
        cluster,
        resources,
        values,
        user,
        entries,
        cel,
        lookups,
    })
}

/// A `cli.kyverno.io/v1alpha1` Context: `spec.resources` for `resource.Get`/`List`,
/// `spec.images` (each with its `image` reference) for `image.GetMetadata`.
fn read_context(v: &Value) -> crate::cel::libs::Lookups {
    let list = |k: &str| {
        v.pointer(&format!("/spec/{k}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    crate::cel::libs::Lookups {
        resources: list("resources"),
        images: list("images")
            .into_iter()
            .filter_map(|i| Some((i.get("image")?.as_str()?.to_owned(), i)))
            .collect(),
    }
}

/// A later resource with the same identity replaces the earlier one, as in Kyverno's CLI.
fn dedup(resources: Vec<Resource>, warnings: &mut Vec<String>) -> Vec<Resource> {
    let identity = |r: &Resource| {
        (
            r.api_version.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
        )
    };
    let mut seen: HashMap<_, usize> = HashMap::new();
    let mut deduped: Vec<Resource> = Vec::with_capacity(resources.len());
    for r in resources {
        match seen.get(&identity(&r)) {
            Some(&i) => {
                warnings.push(format!(
                    "duplicate resource {}: the later one is used",
                    display(&r)
                ));
                deduped[i] = r;
            }
            None => {
                seen.insert(identity(&r), deduped.len());
                deduped.push(r);
            }
        }
    }
    deduped
}

/// One `results` entry: what it expects, of which policy rule, on which resources.
struct Expectation {
    policy: String,
    rule: String,
    expected: String,
    /// Indices of the resources it names (every resource when it names none).
    targets: Vec<usize>,
    /// Names it gives that no resource of the test has.
    missing: Vec<String>,
    /// The result's `operation` (`DELETE`: the resource is evaluated as being deleted).
    operation: Option<String>,
}

/// The resources a `results` entry refers to: by `name` or `namespace/name`, narrowed by
/// `kind` when that leaves any (strict mode); every resource when it names none (or, lenient,
/// when none of its names is found).
fn resolve(suite: &Suite, entry: &Value, opts: Options) -> Expectation {
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let expected = entry
        .get("result")
        .or_else(|| entry.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut names = strs(entry.get("resources"));
    names.extend(strs(entry.get("resource")));
    let matches_name = |r: &Resource, n: &str| match n.split_once('/') {
        Some((ns, name)) => r.namespace.as_deref() == Some(ns) && r.name.as_deref() == Some(name),
        None => r.name.as_deref() == Some(n),
    };
    let resources = &suite.resources;
    let mut targets: Vec<usize> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    let kind = entry.get("kind").and_then(Value::as_str);
    for n in &names {
        let mut found: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| matches_name(r, n))
            .map(|(i, _)| i)
            .collect();
        // `kind` tells same-named resources apart; when none has it (a Pod rule checked on
        // a Deployment), every resource of that name is meant.
        if let Some(kind) = kind.filter(|_| !opts.lenient) {
            let narrowed: Vec<usize> = found
                .iter()
                .copied()
                .filter(|i| resources[*i].kind == kind)
                .collect();
            if !narrowed.is_empty() {
                found = narrowed;
            }
        }
        if found.is_empty() {
            missing.push(n.clone());
        }
        targets.extend(found);
    }
    if names.is_empty() || (opts.lenient && targets.is_empty()) {
        targets = (0..resources.len()).collect();
    }
    Expectation {
        policy: text("policy"),
        rule: text("rule"),
        expected,
        targets,
        missing,
        operation: entry
            .get("operation")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase),
    }
}

/// Compares an expectation with what the engine gives on each of its resources: one row per
/// resource (and, strict, one failing row per name no resource has).
fn judge(suite: &Suite, exp: &Expectation, cache: &mut Cache, opts: Options) -> Vec<Row> {
    let row = |resource: String, got: &str, outcome: Outcome, reason: String| Row {
        policy: exp.policy.clone(),
        rule: exp.rule.clone(),
        resource,
        expected: exp.expected.clone(),
        got: got.to_owned(),
        outcome,
        reason,
    };
    // Lenient judging (`kyverno test`) skips what strict judging fails.
    let not_judged = if opts.lenient {
        Outcome::Skip
    } else {
        Outcome::Fail
    };
    let mut rows = Vec::new();
    if !opts.lenient {
        for n in &exp.missing {
            rows.push(row(
                n.clone(),
                "none",
                Outcome::Fail,
                "no resource of that name is loaded by the test".into(),
            ));
        }
    }
    for &idx in &exp.targets {
        let res = &suite.resources[idx];
        let shown = display(res);
        if let Some(got) = cel_result(suite, exp, res) {
            rows.push(match got {
                Some((got, _)) if got == exp.expected => {
                    row(shown, got, Outcome::Pass, String::new())
                }
                Some((got, message)) => row(shown, got, Outcome::Fail, message),
                None if exp.expected == "skip" && !opts.lenient => {
                    row(shown, "none", Outcome::Pass, String::new())
                }
                None => row(
                    shown,
                    "none",
                    not_judged,
                    "the policy produced no result (its constraints did not select the resource)"
                        .to_owned(),
                ),
            });
            continue;
        }
        let Some(policy) = suite.policies.get(&exp.policy) else {
            let reason = if let Some(errs) = suite.invalid.get(&exp.policy) {
                format!(
                    "invalid policy: {}",
                    errs.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            } else if let Some(kind) = suite.other.get(&exp.policy) {
                // Never a skip, also lenient: a run that evaluated nothing must not be green.
                rows.push(row(
                    shown,
                    "none",
                    Outcome::Fail,
                    format!("unsupported policy kind {kind}"),
                ));
                continue;
            } else {
                "no policy of that name is loaded by the test".into()
            };
            rows.push(row(shown, "none", not_judged, reason));
            continue;
        };
        if let Some((_, what)) = policy.unsupported.iter().find(|(n, _)| *n == exp.rule) {
            rows.push(row(
                shown,
                "none",
                Outcome::Fail,
                format!("unsupported rule type {what}"),
            ));
            continue;
        }
        let key = (policy.key(), idx, exp.operation.clone());
        let responses = cache.entry(key).or_insert_with(|| {
            evaluate_one(policy, res, suite, exp.operation.as_deref(), opts.timeout)
        });
        let rule = exp.rule.as_str();
        let resp = responses.iter().find(|r| {
            r.rule == rule
                || r.rule.strip_prefix("autogen-") == Some(rule)
                || r.rule.strip_prefix("autogen-cronjob-") == Some(rule)
        });
        // An unscored policy's failure is what Kyverno's report calls `warn`.
        // A rule a PolicyException waives is `skip`, whatever it would have said.
        let got = |r: &RuleResponse| match r.status {
            _ if r.waived_by.is_some() => "skip",
            Status::Fail if !policy.scored => "warn",
            s => s.as_str(),
        };
        rows.push(match resp {
            Some(r) if got(r) == exp.expected => row(shown, got(r), Outcome::Pass, String::new()),
            Some(r) => row(shown, got(r), Outcome::Fail, r.message.clone()),
            // A rule that produced nothing: what `skip` expects in strict mode.
            None if exp.expected == "skip" && !opts.lenient => {
                row(shown, "none", Outcome::Pass, String::new())
            }
            None => row(
                shown,
                "none",
                not_judged,
                "the rule produced no result (it did not match, was excluded, or checked nothing)"
                    .to_owned(),
            ),
        });
    }
    rows
}

/// The verdict of the CEL policy an expectation names, if it names one: `Some(None)` when
/// its constraints do not select the resource, else the result and the message.
fn cel_result(
    suite: &Suite,
    exp: &Expectation,
    res: &Resource,
) -> Option<Option<(&'static str, String)>> {
    use crate::cel::engine::{request_scope, Identity, Input, Outcome};
    let vpol = suite.cel.vpols.iter().find(|p| p.name == exp.policy);
    let vap = suite.cel.vaps.iter().find(|p| p.name == exp.policy);
    if vpol.is_none() && vap.is_none() {
        return None;
    }
    let values = &suite.values;
    let operation = operation_of(
        exp.operation.as_deref(),
        &policy_values(values, &exp.policy, res),
    );
    let delete = operation == "DELETE";
    let input = Input {
        object: (!delete).then_some(&res.object),
        // The CLI has one version of each resource: an update compares it with itself.
        old_object: matches!(operation.as_str(), "UPDATE" | "DELETE").then_some(&res.object),
        operation: &operation,
        user_info: suite.user.as_ref().map(|u| &u.raw),
        namespace_labels: res
            .namespace
            .as_deref()
            .and_then(|ns| values.namespaces.get(ns)),
        // Kyverno's CLI takes the Namespace from the test's resources when it has it.
        namespace_object: res.namespace.as_deref().and_then(|ns| {
            suite
                .resources
                .iter()
                .find(|r| r.kind == "Namespace" && r.name.as_deref() == Some(ns))
                .map(|r| &r.object)
        }),
        subresource: "",
        dry_run: false,
    };
    let id = Identity::of(&res.object);
    let attrs = id.attributes(&input);
    let outcome = crate::cel::libs::with_lookups(suite.lookups.clone(), || {
        let scope = request_scope(&input, &id);
        match (vpol, vap) {
            (Some(p), _) => p
                .evaluate_excepted(&attrs, &scope, &suite.cel.exceptions)
                .map(|(o, by)| {
                    if by.is_empty() {
                        o
                    } else {
                        Outcome::Skip(format!(
                            "rule is skipped due to policy exceptions: {}",
                            by.join(", ")
                        ))
                    }
                }),
            (None, Some(p)) => {
                let binding = suite.cel.bindings.iter().find(|b| b.policy == p.name);
                let params: Vec<&Value> = suite.cel.params.iter().collect();
                p.evaluate(binding, &attrs, &scope, &params)
                    .map(|d| d.outcome)
            }
            (None, None) => None,
        }
    });
    Some(outcome.map(|o| match o {
        Outcome::Pass => ("pass", String::new()),
        Outcome::Fail(m) => ("fail", m),
        Outcome::Skip(m) => ("skip", m),
        Outcome::Error(m) => ("error", m),
    }))
}

/// The values a policy gets on a resource: the global ones, then the resource's own.
fn policy_values<'v>(
    values: &'v ValuesFile,
    policy: &str,
    res: &Resource,
) -> Vec<(&'v str, &'v Value)> {
    let name = res.name.as_deref().unwrap_or("");
    let mut out: Vec<(&str, &Value)> = values.global.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if let Some(r) = values.resources.get(policy).and_then(|m| m.get(name)) {
        out.extend(r.iter().map(|(k, v)| (k.as_str(), v)));
    }
    out
}

/// The operation evaluated: a result's own `operation` wins over the values'
/// `request.operation` (the last one given); CREATE by default.
fn operation_of(result: Option<&str>, values: &[(&str, &Value)]) -> String {
    result
        .or_else(|| {
            values
                .iter()
                .rev()
                .find(|(k, _)| *k == "request.operation")
                .and_then(|(_, v)| v.as_str())
        })
        .unwrap_or("CREATE")
        .to_owned()
}

fn evaluate_one(
    policy: &Policy,
    res: &Resource,
    suite: &Suite,
    result_operation: Option<&str>,
    timeout: Option<std::time::Duration>,
) -> Vec<RuleResponse> {
    let values = &suite.values;
    let mut policy_values = policy_values(values, &policy.name, res);
    let operation = operation_of(result_operation, &policy_values);
    if result_operation.is_some() {
        policy_values.retain(|(k, _)| *k != "request.operation");
    }
    let rules = values
        .rules
        .get(&policy.name)
        .map(|m| {
            m.iter()
                .map(|(r, vs)| {
                    (
                        r.as_str(),
                        vs.iter().map(|(k, v)| (k.as_str(), v)).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let foreach = values
        .foreach
        .get(&policy.name)
        .map(|m| {
            m.iter()
                .map(|(r, lists)| {
                    (
                        r.as_str(),
                        lists
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_slice()))
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let v = Values {
        policy: policy_values,
        rules,
        foreach,
    };
    // Values that set fields of `request.object` change the resource itself, so `match`
    // (its labels and annotations) sees them too, as in Kyverno's CLI.
    let injected: Vec<(&str, &Value)> = v
        .policy
        .iter()
        .filter_map(|(k, val)| Some((k.strip_prefix("request.object.")?, *val)))
        .collect();
    let object = if injected.is_empty() {
        std::borrow::Cow::Borrowed(&res.object)
    } else {
        let mut o = res.object.clone();
        for (path, val) in injected {
            super::vars::insert_dotted(&mut o, path, val.clone());
        }
        std::borrow::Cow::Owned(o)
    };
    let req = Request {
        operation: &operation,
        // The CLI has one version of each resource: an update compares it with itself.
        old_object: matches!(operation.as_str(), "UPDATE" | "DELETE").then_some(&*object),
        user: suite.user.as_ref(),
        namespaces: Some(&values.namespaces),
        subresource: values
            .subresources
            .get(&res.kind)
            .map(|[g, v, k, sub]| [g.as_str(), v.as_str(), k.as_str(), sub.as_str()]),
    };
    let subject = Subject::new(&object, req)
        .with_limit(timeout)
        .with_exceptions(&suite.exceptions)
        .with_cluster(&suite.cluster);
    evaluate(policy, &subject, &v)
}

/// Totals over many test files.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Totals {
    /// Expectations that hold.
    pub passed: usize,
    /// Expectations that do not (and tests that could not run count one each).
    pub failed: usize,
    /// Expectations not judged (lenient mode).
    pub skipped: usize,
}

impl Totals {
    /// Sums the rows of all results.
    pub fn of(results: &[TestResult]) -> Self {
        let mut t = Totals::default();
        for r in results {
            t.passed += r.count(Outcome::Pass);
            t.failed += r.count(Outcome::Fail) + usize::from(r.error.is_some());
            t.skipped += r.count(Outcome::Skip);
        }
        t
    }

    /// `N passed, N failed` (`, N skipped` when some are).
    pub fn line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}
