//! The JSON report: `schema_version` 1, described by `docs/report.schema.json`.

use super::Report;
use crate::finding::Severity;
use serde_json::json;

pub(super) fn render(r: &Report<'_>) -> String {
    let value = json!({
        "schema_version": 1,
        "tool": { "name": "tollgate", "version": r.version },
        "findings": r.findings,
        "suppressed": if r.show_suppressed { json!(r.suppressed) } else { json!([]) },
        "errors": r.errors.iter().map(|e| json!({ "file": e.file, "message": e.message })).collect::<Vec<_>>(),
        "expired_exceptions": r.expired,
        "summary": {
            "files": r.files,
            "resources": r.resources,
            "skipped_documents": r.skipped,
            "errors": r.errors.len(),
            "suppressed": r.suppressed.len(),
            "findings": {
                "error": r.count(Severity::Error),
                "warning": r.count(Severity::Warning),
                "info": r.count(Severity::Info),
            },
            "exit_code": r.exit_code,
        },
    });
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}
