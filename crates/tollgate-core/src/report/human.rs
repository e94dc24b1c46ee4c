//! The human report: `severity[rule]: message`, `--> file:line:col`, the source line with a
//! caret, help, and a summary. Deterministic; colour only when asked.

use super::{HumanOptions, Report};
use crate::finding::Severity;
use std::collections::HashMap;

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub(super) fn render(r: &Report<'_>, opts: HumanOptions) -> String {
    let mut sources: HashMap<&str, Option<Vec<String>>> = HashMap::new();
    let mut out = String::new();
    for f in r.findings {
        let (word, code) = match f.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
            Severity::Info => ("info", "1;36"),
        };
        out.push_str(&format!(
            "{}: {}\n",
            paint(opts.color, code, &format!("{word}[{}]", f.rule_id)),
            f.message
        ));
        out.push_str(&format!(
            "  --> {}:{}:{} ({})\n",
            f.location.file,
            f.location.line,
            f.location.column,
            f.resource.display()
        ));
        let lines = sources
            .entry(f.location.file.as_str())
            .or_insert_with(|| {
                if f.location.file == "-" {
                    return None;
                }
                std::fs::read_to_string(&f.location.file)
                    .ok()
                    .map(|t| t.lines().map(str::to_owned).collect())
            })
            .as_ref();
        let line_no = f.location.line as usize;
        if let Some(text) = lines.and_then(|l| l.get(line_no.wrapping_sub(1))) {
            let gutter = line_no.to_string().len();
            out.push_str(&format!(
                "{:gutter$} |\n{line_no} | {text}\n{:gutter$} | {}^\n",
                "",
                "",
                " ".repeat((f.location.column as usize).saturating_sub(1))
            ));
        }
        if let Some(h) = &f.help {
            out.push_str(&format!("  = help: {h}\n"));
        }
        out.push('\n');
    }
    for e in r.errors {
        out.push_str(&format!(
            "{}: {}: {}\n",
            paint(opts.color, "1;31", "error"),
            e.file,
            e.message
        ));
    }
    if r.show_suppressed {
        for f in r.suppressed {
            out.push_str(&format!(
                "suppressed[{}]: {} ({}:{}:{}, {})\n",
                f.rule_id,
                f.message,
                f.location.file,
                f.location.line,
                f.location.column,
                f.resource.display()
            ));
        }
    }
    out.push_str(&format!(
        "{} errors, {} warnings, {} info in {} resources from {} files ({} suppressed, {} documents skipped, {} files failed)\n",
        r.count(Severity::Error),
        r.count(Severity::Warning),
        r.count(Severity::Info),
        r.resources,
        r.files,
        r.suppressed.len(),
        r.skipped,
        r.errors.len()
    ));
    out
}
