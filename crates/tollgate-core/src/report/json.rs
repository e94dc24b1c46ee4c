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
    let frame = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    // Top-level keys are the only ones indented by exactly two spaces.
    let slot = "\n  \"findings\": []";
    match frame.find(slot).filter(|_| !r.findings.is_empty()) {
        None => out.write_all(frame.as_bytes())?,
        Some(at) => {
            let (head, tail) = frame.split_at(at + slot.len() - 2);
            out.write_all(head.as_bytes())?;
            out.write_all(b"[")?;
            write_findings(r.findings, out)?;
            out.write_all(b"\n  ]")?;
            out.write_all(&tail.as_bytes()[2..])?;
        }
    }
    out.write_all(b"\n")
}

fn write_findings(findings: &[Finding], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use rayon::prelude::*;
    const BLOCK: usize = 512;
    let batch = BLOCK * 4 * rayon::current_num_threads();
    for (b, chunk) in findings.chunks(batch).enumerate() {
        let blocks: Vec<Vec<u8>> = chunk
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(i, block)| {
                let mut buf = Vec::with_capacity(block.len() * 800);
                for (j, f) in block.iter().enumerate() {
                    let first = b == 0 && i == 0 && j == 0;
                    buf.extend_from_slice(if first { b"\n    " } else { b",\n    " });
                    let mut ser = serde_json::Serializer::with_formatter(&mut buf, Nested::at(2));
                    // Serializing to memory fails only on a map with non-string keys; a finding has none.
                    let _ = f.serialize(&mut ser);
                }
                buf
            })
            .collect();
        for block in blocks {
            out.write_all(&block)?;
        }
    }
    Ok(())
}

/// serde_json's pretty layout (two spaces a level), starting some levels in, so a value
/// rendered on its own splices into the document exactly where one serialization puts it.
struct Nested {
    indent: usize,
    has_value: bool,
}

impl Nested {
    fn at(indent: usize) -> Self {
        Nested {
            indent,
            has_value: false,
        }
    }

    fn newline<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.indent {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(c)
    }

    fn item<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
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
            },
            field_path: Some("spec.containers[0]".into()),
            help: None,
            details,
            suppressed_by: None,
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
            expired: &[],
            files: 1,
            resources: 1,
            skipped: 0,
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
