//! One renderer per output format, all fed the same sorted findings and run summary; the
//! results of `tollgate test` are rendered here too (`suites`).

mod github;
mod gitlab;
mod human;
mod json;
mod junit;
mod pretty;
mod sarif;
mod short;
pub mod suites;

use crate::engine::EvalError;
use crate::finding::{Finding, Severity};
use crate::manifest::{LoadError, Skipped};

/// An output format of `tollgate check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people: rule, message, `file:line:col`, a source excerpt.
    Human,
    /// Versioned JSON (`schema_version` 1, schema in `docs/report.schema.json`).
    Json,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
    /// JUnit XML: a testsuite per file.
    Junit,
    /// GitHub Actions workflow commands (`::error file=…`).
    Github,
    /// One line per finding (`file:line:col: severity[rule] message`), then the summary: for
    /// pre-commit hooks.
    Short,
    /// GitLab's Code Quality JSON (merge request widget).
    Gitlab,
}

impl Format {
    /// Parses a `--format` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "human" => Format::Human,
            "json" => Format::Json,
            "sarif" => Format::Sarif,
            "junit" => Format::Junit,
            "github" => Format::Github,
            "short" => Format::Short,
            "gitlab" => Format::Gitlab,
            _ => return None,
        })
    }
}

/// A rule that was evaluated, for reports that describe rules (SARIF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule id.
    pub id: String,
    /// Its title.
    pub title: Option<String>,
    /// Its default severity.
    pub severity: Severity,
    /// Where it is documented (bundled rules).
    pub help_uri: Option<String>,
}

/// Everything a renderer needs about one run.
pub struct Report<'a> {
    /// Sorted findings.
    pub findings: &'a [Finding],
    /// Every rule evaluated, sorted by id.
    pub rules: &'a [RuleInfo],
    /// Findings waived by exceptions; listed only when `show_suppressed`.
    pub suppressed: &'a [Finding],
    /// List suppressed findings, not only count them.
    pub show_suppressed: bool,
    /// Files that could not be loaded.
    pub errors: &'a [LoadError],
    /// Rules that could not judge a resource.
    pub eval_errors: &'a [EvalError],
    /// Exceptions past their date (they no longer apply).
    pub expired: &'a [String],
    /// Files read.
    pub files: usize,
    /// Resources evaluated.
    pub resources: usize,
    /// What was not checked as it is, and why.
    pub skipped: &'a [Skipped],
    /// List skipped files, not only count them.
    pub show_skipped: bool,
    /// Render roots whose output was checked.
    pub roots: usize,
    /// `file`, `kind/namespace/name` of every resource, for reports that list passes (JUnit).
    pub evaluated: &'a [(String, String)],
    /// The process exit code this run ends with.
    pub exit_code: u8,
    /// The tool version.
    pub version: &'a str,
}

impl Report<'_> {
    /// Every error of the run, `(file, message)`: files that did not load, then rules that
    /// could not judge a resource.
    pub fn problems(&self) -> impl Iterator<Item = (&str, &str)> {
        self.errors
            .iter()
            .map(|e| (e.file.as_str(), e.message.as_str()))
            .chain(
                self.eval_errors
                    .iter()
                    .map(|e| (e.file.as_str(), e.message.as_str())),
            )
    }

    /// Documents skipped, all reasons together.
    pub fn skipped_documents(&self) -> usize {
        self.skipped.iter().map(|s| s.documents).sum()
    }

    /// Documents skipped per reason category, in a stable order.
    pub fn skipped_by_category(&self) -> Vec<(&'static str, usize)> {
        let mut by: std::collections::BTreeMap<&'static str, usize> = Default::default();
        for s in self.skipped {
            *by.entry(s.reason.category()).or_default() += s.documents;
        }
        by.into_iter().collect()
    }

    /// Findings per severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Options that only the human format uses.
#[derive(Debug, Clone, Default)]
pub struct HumanOptions {
    /// ANSI colours.
    pub color: bool,
    /// Where the files findings name are read from for excerpts, when not the working
    /// directory (the staged tree of a pre-commit run).
    pub sources: Option<std::path::PathBuf>,
}

/// Renders a report in one format.
pub fn render(format: Format, report: &Report<'_>, human: &HumanOptions) -> String {
    match format {
        Format::Human => human::render(report, human),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Junit => junit::render(report),
        Format::Github => github::render(report),
        Format::Short => short::render(report),
        Format::Gitlab => gitlab::render(report),
    }
}

/// Writes a report in one format; JSON and SARIF are streamed, the others rendered first.
pub fn write(
    format: Format,
    report: &Report<'_>,
    human: &HumanOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
        other => out.write_all(render(other, report, human).as_bytes()),
    }
}

/// `Kind/namespace/name: message (rendered from ROOT)`: a finding as one line of text, for the
/// formats that carry a message without a place for the resource (SARIF, GitHub, GitLab).
pub(super) fn one_line(f: &Finding) -> String {
    match &f.location.rendered_from {
        Some(root) => format!(
            "{}: {} (rendered from {root})",
            f.resource.display(),
            f.message
        ),
        None => format!("{}: {}", f.resource.display(), f.message),
    }
}

/// `, rendered from ROOT` for a finding on a rendered resource (made printable), else empty:
/// how the human and short reports name a finding's root.
pub(super) fn rendered_suffix(f: &Finding) -> String {
    f.location
        .rendered_from
        .as_deref()
        .map(|root| format!(", rendered from {}", printable(root)))
        .unwrap_or_default()
}

/// Text safe to print on a terminal: control characters (ESC, CR, BEL, C1 controls, DEL) and
/// the bidirectional overrides of "Trojan Source" are shown escaped (`\u{1b}`), so a string in
/// a manifest cannot move the cursor, recolour or overwrite a report line. Tabs stay.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Text escaped for XML attributes and content; control characters XML cannot carry are
/// dropped.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn terminal_controls_are_shown_not_obeyed() {
        assert_eq!(printable("plain: text\twith tab"), "plain: text\twith tab");
        assert_eq!(printable("a\x1b[2Kb"), "a\\u{1b}[2Kb");
        assert_eq!(printable("ok\rfake"), "ok\\u{d}fake");
        assert_eq!(printable("x\u{9b}y\u{7f}"), "x\\u{9b}y\\u{7f}");
        assert_eq!(printable("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(printable("line\nnext"), "line\\u{a}next");
    }
}
