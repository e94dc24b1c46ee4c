//! Rego with conftest conventions (on regorus): `deny` and `violation` rules give errors,
//! `warn` rules give warnings; a result is a message string or an object with `msg` (and
//! optionally `details` and `field`, the field path that locates the finding).

use crate::finding::{Finding, Severity};
use crate::manifest::{LoadError, Resource};
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which packages are evaluated.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Packages to evaluate (`main` when empty).
    pub namespaces: Vec<String>,
    /// Evaluate every package that has a `deny`, `violation` or `warn` rule.
    pub all_namespaces: bool,
    /// YAML or JSON files merged into `data`.
    pub data_files: Vec<PathBuf>,
    /// Wall-clock limit for one evaluation, so a runaway policy cannot hang the run.
    pub timeout: Option<Duration>,
}

/// An error in a policy or data file, with the file and the position regorus reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy or data file.
    pub file: String,
    /// What is wrong (regorus's message, which names line and column).
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// The rule names conftest gives meaning to, and the severity of their results.
const RULES: [(&str, Severity); 3] = [
    ("deny", Severity::Error),
    ("violation", Severity::Error),
    ("warn", Severity::Warning),
];

/// Compiled Rego policies, ready to be cloned into workers.
#[derive(Clone)]
pub struct Policies {
    /// One engine per Rego dialect present (v1 first, then v0).
    engines: Vec<Engine>,
    /// `(engine index, package, rule)` to evaluate, sorted.
    queries: Vec<(usize, String, &'static str, Severity)>,
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

/// Every `.rego` file below the paths (tests excluded), sorted.
pub fn policy_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_file() {
            files.push(p.clone());
            continue;
        }
        for entry in ignore::WalkBuilder::new(p)
            .require_git(false)
            .build()
            .flatten()
        {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if entry.file_type().is_some_and(|t| t.is_file())
                && name.ends_with(".rego")
                && !name.ends_with("_test.rego")
            {
                files.push(entry.into_path());
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

fn display(p: &Path) -> String {
    p.strip_prefix(".").unwrap_or(p).display().to_string()
}

/// Which dialect a file is written in: v1 if it parses as v1, else v0 if it parses as v0.
fn dialect(path: &str, text: &str) -> Result<bool, String> {
    let mut v1 = Engine::new();
    match v1.add_policy(path.to_owned(), text.to_owned()) {
        Ok(_) => Ok(true),
        Err(e1) => {
            let mut v0 = Engine::new();
            v0.set_rego_v0(true);
            match v0.add_policy(path.to_owned(), text.to_owned()) {
                Ok(_) => Ok(false),
                // Report the v1 error unless the file is clearly v0 (v0 syntax failed later).
                Err(_) => Err(e1.to_string()),
            }
        }
    }
}

impl Policies {
    /// Parses and compiles the policies and data once.
    pub fn compile(policy_paths: &[PathBuf], opts: &Options) -> Result<Self, Vec<PolicyError>> {
        let mut v1 = Engine::new();
        let mut v0 = Engine::new();
        v0.set_rego_v0(true);
        let (mut has_v1, mut has_v0) = (false, false);
        let mut errors = Vec::new();
        for file in policy_files(policy_paths) {
            let name = display(&file);
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(PolicyError {
                        file: name,
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            let result = dialect(&name, &text).and_then(|is_v1| {
                let engine = if is_v1 { &mut v1 } else { &mut v0 };
                engine
                    .add_policy(name.clone(), text)
                    .map(|_| is_v1)
                    .map_err(|e| e.to_string())
            });
            match result {
                Ok(true) => has_v1 = true,
                Ok(false) => has_v0 = true,
                Err(message) => errors.push(PolicyError {
                    file: name,
                    message,
                }),
            }
        }
        for data in &opts.data_files {
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
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut engines = Vec::new();
        if has_v1 {
            engines.push(v1);
        }
        if has_v0 {
            engines.push(v0);
        }
        let timeout = opts.timeout.unwrap_or(Duration::from_secs(10));
        let mut queries = Vec::new();
        for (i, engine) in engines.iter_mut().enumerate() {
            engine.set_execution_timer_config(ExecutionTimerConfig {
                limit: timeout,
                check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
            });
            let packages = engine.get_packages().map_err(|e| {
                vec![PolicyError {
                    file: "policies".into(),
                    message: e.to_string(),
                }]
            })?;
            for pkg in packages {
                let pkg = pkg.strip_prefix("data.").unwrap_or(&pkg).to_owned();
                let wanted = opts.all_namespaces
                    || if opts.namespaces.is_empty() {
                        pkg == "main"
                    } else {
                        opts.namespaces.contains(&pkg)
                    };
                if !wanted {
                    continue;
                }
                for (rule, sev) in RULES {
                    queries.push((i, pkg.clone(), rule, sev));
                }
            }
        }
        queries.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
        Ok(Policies { engines, queries })
    }

    /// Whether any package is evaluated.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// A copy for one worker thread (regorus evaluates through `&mut`).
    pub fn worker(&self) -> Worker {
        Worker {
            policies: self.clone(),
        }
    }
}

fn load_data(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let json: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?
    } else {
        let docs = tollgate_sops::stores::yaml_read::read_documents(
            &text,
            tollgate_sops::stores::yaml_read::Schema::Kubernetes,
        )
        .map_err(|e| e.message().to_owned())?;
        let root = docs
            .into_iter()
            .next()
            .map(|d| d.root)
            .unwrap_or(tollgate_sops::tree::Node::Map(Vec::new()));
        crate::manifest::node_to_json(&root)
    };
    Ok(Value::from(json))
}

/// Engines owned by one thread.
pub struct Worker {
    policies: Policies,
}

impl Worker {
    /// Evaluates every rule against one resource.
    pub fn evaluate(&mut self, resource: &Resource) -> (Vec<Finding>, Vec<LoadError>) {
        let input = Value::from(resource.object.clone());
        for e in &mut self.policies.engines {
            e.set_input(input.clone());
        }
        let mut findings = Vec::new();
        let mut errors = Vec::new();
        for (i, pkg, rule, severity) in &self.policies.queries {
            let Some(engine) = self.policies.engines.get_mut(*i) else {
                continue;
            };
            match engine.eval_rule(format!("data.{pkg}.{rule}")) {
                Ok(value) => collect(
                    &value,
                    resource,
                    &format!("{pkg}/{rule}"),
                    *severity,
                    &mut findings,
                ),
                Err(e) => {
                    let text = e.to_string();
                    // A package without this rule is not an error.
                    if !(text.contains("not a valid rule path")
                        || text.contains("not a rule")
                        || text.contains("not found"))
                    {
                        errors.push(LoadError {
                            file: resource.origin.file.to_string(),
                            message: format!(
                                "{pkg}/{rule} failed on {}/{}: {text}",
                                resource.kind,
                                resource.name.as_deref().unwrap_or("-")
                            ),
                        });
                    }
                }
            }
        }
        (findings, errors)
    }
}

/// Turns a rule's value (a set or array of messages) into findings.
fn collect(
    value: &Value,
    resource: &Resource,
    rule_id: &str,
    severity: Severity,
    out: &mut Vec<Finding>,
) {
    let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    let items = match json {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Null => return,
        // A boolean `deny` or a single message.
        serde_json::Value::Bool(false) => return,
        other => vec![other],
    };
    for item in items {
        let (message, field) = match &item {
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
            serde_json::Value::Bool(true) => (format!("{rule_id} is true"), None),
            other => (other.to_string(), None),
        };
        out.push(Finding::on(
            resource, rule_id, severity, message, "rego", field,
        ));
    }
}
