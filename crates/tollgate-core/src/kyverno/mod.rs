//! Kyverno validate policies, evaluated offline with Kyverno's semantics: users bring their
//! `ClusterPolicy` files and `kyverno-test.yaml` suites unchanged. Findings go through the same
//! pipeline as Rego ones (rule id `<policy>/<rule>`).
// Reads manifests and policies from repositories: no indexing or unchecked arithmetic,
// unless a submodule says why its remaining sites cannot fail.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod autogen;
pub mod engine;
pub mod exception;
mod functions;
pub mod images;
pub mod jmes;
pub mod matching;
pub mod ops;
pub mod pattern;
pub mod policy;
mod random;
pub mod testrun;
mod timefmt;
pub mod units;
pub mod vars;
pub mod verify;
mod x509;

pub use engine::{evaluate, Request, RuleResponse, Status, Subject, Values};
pub use policy::{Policy, PolicyError};

use crate::finding::{Finding, Severity};
use crate::manifest::Resource;

/// Policies read from loaded documents, and the errors of the ones that could not be read.
#[derive(Debug, Default)]
pub struct PolicySet {
    /// Policies that loaded.
    pub policies: Vec<Policy>,
    /// Kyverno documents of kinds we do not evaluate (ValidatingPolicy, ...): (file, kind, name).
    pub other: Vec<(String, String, String)>,
    /// Policies that did not load.
    pub errors: Vec<PolicyError>,
    /// PolicyExceptions found beside the policies.
    pub exceptions: Vec<exception::Exception>,
    /// The CEL policies among the same documents (ValidatingPolicy,
    /// ValidatingAdmissionPolicy and bindings), for the CEL engine.
    pub cel: crate::cel::policies::CelSet,
}

impl PolicySet {
    /// Reads every Kyverno policy among the documents; other documents are ignored.
    pub fn from_resources(docs: &[Resource]) -> Self {
        let mut set = PolicySet {
            cel: crate::cel::policies::CelSet::from_resources(docs),
            ..PolicySet::default()
        };
        for d in docs {
            if policy::is_policy(d) {
                match policy::parse(d) {
                    Ok(p) => set.policies.push(p),
                    Err(e) => set.errors.extend(e),
                }
            } else if exception::is_exception(d) {
                match exception::parse(d) {
                    Ok(e) => set.exceptions.push(e),
                    Err(e) => set.errors.push(e),
                }
            } else if policy::is_other_kyverno(d) {
                set.other.push((
                    d.origin.file.to_string(),
                    d.kind.clone(),
                    d.name.clone().unwrap_or_default(),
                ));
            }
        }
        set
    }

    /// Rules of all policies.
    pub fn rule_count(&self) -> usize {
        self.policies.iter().map(|p| p.rules.len()).sum()
    }
}

/// Reads the Kyverno policies among YAML files: files named explicitly and YAML files found
/// in directories. A walked file that does not parse counts only if it mentions `kyverno.io`
/// (policy directories also hold data and test resources).
pub fn load_policy_paths(paths: &[std::path::PathBuf]) -> PolicySet {
    use crate::manifest::{files_below, is_manifest_path, load, Input};
    let mut explicit = Vec::new();
    let mut walked = Vec::new();
    for p in paths {
        if p.is_file() {
            if is_manifest_path(p) {
                explicit.push(Input::File(p.clone()));
            }
        } else if p.is_dir() {
            let (files, _) = files_below(p, false, is_manifest_path);
            walked.extend(files.into_iter().map(Input::File));
        }
    }
    let mut docs = load(&explicit);
    let walked_docs = load(&walked);
    docs.resources.extend(walked_docs.resources);
    let mut set = PolicySet::from_resources(&docs.resources);
    let mentions_kyverno =
        |file: &str| std::fs::read_to_string(file).is_ok_and(|t| t.contains("kyverno.io/"));
    for e in docs.errors.into_iter().chain(
        walked_docs
            .errors
            .into_iter()
            .filter(|e| mentions_kyverno(&e.file)),
    ) {
        set.errors.push(PolicyError {
            file: e.file,
            line: 0,
            policy: String::new(),
            rule: None,
            message: e.message,
        });
    }
    set
}

