//! Rego with conftest conventions (on regorus): rules named `deny`, `violation` or `warn`
//! (optionally with a `_suffix`) report findings, `exception` rules waive them, and OPA
//! METADATA (`title`, `custom.id`, `custom.severity`) names and grades them. A result is a
//! message string or an object with `msg` (and optionally `details` and `field`, the field path
//! that locates the finding).

use super::rego_source::{scan, Annotation, Scanned};
use crate::engine::EvalError;
use crate::finding::{Finding, Severity};
use crate::manifest::Resource;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which packages are evaluated, with what data.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Packages to evaluate (`main` when empty); `*` and `?` match as in conftest's globs.
    pub namespaces: Vec<String>,
    /// Evaluate every package that has conftest rules.
    pub all_namespaces: bool,
    /// YAML or JSON files merged into `data`.
    pub data_files: Vec<PathBuf>,
    /// Wall-clock limit for one evaluation, so a runaway policy cannot hang the run.
    pub timeout: Option<Duration>,
    /// Bundled packs to evaluate (their packages always are).
    pub packs: Vec<&'static crate::packs::Pack>,
}

/// An error in a policy or data file, with the file and the position regorus reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy or data file.
    pub file: String,
    /// What is wrong (regorus's message names line and column).
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// One conftest rule to evaluate.
#[derive(Debug, Clone)]
pub struct Query {
    engine: usize,
    /// The package (`main`).
    pub package: String,
    /// The rule name (`deny`, `deny_latest`, `warn`).
    pub rule: String,
    /// The id findings carry: METADATA `custom.id`, else `<package>/<rule>`.
    pub id: String,
    /// METADATA `title`.
    pub title: Option<String>,
    /// METADATA `description`: why it matters.
    pub description: Option<String>,
    /// METADATA `custom.fix`: how to fix a finding.
    pub fix: Option<String>,
    /// Errors for `deny`/`violation`, warnings for `warn`, unless METADATA says otherwise.
    pub severity: Severity,
    /// The bundled pack it comes from: its rules judge one resource at a time, also under
    /// `--combine`.
    pub pack: Option<&'static str>,
    /// METADATA `custom.sensitive`: its findings point at secret values.
    pub sensitive: bool,
}

/// Compiled Rego policies, ready to be cloned into workers.
#[derive(Clone)]
pub struct Policies {
    /// One engine per Rego dialect present (v1 first, then v0).
    engines: Vec<Engine>,
    /// Rules to evaluate, sorted by package and rule.
    queries: Vec<Query>,
    /// `(engine, package)` of packages with `exception` rules.
    exceptions: Vec<(usize, String)>,
    /// Some policy's code (comments aside) names `tollgate` and `review` (as
    /// `data.tollgate.review`, `data["tollgate"]["review"]` or an import): admission must add
    /// the review to data. Adding data makes regorus
    /// prepare its engine again, which reviews need not pay for when no policy can read it.
    reads_review: bool,
}

impl Policies {
    /// Whether a policy may read `data.tollgate.review`.
    pub fn reads_review(&self) -> bool {
        self.reads_review
    }

    /// Whether there is nothing to evaluate (no rules, no exceptions).
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty() && self.exceptions.is_empty()
    }
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Policies({} engines, {} rules)",
            self.engines.len(),
            self.queries.len()
        )
    }
}

/// Every `.rego` file below the paths, sorted; `*_test.rego` only with `include_tests`.
pub fn policy_files(paths: &[PathBuf], include_tests: bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_file() {
            // YAML policies (Kyverno) are read by their own loader.
            if !crate::manifest::is_manifest_path(p) {
                files.push(p.clone());
            }
            continue;
        }
        let rego = |f: &Path| {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".rego") && (include_tests || !name.ends_with("_test.rego"))
        };
        files.extend(crate::manifest::files_below(p, false, rego).0);
    }
    files.sort();
    files.dedup();
    files
}

/// Each policy file's display name and text (or why it could not be read), as
/// [`Loaded::from_sources`] takes them.
pub(super) fn read_sources(files: &[PathBuf]) -> Vec<(String, Result<String, String>)> {
    files
        .iter()
        .map(|f| {
            (
                display(f),
                std::fs::read_to_string(f).map_err(|e| format!("cannot read: {e}")),
            )
        })
        .collect()
}

pub(super) fn display(p: &Path) -> String {
    p.strip_prefix(".").unwrap_or(p).display().to_string()
}

