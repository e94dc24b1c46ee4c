//! The built-in checks: rules written in Rust because they need the whole set of resources at
//! once (who is bound to what, which policy selects which pods) or semantics no policy
//! language has (RBAC aggregation, NetworkPolicy isolation). One file per rule; [`RULES`] is
//! the one table they are registered in, and the rule reference is generated from it.

// Reads manifests from repositories: no indexing or unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod access;
pub mod images;
pub mod netpol;
pub mod pods;
pub mod pss;
pub mod rbac;
pub mod secrets;
pub mod selector;

use crate::engine::EvalError;
use crate::finding::{Finding, Severity};
use crate::manifest::Resource;
use rayon::prelude::*;
use std::sync::OnceLock;

/// A family of built-in checks; each is enabled like a bundled pack (`--pack rbac`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Roles, ClusterRoles and their bindings.
    Rbac,
    /// NetworkPolicies and the workloads they select.
    Netpol,
    /// Container images: tags, digests, registries.
    Images,
    /// The Pod Security Standards' baseline profile.
    PssBaseline,
    /// What the restricted profile adds to baseline (enable both for restricted).
    PssRestricted,
    /// Secrets governance: plaintext values, SOPS coverage and metadata.
    Secrets,
    /// What a change opens: access its branch grants that its merge base did not
    /// (`check --new-since`).
    Access,
}

impl Family {
    /// The name `--pack` and `packs:` use.
    pub fn name(self) -> &'static str {
        match self {
            Family::Rbac => "rbac",
            Family::Netpol => "netpol",
            Family::Images => "images",
            Family::PssBaseline => "pss-baseline",
            Family::PssRestricted => "pss-restricted",
            Family::Secrets => "secrets",
            Family::Access => "access",
        }
    }

    /// The documentation page of the family (`docs/NAME.md`).
    pub fn doc(self) -> &'static str {
        match self {
            Family::PssBaseline | Family::PssRestricted => "pss",
            other => other.name(),
        }
    }
}

/// One built-in rule: its documentation and the function that applies it.
pub struct Rule {
    /// Stable id (`RBAC001`).
    pub id: &'static str,
    /// The family it belongs to.
    pub family: Family,
    /// One line: what a finding means.
    pub title: &'static str,
    /// Default severity (`tollgate.yaml` may override it).
    pub severity: Severity,
    /// The rule judges the set, not one object (a binding to a role that is not there, a
    /// namespace without a default-deny policy): admission, which sees one object, skips it.
    pub inventory: bool,
    /// Why it matters.
    pub description: &'static str,
    /// How to fix a finding.
    pub fix: &'static str,
    /// Emits the rule's findings.
    pub(crate) check: Check,
}

impl Rule {
    /// Whether it judges a change (base against branch) rather than one set of manifests.
    pub fn judges_a_change(&self) -> bool {
        matches!(self.check, Check::Change(_))
    }
}

