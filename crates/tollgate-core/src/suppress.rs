//! Findings that must not fail the run, and why: `tollgate.dev/ignore` annotations (with a
//! reason), governed exceptions from `tollgate.yaml` (expired ones stop applying and are
//! reported), and baselines of already-known findings.

use crate::config::{Config, Exception};
use crate::finding::Finding;
use crate::manifest::Resource;
use crate::wildcard::matches as wildcard;
use std::collections::{HashMap, HashSet};

/// Annotation listing rule ids (or `*`) a resource is exempt from.
pub const IGNORE_ANNOTATION: &str = "tollgate.dev/ignore";
/// Annotation giving the reason; without it the exemption is not honoured.
pub const REASON_ANNOTATION: &str = "tollgate.dev/ignore-reason";

/// A path glob where `**` crosses directories and `*` does not.
#[cfg(test)]
fn path_glob(pattern: &str, path: &str) -> bool {
    path_glob_matcher(pattern).is_some_and(|g| g.is_match(path))
}

/// Compiles a path glob where `*` stops at `/` and `**` crosses directories.
pub fn path_glob_matcher(pattern: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// Today in UTC as `YYYY-MM-DD`, the day exception expiry is judged against.
pub fn today_utc() -> String {
    let mut day = now_rfc3339();
    day.truncate(10);
    day
}

/// Now in UTC, RFC 3339 (for log lines).
pub fn now_rfc3339() -> String {
    tollgate_yaml::time::Timestamp::now_utc().rfc3339()
}

/// Known findings, by fingerprint.
#[derive(Debug, Default)]
pub struct Baseline(HashSet<String>);

impl Baseline {
    /// Reads a baseline written by `--write-baseline`.
    pub fn load(path: &std::path::Path) -> Result<Self, crate::Error> {
        let failed = |reason: String| crate::Error::Baseline {
            path: path.to_path_buf(),
            reason,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| failed(format!("cannot read: {e}")))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| failed(format!("invalid baseline: {e}")))?;
        let prints = v["findings"]
            .as_array()
            .ok_or_else(|| failed("not a tollgate baseline (no `findings`)".into()))?
            .iter()
            .filter_map(|f| f["fingerprint"].as_str().map(str::to_owned))
            .collect();
        Ok(Baseline(prints))
    }

    /// The baseline file for `findings`, sorted so it diffs well.
    pub fn render(findings: &[Finding]) -> String {
        let mut rows: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "fingerprint": f.fingerprint(),
                    "rule_id": f.rule_id,
                    "file": f.location.file,
                    "resource": f.resource.display(),
                })
            })
            .collect();
        rows.sort_by(|a, b| a["fingerprint"].as_str().cmp(&b["fingerprint"].as_str()));
        rows.dedup();
        let mut s = serde_json::to_string_pretty(
            &serde_json::json!({ "schema_version": 1, "findings": rows }),
        )
        .unwrap_or_default();
        s.push('\n');
        s
    }
}

/// What suppression did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Findings that still count.
    pub findings: Vec<Finding>,
    /// Findings waived, each with `suppressed_by` set.
    pub suppressed: Vec<Finding>,
    /// Exceptions past their date, which no longer apply.
    pub expired: Vec<String>,
}

/// An exception in force, its path globs compiled once per run (not once per finding).
struct Live<'c> {
    exception: &'c Exception,
    /// `paths`, compiled; a pattern that does not compile (refused when the configuration
    /// is read) matches nothing.
    paths: Vec<Option<globset::GlobMatcher>>,
}

fn exception_applies(live: &Live<'_>, f: &Finding) -> bool {
    let e = live.exception;
    let rule = e.rules.iter().any(|r| wildcard(r, &f.rule_id));
    let path = live.paths.is_empty()
        || live
            .paths
            .iter()
            .any(|g| g.as_ref().is_some_and(|g| g.is_match(&f.location.file)));
    let res = &f.resource;
    let glob = |g: &Option<String>, v: Option<&str>| {
        g.as_deref().is_none_or(|g| wildcard(g, v.unwrap_or("")))
    };
    let resource = e.resources.is_empty()
        || e.resources.iter().any(|r| {
            glob(&r.kind, Some(&res.kind))
                && glob(&r.namespace, res.namespace.as_deref())
                && glob(&r.name, res.name.as_deref())
        });
    rule && path && resource
}

