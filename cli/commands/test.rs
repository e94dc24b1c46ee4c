//! `tollgate test`: runs Kyverno `kyverno-test.yaml` suites and reports every expectation that
//! does not hold, then the `N passed, N failed` line CI systems read.

use super::query::written;
use crate::output;
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use std::path::PathBuf;
use tollgate_core::kyverno::testrun::{self, Options, TestResult, Totals};
use tollgate_core::report::suites::{render_tests, TestFormat};
use tollgate_core::Error;

/// `--format` of `tollgate test`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
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
    format: Format,
    /// Also list the expectations that hold.
    #[arg(long)]
    verbose: bool,
    /// Wall-clock limit for one rule on one resource, in seconds; a rule that runs longer is
    /// an error result.
    #[arg(long, value_name = "SECONDS", default_value_t = super::check::EVAL_TIMEOUT_SECONDS)]
    eval_timeout: f64,
}

/// 0 when every expectation holds, 1 when one does not, 2 when no test could be found.
pub(crate) fn run(a: &TestArgs) -> Result<u8, Error> {
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
    let format = match a.format {
        Format::Human => TestFormat::Human,
        Format::Json => TestFormat::Json,
        Format::Junit => TestFormat::Junit,
    };
    let text = render_tests(format, &results, &totals, a.verbose);
    output::stdout(text.as_bytes()).map_err(written("stdout"))?;
    if format != TestFormat::Human {
        for r in &results {
            for w in &r.warnings {
                output::warn(&format!("{}: {w}", r.file));
            }
        }
    }
    Ok(u8::from(totals.failed > 0) + u8::from(!errors.is_empty() && totals.failed == 0))
}
