//! `tollgate verify`: runs the `test_` rules of Rego policies (as `conftest verify` and
//! `opa test` do) and measures which policy lines the tests exercised.

use regorus::Value;
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

/// Runs every `test_` rule, each within `timeout` (10 s when `None`); `Err` lists the files
/// that do not compile. Policies load as `check` loads them (one loader, `rego::Loaded`).
pub fn verify(
    paths: &[PathBuf],
    data: &[PathBuf],
    coverage: bool,
    timeout: Option<std::time::Duration>,
) -> Result<Verification, Vec<super::rego::PolicyError>> {
    let files = super::rego::policy_files(paths, true);
    // A path without a .rego file tests nothing: an error, as conftest's "no policies found".
    let empty: Vec<super::rego::PolicyError> = paths
        .iter()
        .filter(|p| !files.iter().any(|f| f.starts_with(p)))
        .map(|p| super::rego::PolicyError {
            file: p.display().to_string(),
            message: super::no_policies_message(p),
        })
        .collect();
    if !empty.is_empty() {
        return Err(empty);
    }
    let loaded =
        super::rego::Loaded::from_sources(super::rego::read_sources(&files), data, timeout);
    if !loaded.errors.is_empty() {
        return Err(loaded.errors);
    }
    let tests: Vec<(usize, String, String, usize)> = loaded
        .scanned
        .into_iter()
        .flat_map(|(v1, file, scanned)| {
            let package = scanned.package;
            scanned.tests.into_iter().map(move |(t, line)| {
                (
                    usize::from(!v1),
                    format!("{package}.{t}"),
                    file.clone(),
                    line,
                )
            })
        })
        .collect();
    let mut engines = [loaded.v1, loaded.v0];
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