/// The findings of all policies on all resources (as `tollgate check` reports them): every
/// rule that fails; a rule that could not be evaluated (a JMESPath error, the time limit) is
/// an evaluation error, not a finding, so it never lands in a baseline. Enforce rules give errors, Audit rules warnings (a rule's own
/// `failureAction` over its policy's `validationFailureAction`). Rules that
/// need the cluster or a registry (see [`policy::Rule::external`]) are left out: offline
/// their variables cannot resolve, and the caller says so once instead of once per resource.
pub fn check(
    set: &PolicySet,
    resources: &[Resource],
    limit: Option<std::time::Duration>,
) -> (Vec<Finding>, Vec<crate::engine::EvalError>) {
    use rayon::prelude::*;
    // Without policies there is nothing to judge (and no per-resource context to build).
    if set.policies.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // Findings and errors go straight into their two vectors (no per-resource vectors to
    // merge afterwards: on a large run that doubled the findings' peak memory).
    resources
        .par_iter()
        .flat_map_iter(|res| judge(set, res, &Request::create(), limit, |_| true))
        .partition_map(|x| x)
}

/// The findings of all policies on one resource as an admission request brings it: its
/// operation, old object and user. On DELETE only the rules whose `match` names the DELETE
/// operation are asked (a deletion is not judged by rules written for what is created).
pub fn check_request(
    set: &PolicySet,
    resource: &Resource,
    req: &Request<'_>,
    limit: Option<std::time::Duration>,
) -> (Vec<Finding>, Vec<crate::engine::EvalError>) {
    use rayon::iter::Either;
    let delete = req.operation == "DELETE";
    let (mut findings, mut errors) = (Vec::new(), Vec::new());
    for item in judge(set, resource, req, limit, |r: &policy::Rule| {
        !delete || names_delete(r)
    }) {
        match item {
            Either::Left(f) => findings.push(f),
            Either::Right(e) => errors.push(e),
        }
    }
    (findings, errors)
}

fn names_delete(r: &policy::Rule) -> bool {
    let m = &r.matches;
    m.any
        .iter()
        .chain(&m.all)
        .any(|f| f.operations.iter().any(|o| o == "DELETE"))
}

/// The severity of a failing rule: errors for Enforce, warnings for Audit.
pub fn severity_of(enforce: bool) -> Severity {
    if enforce {
        Severity::Error
    } else {
        Severity::Warning
    }
}

/// Every policy on one resource: findings, and errors for rules that could not judge it.
fn judge(
    set: &PolicySet,
    res: &Resource,
    req: &Request<'_>,
    limit: Option<std::time::Duration>,
    keep: impl Fn(&policy::Rule) -> bool,
) -> Vec<rayon::iter::Either<Finding, crate::engine::EvalError>> {
    use rayon::iter::Either;
    let values = Values::default();
    let subject = Subject::new(&res.object, *req)
        .with_limit(limit)
        .with_exceptions(&set.exceptions);
    let mut out = Vec::new();
    let error = |message: String| {
        Either::Right(crate::engine::EvalError {
            file: res.origin.file.to_string(),
            message,
        })
    };
    for p in &set.policies {
        // Rules that need the cluster or a registry cannot resolve offline.
        let wanted = |r: &policy::Rule| r.external.is_empty() && keep(r);
        // A bug in the engine must cost one resource and policy, not the run.
        match crate::contained(|| engine::evaluate_rules(p, &subject, &values, wanted)) {
            Ok(responses) => {
                for resp in &responses {
                    if let Some(by) = &resp.waived_by {
                        // Waived: a failure is counted as suppressed, anything else is not
                        // a verdict here.
                        if let Some(mut f) = finding(p, res, resp) {
                            f.suppressed_by = Some(format!("PolicyException {by}"));
                            out.push(Either::Left(f));
                        }
                    } else if resp.status == Status::Error {
                        // Not a verdict on the resource: the rule could not judge it.
                        out.push(error(format!(
                            "Kyverno rule {}/{} could not be evaluated on {}: {}",
                            p.name,
                            resp.rule,
                            crate::finding::ResourceRef::of(res).display(),
                            resp.message
                        )));
                    } else if let Some(f) = finding(p, res, resp) {
                        out.push(Either::Left(f));
                    }
                }
            }
            Err(panic) => out.push(error(format!(
                "internal error evaluating Kyverno policy {} on {}: {panic} (a tollgate bug: please report it with the policy)",
                p.name,
                crate::finding::ResourceRef::of(res).display(),
            ))),
        }
    }
    out
}

