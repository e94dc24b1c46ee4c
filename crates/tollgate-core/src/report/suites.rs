//! The reports of `tollgate test`: the results of Kyverno test suites in the same three forms
//! people and CI read for findings (human lines, JSON, JUnit), rendered here beside the
//! finding reports rather than in the binary.

use super::xml_escape as xml;
use crate::kyverno::testrun::{Outcome, TestResult, Totals};

/// An output format of `tollgate test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestFormat {
    /// `FAIL file [test] policy/rule resource: expected X, got Y` lines and the totals.
    Human,
    /// `{"tests": [...], "totals": {...}}`.
    Json,
    /// JUnit XML: a testsuite per test file, a testcase per expectation.
    Junit,
}

/// The report of suite results; `verbose` also lists the expectations that hold (human).
pub fn render_tests(
    format: TestFormat,
    results: &[TestResult],
    totals: &Totals,
    verbose: bool,
) -> String {
    match format {
        TestFormat::Human => human(results, totals, verbose),
        TestFormat::Json => json(results, totals),
        TestFormat::Junit => junit(results, totals),
    }
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
