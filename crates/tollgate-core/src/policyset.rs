//! The one policy set every enforcement point evaluates: `tollgate check` in CI, the pre-commit
//! hooks and the admission webhook all load a [`PolicySet`] once and ask it for findings, so
//! the three give one verdict. Each engine (Rego with conftest conventions and the bundled
//! packs, Kyverno, the built-in RBAC and NetworkPolicy checks) is one [`Engine`] compiled
//! here; its rules are described once ([`PolicySet::rules`]) and its findings merged, sorted
//! and filtered through the same suppressions.

use crate::admission::{AdmissionRequest, Verdict};
use crate::checks;
use crate::config::Config;
use crate::engine::{self, rego, Engine, RegoEngine};
use crate::finding::{self, Finding, Severity};
use crate::kyverno;
use crate::manifest::{LoadError, Resource};
use crate::suppress::{self, Baseline};
use rayon::prelude::*;
use std::path::PathBuf;

/// Where the policies come from and how they are evaluated.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Rego files and Kyverno YAML (files or directories): `--policy`, else `policies:`.
    pub paths: Vec<PathBuf>,
    /// Rego packages, data files, bundled packs (Rego and built-in families), the time limit.
    pub rego: rego::Options,
    /// `--combine`: user Rego rules see every input at once (bundled packs stay per resource).
    pub combine: bool,
    /// How image signatures are checked: the registry transport (none offline), insecure
    /// registries (the configuration's are added), the cache.
    pub images: crate::signature::Access,
}

pub use crate::engine::RuleMeta;

/// What one evaluation of a set of resources produced.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Findings that count, sorted.
    pub findings: Vec<Finding>,
    /// Findings waived (policy `exception` rules, exceptions, annotations, the baseline),
    /// sorted, each with `suppressed_by`.
    pub suppressed: Vec<Finding>,
    /// Rules that could not be evaluated on a resource (exit 2), sorted by file.
    pub errors: Vec<engine::EvalError>,
    /// Exceptions past their date (they no longer apply).
    pub expired: Vec<String>,
    /// Audit annotations of the CEL policies that applied (`POLICY/KEY`, value), sorted.
    pub audit_annotations: Vec<(String, String)>,
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
    /// Rego, Kyverno, the built-in checks: each behind the one engine interface.
    engines: Vec<Box<dyn Engine>>,
    config: Config,
    notes: Vec<String>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PolicySet({} engines)", self.engines.len())
    }
}

