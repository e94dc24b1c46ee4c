//! The CEL policies of a policy set (Kyverno ValidatingPolicies, Kubernetes
//! ValidatingAdmissionPolicies and their bindings) as one engine: each resource's CEL scope
//! is built once and shared by every policy that selects it.

use super::engine::{request_scope, Identity, Input, Outcome};
use super::{vap, vpol, Scope};
use crate::admission::AdmissionRequest;
use crate::engine::{EvalError, Evaluation, RuleMeta};
use crate::finding::{self, Finding, Severity};
use crate::kyverno::PolicyError;
use crate::manifest::Resource;
use rayon::prelude::*;
use serde_json::Value;

/// The CEL policies found among policy documents.
#[derive(Debug, Default)]
pub struct CelSet {
    /// Kyverno ValidatingPolicies.
    pub vpols: Vec<vpol::ValidatingPolicy>,
    /// ValidatingAdmissionPolicies.
    pub vaps: Vec<vap::Policy>,
    /// Their bindings.
    pub bindings: Vec<vap::Binding>,
    /// Kyverno's CEL PolicyExceptions.
    pub exceptions: Vec<super::exception::CelException>,
    /// The other documents beside the policies: what a binding's paramRef may name.
    pub params: Vec<Value>,
    /// Documents that did not load.
    pub errors: Vec<PolicyError>,
    /// Files of the documents read (for "no policies found").
    pub files: Vec<String>,
}

impl CelSet {
    /// Reads the CEL policies among documents; the others are kept as possible params.
    pub fn from_resources(docs: &[Resource]) -> Self {
        let mut set = CelSet::default();
        for d in docs {
            let file = || d.origin.file.to_string();
            if vpol::is_vpol(d) {
                set.files.push(file());
                match vpol::parse(d) {
                    Ok(p) => set.vpols.push(p),
                    Err(e) => set.errors.extend(e),
                }
            } else if vap::is_policy(d) {
                set.files.push(file());
                match vap::parse_policy(d) {
                    Ok(p) => set.vaps.push(p),
                    Err(e) => set.errors.extend(e),
                }
            } else if super::exception::is_exception(d) {
                set.files.push(file());
                match super::exception::parse(d) {
                    Ok(e) => set.exceptions.push(e),
                    Err(e) => set.errors.extend(e),
                }
            } else if vap::is_binding(d) {
                set.files.push(file());
                match vap::parse_binding(d) {
                    Ok(b) => set.bindings.push(b),
                    Err(e) => set.errors.extend(e),
                }
            } else if !crate::kyverno::policy::is_policy(d)
                && !crate::kyverno::policy::is_other_kyverno(d)
            {
                set.params.push(d.object.clone());
            }
        }
        set
    }

    /// Whether it holds no policy.
    pub fn is_empty(&self) -> bool {
        self.vpols.is_empty() && self.vaps.is_empty()
    }

    /// What is loaded but not evaluated, one line each.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for p in &self.vpols {
            if let Some(call) = p.external() {
                notes.push(format!(
                    "{}: ValidatingPolicy {}: not evaluated offline ({call} needs the cluster; `tollgate test` answers it from a context file)",
                    p.file, p.name
                ));
            }
        }
        for p in &self.vaps {
            if let Some(call) = p.body.external {
                notes.push(format!(
                    "{}: ValidatingAdmissionPolicy {}: not evaluated offline ({call} needs the cluster)",
                    p.file, p.name
                ));
            } else if !self.bindings.iter().any(|b| b.policy == p.name) {
                notes.push(format!(
                    "{}: ValidatingAdmissionPolicy {} has no binding: not evaluated (the API server enforces a policy only through a ValidatingAdmissionPolicyBinding)",
                    p.file, p.name
                ));
            }
        }
        for b in &self.bindings {
            if !self.vaps.iter().any(|p| p.name == b.policy) {
                notes.push(format!(
                    "{}: ValidatingAdmissionPolicyBinding {} names policy {}, which is not loaded",
                    b.file, b.name, b.policy
                ));
            }
        }
        notes
    }

    /// The (policy, binding) pairs evaluated offline.
    fn bound(&self) -> impl Iterator<Item = (&vap::Policy, &vap::Binding)> {
        self.bindings.iter().filter_map(|b| {
            self.vaps
                .iter()
                .find(|p| p.name == b.policy && p.body.external.is_none())
                .map(|p| (p, b))
        })
    }

    fn vpols_offline(&self) -> impl Iterator<Item = &vpol::ValidatingPolicy> {
        self.vpols.iter().filter(|p| p.external().is_none())
    }
}