/// How a rule judges.
#[derive(Clone, Copy)]
pub(crate) enum Check {
    /// Over one set of manifests.
    Set(fn(&Model<'_>, &mut Emit)),
    /// Over a change: the merge base's manifests, then the branch's.
    Change(fn(&Model<'_>, &Model<'_>, &mut Emit)),
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rule({})", self.id)
    }
}

/// Every built-in rule, by family, in id order.
pub static RULES: &[&Rule] = &[
    &rbac::wildcard::RULE,
    &rbac::escalation_verbs::RULE,
    &rbac::read_secrets::RULE,
    &rbac::pod_exec::RULE,
    &rbac::create_workloads::RULE,
    &rbac::node_proxy::RULE,
    &rbac::token_request::RULE,
    &rbac::approve_csr::RULE,
    &rbac::admission_config::RULE,
    &rbac::cluster_admin_binding::RULE,
    &rbac::anonymous_binding::RULE,
    &rbac::default_service_account::RULE,
    &rbac::missing_role::RULE,
    &netpol::no_default_deny_ingress::RULE,
    &netpol::no_default_deny_egress::RULE,
    &netpol::unselected_workload::RULE,
    &netpol::empty_pod_selector::RULE,
    &netpol::dangling_peer::RULE,
    &netpol::allow_all::RULE,
    &images::mutable_tag::RULE,
    &images::not_pinned::RULE,
    &images::registry::RULE,
    &images::pull_policy::RULE,
    &images::digest_drift::RULE,
    &images::invalid_reference::RULE,
    &images::signature::RULE,
    &images::unchecked_signature::RULE,
    &pss::host_process::RULE,
    &pss::host_namespaces::RULE,
    &pss::privileged::RULE,
    &pss::capabilities_baseline::RULE,
    &pss::host_path::RULE,
    &pss::host_ports::RULE,
    &pss::apparmor::RULE,
    &pss::selinux::RULE,
    &pss::proc_mount::RULE,
    &pss::seccomp_baseline::RULE,
    &pss::sysctls::RULE,
    &pss::volume_types::RULE,
    &pss::privilege_escalation::RULE,
    &pss::run_as_non_root::RULE,
    &pss::run_as_user::RULE,
    &pss::seccomp_restricted::RULE,
    &pss::capabilities_restricted::RULE,
    &secrets::plaintext::RULE,
    &secrets::missing_secret::RULE,
    &secrets::literal::RULE,
    &secrets::entropy::RULE,
    &secrets::sops_required::RULE,
    &secrets::flux_decryption::RULE,
    &secrets::stale_temp_file::RULE,
    &secrets::recipient_drift::RULE,
    &secrets::malformed::RULE,
    &secrets::unsealed_value::RULE,
    &secrets::tampered::RULE,
    &access::rbac_grant::RULE,
    &access::reach_opened::RULE,
];

/// The rules of `families`.
pub fn rules_of(families: &[Family]) -> Vec<&'static Rule> {
    RULES
        .iter()
        .copied()
        .filter(|r| families.contains(&r.family))
        .collect()
}

/// What the rules look at: the resources, and the RBAC graph and network model built from
/// them on first use (once per run, shared by every rule of the family).
pub struct Model<'a> {
    resources: &'a [Resource],
    settings: &'a Settings,
    rbac: OnceLock<rbac::Graph<'a>>,
    netpol: OnceLock<netpol::Network<'a>>,
    pods: OnceLock<Vec<pods::Pod<'a>>>,
    images: OnceLock<Vec<images::Use<'a>>>,
    signed: OnceLock<Vec<images::Signed>>,
    sops: OnceLock<Vec<secrets::SopsFile<'a>>>,
    literals: OnceLock<Vec<secrets::literal::Literal<'a>>>,
}

/// What `tollgate.yaml` tells the built-in rules (`images:`, `secrets:`).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `images.allowed_registries`: wildcards over `registry/repository`; empty allows all.
    pub allowed_registries: Vec<String>,
    /// The secrets rules' settings.
    pub secrets: secrets::Settings,
    /// `images.signatures`.
    pub signatures: Vec<crate::config::SignatureRule>,
    /// What checks them (`None` when no rule is configured).
    pub verifier: Option<std::sync::Arc<crate::signature::Verifier>>,
}

impl Settings {
    /// The settings a configuration gives.
    pub fn from_config(config: &crate::config::Config) -> Settings {
        Settings {
            allowed_registries: config.images.allowed_registries.clone(),
            secrets: secrets::Settings::from_config(&config.secrets),
            signatures: config.images.signatures.clone(),
            verifier: None,
        }
    }
}

static DEFAULT_SETTINGS: OnceLock<Settings> = OnceLock::new();

impl<'a> Model<'a> {
    /// A model over `resources` with default settings; nothing is built until a rule asks.
    pub fn new(resources: &'a [Resource]) -> Self {
        Model::with(resources, DEFAULT_SETTINGS.get_or_init(Settings::default))
    }

    /// A model over `resources` with `settings`.
    pub fn with(resources: &'a [Resource], settings: &'a Settings) -> Self {
        Model {
            resources,
            settings,
            rbac: OnceLock::new(),
            netpol: OnceLock::new(),
            pods: OnceLock::new(),
            images: OnceLock::new(),
            signed: OnceLock::new(),
            sops: OnceLock::new(),
            literals: OnceLock::new(),
        }
    }