/// Which dialect a file is written in: v1 if it parses as v1, else v0 if it parses as v0.
pub(super) fn dialect(path: &str, text: &str) -> Result<bool, String> {
    let mut v1 = Engine::new();
    match v1.add_policy(path.to_owned(), text.to_owned()) {
        Ok(_) => Ok(true),
        Err(e1) => {
            let mut v0 = Engine::new();
            v0.set_rego_v0(true);
            match v0.add_policy(path.to_owned(), text.to_owned()) {
                Ok(_) => Ok(false),
                Err(_) => Err(e1.to_string()),
            }
        }
    }
}

/// Compile errors for recursive functions in what `engine` holds: OPA rejects them, and
/// regorus would overflow the stack evaluating them (see `rego_recursion`).
pub(super) fn recursion_errors(engine: &Engine) -> Vec<PolicyError> {
    let Ok(ast) = engine.get_ast_as_json() else {
        return Vec::new();
    };
    super::rego_recursion::find(&ast)
        .into_iter()
        .map(|r| PolicyError {
            file: format!("{}:{}", r.file, r.line),
            message: format!(
                "rego_recursion_error: the function calls itself ({}); Rego does not allow recursion",
                r.cycle
            ),
        })
        .collect()
}

/// Calls to functions that are neither defined by a policy nor builtins, each an error at its
/// call, as OPA's compiler reports them.
pub(super) fn unknown_function_errors(engine: &Engine) -> Vec<PolicyError> {
    let Ok(ast) = engine.get_ast_as_json() else {
        return Vec::new();
    };
    // regorus does not list its builtins; calling a name with no arguments in an empty engine
    // tells a builtin (it evaluates, or complains about its arguments) from a name it has
    // never heard of. The answers hold for the process: both engines, every reload.
    static KNOWN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, bool>>> =
        std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let mut is_builtin = |name: &str| {
        let cached = known.lock().ok().and_then(|k| k.get(name).copied());
        cached.unwrap_or_else(|| {
            let answer = Engine::new()
                .eval_query(format!("{name}()"), false)
                .err()
                .is_none_or(|e| !e.to_string().contains("could not find function"));
            if let Ok(mut k) = known.lock() {
                k.insert(name.to_owned(), answer);
            }
            answer
        })
    };
    super::rego_recursion::unknown_functions(&ast, &mut is_builtin)
        .into_iter()
        .map(|(file, line, name)| PolicyError {
            file: format!("{file}:{line}"),
            message: format!(
                "rego_type_error: undefined function {name}: no policy defines it and tollgate's Rego engine (regorus) has no such builtin"
            ),
        })
        .collect()
}

pub(super) fn load_data(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let json: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?
    } else {
        // An empty file is empty data.
        crate::manifest::json_documents(&text)?
            .into_iter()
            .next()
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()))
    };
    Ok(Value::from(json))
}

/// A METADATA field of the rule, else of its package.
fn meta(
    rule: &Annotation,
    package: &Annotation,
    field: fn(&Annotation) -> &Option<String>,
) -> Option<String> {
    field(rule).clone().or_else(|| field(package).clone())
}

fn queries_of(
    scan: &Scanned,
    engine: usize,
    pack: Option<&'static str>,
    queries: &mut Vec<Query>,
) -> Result<(), PolicyError> {
    for head in &scan.rules {
        if queries
            .iter()
            .any(|q| q.package == scan.package && q.rule == head.name)
        {
            continue;
        }
        let default = if head.name.starts_with("warn") {
            Severity::Warning
        } else {
            Severity::Error
        };
        let severity = match meta(&head.meta, &scan.package_meta, |a| &a.severity) {
            Some(s) => Severity::parse(&s).ok_or_else(|| PolicyError {
                file: format!("package {}", scan.package),
                message: format!(
                    "line {}: METADATA custom.severity `{s}` is not error, warning or info",
                    head.line
                ),
            })?,
            None => default,
        };
        queries.push(Query {
            engine,
            package: scan.package.clone(),
            rule: head.name.clone(),
            id: meta(&head.meta, &scan.package_meta, |a| &a.id)
                .unwrap_or_else(|| format!("{}/{}", scan.package, head.name)),
            title: meta(&head.meta, &scan.package_meta, |a| &a.title),
            description: meta(&head.meta, &scan.package_meta, |a| &a.description),
            fix: meta(&head.meta, &scan.package_meta, |a| &a.fix),
            severity,
            pack,
            sensitive: head.meta.sensitive || scan.package_meta.sensitive,
        });
    }
    Ok(())
}

