//! `tollgate verify`: runs the `test_` rules of Rego policies (as `conftest verify` and
//! `opa test` do) and measures which policy lines the tests exercised.

use super::rego::display;
use super::rego_source::scan;
use regorus::{Engine, Value};
use std::path::PathBuf;

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The rule evaluated to `true`.
    Pass,
    /// It evaluated to something else, or was undefined.
    Fail,
    /// It could not be evaluated.
    Error(String),
}

/// A test rule and what it gave.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The file defining it.
    pub file: String,
    /// 1-based line of its head.
    pub line: usize,
    /// `package.test_name`.
    pub name: String,
    /// Pass, fail or error.
    pub outcome: Outcome,
}

/// Lines of one policy file the tests did and did not reach.
#[derive(Debug, Clone)]
pub struct FileCoverage {
    /// The policy file.
    pub file: String,
    /// Lines evaluated.
    pub covered: usize,
    /// Lines that could have been evaluated and were not.
    pub not_covered: usize,
}

/// The outcome of a verify run.
#[derive(Debug, Default)]
pub struct Verification {
    /// Every test, sorted by file and line.
    pub tests: Vec<TestResult>,
    /// Coverage of non-test policy files, when asked.
    pub coverage: Vec<FileCoverage>,
}

/// Runs every `test_` rule; `Err` lists the files that do not compile.
pub fn verify(
    paths: &[PathBuf],
    data: &[PathBuf],
    coverage: bool,
) -> Result<Verification, Vec<super::rego::PolicyError>> {
    use super::rego::PolicyError;
    let mut engines = [Engine::new(), Engine::new()];
    engines[1].set_rego_v0(true);
    let mut errors = Vec::new();
    let mut tests: Vec<(usize, String, String, usize)> = Vec::new();
    for file in super::rego::policy_files(paths, true) {
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
        let scanned = scan(&text);
        let added = super::rego::dialect(&name, &text).and_then(|v1| {
            let i = usize::from(!v1);
            engines
                .get_mut(i)
                .ok_or_else(|| "no engine for the dialect".to_owned())?
                .add_policy(name.clone(), text)
                .map(|_| i)
                .map_err(|e| e.to_string())
        });
        match added {
            Ok(i) => tests.extend(
                scanned
                    .tests
                    .into_iter()
                    .map(|(t, line)| (i, format!("{}.{t}", scanned.package), name.clone(), line)),
            ),
            Err(message) => errors.push(PolicyError {
                file: name,
                message,
            }),
        }
    }
    for d in data {
        match super::rego::load_data(d) {
            Ok(v) => {
                for e in &mut engines {
                    if let Err(err) = e.add_data(v.clone()) {
                        errors.push(PolicyError {
                            file: display(d),
                            message: err.to_string(),
                        });
                    }
                }
            }
            Err(message) => errors.push(PolicyError {
                file: display(d),
                message,
            }),
        }
    }
    for e in &engines {
        errors.extend(super::rego::recursion_errors(e));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for e in &mut engines {
        e.set_enable_coverage(coverage);
    }
    let mut out = Verification::default();
    for (i, name, file, line) in tests {
        let Some(engine) = engines.get_mut(i) else {
            continue;
        };
        let outcome = match engine.eval_rule(format!("data.{name}")) {
            Ok(Value::Bool(true)) => Outcome::Pass,
            Ok(_) => Outcome::Fail,
            Err(e) => Outcome::Error(e.to_string()),
        };
        out.tests.push(TestResult {
            file,
            line,
            name,
            outcome,
        });
    }
    out.tests
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    if coverage {
        for e in &engines {
            if let Ok(report) = e.get_coverage_report() {
                for f in report.files {
                    if f.path.ends_with("_test.rego")
                        || (f.covered.is_empty() && f.not_covered.is_empty())
                    {
                        continue;
                    }
                    out.coverage.push(FileCoverage {
                        file: f.path,
                        covered: f.covered.len(),
                        not_covered: f.not_covered.len(),
                    });
                }
            }
        }
        out.coverage.sort_by(|a, b| a.file.cmp(&b.file));
    }
    Ok(out)
}

impl Verification {
    /// Covered lines over coverable lines of all policy files, in percent.
    pub fn coverage_percent(&self) -> f64 {
        let covered: usize = self.coverage.iter().map(|c| c.covered).sum();
        let total: usize = self
            .coverage
            .iter()
            .map(|c| c.covered.saturating_add(c.not_covered))
            .sum();
        if total == 0 {
            return 100.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let pct = covered as f64 * 100.0 / total as f64;
        pct
    }
}