    /// The resources.
    pub fn resources(&self) -> &'a [Resource] {
        self.resources
    }

    /// The settings.
    pub fn settings(&self) -> &'a Settings {
        self.settings
    }

    /// Every pod template of the set.
    pub fn pods(&self) -> &[pods::Pod<'a>] {
        self.pods
            .get_or_init(|| self.resources.iter().filter_map(pods::Pod::of).collect())
    }

    /// Every SOPS-encrypted file of the set, its metadata audited.
    pub fn sops_files(&self) -> &[secrets::SopsFile<'a>] {
        self.sops
            .get_or_init(|| secrets::sops_files(self.resources))
    }

    /// Every env value, ConfigMap value and annotation of the set (SECRET003 and SECRET004).
    pub(crate) fn literals(&self) -> &[secrets::literal::Literal<'a>] {
        self.literals
            .get_or_init(|| secrets::literal::literals(self))
    }

    /// Every container image reference of the set, parsed.
    pub fn images(&self) -> &[images::Use<'a>] {
        self.images.get_or_init(|| images::uses(self.pods()))
    }

    /// Every image an `images.signatures` rule covers, verified (once, for IMG007 and
    /// IMG008).
    pub fn signed(&self) -> &[images::Signed] {
        self.signed.get_or_init(|| images::signatures(self))
    }

    /// Roles, bindings and subjects, with aggregation resolved.
    pub fn rbac(&self) -> &rbac::Graph<'a> {
        self.rbac.get_or_init(|| rbac::Graph::build(self.resources))
    }

    /// Workloads, namespaces and NetworkPolicies.
    pub fn netpol(&self) -> &netpol::Network<'a> {
        self.netpol
            .get_or_init(|| netpol::Network::build(self.resources))
    }

    /// Malformed objects the models met (each names file and line).
    fn errors(&self) -> Vec<EvalError> {
        let mut out = Vec::new();
        if let Some(g) = self.rbac.get() {
            out.extend(g.errors.iter().cloned());
        }
        if let Some(n) = self.netpol.get() {
            out.extend(n.errors.iter().cloned());
        }
        out
    }
}

/// Collects the findings of one rule.
pub struct Emit {
    rule: &'static Rule,
    findings: Vec<Finding>,
}

impl Emit {
    /// A finding on `resource`, located at `field_path` (`rules[2]`, `subjects[0]`).
    pub fn at(&mut self, resource: &Resource, field_path: &str, message: String) {
        let mut f = Finding::on(
            resource,
            self.rule.id,
            self.rule.severity,
            message,
            "builtin",
            (!field_path.is_empty()).then(|| field_path.to_owned()),
        );
        f.help = Some(self.rule.fix.to_owned());
        self.findings.push(f);
    }

    /// A finding about `scope` (`namespace shop`), placed on `resource` at `field_path`.
    pub fn about(&mut self, scope: String, resource: &Resource, field_path: &str, message: String) {
        self.at(resource, field_path, message);
        if let Some(f) = self.findings.last_mut() {
            f.scope = Some(scope);
        }
    }

    /// A finding on a field that holds a secret: its line is masked in every excerpt.
    pub fn secret_at(&mut self, resource: &Resource, field_path: &str, message: String) {
        self.at(resource, field_path, message);
        if let Some(f) = self.findings.last_mut() {
            f.sensitive = true;
        }
    }
}