/// Applies severity overrides, annotation exemptions, exceptions and the baseline, in that
/// order. `today` is `YYYY-MM-DD`; an exception applies through its `expires` day.
pub fn apply(
    findings: Vec<Finding>,
    resources: &[Resource],
    config: &Config,
    use_annotations: bool,
    baseline: Option<&Baseline>,
    today: &str,
) -> Outcome {
    let by_origin: HashMap<(&str, usize), Vec<&Resource>> =
        resources.iter().fold(HashMap::new(), |mut m, r| {
            m.entry((&*r.origin.file, r.origin.document))
                .or_default()
                .push(r);
            m
        });
    let annotation = |f: &Finding| -> Option<String> {
        let rs = by_origin.get(&(f.location.file.as_str(), f.location.document))?;
        let r = rs
            .iter()
            .find(|r| r.kind == f.resource.kind && r.name == f.resource.name)?;
        let ann = r.object.get("metadata")?.get("annotations")?;
        let list = ann.get(IGNORE_ANNOTATION)?.as_str()?;
        let reason = ann
            .get(REASON_ANNOTATION)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.trim().is_empty())?;
        list.split(',')
            .map(str::trim)
            .any(|id| id == "*" || wildcard(id, &f.rule_id))
            .then(|| format!("annotation: {reason}"))
    };
    let mut out = Outcome::default();
    let live: Vec<Live<'_>> = config
        .exceptions
        .iter()
        .filter(|e| e.expires.as_deref().is_none_or(|d| d >= today))
        .map(|exception| Live {
            exception,
            paths: exception
                .paths
                .iter()
                .map(|p| path_glob_matcher(p))
                .collect(),
        })
        .collect();
    for e in config
        .exceptions
        .iter()
        .filter(|e| e.expires.as_deref().is_some_and(|d| d < today))
    {
        let at = config
            .path
            .as_ref()
            .map_or_else(|| "tollgate.yaml".into(), |p| p.display().to_string());
        out.expired.push(format!(
            "{at}:{}: the exception for {} expired on {} and no longer applies ({})",
            e.line,
            e.rules.join(", "),
            e.expires.as_deref().unwrap_or(""),
            e.reason
        ));
    }
    // Deciding is independent per finding (a large run has hundreds of thousands), and the
    // few waived ones are moved out in place rather than every finding into a new list.
    use rayon::prelude::*;
    let mut findings = findings;
    let decide = |f: &mut Finding| {
        f.severity = config.severity_for(&f.rule_id, f.severity);
        f.suppressed_by = use_annotations
            .then(|| annotation(f))
            .flatten()
            .or_else(|| {
                live.iter()
                    .find(|e| exception_applies(e, f))
                    .map(|e| format!("exception: {}", e.exception.reason))
            })
            .or_else(|| {
                baseline
                    .filter(|b| b.0.contains(&f.fingerprint()))
                    .map(|_| "baseline".to_owned())
            });
    };
    if findings.len() < crate::finding::PARALLEL_FROM {
        findings.iter_mut().for_each(decide);
    } else {
        findings.par_iter_mut().for_each(decide);
    }
    out.suppressed = findings
        .extract_if(.., |f| f.suppressed_by.is_some())
        .collect();
    out.findings = findings;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("IMG*", "IMG001"));
        assert!(wildcard("main/*", "main/deny"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("IMG*", "RBAC001"));
        assert!(wildcard("*", ""));
        assert!(path_glob("apps/legacy/**", "apps/legacy/x/y.yaml"));
        assert!(!path_glob("apps/*.yaml", "apps/x/y.yaml"));
    }
}
