//! The JSON report: `schema_version` 1, described by `docs/report.schema.json`.

use super::Report;
use crate::finding::{Finding, Severity};
use serde::Serialize;

// Borrowed views serialized straight to text: building a `serde_json::Value` first copied every
// finding (a sizeable share of a large run). Field order is the schema's order.
#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    tool: Tool<'a>,
    findings: &'a [Finding],
    suppressed: &'a [Finding],
    errors: Vec<ErrorView<'a>>,
    expired_exceptions: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<Vec<SkippedView<'a>>>,
    summary: Summary,
}

#[derive(Serialize)]
struct SkippedView<'a> {
    file: &'a str,
    documents: usize,
    reason: &'static str,
    detail: String,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct ErrorView<'a> {
    file: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    resources: usize,
    skipped_documents: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    rendered_roots: Option<usize>,
    errors: usize,
    suppressed: usize,
    findings: Counts,
    exit_code: u8,
}

#[derive(Serialize)]
struct Counts {
    error: usize,
    warning: usize,
    info: usize,
}

pub(super) fn render(r: &Report<'_>) -> String {
    let mut out = Vec::new();
    // Writing to memory cannot fail, and serde_json writes valid UTF-8.
    let _ = write(r, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Streams the report: a large run's findings are never held as one text in memory, and they
/// are rendered in parallel, a batch at a time, then written in order.
pub(super) fn write(r: &Report<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let doc = Doc {
        schema_version: 1,
        tool: Tool {
            name: "tollgate",
            version: r.version,
        },
        findings: &[],
        suppressed: if r.show_suppressed { r.suppressed } else { &[] },
        errors: r
            .problems()
            .map(|(file, message)| ErrorView { file, message })
            .collect(),
        expired_exceptions: r.expired,
        skipped: r.show_skipped.then(|| {
            r.skipped
                .iter()
                .map(|s| SkippedView {
                    file: &s.file,
                    documents: s.documents,
                    reason: s.reason.category(),
                    detail: s.reason.to_string(),
                })
                .collect()
        }),
        summary: Summary {
            files: r.files,
            resources: r.resources,
            skipped_documents: r.skipped_documents(),
            rendered_roots: (r.roots > 0).then_some(r.roots),
            errors: r.errors.len() + r.eval_errors.len(),
            suppressed: r.suppressed.len(),
            findings: Counts {
                error: r.count(Severity::Error),
                warning: r.count(Severity::Warning),
                info: r.count(Severity::Info),
            },
            exit_code: r.exit_code,
        },
    };
    let frame = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    // Top-level keys are the only ones indented by exactly two spaces.
    let slot = "\n  \"findings\": []";
    super::pretty::write_spliced(&frame, slot, 2, r.findings, |f, ser| f.serialize(ser), out)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, ResourceRef};

    fn finding(rule: &str, msg: &str, details: Option<serde_json::Value>) -> Finding {
        Finding {
            rule_id: rule.into(),
            severity: Severity::Warning,
            message: msg.into(),
            engine: "kyverno".into(),
            resource: ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("ns".into()),
                name: None,
            },
            location: Location {
                file: "a.yaml".into(),
                document: 0,
                line: 1,
                column: 1,
                rendered_from: None,
            },
            field_path: Some("spec.containers[0]".into()),
            help: None,
            details,
            suppressed_by: None,
            sensitive: false,
            scope: None,
        }
    }

    #[test]
    fn findings_rendered_apart_read_as_one_serialization() {
        let details = serde_json::json!({"why": [1, {"nested": "a\nb", "e": {}}], "empty": []});
        let findings: Vec<Finding> = (0..5000)
            .map(|i| {
                let d = (i % 3 == 0).then(|| details.clone());
                finding(&format!("p/r{i}"), "line\nbreak \"quoted\"", d)
            })
            .collect();
        let report = Report {
            findings: &findings,
            rules: &[],
            suppressed: &[],
            show_suppressed: false,
            errors: &[],
            eval_errors: &[],
            expired: &[],
            files: 1,
            resources: 1,
            skipped: &[],
            show_skipped: false,
            roots: 0,
            evaluated: &[],
            exit_code: 1,
            version: "0.0.0",
        };
        let text = render(&report);
        let mut whole = serde_json::json!({
            "schema_version": 1,
            "tool": {"name": "tollgate", "version": "0.0.0"},
            "findings": findings,
            "suppressed": [],
            "errors": [],
            "expired_exceptions": [],
            "summary": {
                "files": 1, "resources": 1, "skipped_documents": 0, "errors": 0, "suppressed": 0,
                "findings": {"error": 0, "warning": 5000, "info": 0},
                "exit_code": 1
            }
        })
        .to_string();
        whole = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&whole).unwrap(),
        )
        .unwrap();
        whole.push('\n');
        assert_eq!(text, whole);
        let none = render(&Report {
            findings: &[],
            ..report
        });
        assert!(none.contains("\n  \"findings\": [],\n"));
    }
}
