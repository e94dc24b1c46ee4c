//! `tollgate verify`: run the Rego `test_` rules of policy directories, optionally with
//! coverage; ends with the `N passed, N failed` line CI systems read.

use super::query::written;
use crate::output;
use clap::Args;
use std::path::PathBuf;
use tollgate_core::engine::rego_verify::{verify, Outcome};
use tollgate_core::Error;

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// Policy directories or files (tests are `test_` rules, usually in `*_test.rego`).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// YAML or JSON file merged into `data` (repeatable).
    #[arg(short, long, value_name = "FILE")]
    data: Vec<PathBuf>,
    /// Report which policy lines the tests exercised.
    #[arg(long)]
    coverage: bool,
    /// Wall-clock limit for one test, in seconds; a test that runs longer is an error.
    #[arg(long, value_name = "SECONDS", default_value_t = super::check::EVAL_TIMEOUT_SECONDS)]
    eval_timeout: f64,
}

/// 0 when every test passes, 1 when one fails, 2 when policies do not compile.
pub(crate) fn run(a: &VerifyArgs) -> Result<u8, Error> {
    let timeout = super::check::timeout(a.eval_timeout)?;
    let v = match verify(&a.paths, &a.data, a.coverage, Some(timeout)) {
        Ok(v) => v,
        Err(errors) => {
            for e in &errors {
                output::error(&e.to_string());
            }
            return Ok(2);
        }
    };
    let mut out = String::new();
    let (mut passed, mut failed) = (0, 0);
    for t in &v.tests {
        match &t.outcome {
            Outcome::Pass => passed += 1,
            Outcome::Fail => {
                failed += 1;
                out.push_str(&format!("FAIL {}:{}: {}\n", t.file, t.line, t.name));
            }
            Outcome::Error(e) => {
                failed += 1;
                out.push_str(&format!("ERROR {}:{}: {}: {e}\n", t.file, t.line, t.name));
            }
        }
    }
    if a.coverage {
        for c in &v.coverage {
            let total = c.covered + c.not_covered;
            #[allow(clippy::cast_precision_loss)]
            let pct = if total == 0 {
                100.0
            } else {
                c.covered as f64 * 100.0 / total as f64
            };
            out.push_str(&format!(
                "coverage {}: {pct:.1}% ({}/{total} lines)\n",
                c.file, c.covered
            ));
        }
        out.push_str(&format!("coverage: {:.1}%\n", v.coverage_percent()));
    }
    out.push_str(&format!("{passed} passed, {failed} failed\n"));
    output::stdout(out.as_bytes()).map_err(written("stdout"))?;
    Ok(u8::from(failed > 0))
}