/// The severity of a failure under validation actions: Deny is an error, Warn and Audit
/// warnings.
pub fn severity_of(actions: &[String]) -> Severity {
    if actions.iter().any(|a| a == "Deny") {
        Severity::Error
    } else {
        Severity::Warning
    }
}

/// The rule id of a binding's findings.
fn binding_id(p: &vap::Policy, b: &vap::Binding) -> String {
    format!("{}/{}", p.name, b.name)
}

/// The CEL policies as an engine of the policy set.
pub(crate) struct CelEngine {
    pub(crate) set: CelSet,
}

impl CelEngine {
    /// Every CEL policy on one request; `params` are the objects a paramRef may name.
    /// `admission` leaves out ValidatingPolicies with admission disabled; a repository check
    /// leaves out only those with both admission and background disabled.
    fn judge(
        &self,
        res: &Resource,
        input: &Input<'_>,
        admission: bool,
        params: &[&Value],
    ) -> Judged {
        let id = Identity::of(input.object.or(input.old_object).unwrap_or(&res.object));
        let attrs = id.attributes(input);
        let mut findings = Vec::new();
        let mut suppressed = Vec::new();
        let mut errors = Vec::new();
        let mut annotations = Vec::new();
        // Built only when some policy selects the request: most select few kinds.
        let scope: std::cell::OnceCell<Scope<'static>> = std::cell::OnceCell::new();
        let scope_of = || scope.get_or_init(|| request_scope(input, &id));
        let error = |what: String, message: String| EvalError {
            file: res.origin.file.to_string(),
            message: format!(
                "{what} could not be evaluated on {}: {message}",
                finding::ResourceRef::of(res).display()
            ),
        };
        for p in self.set.vpols_offline() {
            // A repository check stands for admission and the background scan both.
            let enabled = p.admission || (!admission && p.background);
            if !enabled || !p.selects(&attrs) {
                continue;
            }
            let outcome =
                crate::contained(|| p.evaluate_excepted(&attrs, scope_of(), &self.set.exceptions))
                    .unwrap_or_else(|panic| {
                        Some((
                            Outcome::Error(format!("internal error: {panic}")),
                            Vec::new(),
                        ))
                    });
            let (outcome, waived_by) = match outcome {
                Some((o, by)) => (Some(o), by),
                None => (None, Vec::new()),
            };
            match outcome {
                Some(Outcome::Fail(m)) => {
                    let mut f = Finding::on(res, p.name.clone(), p.severity, m, "cel", None);
                    f.help = p.title.clone();
                    if waived_by.is_empty() {
                        findings.push(f);
                    } else {
                        f.suppressed_by = Some(format!("PolicyException {}", waived_by.join(", ")));
                        suppressed.push(f);
                    }
                }
                Some(Outcome::Error(_)) if !waived_by.is_empty() => {}
                Some(Outcome::Error(m)) => {
                    errors.push(error(format!("ValidatingPolicy {}", p.name), m));
                }
                _ => {}
            }
        }
        for (p, b) in self.set.bound() {
            if !p.selects(Some(b), &attrs) {
                continue;
            }
            let decision = crate::contained(|| p.evaluate(Some(b), &attrs, scope_of(), params))
                .unwrap_or_else(|panic| {
                    Some(vap::Decision {
                        outcome: Outcome::Error(format!("internal error: {panic}")),
                        actions: b.actions.clone(),
                        annotations: Vec::new(),
                    })
                });
            if let Some(d) = &decision {
                annotations.extend(d.annotations.iter().cloned());
            }
            match decision {
                Some(vap::Decision {
                    outcome: Outcome::Fail(m),
                    actions,
                    ..
                }) => findings.push(Finding::on(
                    res,
                    binding_id(p, b),
                    severity_of(&actions),
                    m,
                    "cel",
                    None,
                )),
                Some(vap::Decision {
                    outcome: Outcome::Error(m),
                    ..
                }) => errors.push(error(format!("ValidatingAdmissionPolicy {}", p.name), m)),
                _ => {}
            }
        }
        Judged {
            findings,
            suppressed,
            errors,
            annotations,
        }
    }
}