/// Policy sources compiled into the two regorus engines (Rego v1 and v0), for `check` and
/// `verify` alike: the same dialect detection, data, recursion check and time limit.
pub(super) struct Loaded {
    /// The Rego v1 engine.
    pub(super) v1: Engine,
    /// The Rego v0 engine.
    pub(super) v0: Engine,
    /// Each file that compiled: whether it is v1, its name, what the source scan found.
    pub(super) scanned: Vec<(bool, String, Scanned)>,
    /// Files that did not read or compile, data that did not load, recursive functions.
    pub(super) errors: Vec<PolicyError>,
}

impl Loaded {
    /// `(name, text or why it could not be read)` of each policy, and data files.
    pub(super) fn from_sources(
        sources: Vec<(String, Result<String, String>)>,
        data_files: &[PathBuf],
        timeout: Option<Duration>,
    ) -> Loaded {
        let mut v1 = Engine::new();
        let mut v0 = Engine::new();
        v0.set_rego_v0(true);
        let mut errors = Vec::new();
        let mut scanned = Vec::new();
        for (name, text) in sources {
            let text = match text {
                Ok(t) => t,
                Err(message) => {
                    errors.push(PolicyError {
                        file: name,
                        message,
                    });
                    continue;
                }
            };
            let scan = scan(&text);
            let text = super::rego_source::inline_metadata_calls(&text, &scan).unwrap_or(text);
            for (line, message) in &scan.errors {
                errors.push(PolicyError {
                    file: format!("{name}:{line}"),
                    message: message.clone(),
                });
            }
            let added = dialect(&name, &text).and_then(|is_v1| {
                let engine = if is_v1 { &mut v1 } else { &mut v0 };
                engine
                    .add_policy(name.clone(), text)
                    .map(|_| is_v1)
                    .map_err(|e| e.to_string())
            });
            match added {
                Ok(is_v1) => scanned.push((is_v1, name, scan)),
                Err(message) => errors.push(PolicyError {
                    file: name,
                    message,
                }),
            }
        }
        for data in data_files {
            let name = display(data);
            match load_data(data) {
                Ok(value) => {
                    for e in [&mut v1, &mut v0] {
                        if let Err(err) = e.add_data(value.clone()) {
                            errors.push(PolicyError {
                                file: name.clone(),
                                message: err.to_string(),
                            });
                            break;
                        }
                    }
                }
                Err(message) => errors.push(PolicyError {
                    file: name,
                    message,
                }),
            }
        }
        for engine in [&v1, &v0] {
            errors.extend(recursion_errors(engine));
            errors.extend(unknown_function_errors(engine));
        }
        let limit = timeout.unwrap_or(Duration::from_secs(10));
        for engine in [&mut v1, &mut v0] {
            engine.set_execution_timer_config(ExecutionTimerConfig {
                limit,
                check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
            });
        }
        Loaded {
            v1,
            v0,
            scanned,
            errors,
        }
    }
}

impl Policies {
    /// Parses and compiles the policies and data once.
    pub fn compile(policy_paths: &[PathBuf], opts: &Options) -> Result<Self, Vec<PolicyError>> {
        Self::compile_files(&policy_files(policy_paths, false), opts)
    }

