//! GitLab's Code Quality report (a JSON array in the Code Climate shape GitLab reads): one
//! entry per finding with a fingerprint, so a merge request's widget shows what it adds.

use super::Report;
use crate::finding::Severity;
use serde::Serialize;

#[derive(Serialize)]
struct Issue<'a> {
    description: String,
    check_name: &'a str,
    fingerprint: String,
    severity: &'static str,
    location: Location<'a>,
}

#[derive(Serialize)]
struct Location<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

pub(super) fn render(r: &Report<'_>) -> String {
    let issues: Vec<Issue<'_>> = r
        .findings
        .iter()
        .map(|f| Issue {
            description: super::one_line(f),
            check_name: &f.rule_id,
            fingerprint: f.fingerprint(),
            // GitLab's scale: info, minor, major, critical, blocker.
            severity: match f.severity {
                Severity::Error => "major",
                Severity::Warning => "minor",
                Severity::Info => "info",
            },
            location: Location {
                path: &f.location.file,
                lines: Lines {
                    begin: f.location.line.max(1),
                },
            },
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&issues).unwrap_or_else(|_| "[]".into());
    out.push('\n');
    out
}
