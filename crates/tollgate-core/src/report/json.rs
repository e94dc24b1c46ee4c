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
    summary: Summary,
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

/// Streams the report: a large run's findings are never held as one text in memory.
pub(super) fn write(r: &Report<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let doc = Doc {
        schema_version: 1,
        tool: Tool {
            name: "tollgate",
            version: r.version,
        },
        findings: r.findings,
        suppressed: if r.show_suppressed { r.suppressed } else { &[] },
        errors: r
            .errors
            .iter()
            .map(|e| ErrorView {
                file: &e.file,
                message: &e.message,
            })
            .collect(),
        expired_exceptions: r.expired,
        summary: Summary {
            files: r.files,
            resources: r.resources,
            skipped_documents: r.skipped,
            errors: r.errors.len(),
            suppressed: r.suppressed.len(),
            findings: Counts {
                error: r.count(Severity::Error),
                warning: r.count(Severity::Warning),
                info: r.count(Severity::Info),
            },
            exit_code: r.exit_code,
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}