/// `rules` over `resources`. With `admission`, rules that judge the whole set are skipped:
/// the one object under review is not the set. Each rule's panic (a bug) costs that rule, not
/// the run.
pub fn evaluate(
    rules: &[&'static Rule],
    resources: &[Resource],
    admission: bool,
) -> crate::engine::Evaluation {
    evaluate_with(
        rules,
        resources,
        admission,
        DEFAULT_SETTINGS.get_or_init(Settings::default),
    )
}

/// [`evaluate`] with `tollgate.yaml`'s settings.
pub fn evaluate_with(
    rules: &[&'static Rule],
    resources: &[Resource],
    admission: bool,
    settings: &Settings,
) -> crate::engine::Evaluation {
    let model = Model::with(resources, settings);
    let judge = |rule: &&'static Rule| {
        crate::contained(|| {
            let mut emit = Emit {
                rule,
                findings: Vec::new(),
            };
            if let Check::Set(check) = rule.check {
                check(&model, &mut emit);
            }
            emit.findings
        })
        .map_err(|panic| internal_error(rule, resources, &panic))
    };
    // Admission judges one object: the rules run on the caller's thread (the pool's
    // wake-ups would cost more than the rules); a repository's set runs them in parallel.
    let selected = rules.iter().filter(|r| !(admission && r.inventory));
    let per_rule: Vec<Result<Vec<Finding>, EvalError>> = if admission {
        selected.map(judge).collect()
    } else {
        selected
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(judge)
            .collect()
    };
    let mut out = crate::engine::Evaluation::default();
    for r in per_rule {
        match r {
            Ok(f) => out.findings.extend(f),
            Err(e) => out.errors.push(e),
        }
    }
    out.errors.extend(model.errors());
    crate::finding::sort(&mut out.findings);
    out
}

/// A rule that panicked (a bug): an error for the run, named after the first file.
fn internal_error(rule: &Rule, resources: &[Resource], panic: &str) -> EvalError {
    EvalError {
        file: resources
            .first()
            .map(|r| r.origin.file.to_string())
            .unwrap_or_default(),
        message: format!(
            "internal error in built-in rule {}: {panic} (a tollgate bug: please report it)",
            rule.id
        ),
    }
}

/// The access a change opens: every [`Check::Change`] rule over the merge base's manifests
/// and the branch's, findings on the branch's objects.
pub fn changes(base: &[Resource], head: &[Resource]) -> crate::engine::Evaluation {
    let (before, after) = (Model::new(base), Model::new(head));
    let mut out = crate::engine::Evaluation::default();
    for rule in RULES.iter().copied() {
        let Check::Change(check) = rule.check else {
            continue;
        };
        let judged = crate::contained(|| {
            let mut emit = Emit {
                rule,
                findings: Vec::new(),
            };
            check(&before, &after, &mut emit);
            emit.findings
        });
        match judged {
            Ok(f) => out.findings.extend(f),
            Err(panic) => out.errors.push(internal_error(rule, head, &panic)),
        }
    }
    out.errors.extend(after.errors());
    crate::finding::sort(&mut out.findings);
    out
}

/// The built-in rules of the enabled families, as an engine of the policy set.
pub(crate) struct Builtin {
    pub(crate) rules: Vec<&'static Rule>,
    pub(crate) settings: Settings,
}

impl crate::engine::Engine for Builtin {
    fn rules(&self) -> Vec<crate::engine::RuleMeta> {
        self.rules
            .iter()
            .map(|r| crate::engine::RuleMeta {
                id: r.id.to_owned(),
                title: Some(r.title.to_owned()),
                severity: r.severity,
                engine: "builtin",
                source: format!("built-in {}", r.family.name()),
                help_uri: Some(format!("{}/{}.md", crate::engine::RULE_DOCS, r.id)),
                description: Some(r.description.to_owned()),
                fix: Some(r.fix.to_owned()),
            })
            .collect()
    }

    fn evaluate(&self, resources: &[Resource]) -> crate::engine::Evaluation {
        evaluate_with(&self.rules, resources, false, &self.settings)
    }

    fn review(
        &self,
        request: &crate::admission::AdmissionRequest,
        resource: &Resource,
    ) -> crate::engine::Evaluation {
        // A deleted object grants and exposes nothing any more.
        if request.operation == "DELETE" {
            return crate::engine::Evaluation::default();
        }
        evaluate_with(
            &self.rules,
            std::slice::from_ref(resource),
            true,
            &self.settings,
        )
    }
}

/// The namespace a namespaced object without `metadata.namespace` lands in when applied.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// The namespace of a namespaced object: its own, else [`DEFAULT_NAMESPACE`].
pub(crate) fn namespace_of(r: &Resource) -> &str {
    r.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
}

/// `file:line` of a field of a resource, for errors about malformed objects.
pub(crate) fn place(resource: &Resource, field_path: &str) -> String {
    let (line, _) = resource
        .origin
        .position_of(field_path)
        .unwrap_or((resource.origin.line, resource.origin.column));
    format!("{}:{line}", resource.origin.file)
}

/// A malformed object: the error names the file, line and object, and says what is wrong.
pub(crate) fn malformed(resource: &Resource, field_path: &str, what: &str) -> EvalError {
    let object = crate::finding::ResourceRef::of(resource).display();
    EvalError {
        file: place(resource, field_path),
        message: if field_path.is_empty() {
            format!("{object}: {what}")
        } else {
            format!("{object}: {field_path}: {what}")
        },
    }
}

/// The rule reference pages of the built-in rules: `(file name, Markdown)`, and one index row
/// each.
pub fn docs() -> Vec<(String, String, String)> {
    RULES
        .iter()
        .map(|r| {
            let family = r.family.name();
            let (runs, scope) = match r.check {
                Check::Change(_) => (
                    "Runs with: `tollgate check --new-since REF` (built-in, whatever packs are enabled; see [docs/ci.md](../ci.md))".to_owned(),
                    "a change: the merge base's manifests against the branch's",
                ),
                Check::Set(_) => (
                    format!("Pack: `{family}` (built-in, `tollgate check --pack {family}`; see [docs/{doc}.md](../{doc}.md))", doc = r.family.doc()),
                    if r.inventory {
                        "the whole set of manifests (`tollgate check`; not at admission, which sees one object)"
                    } else {
                        "each object (`tollgate check` and admission)"
                    },
                ),
            };
            let page = format!(
                "# {id}: {title}\n\n- Severity: {sev}\n- {runs}\n- Judges: {scope}\n\n## Why\n\n{why}\n\n## Fix\n\n{fix}\n\n## Silence it\n\nAnnotate the resource (`tollgate.dev/ignore: \"{id}\"` with a `tollgate.dev/ignore-reason`), or add an exception for `{id}` with a reason and an expiry date to `tollgate.yaml`.\n",
                id = r.id,
                title = r.title,
                sev = r.severity.as_str(),
                why = r.description,
                fix = r.fix,
            );
            let row = format!(
                "| [{id}]({id}.md) | {sev} | {family} | {title} |\n",
                id = r.id,
                sev = r.severity.as_str(),
                title = r.title
            );
            (format!("{}.md", r.id), page, row)
        })
        .collect()
}

/// The candidates close to `wanted` (same text in another case, one containing the other, or
/// a few edits away), for "did you mean" hints; at most five, in order.
pub fn close_matches<'c>(wanted: &str, candidates: impl Iterator<Item = &'c str>) -> Vec<String> {
    let w = wanted.to_lowercase();
    let limit = (w.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let l = c.to_lowercase();
            let d = if l == w || l.contains(&w) || w.contains(&l) {
                0
            } else {
                edit_distance(&w, &l)
            };
            (d <= limit).then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(5)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// Levenshtein distance over characters, with one row of memory.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for ca in a.chars() {
        let mut diagonal = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = first.saturating_add(1);
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j.saturating_add(1)).copied().unwrap_or(usize::MAX);
            let left = row.get(j).copied().unwrap_or(usize::MAX);
            let cost = usize::from(ca != *cb);
            let best = diagonal
                .saturating_add(cost)
                .min(above.saturating_add(1))
                .min(left.saturating_add(1));
            diagonal = above;
            if let Some(cell) = row.get_mut(j.saturating_add(1)) {
                *cell = best;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

/// Strings of a list field (`verbs`, `resources`); `None` when the field is absent or null,
/// an error when it is not a list of strings.
pub(crate) fn strings<'v>(
    value: &'v serde_json::Value,
    key: &str,
) -> Result<Option<Vec<&'v str>>, String> {
    match value.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(serde_json::Value::as_str)
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a list of strings")),
        Some(_) => Err(format!("{key} must be a list of strings")),
    }
}
