//! Policy engines and the parallel runner: compile every policy once, evaluate every resource
//! against it on all cores, and return findings in a stable order.
// Reads manifests and policies from repositories: no indexing or unchecked arithmetic,
// unless a submodule says why its remaining sites cannot fail.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod rego;
mod rego_recursion;
pub mod rego_source;
pub mod rego_verify;

use crate::finding::{self, Finding};
use crate::manifest::{LoadError, Resource};
use rayon::prelude::*;

/// The outcome of evaluating resources.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Sorted findings.
    pub findings: Vec<Finding>,
    /// Findings waived by the policies themselves (conftest `exception` rules).
    pub suppressed: Vec<Finding>,
    /// Rules that failed to evaluate on a resource; the run went on.
    pub errors: Vec<LoadError>,
}

/// Evaluates the whole input set at once (`--combine`), for cross-resource rules. Bundled
/// packs judge one resource at a time and still run per resource: `--combine` must not switch
/// off the plaintext-Secret check.
pub fn run_combined(policies: &rego::Policies, resources: &[Resource]) -> Evaluation {
    let mut out = run(&policies.only(|q| q.bundled), resources);
    let user = policies.only(|q| !q.bundled);
    if !user.rules().is_empty() {
        let (findings, errors) = user.worker().evaluate_combined(resources);
        out.findings.extend(findings);
        out.errors.extend(errors);
    }
    finding::sort(&mut out.findings);
    out
}

/// Evaluates every resource against the compiled Rego policies, one engine per worker.
pub fn run(policies: &rego::Policies, resources: &[Resource]) -> Evaluation {
    if policies.is_empty() {
        // Nothing to ask: skip handing every resource to the Rego engines.
        return Evaluation::default();
    }
    let per_resource: Vec<(Vec<Finding>, Vec<Finding>, Vec<LoadError>)> = resources
        .par_iter()
        .map_init(
            || policies.worker(),
            |worker, r| {
                // A bug in an engine must cost one resource, not the run (ruff does the same
                // per file). The worker may be left half-way: give the thread a fresh one.
                crate::contained(|| worker.evaluate(r)).unwrap_or_else(|panic| {
                    *worker = policies.worker();
                    let error = LoadError {
                        file: r.origin.file.to_string(),
                        message: format!(
                            "internal error evaluating Rego policies on {}: {} (a tollgate bug: please report it with the policy)",
                            finding::ResourceRef::of(r).display(),
                            panic
                        ),
                    };
                    (Vec::new(), Vec::new(), vec![error])
                })
            },
        )
        .collect();
    let mut out = Evaluation::default();
    for (f, s, e) in per_resource {
        out.findings.extend(f);
        out.suppressed.extend(s);
        out.errors.extend(e);
    }
    finding::sort(&mut out.findings);
    finding::sort(&mut out.suppressed);
    out
}
