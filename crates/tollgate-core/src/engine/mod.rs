//! Policy engines and the parallel runner: compile every policy once, evaluate every resource
//! against it on all cores, and return findings in a stable order.

pub mod rego;
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

/// Evaluates the whole input set at once (`--combine`), for cross-resource rules.
pub fn run_combined(policies: &rego::Policies, resources: &[Resource]) -> Evaluation {
    let (mut findings, errors) = policies.worker().evaluate_combined(resources);
    finding::sort(&mut findings);
    Evaluation {
        findings,
        suppressed: Vec::new(),
        errors,
    }
}

/// Evaluates every resource against the compiled Rego policies, one engine per worker.
pub fn run(policies: &rego::Policies, resources: &[Resource]) -> Evaluation {
    if policies.is_empty() {
        // Nothing to ask: skip handing every resource to the Rego engines.
        return Evaluation::default();
    }
    let per_resource: Vec<(Vec<Finding>, Vec<Finding>, Vec<LoadError>)> = resources
        .par_iter()
        .map_init(|| policies.worker(), |worker, r| worker.evaluate(r))
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