impl PolicySet {
    /// Compiles every source once. All errors are returned together (each names its file and
    /// line), so one run shows everything that is wrong.
    pub fn load(sources: &Sources, config: &Config) -> Result<PolicySet, Vec<LoadError>> {
        let mut errors = Vec::new();
        let rego_files = rego::policy_files(&sources.paths, false);
        let rego = match rego::Policies::compile_files(&rego_files, &sources.rego) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e.into_iter().map(|e| LoadError {
                    file: e.file,
                    message: e.message,
                }));
                None
            }
        };
        let mut kyverno = kyverno::load_policy_paths(&sources.paths);
        errors.extend(kyverno.errors.iter().chain(&kyverno.cel.errors).map(|e| {
            let (file, message) = e.located();
            LoadError { file, message }
        }));
        // A --policy path that gives no engine anything is a mistake (a typo, the wrong
        // directory), not a clean run: conftest says "no policies found" too.
        for path in &sources.paths {
            let under = |file: &str| std::path::Path::new(file).starts_with(path);
            let holds = rego_files.iter().any(|f| f.starts_with(path))
                || kyverno.policies.iter().any(|p| under(&p.file))
                || kyverno.other.iter().any(|(f, _, _)| under(f))
                || kyverno.exceptions.iter().any(|e| under(&e.file))
                || kyverno.errors.iter().any(|e| under(&e.file))
                || kyverno.cel.files.iter().any(|f| under(f));
            if !holds {
                errors.push(LoadError {
                    file: path.display().to_string(),
                    message: crate::engine::no_policies_message(path),
                });
            }
        }
        let (Some(rego), true) = (rego, errors.is_empty()) else {
            return Err(errors);
        };
        let mut notes = kyverno_notes(&kyverno);
        notes.extend(kyverno.cel.notes());
        let cel = std::mem::take(&mut kyverno.cel);
        let families: Vec<checks::Family> =
            sources.rego.packs.iter().filter_map(|p| p.family).collect();
        let mut settings = checks::Settings::from_config(config);
        // One verifier (one cache, one set of registry tokens) for `images.signatures` and
        // Kyverno's verifyImages rules.
        let verify_rules: Vec<&kyverno::verify::VerifyImages> = kyverno
            .policies
            .iter()
            .flat_map(|p| &p.rules)
            .filter_map(|r| match &r.body {
                kyverno::policy::Body::VerifyImages(v) => Some(&**v),
                _ => None,
            })
            .collect();
        if !settings.signatures.is_empty() || !verify_rules.is_empty() {
            let mut access = sources.images.clone();
            access
                .insecure
                .extend(config.images.insecure_registries.iter().cloned());
            let verifier = std::sync::Arc::new(crate::signature::Verifier::new(&access));
            for v in verify_rules {
                let _ = v.verifier.set(verifier.clone());
            }
            settings.verifier = Some(verifier);
        }
        let engines: Vec<Box<dyn Engine>> = vec![
            Box::new(RegoEngine::new(rego, sources.combine)),
            Box::new(kyverno::KyvernoEngine {
                set: kyverno,
                timeout: sources.rego.timeout,
            }),
            Box::new(crate::cel::policies::CelEngine { set: cel }),
            Box::new(checks::Builtin {
                rules: builtin_rules(&families, &settings),
                settings,
            }),
        ];
        Ok(PolicySet {
            engines,
            config: config.clone(),
            notes,
        })
    }

    /// What was loaded but will not be evaluated, and why (one line each, for stderr).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Every rule evaluated, of every engine, sorted by id, with `tollgate.yaml`'s severity
    /// overrides applied.
    pub fn rules(&self) -> Vec<RuleMeta> {
        let mut out: Vec<RuleMeta> = self
            .engines
            .iter()
            .flat_map(|e| e.rules())
            .map(|mut r| {
                r.severity = self.config.severity_for(&r.id, r.severity);
                r
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        out
    }

    /// Findings of every engine on `resources`, as they were read from the repository (each
    /// a CREATE), filtered and sorted.
    pub fn evaluate(&self, resources: &[Resource], filters: Filters<'_>) -> Evaluation {
        let objects = kubernetes_objects(resources);
        let raw = self.merge(
            self.engines
                .par_iter()
                .map(|e| e.evaluate(input_of(&**e, resources, &objects)))
                .collect(),
        );
        self.finish(raw, resources, filters)
    }

    /// What a change adds (`check --new-since`): the findings of `head` (the branch) that
    /// `base` (its merge base) did not have, plus the access the change opens (ACCESS rules);
    /// the others are suppressed as `merge base`. `renames` maps a base file to its name on
    /// the branch. The baseline, if any, applies to the branch as in `evaluate`.
    ///
    /// `changed`, when known, names the files (either side's names) that differ between the
    /// two: engines whose findings depend on one resource alone then judge only the base's
    /// changed resources, and the branch's findings on unchanged files stand for the base's.
    pub fn evaluate_change(
        &self,
        base: &[Resource],
        head: &[Resource],
        renames: &std::collections::HashMap<String, String>,
        changed: Option<&std::collections::HashSet<String>>,
        filters: Filters<'_>,
    ) -> Evaluation {
        let (head_objects, base_objects) = (kubernetes_objects(head), kubernetes_objects(base));
        let head_parts: Vec<engine::Evaluation> = self
            .engines
            .par_iter()
            .map(|e| e.evaluate(input_of(&**e, head, &head_objects)))
            .collect();
        let base_parts: Vec<engine::Evaluation> = self
            .engines
            .par_iter()
            .zip(&head_parts)
            .map(|(e, now)| match changed {
                Some(changed) if e.per_resource() => {
                    let touched: Vec<Resource> = input_of(&**e, base, &base_objects)
                        .iter()
                        .filter(|r| changed.contains(&*r.origin.file))
                        .cloned()
                        .collect();
                    let mut part = e.evaluate(&touched);
                    let unchanged = |f: &&Finding| !changed.contains(&f.location.file);
                    part.findings
                        .extend(now.findings.iter().filter(unchanged).cloned());
                    part.suppressed
                        .extend(now.suppressed.iter().filter(unchanged).cloned());
                    part
                }
                _ => e.evaluate(input_of(&**e, base, &base_objects)),
            })
            .collect();
        let before = self.finish(
            self.merge(base_parts),
            base,
            Filters {
                baseline: None,
                ..filters
            },
        );
        let mut parts = head_parts;
        parts.push(checks::changes(&base_objects, &head_objects));
        let mut now = self.finish(self.merge(parts), head, filters);
        let (added, known) =
            crate::change::subtract(std::mem::take(&mut now.findings), &before.findings, renames);
        now.findings = added;
        now.suppressed.extend(known.into_iter().map(|mut f| {
            f.suppressed_by = Some("merge base".into());
            f
        }));
        finding::sort(&mut now.suppressed);
        now
    }

    /// One evaluation out of each engine's.
    fn merge(&self, mut parts: Vec<engine::Evaluation>) -> engine::Evaluation {
        let mut out = engine::Evaluation::default();
        // The largest engine's vector is taken and grown once, so no finding moves twice.
        let total = parts.iter().map(|p| p.findings.len()).sum::<usize>();
        if let Some(big) = parts.iter_mut().max_by_key(|p| p.findings.len()) {
            out.findings = std::mem::take(&mut big.findings);
            out.findings
                .reserve(total.saturating_sub(out.findings.len()));
        }
        for part in parts {
            out.findings.extend(part.findings);
            out.suppressed.extend(part.suppressed);
            out.errors.extend(part.errors);
            out.audit_annotations.extend(part.audit_annotations);
        }
        out
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
            mut audit_annotations,
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
        audit_annotations.sort();
        audit_annotations.dedup();
        Evaluation {
            findings,
            suppressed,
            errors,
            expired,
            audit_annotations,
        }
    }

    /// The verdict of the admission webhook: requests in `webhook.exempt_namespaces` are
    /// admitted without evaluation; the others get [`PolicySet::review`] with
    /// `webhook.fail_on` as the deny threshold.
    pub fn admit(&self, req: &AdmissionRequest, today: &str) -> Verdict {
        let webhook = &self.config.webhook;
        match &req.namespace {
            Some(ns) if webhook.exempt_namespaces.iter().any(|e| e == ns) => Verdict::exempt(req),
            _ => self.review(req, webhook.fail_on, today),
        }
    }

    /// The verdict on one admission request: the same rules on the object the API server
    /// sends, with its operation, user and old object; denied when a finding reaches
    /// `deny_at`. Exceptions and annotations apply as in `check`. Built-in rules that judge
    /// the whole set (a binding to a role not in it, a namespace without default deny) are not
    /// asked: one object is not the set.
    pub fn review(&self, req: &AdmissionRequest, deny_at: Severity, today: &str) -> Verdict {
        let resource = req.resource();
        // One object: the engines run one after the other on the caller's thread, and
        // nothing below hands work to the thread pool (see `finding::sort`): the pool's
        // wake-ups cost more than one object's rules.
        let parts = self
            .engines
            .iter()
            .map(|e| e.review(req, &resource))
            .collect();
        let raw = self.merge(parts);
        let evaluation = self.finish(
            raw,
            std::slice::from_ref(&resource),
            Filters {
                annotations: self.config.annotation_exemptions,
                baseline: None,
                today,
            },
        );
        Verdict::from_evaluation(req, evaluation, deny_at)
    }
}

/// The Kubernetes objects of `resources`: borrowed when the other documents follow them all
/// (as a scan leaves them), copied once when they are mixed.
fn kubernetes_objects(resources: &[Resource]) -> std::borrow::Cow<'_, [Resource]> {
    let objects = resources
        .iter()
        .position(|r| !r.is_kubernetes())
        .unwrap_or(resources.len());
    let (head, tail) = resources.split_at(objects);
    if tail.iter().all(|r| !r.is_kubernetes()) {
        std::borrow::Cow::Borrowed(head)
    } else {
        std::borrow::Cow::Owned(
            resources
                .iter()
                .filter(|r| r.is_kubernetes())
                .cloned()
                .collect(),
        )
    }
}

