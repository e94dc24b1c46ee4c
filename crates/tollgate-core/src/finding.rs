//! Findings are data: what a rule found, on which resource, where. Errors (a file that does
//! not parse, a policy that does not compile) are not findings.

use crate::manifest::Resource;
use serde::Serialize;

/// How serious a finding is; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Should be fixed.
    Warning,
    /// Must be fixed.
    Error,
}

impl Severity {
    /// Parses `error`, `warning` (or `warn`), `info`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "error" => Some(Severity::Error),
            "warning" | "warn" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The resource a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ResourceRef {
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: Option<String>,
}

impl ResourceRef {
    /// The identity of a loaded resource.
    pub fn of(r: &Resource) -> Self {
        ResourceRef {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }

    /// `Kind/namespace/name`, for messages; a document that is not a Kubernetes object has
    /// no identity (its file and document index locate it).
    pub fn display(&self) -> String {
        if self.kind.is_empty() {
            return "not a Kubernetes object".into();
        }
        match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => format!("{}/{ns}/{n}", self.kind),
            (None, Some(n)) => format!("{}/{n}", self.kind),
            _ => self.kind.clone(),
        }
    }
}

/// Where a finding points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// The file, relative to the working directory (`-` for stdin).
    pub file: String,
    /// 0-based document index in the file.
    pub document: usize,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The render root the resource came out of (`apps/staging`), when it was rendered; the
    /// file and line are then those of its source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_from: Option<String>,
}

/// One thing a rule found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id (`main/deny`, `RBAC001`, `my-policy/my-rule`).
    pub rule_id: String,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong, for people.
    pub message: String,
    /// `rego`, `kyverno`, `gatekeeper` or `builtin`.
    pub engine: String,
    /// The resource.
    pub resource: ResourceRef,
    /// Where.
    pub location: Location,
    /// The field it is about, when known (`spec.containers[0].image`).
    pub field_path: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Structured detail a policy attached (conftest's `details`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// Why it does not count (an exception, an annotation, the baseline), when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// The finding points at a secret value (a `Secret`'s `data`/`stringData`, or a field a
    /// secrets rule names): renderers that show source mask the value of that line.
    #[serde(skip)]
    pub sensitive: bool,
    /// What the finding is about when that is not the object it is located on (`namespace
    /// shop` for a namespace without default deny, placed on one of its workloads): its
    /// identity across commits and in baselines, so a new first workload does not make it new.
    #[serde(skip)]
    pub scope: Option<String>,
}

impl Finding {
    /// A finding on `resource`, located at `field_path` when the loader knows that field, else
    /// at the start of the resource.
    pub fn on(
        resource: &Resource,
        rule_id: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
        engine: &str,
        field_path: Option<String>,
    ) -> Self {
        let (line, column) = field_path
            .as_deref()
            .and_then(|p| resource.origin.position_of(p))
            .unwrap_or((resource.origin.line, resource.origin.column));
        Finding {
            rule_id: rule_id.into(),
            severity,
            message: message.into(),
            engine: engine.to_owned(),
            resource: ResourceRef::of(resource),
            location: Location {
                file: resource.origin.file.to_string(),
                document: resource.origin.document,
                line,
                column,
                rendered_from: resource.origin.rendered_from.as_deref().map(str::to_owned),
            },
            field_path,
            help: None,
            details: None,
            suppressed_by: None,
            sensitive: resource.is_secret_value_line(line),
            scope: None,
        }
    }

    /// A fingerprint that survives moved lines: rule, file, resource, and field (or message).
    /// FNV-1a, stable across releases and platforms, unlike std's hasher.
    pub fn fingerprint(&self) -> String {
        let mut key = match &self.scope {
            Some(scope) => format!("{}\0{scope}", self.rule_id),
            None => format!(
                "{}\0{}\0{}\0{}\0{}\0{}",
                self.rule_id,
                self.location.file,
                self.resource.kind,
                self.resource.namespace.as_deref().unwrap_or(""),
                self.resource.name.as_deref().unwrap_or(""),
                self.field_path.as_deref().unwrap_or(&self.message)
            ),
        };
        // One base file rendered by two overlays gives two findings; unrendered findings keep
        // the fingerprints they always had.
        if let Some(root) = &self.location.rendered_from {
            key.push('\0');
            key.push_str(root);
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// The order findings are reported in, whatever order rules ran in.
    pub fn sort_key(&self) -> (&Location, &str, &str) {
        (&self.location, &self.rule_id, &self.message)
    }
}

/// Below this many findings, sorting stays on the calling thread: asking the thread pool
/// costs a wake-up, which is most of an admission request's time.
pub(crate) const PARALLEL_FROM: usize = 4096;

/// Sorts findings into their reporting order and drops exact duplicates.
pub fn sort(findings: &mut Vec<Finding>) {
    use rayon::slice::ParallelSliceMut;
    if findings.len() < PARALLEL_FROM {
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    } else {
        findings.par_sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
    findings.dedup();
}
