//! The one policy set every enforcement point evaluates: `tollgate check` in CI, the pre-commit
//! hooks and the admission webhook all load a [`PolicySet`] once and ask it for findings, so
//! the three give one verdict. Each engine (Rego with conftest conventions and the bundled
//! packs, Kyverno) is compiled here, its rules described once ([`PolicySet::rules`]), and its
//! findings merged, sorted and filtered through the same suppressions.

use crate::admission::{AdmissionRequest, Verdict};
use crate::config::Config;
use crate::engine::{self, rego};
use crate::finding::{self, Finding, Severity};
use crate::kyverno;
use crate::manifest::{LoadError, Resource};
use crate::suppress::{self, Baseline};
use std::path::PathBuf;
use std::time::Duration;

/// Where the policies come from and how they are evaluated.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Rego files and Kyverno YAML (files or directories): `--policy`, else `policies:`.
    pub paths: Vec<PathBuf>,
    /// Rego packages, data files, bundled packs, the time limit.
    pub rego: rego::Options,
    /// `--combine`: user Rego rules see every input at once (bundled packs stay per resource).
    pub combine: bool,
}

/// One rule of any engine, as reports (SARIF's rule list) and `rules list` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// The id findings carry.
    pub id: String,
    /// A title, when the policy has one.
    pub title: Option<String>,
    /// Severity of its findings, after `tollgate.yaml` overrides.
    pub severity: Severity,
    /// `rego` or `kyverno`.
    pub engine: &'static str,
    /// Where it is defined: `package/rule` (Rego), `file` (Kyverno).
    pub source: String,
    /// Documentation page, for bundled rules.
    pub help_uri: Option<String>,
}

/// What one evaluation of a set of resources produced.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Findings that count, sorted.
    pub findings: Vec<Finding>,
    /// Findings waived (policy `exception` rules, exceptions, annotations, the baseline),
    /// sorted, each with `suppressed_by`.
    pub suppressed: Vec<Finding>,
    /// Rules that could not be evaluated on a resource (exit 2), sorted by file.
    pub errors: Vec<LoadError>,
    /// Exceptions past their date (they no longer apply).
    pub expired: Vec<String>,
}

/// How findings are filtered after evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Filters<'a> {
    /// Honour `tollgate.dev/ignore` annotations.
    pub annotations: bool,
    /// Findings known before do not count.
    pub baseline: Option<&'a Baseline>,
    /// Today (`YYYY-MM-DD`), for exception expiry.
    pub today: &'a str,
}

/// Every compiled rule of every engine, ready to evaluate many resources on many threads.
pub struct PolicySet {
    rego: rego::Policies,
    kyverno: kyverno::PolicySet,
    combine: bool,
    timeout: Option<Duration>,
    config: Config,
    /// Ids of the bundled rules in use, for their documentation links.
    bundled: Vec<String>,
    notes: Vec<String>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PolicySet({:?}, {} Kyverno rules)",
            self.rego,
            self.kyverno.rule_count()
        )
    }
}

/// Where bundled rules are documented.
const RULE_DOCS: &str = "https://example.invalid/tollgate/docs/rules";

