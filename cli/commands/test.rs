//! `tollgate test`: runs Kyverno `kyverno-test.yaml` suites and reports every expectation that
//! does not hold, then the `N passed, N failed` line CI systems read.

use crate::output;
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use std::path::PathBuf;
use tollgate_core::kyverno::testrun::{self, Options, Outcome, TestResult, Totals};
use tollgate_core::report::xml_escape as xml;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TestFormat {
    Human,
    Json,
    Junit,
}

#[derive(Args)]
pub(crate) struct TestArgs {
    /// Test files, or directories searched for `kyverno-test.yaml` (hidden ones included).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Judge like `kyverno test`: a rule that produced nothing, or an invalid policy, counts as
    /// skipped instead of failed, whatever the test expected.
    #[arg(long)]
    lenient: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: TestFormat,
    /// Also list the expectations that hold.
    #[arg(long)]
    verbose: bool,
    /// Wall-clock limit for one rule on one resource, in seconds; a rule that runs longer is
    /// an error result.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    eval_timeout: f64,
}

/// 0 when every expectation holds, 1 when one does not, 2 when no test could be found.
pub(crate) fn run(a: &TestArgs) -> Result<u8, tollgate_sops::Error> {
    let (files, errors) = testrun::find(&a.paths);
    for e in &errors {
        output::warn(e);
    }
    if files.is_empty() {
        output::warn("no kyverno-test.yaml found below the given paths");
        return Ok(2);
    }
    let opts = Options {
        lenient: a.lenient,
        timeout: Some(super::check::timeout(a.eval_timeout)?),
    };
    let results: Vec<TestResult> = files.par_iter().map(|f| testrun::run(f, opts)).collect();
    let totals = Totals::of(&results);
    let text = match a.format {
        TestFormat::Human => human(&results, &totals, a.verbose),
        TestFormat::Json => json(&results, &totals),
        TestFormat::Junit => junit(&results, &totals),
    };
    output::stdout(text.as_bytes())?;
    if a.format != TestFormat::Human {
        for r in &results {
            for w in &r.warnings {
                output::warn(&format!("{}: {w}", r.file));
            }
        }
    }
    Ok(u8::from(totals.failed > 0) + u8::from(!errors.is_empty() && totals.failed == 0))
}

fn human(results: &[TestResult], totals: &Totals, verbose: bool) -> String {
    let mut out = String::new();
    for r in results {
        for w in &r.warnings {
            out.push_str(&format!("warning: {}: {w}\n", r.file));
        }
        if let Some(e) = &r.error {
            out.push_str(&format!("ERROR {}: {e}\n", r.file));
        }
        for row in &r.rows {
            let label = match row.outcome {
                Outcome::Fail => "FAIL",
                Outcome::Skip => "SKIP",
                Outcome::Pass if verbose => "PASS",
                Outcome::Pass => continue,
            };
            let rule = if row.rule.is_empty() {
                row.policy.clone()
            } else {
                format!("{}/{}", row.policy, row.rule)
            };
            out.push_str(&format!(
                "{label} {} [{}] {rule} {}: expected {}, got {}",
                r.file, r.name, row.resource, row.expected, row.got
            ));
            if !row.reason.is_empty() {
                out.push_str(&format!(": {}", row.reason));
            }
            out.push('\n');
        }
    }
    let failing_tests = results
        .iter()
        .filter(|r| r.error.is_some() || r.count(Outcome::Fail) > 0)
        .count();
    out.push_str(&format!(
        "{} test files, {} with failures\n{}\n",
        results.len(),
        failing_tests,
        totals.line()
    ));
    out
}

fn json(results: &[TestResult], totals: &Totals) -> String {
    let doc = serde_json::json!({
        "tests": results,
        "totals": totals,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn junit(results: &[TestResult], totals: &Totals) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"tollgate test\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        totals.passed + totals.failed + totals.skipped,
        totals.failed,
        totals.skipped
    ));
    for r in results {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            xml(&r.file),
            r.rows.len() + usize::from(r.error.is_some()),
            r.count(Outcome::Fail) + usize::from(r.error.is_some()),
            r.count(Outcome::Skip)
        ));
        if let Some(e) = &r.error {
            out.push_str(&format!(
                "    <testcase name=\"load\" classname=\"{}\"><failure message=\"{}\"/></testcase>\n",
                xml(&r.name),
                xml(e)
            ));
        }
        for row in &r.rows {
            let name = format!(
                "{}/{} {} expect {}",
                row.policy, row.rule, row.resource, row.expected
            );
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\"",
                xml(&name),
                xml(&r.name)
            ));
            match row.outcome {
                Outcome::Pass => out.push_str("/>\n"),
                Outcome::Fail => out.push_str(&format!(
                    "><failure message=\"expected {}, got {}\">{}</failure></testcase>\n",
                    xml(&row.expected),
                    xml(&row.got),
                    xml(&row.reason)
                )),
                Outcome::Skip => out.push_str(&format!(
                    "><skipped message=\"{}\"/></testcase>\n",
                    xml(&row.reason)
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