    /// [`Policies::compile`] for the files [`policy_files`] already listed.
    pub fn compile_files(files: &[PathBuf], opts: &Options) -> Result<Self, Vec<PolicyError>> {
        let mut sources = read_sources(files);
        let reads_review = sources
            .iter()
            .any(|(_, text)| text.as_ref().is_ok_and(|t| may_read_review(t)));
        let mut pack_packages = Vec::new();
        for pack in &opts.packs {
            for (file, text) in pack.files {
                pack_packages.push((scan(text).package, pack.name));
                sources.push(((*file).to_owned(), Ok((*text).to_owned())));
            }
        }
        let Loaded {
            v1,
            v0,
            scanned,
            mut errors,
        } = Loaded::from_sources(sources, &opts.data_files, opts.timeout);
        let scanned: Vec<(bool, Scanned)> = scanned.into_iter().map(|(v, _, s)| (v, s)).collect();
        let has_v1 = scanned.iter().any(|(v, _)| *v);
        let has_v0 = scanned.iter().any(|(v, _)| !*v);
        let mut engines = Vec::new();
        if has_v1 {
            engines.push(v1);
        }
        if has_v0 {
            engines.push(v0);
        }
        let wanted = |pkg: &str| {
            pack_packages.iter().any(|(p, _)| p == pkg)
                || opts.all_namespaces
                || if opts.namespaces.is_empty() {
                    pkg == "main"
                } else {
                    opts.namespaces
                        .iter()
                        .any(|n| crate::wildcard::matches(n, pkg))
                }
        };
        let mut queries = Vec::new();
        let mut exceptions = Vec::new();
        for (is_v1, scan) in &scanned {
            if !wanted(&scan.package) {
                continue;
            }
            let engine = usize::from(!*is_v1 && has_v1);
            if scan.has_exception && !exceptions.contains(&(engine, scan.package.clone())) {
                exceptions.push((engine, scan.package.clone()));
            }
            let pack = pack_packages
                .iter()
                .find(|(p, _)| *p == scan.package)
                .map(|(_, name)| *name);
            if let Err(e) = queries_of(scan, engine, pack, &mut queries) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        queries.sort_by(|a, b| (&a.package, &a.rule).cmp(&(&b.package, &b.rule)));
        exceptions.sort();
        Ok(Policies {
            engines,
            queries,
            exceptions,
            reads_review,
        })
    }

    /// The rules that are evaluated.
    pub fn rules(&self) -> &[Query] {
        &self.queries
    }

    /// The same policies with only the rules `keep` selects (`--combine` evaluates bundled
    /// rules per resource and the others once over all inputs).
    pub fn only(&self, keep: impl Fn(&Query) -> bool) -> Policies {
        let mut p = self.clone();
        p.queries.retain(|q| keep(q));
        if p.queries.is_empty() {
            p.exceptions.clear();
        }
        p
    }

    /// A copy for one worker thread (regorus evaluates through `&mut`).
    pub fn worker(&self) -> Worker {
        Worker {
            policies: self.clone(),
        }
    }
}

/// Engines owned by one thread.
pub struct Worker {
    policies: Policies,
}

/// Whether Rego source can read `data.tollgate.review`: its code, without `#` comments, names
/// both `tollgate` and `review`. Over-approximate on purpose (a string holding both counts).
fn may_read_review(text: &str) -> bool {
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        // A `#` inside a string is not a comment: cut at the first `#` outside quotes.
        let mut in_string = false;
        let mut escaped = false;
        let mut end = line.len();
        for (i, c) in line.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '#' if !in_string => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        code.push_str(line.get(..end).unwrap_or(line));
        code.push('\n');
    }
    code.contains("tollgate") && code.contains("review")
}

/// The object as a regorus value, built from a borrow: regorus's `From<serde_json::Value>`
/// needs an owned copy (a deep clone of every resource) and goes through serde. Building the
/// tree directly saves the clone (user CPU 0.95 -> 0.93 s, median of 10, on the check
/// benchmark; wall time is within the machine's noise). Integers are exact;
/// other numbers go through regorus's own JSON reading, so `0.1` means what it means in a
/// policy literal.
fn to_rego(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from_json_str(&n.to_string()).unwrap_or(Value::Undefined),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(items) => Value::from(items.iter().map(to_rego).collect::<Vec<_>>()),
        J::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), to_rego(v)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        ),
    }
}

/// The document a Rego rule sees as `input`: the object as conftest reads the file, so with
/// its `sops` block when the document was SOPS-encrypted (a conftest policy requiring
/// encryption tests `input.sops`).
fn rego_input(resource: &Resource) -> Value {
    let mut input = to_rego(&resource.object);
    if let (Some(sops), Ok(map)) = (&resource.sops, input.as_object_mut()) {
        map.insert(Value::from("sops"), to_rego(sops));
    }
    input
}

/// The JSON form of the same, for `--combine`'s input set.
fn conftest_document(resource: &Resource) -> serde_json::Value {
    let mut doc = resource.object.clone();
    if let (Some(sops), Some(map)) = (&resource.sops, doc.as_object_mut()) {
        map.insert("sops".into(), (**sops).clone());
    }
    doc
}

impl Worker {
    /// A worker whose engines also hold `data.tollgate.review`: the admission request (its
    /// operation, user, old object), for Rego rules that judge who changes what. An error
    /// when the policies' own data already has `tollgate.review`.
    pub fn with_review(mut self, review: &serde_json::Value) -> Result<Worker, String> {
        let data = Value::from(serde_json::json!({ "tollgate": { "review": review } }));
        for e in &mut self.policies.engines {
            e.add_data(data.clone())
                .map_err(|e| format!("cannot add data.tollgate.review: {e}"))?;
        }
        Ok(self)
    }

