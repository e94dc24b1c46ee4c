//! Policy engines and the parallel runner: compile every policy once, evaluate every resource
//! against it on all cores, and return findings in a stable order.
// Reads manifests and policies from repositories: no indexing or unchecked arithmetic,
// unless a submodule says why its remaining sites cannot fail.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod rego;
mod rego_recursion;
pub mod rego_source;
pub mod rego_verify;

use crate::admission::AdmissionRequest;
use crate::finding::{self, Finding, Severity};
use crate::manifest::Resource;
use rayon::prelude::*;

/// A rule (or an engine) could not judge a resource: a JMESPath error, the time limit, an
/// object too malformed to use, a contained bug. Not a finding (it never lands in a
/// baseline) and not a load error (the file was read): the run goes on and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// The file, with `:line` when known.
    pub file: String,
    /// What could not be evaluated, and why.
    pub message: String,
}

/// Where bundled and built-in rules are documented.
pub(crate) const RULE_DOCS: &str = "https://example.invalid/tollgate/docs/rules";

/// One rule of any engine, as reports (SARIF's rule list) and `rules list` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// The id findings carry.
    pub id: String,
    /// A title, when the policy has one.
    pub title: Option<String>,
    /// Severity of its findings (the engine's default; [`crate::policyset::PolicySet::rules`]
    /// applies `tollgate.yaml` overrides).
    pub severity: Severity,
    /// `rego`, `kyverno` or `builtin`.
    pub engine: &'static str,
    /// Where it is defined, for people: `package/rule` or `pack NAME (package/rule)` (Rego),
    /// `kyverno FILE`, `built-in FAMILY`.
    pub source: String,
    /// Documentation page, for bundled and built-in rules.
    pub help_uri: Option<String>,
    /// Why it matters, when documented.
    pub description: Option<String>,
    /// How to fix a finding, when documented.
    pub fix: Option<String>,
}

/// What the policy set asks of each engine: its rules, its findings on the resources of a
/// repository, and its findings on one object under admission. Every engine (Rego, Kyverno,
/// the built-in checks; later Gatekeeper and CEL) is one implementation, so an enforcement
/// point never wires an engine by hand.
pub trait Engine: Send + Sync {
    /// Every rule it evaluates, with default severities.
    fn rules(&self) -> Vec<RuleMeta>;
    /// Findings on `resources` as read from the repository (each a CREATE): per-resource rules
    /// in parallel, whole-set rules once.
    fn evaluate(&self, resources: &[Resource]) -> Evaluation;
    /// Findings on the one object of an admission request (`resource` is its object, or the
    /// old object for DELETE), with the request's operation, user and old object.
    fn review(&self, request: &AdmissionRequest, resource: &Resource) -> Evaluation;
    /// Whether every finding on a resource depends on that resource alone: then a resource
    /// that did not change between two commits has the same findings in both, and
    /// `--new-since` evaluates the merge base's changed resources only.
    fn per_resource(&self) -> bool {
        false
    }
    /// Whether it reads documents that are not Kubernetes objects too (Rego, as conftest
    /// does); the others are given Kubernetes objects only.
    fn sees_documents(&self) -> bool {
        false
    }
}

/// The Rego rules (conftest conventions and the bundled packs) as an engine.
pub(crate) struct RegoEngine {
    pub(crate) policies: rego::Policies,
    /// `--combine`: user rules see every input at once.
    pub(crate) combine: bool,
    /// Tells this set's workers apart from an older set's in the per-thread cache.
    pub(crate) id: u64,
}