impl PolicySet {
    /// Compiles every source once. All errors are returned together (each names its file and
    /// line), so one run shows everything that is wrong.
    pub fn load(sources: &Sources, config: &Config) -> Result<PolicySet, Vec<LoadError>> {
        let mut errors = Vec::new();
        let rego = match rego::Policies::compile(&sources.paths, &sources.rego) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e.into_iter().map(|e| LoadError {
                    file: e.file,
                    message: e.message,
                }));
                None
            }
        };
        let kyverno = kyverno::load_policy_paths(&sources.paths);
        errors.extend(kyverno.errors.iter().map(|e| LoadError {
            file: e.file.clone(),
            message: e.to_string(),
        }));
        let (Some(rego), true) = (rego, errors.is_empty()) else {
            return Err(errors);
        };
        let mut notes = Vec::new();
        for (file, kind, name) in &kyverno.other {
            notes.push(format!(
                "{file}: {kind} {name} is not evaluated (only ClusterPolicy and Policy validate rules are)"
            ));
        }
        for p in &kyverno.policies {
            for r in p.rules.iter().filter(|r| !r.external.is_empty()) {
                if !r.name.starts_with("autogen-") {
                    notes.push(format!(
                        "{}: policy {} rule {}: not evaluated offline (context {} needs the cluster or a registry; `tollgate test` can supply it from a values file)",
                        p.file,
                        p.name,
                        r.name,
                        r.external.join(", ")
                    ));
                }
            }
            for (rule, what) in &p.unsupported {
                notes.push(format!(
                    "{}: policy {} rule {rule}: {what} rules are not evaluated",
                    p.file, p.name
                ));
            }
        }
        let bundled = crate::packs::rules()
            .into_iter()
            .filter(|r| sources.rego.packs.iter().any(|p| p.name == r.pack))
            .map(|r| r.id)
            .collect();
        Ok(PolicySet {
            rego,
            kyverno,
            combine: sources.combine,
            timeout: sources.rego.timeout,
            config: config.clone(),
            bundled,
            notes,
        })
    }

    /// What was loaded but will not be evaluated, and why (one line each, for stderr).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Every rule evaluated, of every engine, sorted by id.
    pub fn rules(&self) -> Vec<RuleMeta> {
        let mut out: Vec<RuleMeta> = self
            .rego
            .rules()
            .iter()
            .map(|q| RuleMeta {
                id: q.id.clone(),
                title: q.title.clone(),
                severity: self.config.severity_for(&q.id, q.severity),
                engine: "rego",
                source: format!("{}/{}", q.package, q.rule),
                help_uri: self
                    .bundled
                    .contains(&q.id)
                    .then(|| format!("{RULE_DOCS}/{}.md", q.id)),
            })
            .collect();
        for p in &self.kyverno.policies {
            for r in p.rules.iter().filter(|r| r.external.is_empty()) {
                let id = format!("{}/{}", p.name, r.name);
                out.push(RuleMeta {
                    severity: self
                        .config
                        .severity_for(&id, kyverno::severity_of(r.enforce)),
                    id,
                    title: p.title.clone().or_else(|| r.message.clone()),
                    engine: "kyverno",
                    source: p.file.clone(),
                    help_uri: None,
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        out
    }

    /// Findings of every engine on `resources`, as they were read from the repository (each
    /// a CREATE), filtered and sorted.
    pub fn evaluate(&self, resources: &[Resource], filters: Filters<'_>) -> Evaluation {
        let mut raw = if self.combine {
            engine::run_combined(&self.rego, resources)
        } else {
            engine::run(&self.rego, resources)
        };
        let (kyverno_findings, kyverno_errors) =
            kyverno::check(&self.kyverno, resources, self.timeout);
        if raw.findings.is_empty() {
            // Without Rego findings there is nothing to merge: skip moving every finding.
            raw.findings = kyverno_findings;
        } else {
            raw.findings.extend(kyverno_findings);
        }
        raw.errors.extend(kyverno_errors);
        self.finish(raw, resources, filters)
    }

    /// Severity overrides, suppressions and the reporting order, the same for every
    /// enforcement point.
    fn finish(
        &self,
        raw: engine::Evaluation,
        resources: &[Resource],
        filters: Filters<'_>,
    ) -> Evaluation {
        let engine::Evaluation {
            mut findings,
            suppressed: waived_by_policy,
            mut errors,
        } = raw;
        finding::sort(&mut findings);
        let suppress::Outcome {
            findings,
            suppressed: waived,
            expired,
        } = suppress::apply(
            findings,
            resources,
            &self.config,
            filters.annotations,
            filters.baseline,
            filters.today,
        );
        let mut suppressed = waived_by_policy;
        suppressed.extend(waived);
        finding::sort(&mut suppressed);
        errors.sort_by(|a, b| (&a.file, &a.message).cmp(&(&b.file, &b.message)));
        Evaluation {
            findings,
            suppressed,
            errors,
            expired,
        }
    }

    /// The verdict on one admission request: the same rules on the object the API server
    /// sends, with its operation, user and old object; denied when a finding reaches
    /// `deny_at`. Exceptions and annotations apply as in `check`.
    pub fn review(&self, req: &AdmissionRequest, deny_at: Severity, today: &str) -> Verdict {
        let resource = req.resource();
        let resources = std::slice::from_ref(&resource);
        // DELETE carries the deleted object as oldObject and no object: Rego rules judge
        // objects being admitted, so they are not asked; Kyverno rules see the operation.
        let mut raw = if req.operation == "DELETE" {
            engine::Evaluation::default()
        } else {
            engine::run(&self.rego, resources)
        };
        let user = req.kyverno_user();
        let request = kyverno::Request {
            operation: &req.operation,
            old_object: req.old_object.as_ref(),
            user: Some(&user),
            namespaces: None,
        };
        let (findings, errors) =
            kyverno::check_request(&self.kyverno, &resource, &request, self.timeout);
        raw.findings.extend(findings);
        raw.errors.extend(errors);
        let evaluation = self.finish(
            raw,
            resources,
            Filters {
                annotations: self.config.annotation_exemptions,
                baseline: None,
                today,
            },
        );
        Verdict::from_evaluation(req, evaluation, deny_at)
    }
}
