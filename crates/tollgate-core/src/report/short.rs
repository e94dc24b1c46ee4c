//! The short report, for a terminal at commit time (the pre-commit hooks): one line per
//! finding, `file:line:col: severity[rule] message (object)`, then the errors and the summary.
//! No source excerpt: a hook's output should fit the screen above the next prompt.

use super::{printable, Report};
use crate::finding::Severity;

pub(super) fn render(r: &Report<'_>) -> String {
    let mut out = String::new();
    for f in r.findings {
        let word = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let rendered = f
            .location
            .rendered_from
            .as_deref()
            .map(|root| format!(", rendered from {}", printable(root)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}:{}:{}: {word}[{}] {} ({}{rendered})\n",
            printable(&f.location.file),
            f.location.line,
            f.location.column,
            printable(&f.rule_id),
            printable(&f.message),
            printable(&f.resource.display())
        ));
    }
    for (file, message) in r.problems() {
        out.push_str(&format!(
            "{}: error: {}\n",
            printable(file),
            printable(message)
        ));
    }
    out.push_str(&super::human::summary(r));
    out
}
