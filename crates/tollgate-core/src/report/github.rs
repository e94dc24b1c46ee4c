//! GitHub Actions workflow commands: one annotation per finding, with `line=` so it shows in
//! "Files changed".

use super::Report;
use crate::finding::Severity;

/// Escapes the message part of a workflow command. The log viewer is a terminal too: other
/// control characters are shown escaped.
fn data(s: &str) -> String {
    let s = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    super::printable(&s).into_owned()
}

/// Escapes a property value of a workflow command.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub(super) fn render(r: &Report<'_>) -> String {
    let mut out = String::new();
    for f in r.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        out.push_str(&format!(
            "::{level} file={},line={},col={},title={}::{}\n",
            property(&f.location.file),
            f.location.line,
            f.location.column,
            property(&f.rule_id),
            data(&super::one_line(f))
        ));
    }
    for (file, message) in r.problems() {
        out.push_str(&format!(
            "::error file={},title=tollgate::{}\n",
            property(file),
            data(message)
        ));
    }
    out
}
