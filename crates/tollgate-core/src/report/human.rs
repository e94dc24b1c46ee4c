//! The human report: `severity[rule]: message`, `--> file:line:col`, the source line with a
//! caret, help, and a summary. Deterministic; colour only when asked.

use super::{printable, HumanOptions, Report};
use crate::finding::Severity;
use std::collections::HashMap;

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// The line with its value replaced by `********`: what follows the key's `:` (YAML or JSON),
/// or the whole content of a line without a key (a list item, a block scalar's text). The
/// key stays, so the reader still sees which field is meant.
fn mask_value(line: &str) -> String {
    const MASK: &str = "********";
    let body_at = line.len() - line.trim_start().len();
    let (indent, body) = line.split_at(body_at);
    let body_start = body.strip_prefix("- ").map_or(0, |_| 2);
    let (dash, body) = body.split_at(body_start);
    // A quoted key may hold a colon: skip past its closing quote first.
    let key_end = match body.chars().next() {
        Some(q @ ('"' | '\'')) => body[1..].find(q).map_or(0, |i| i + 2),
        _ => 0,
    };
    let colon = body[key_end..]
        .char_indices()
        .find(|&(i, c)| {
            c == ':' && {
                let after = &body[key_end + i + 1..];
                after.is_empty() || after.starts_with([' ', '\t'])
            }
        })
        .map(|(i, _)| key_end + i);
    match colon {
        Some(c) => {
            let value = body[c + 1..].trim();
            if value.is_empty() || matches!(value, "|" | ">" | "|-" | ">-" | "|+" | ">+") {
                line.to_owned()
            } else {
                format!("{indent}{dash}{} {MASK}", &body[..=c])
            }
        }
        None if body.trim().is_empty() => line.to_owned(),
        None => format!("{indent}{dash}{MASK}"),
    }
}

pub(super) fn render(r: &Report<'_>, opts: &HumanOptions) -> String {
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
            paint(
                opts.color,
                code,
                &format!("{word}[{}]", printable(&f.rule_id))
            ),
            printable(&f.message)
        ));
        let rendered = super::rendered_suffix(f);
        out.push_str(&format!(
            "  --> {}:{}:{} ({}{rendered})\n",
            printable(&f.location.file),
            f.location.line,
            f.location.column,
            printable(&f.resource.display())
        ));
        let lines = sources
            .entry(f.location.file.as_str())
            .or_insert_with(|| {
                if f.location.file == "-" {
                    return None;
                }
                let file = match &opts.sources {
                    Some(dir) => dir.join(&f.location.file),
                    None => std::path::PathBuf::from(&f.location.file),
                };
                std::fs::read_to_string(file)
                    .ok()
                    .map(|t| t.lines().map(str::to_owned).collect())
            })
            .as_ref();
        let line_no = f.location.line as usize;
        if let Some(text) = lines.and_then(|l| l.get(line_no.wrapping_sub(1))) {
            let text = if f.sensitive {
                mask_value(text)
            } else {
                text.clone()
            };
            let text = printable(&text);
            let gutter = line_no.to_string().len();
            out.push_str(&format!(
                "{:gutter$} |\n{line_no} | {text}\n{:gutter$} | {}^\n",
                "",
                "",
                " ".repeat((f.location.column as usize).saturating_sub(1))
            ));
        }
        if let Some(h) = &f.help {
            out.push_str(&format!("  = help: {}\n", printable(h)));
        }
        out.push('\n');
    }
    for (file, message) in r.problems() {
        out.push_str(&format!(
            "{}: {}: {}\n",
            paint(opts.color, "1;31", "error"),
            printable(file),
            printable(message)
        ));
    }
    if r.show_suppressed {
        for f in r.suppressed {
            out.push_str(&format!(
                "suppressed[{}]: {} ({}:{}:{}, {})\n",
                printable(&f.rule_id),
                printable(&f.message),
                printable(&f.location.file),
                f.location.line,
                f.location.column,
                printable(&f.resource.display())
            ));
        }
    }
    if r.show_skipped {
        for s in r.skipped {
            out.push_str(&format!(
                "skipped: {} ({} document{}): {}\n",
                printable(&s.file),
                s.documents,
                if s.documents == 1 { "" } else { "s" },
                printable(&s.reason.to_string())
            ));
        }
    }
    out.push_str(&summary(r));
    out
}

/// The last line of the human and short reports: counts, skipped documents by reason,
/// failures.
pub(super) fn summary(r: &Report<'_>) -> String {
    let mut out = String::new();
    let skipped = r.skipped_documents();
    let why = r.skipped_by_category();
    let why = if why.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = why.iter().map(|(c, n)| format!("{n} {c}")).collect();
        format!(" [{}]", parts.join(", "))
    };
    let roots = match r.roots {
        0 => String::new(),
        1 => ", 1 root rendered".to_owned(),
        n => format!(", {n} roots rendered"),
    };
    out.push_str(&format!(
        "{} errors, {} warnings, {} info in {} resources from {} files{roots} ({} suppressed, {skipped} documents skipped{why}, {} files failed{})\n",
        r.count(Severity::Error),
        r.count(Severity::Warning),
        r.count(Severity::Info),
        r.resources,
        r.files,
        r.suppressed.len(),
        r.errors.len(),
        match r.eval_errors.len() {
            0 => String::new(),
            n => format!(", {n} evaluation errors"),
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::mask_value;

    #[test]
    fn masked_lines_keep_the_key_and_hide_the_value() {
        // Hand-worked: the value is everything after the first `: ` outside a quoted key.
        assert_eq!(mask_value("  password: hunter2"), "  password: ********");
        assert_eq!(mask_value("  url: https://u:p@h"), "  url: ********");
        assert_eq!(mask_value("  \"a:b\": \"x\","), "  \"a:b\": ********");
        assert_eq!(mask_value("  'k: v': s3cr3t"), "  'k: v': ********");
        assert_eq!(mask_value("  - token: abc"), "  - token: ********");
        // A block scalar's header shows no value; its text lines have no key.
        assert_eq!(mask_value("  cert: |"), "  cert: |");
        assert_eq!(mask_value("    MIIBsecret"), "    ********");
        assert_eq!(mask_value("  data:"), "  data:");
        assert_eq!(mask_value("  data: {password: x}"), "  data: ********");
    }
}