    /// Evaluates every rule against one resource: findings, findings waived by `exception`
    /// rules, and rules that failed to evaluate.
    pub fn evaluate(
        &mut self,
        resource: &Resource,
    ) -> (Vec<Finding>, Vec<Finding>, Vec<EvalError>) {
        let input = rego_input(resource);
        for e in &mut self.policies.engines {
            e.set_input(input.clone());
        }
        let mut errors = Vec::new();
        let subject = if resource.is_kubernetes() {
            format!(
                "{}/{}",
                resource.kind,
                resource.name.as_deref().unwrap_or("-")
            )
        } else {
            format!("document {}", resource.origin.document.saturating_add(1))
        };
        let mut fail = |what: &str, e: &dyn std::fmt::Display| {
            errors.push(EvalError {
                file: resource.origin.file.to_string(),
                message: format!("{what} failed on {subject}: {e}"),
            });
        };
        // The bundled packs are Kubernetes rules: other documents are the user's policies'.
        let kubernetes = resource.is_kubernetes();
        let mut waived: Vec<(String, String)> = Vec::new();
        for (i, pkg) in &self.policies.exceptions {
            let Some(engine) = self.policies.engines.get_mut(*i) else {
                continue;
            };
            match engine.eval_rule(format!("data.{pkg}.exception")) {
                Ok(v) => {
                    let mut names = Vec::new();
                    flatten_names(&serde_json::to_value(&v).unwrap_or_default(), &mut names);
                    waived.extend(names.into_iter().map(|n| (pkg.clone(), n)));
                }
                Err(e) => fail(&format!("{pkg}/exception"), &e),
            }
        }
        let mut findings = Vec::new();
        let mut suppressed = Vec::new();
        for q in &self.policies.queries {
            if q.pack.is_some() && !kubernetes {
                continue;
            }
            let Some(engine) = self.policies.engines.get_mut(q.engine) else {
                continue;
            };
            match engine.eval_rule(format!("data.{}.{}", q.package, q.rule)) {
                Ok(value) => {
                    // conftest: `exception` lists rule names without their `deny_` prefix.
                    let suffix = q.rule.split_once('_').map_or("", |(_, s)| s);
                    let is_waived = waived
                        .iter()
                        .any(|(p, n)| *p == q.package && (n == suffix || *n == q.rule));
                    if is_waived {
                        let from = suppressed.len();
                        collect(&value, resource, q, &mut suppressed);
                        for f in suppressed.iter_mut().skip(from) {
                            f.suppressed_by =
                                Some(format!("exception rule {}.exception", q.package));
                        }
                    } else {
                        collect(&value, resource, q, &mut findings);
                    }
                }
                Err(e) => fail(&format!("{}/{}", q.package, q.rule), &e),
            }
        }
        (findings, suppressed, errors)
    }
}

impl Worker {
    /// `--combine`: every rule once, with the whole input set as conftest shapes it
    /// (`[{"path": file, "contents": object or [objects]}]`). A result object may name the
    /// resource it is about (`resource: {kind, namespace, name}`) to be located on it;
    /// otherwise it points at the first resource.
    pub fn evaluate_combined(&mut self, resources: &[Resource]) -> (Vec<Finding>, Vec<EvalError>) {
        let mut files: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        for r in resources {
            match files.last_mut() {
                Some((f, docs)) if **f == *r.origin.file => docs.push(conftest_document(r)),
                _ => files.push((r.origin.file.to_string(), vec![conftest_document(r)])),
            }
        }
        let input: Vec<serde_json::Value> = files
            .into_iter()
            .map(|(path, mut docs)| {
                let contents = if docs.len() == 1 {
                    docs.pop().unwrap_or_default()
                } else {
                    serde_json::Value::Array(docs)
                };
                serde_json::json!({ "path": path, "contents": contents })
            })
            .collect();
        let input = Value::from(serde_json::Value::Array(input));
        for e in &mut self.policies.engines {
            e.set_input(input.clone());
        }
        let (mut findings, mut errors) = (Vec::new(), Vec::new());
        let Some(first) = resources.first() else {
            return (findings, errors);
        };
        for q in &self.policies.queries {
            let Some(engine) = self.policies.engines.get_mut(q.engine) else {
                continue;
            };
            match engine.eval_rule(format!("data.{}.{}", q.package, q.rule)) {
                Ok(value) => {
                    for item in results(&value) {
                        let target = item.get("resource").and_then(|want| {
                            let s = |k: &str| want.get(k).and_then(serde_json::Value::as_str);
                            resources.iter().find(|r| {
                                s("kind").is_none_or(|k| k == r.kind)
                                    && s("name").is_none_or(|n| Some(n) == r.name.as_deref())
                                    && s("namespace")
                                        .is_none_or(|n| Some(n) == r.namespace.as_deref())
                            })
                        });
                        findings.push(finding_of(&item, target.unwrap_or(first), q));
                    }
                }
                Err(e) => errors.push(EvalError {
                    file: "(combined)".into(),
                    message: format!("{}/{} failed: {e}", q.package, q.rule),
                }),
            }
        }
        (findings, errors)
    }
}