impl RegoEngine {
    /// The Rego rules as an engine, with an id no other set in this process has.
    pub(crate) fn new(policies: rego::Policies, combine: bool) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        RegoEngine {
            policies,
            combine,
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

thread_local! {
    /// The worker this thread last reviewed with, by set id: a review on a webhook thread
    /// reuses it instead of cloning the engines per request. No lock: one per thread.
    static REVIEW_WORKER: std::cell::RefCell<Option<(u64, rego::Worker)>> =
        const { std::cell::RefCell::new(None) };
}

impl Engine for RegoEngine {
    fn per_resource(&self) -> bool {
        // `--combine` rules see every input at once.
        !self.combine
    }

    fn sees_documents(&self) -> bool {
        true
    }

    fn rules(&self) -> Vec<RuleMeta> {
        self.policies
            .rules()
            .iter()
            .map(|q| RuleMeta {
                id: q.id.clone(),
                title: q.title.clone(),
                severity: q.severity,
                engine: "rego",
                source: match q.pack {
                    Some(pack) => format!("pack {pack} ({}/{})", q.package, q.rule),
                    None => format!("{}/{}", q.package, q.rule),
                },
                help_uri: q.pack.map(|_| format!("{RULE_DOCS}/{}.md", q.id)),
                description: q.description.clone(),
                fix: q.fix.clone(),
            })
            .collect()
    }

    fn evaluate(&self, resources: &[Resource]) -> Evaluation {
        if self.combine {
            run_combined(&self.policies, resources)
        } else {
            run(&self.policies, resources)
        }
    }

    fn review(&self, request: &AdmissionRequest, resource: &Resource) -> Evaluation {
        // DELETE carries the deleted object as oldObject: Rego rules judge objects being
        // admitted, so they are not asked.
        if request.operation == "DELETE" || self.policies.is_empty() {
            return Evaluation::default();
        }
        // `input` is the object, as in `check`; `data.tollgate.review` is the request, added
        // only when a policy reads it (adding data makes the engine prepare itself again).
        // Without it the worker holds nothing of the request, so the thread keeps it.
        let reusable = !self.policies.reads_review();
        let worker = if reusable {
            let cached = REVIEW_WORKER.with(|w| {
                w.borrow_mut()
                    .take()
                    .filter(|(id, _)| *id == self.id)
                    .map(|(_, worker)| worker)
            });
            Ok(cached.unwrap_or_else(|| self.policies.worker()))
        } else {
            self.policies.worker().with_review(&request.review_data())
        };
        let error = |message: String| EvalError {
            file: resource.origin.file.to_string(),
            message,
        };
        let (findings, suppressed, errors) = match worker {
            Ok(mut w) => match crate::contained(|| w.evaluate(resource)) {
                Ok(out) => {
                    if reusable {
                        REVIEW_WORKER.with(|c| *c.borrow_mut() = Some((self.id, w)));
                    }
                    out
                }
                // A panicked worker may be left half-way: it is dropped.
                Err(panic) => (Vec::new(), Vec::new(), vec![panicked(resource, &panic)]),
            },
            Err(message) => (Vec::new(), Vec::new(), vec![error(message)]),
        };
        Evaluation {
            findings,
            suppressed,
            errors,
            audit_annotations: Vec::new(),
        }
    }
}

/// The outcome of evaluating resources.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Sorted findings.
    pub findings: Vec<Finding>,
    /// Findings waived by the policies themselves (conftest `exception` rules).
    pub suppressed: Vec<Finding>,
    /// Rules that failed to evaluate on a resource; the run went on.
    pub errors: Vec<EvalError>,
    /// Audit annotations of the policies that applied (`POLICY/KEY`, value), for the
    /// admission response; a repository check has no audit log to write them to.
    pub audit_annotations: Vec<(String, String)>,
}

/// Evaluates the whole input set at once (`--combine`), for cross-resource rules. Bundled
/// packs judge one resource at a time and still run per resource: `--combine` must not switch
/// off the plaintext-Secret check.
pub fn run_combined(policies: &rego::Policies, resources: &[Resource]) -> Evaluation {
    let mut out = run(&policies.only(|q| q.pack.is_some()), resources);
    let user = policies.only(|q| q.pack.is_none());
    if !user.rules().is_empty() {
        let (findings, errors) = user.worker().evaluate_combined(resources);
        out.findings.extend(findings);
        out.errors.extend(errors);
    }
    finding::sort(&mut out.findings);
    out
}

/// The error for a Rego evaluation that panicked on `resource` (a bug, contained to it).
fn panicked(resource: &Resource, panic: &str) -> EvalError {
    EvalError {
        file: resource.origin.file.to_string(),
        message: format!(
            "internal error evaluating Rego policies on {}: {panic} (a tollgate bug: please report it with the policy)",
            finding::ResourceRef::of(resource).display()
        ),
    }
}

/// Evaluates every resource against the compiled Rego policies, one engine per worker.
pub fn run(policies: &rego::Policies, resources: &[Resource]) -> Evaluation {
    if policies.is_empty() {
        // Nothing to ask: skip handing every resource to the Rego engines.
        return Evaluation::default();
    }
    let per_resource: Vec<(Vec<Finding>, Vec<Finding>, Vec<EvalError>)> = resources
        .par_iter()
        .map_init(
            || policies.worker(),
            |worker, r| {
                // A bug in an engine must cost one resource, not the run (ruff does the same
                // per file). The worker may be left half-way: give the thread a fresh one.
                crate::contained(|| worker.evaluate(r)).unwrap_or_else(|panic| {
                    *worker = policies.worker();
                    (Vec::new(), Vec::new(), vec![panicked(r, &panic)])
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

/// Why a policy path gave nothing to evaluate, for the "no policies found" error.
pub(crate) fn no_policies_message(path: &std::path::Path) -> String {
    if path.exists() {
        "no policies found: no .rego file, no Kyverno policy and no ValidatingAdmissionPolicy"
            .into()
    } else {
        "no policies found: the path does not exist".into()
    }
}