/// What `engine` is given: every document for Rego, the Kubernetes objects for the others.
fn input_of<'a>(
    engine: &dyn Engine,
    all: &'a [Resource],
    objects: &'a [Resource],
) -> &'a [Resource] {
    if engine.sees_documents() {
        all
    } else {
        objects
    }
}

/// The built-in rules of the enabled families, and the signature rules whenever
/// `images.signatures` is configured: a configured requirement is enforced, whatever packs run.
fn builtin_rules(
    families: &[checks::Family],
    settings: &checks::Settings,
) -> Vec<&'static checks::Rule> {
    let mut rules = checks::rules_of(families);
    if !settings.signatures.is_empty() {
        for rule in [
            &checks::images::signature::RULE,
            &checks::images::unchecked_signature::RULE,
        ] {
            if !rules.iter().any(|r| r.id == rule.id) {
                rules.push(rule);
            }
        }
    }
    rules
}

/// Kyverno policies and rules that were read but are not evaluated, one line each.
fn kyverno_notes(kyverno: &kyverno::PolicySet) -> Vec<String> {
    let mut notes = Vec::new();
    for (file, kind, name) in &kyverno.other {
        notes.push(format!(
            "{file}: {kind} {name} is not evaluated (ClusterPolicy and Policy validate rules and ValidatingPolicy are)"
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
        for r in &p.rules {
            let kyverno::policy::Body::VerifyImages(v) = &r.body else {
                continue;
            };
            if r.name.starts_with("autogen-") {
                continue;
            }
            if v.entries.iter().any(|e| e.mutate_digest) {
                notes.push(format!(
                    "{}: policy {} rule {}: mutateDigest is a mutation and is not applied (images are verified by the digest their tag resolves to)",
                    p.file, p.name, r.name
                ));
            }
            if v.tlog {
                notes.push(format!(
                    "{}: policy {} rule {}: signatures are verified with the keys; the Rekor transparency-log entry Kyverno also looks up is not (set keys.rekor.ignoreTlog: true to say it is not wanted)",
                    p.file, p.name, r.name
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
    notes
}