fn flatten_names(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| flatten_names(i, out)),
        _ => {}
    }
}

/// Turns a rule's value (a set or array of messages) into findings.
/// The results of a rule as conftest counts them: the members of a set or array that are
/// strings or objects. Anything else passes, as conftest judges it: a rule that is undefined
/// for the document, `false`, `true` (v0 `deny { ... }`), or a single value of a complete rule
/// (`deny := "msg"`).
fn results(value: &Value) -> Vec<serde_json::Value> {
    match serde_json::to_value(value).unwrap_or_default() {
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter(|i| i.is_string() || i.is_object())
            .collect(),
        _ => Vec::new(),
    }
}

/// One result as a finding: a string is the message; an object gives `msg`, `field` (or
/// `path`) and `details`.
fn finding_of(item: &serde_json::Value, resource: &Resource, q: &Query) -> Finding {
    let details = item.get("details").cloned();
    let (message, field) = match item {
        serde_json::Value::String(s) => (s.clone(), None),
        serde_json::Value::Object(o) => {
            let msg = o
                .get("msg")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| item.to_string(), str::to_owned);
            let field = o
                .get("field")
                .or_else(|| o.get("path"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            (msg, field)
        }
        other => (other.to_string(), None),
    };
    let mut f = Finding::on(resource, q.id.clone(), q.severity, message, "rego", field);
    f.help.clone_from(&q.title);
    f.details = details;
    f.sensitive |= q.sensitive;
    f
}

fn collect(value: &Value, resource: &Resource, q: &Query, out: &mut Vec<Finding>) {
    out.extend(
        results(value)
            .iter()
            .map(|item| finding_of(item, resource, q)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_code_that_names_the_review_gets_it() {
        assert!(may_read_review(
            "allow if data.tollgate.review.operation == \"CREATE\""
        ));
        assert!(may_read_review("x := data[\"tollgate\"][\"review\"]"));
        assert!(!may_read_review(
            "package tollgate.k8s\n# nobody reviewed it\n"
        ));
        assert!(may_read_review(
            "package tollgate.p\nm := \"#\"; r := data.review\n"
        ));
    }

    /// An upstream limitation docs/check.md describes: OPA orders the statements of a
    /// comprehension body (a `:=` declares the variable for the whole body), regorus 0.14
    /// evaluates them as written and rejects a use before the assignment. When this test
    /// fails, regorus has caught up: drop the note.
    #[test]
    fn regorus_rejects_a_comprehension_variable_used_before_its_assignment() {
        let eval = |src: &str| {
            let mut e = Engine::new();
            e.add_policy("p.rego".into(), src.into())
                .and_then(|_| e.eval_rule("data.p.x".into()))
                .map_err(|e| e.to_string())
        };
        let err = eval("package p\nimport rego.v1\nx := [v | [1, 2][_] == v; v := 1]\n")
            .expect_err("regorus 0.14 rejects it");
        assert!(err.contains("used before definition"), "{err}");
        // The same comprehension with the assignment first: what OPA evaluates, [1].
        let ok = eval("package p\nimport rego.v1\nx := [v | v := 1; [1, 2][_] == v]\n").unwrap();
        assert_eq!(serde_json::to_value(&ok).unwrap(), serde_json::json!([1]));
    }

    #[test]
    fn inputs_convert_as_regorus_reads_json() {
        // Integers at both ends of their ranges, a decimal that is not exact in binary, and
        // every other JSON type: the same value as regorus's own conversion.
        let json = serde_json::json!({
            "i": -9_223_372_036_854_775_808i64,
            "u": 18_446_744_073_709_551_615u64,
            "f": 0.1,
            "e": 1.5e300,
            "list": [true, null, "s", {"nested": [1, 2]}],
            "": "empty key"
        });
        assert_eq!(to_rego(&json), Value::from(json.clone()));
    }
}