/// What the CEL policies found on one request.
struct Judged {
    findings: Vec<Finding>,
    /// Failures a PolicyException waives.
    suppressed: Vec<Finding>,
    errors: Vec<EvalError>,
    /// Audit annotations of the policies that applied.
    annotations: Vec<(String, String)>,
}

fn evaluation(parts: Vec<Judged>) -> Evaluation {
    let mut out = Evaluation::default();
    // One allocation each: a check of many objects moves hundreds of thousands of findings.
    out.findings
        .reserve(parts.iter().map(|j| j.findings.len()).sum());
    out.suppressed
        .reserve(parts.iter().map(|j| j.suppressed.len()).sum());
    for j in parts {
        out.findings.extend(j.findings);
        out.suppressed.extend(j.suppressed);
        out.errors.extend(j.errors);
        out.audit_annotations.extend(j.annotations);
    }
    finding::sort(&mut out.findings);
    finding::sort(&mut out.suppressed);
    out
}

impl crate::engine::Engine for CelEngine {
    fn per_resource(&self) -> bool {
        // Params may be any resource of the set.
        !self.set.vaps.iter().any(|p| p.param_kind.is_some())
    }

    fn rules(&self) -> Vec<RuleMeta> {
        let mut out: Vec<RuleMeta> = self
            .set
            .vpols_offline()
            .map(|p| RuleMeta {
                id: p.name.clone(),
                title: p.title.clone(),
                severity: p.severity,
                engine: "cel",
                source: format!("ValidatingPolicy {}", p.file),
                help_uri: None,
                description: None,
                fix: None,
            })
            .collect();
        out.extend(self.set.bound().map(|(p, b)| RuleMeta {
            id: binding_id(p, b),
            title: None,
            severity: severity_of(&b.actions),
            engine: "cel",
            source: format!("ValidatingAdmissionPolicy {}", p.file),
            help_uri: None,
            description: None,
            fix: None,
        }));
        out
    }

    fn evaluate(&self, resources: &[Resource]) -> Evaluation {
        if self.set.is_empty() {
            return Evaluation::default();
        }
        let params: Vec<&Value> = self
            .set
            .params
            .iter()
            .chain(resources.iter().map(|r| &r.object))
            .collect();
        let parts = resources
            .par_iter()
            .map(|r| {
                let input = Input {
                    object: Some(&r.object),
                    old_object: None,
                    operation: "CREATE",
                    user_info: None,
                    namespace_labels: None,
                    namespace_object: None,
                    subresource: "",
                    dry_run: false,
                };
                self.judge(r, &input, false, &params)
            })
            .collect();
        evaluation(parts)
    }

    fn review(&self, request: &AdmissionRequest, resource: &Resource) -> Evaluation {
        if self.set.is_empty() {
            return Evaluation::default();
        }
        let params: Vec<&Value> = self.set.params.iter().collect();
        let input = Input {
            object: request.object.as_ref(),
            old_object: request.old_object.as_ref(),
            operation: &request.operation,
            user_info: Some(&request.user_info),
            namespace_labels: None,
            namespace_object: None,
            subresource: &request.sub_resource,
            dry_run: request.dry_run,
        };
        evaluation(vec![self.judge(resource, &input, true, &params)])
    }
}