fn finding(p: &Policy, res: &Resource, resp: &RuleResponse) -> Option<Finding> {
    // The rule's own `validate.failureAction` (Kyverno 1.13+) wins over the policy's; the
    // loader has already folded the two into `Rule::enforce`.
    let enforce = p
        .rules
        .iter()
        .find(|r| r.name == resp.rule)
        .map_or(p.enforce, |r| r.enforce);
    let severity = match resp.status {
        // An unscored policy's failure is a warning (Kyverno reports it as `warn`).
        Status::Fail if !p.scored => Severity::Warning,
        Status::Fail => severity_of(enforce),
        Status::Error | Status::Pass | Status::Skip => return None,
    };
    let mut f = Finding::on(
        res,
        format!("{}/{}", p.name, resp.rule),
        severity,
        resp.message.clone(),
        "kyverno",
        resp.field.clone(),
    );
    f.help = p.title.clone();
    Some(f)
}

/// Kyverno's validate rules as an engine of the policy set: severities decided here, once,
/// from each rule's own failure action.
pub(crate) struct KyvernoEngine {
    pub(crate) set: PolicySet,
    pub(crate) timeout: Option<std::time::Duration>,
}

impl crate::engine::Engine for KyvernoEngine {
    fn per_resource(&self) -> bool {
        true
    }

    fn rules(&self) -> Vec<crate::engine::RuleMeta> {
        let mut out = Vec::new();
        for p in &self.set.policies {
            for r in p.rules.iter().filter(|r| r.external.is_empty()) {
                out.push(crate::engine::RuleMeta {
                    id: format!("{}/{}", p.name, r.name),
                    title: p.title.clone().or_else(|| r.message.clone()),
                    severity: severity_of(r.enforce),
                    engine: "kyverno",
                    source: format!("kyverno {}", p.file),
                    help_uri: None,
                    description: None,
                    fix: None,
                });
            }
        }
        out
    }

    fn evaluate(&self, resources: &[Resource]) -> crate::engine::Evaluation {
        let (findings, errors) = check(&self.set, resources, self.timeout);
        evaluation(findings, errors)
    }

    fn review(
        &self,
        request: &crate::admission::AdmissionRequest,
        resource: &Resource,
    ) -> crate::engine::Evaluation {
        let user = request.kyverno_user();
        let req = Request {
            operation: &request.operation,
            old_object: request.old_object.as_ref(),
            user: Some(&user),
            namespaces: None,
            subresource: request.subresource(),
        };
        let (findings, errors) = check_request(&self.set, resource, &req, self.timeout);
        evaluation(findings, errors)
    }
}

/// Findings a PolicyException waived (they carry `suppressed_by`) counted apart.
fn evaluation(
    mut findings: Vec<Finding>,
    errors: Vec<crate::engine::EvalError>,
) -> crate::engine::Evaluation {
    let suppressed = findings
        .extract_if(.., |f| f.suppressed_by.is_some())
        .collect();
    crate::engine::Evaluation {
        findings,
        suppressed,
        errors,
        audit_annotations: Vec::new(),
    }
}
