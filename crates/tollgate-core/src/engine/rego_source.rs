//! What regorus does not expose about a policy file: its package, the conftest rule heads
//! (`deny`, `violation`, `warn`, with optional `_suffix`), and OPA METADATA annotations.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "byte offsets found with find() on the same line; line numbers from enumerate()"
)]

use tollgate_yaml::read::{read_documents, Schema};
use tollgate_yaml::tree::Node;

/// A conftest rule found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHead {
    /// The rule name (`deny`, `deny_latest`, `warn`).
    pub name: String,
    /// 1-based line of its first definition.
    pub line: usize,
    /// Its METADATA annotation, if one stood right above it.
    pub meta: Annotation,
}

/// The METADATA fields tollgate uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `custom.id`: the rule id in findings.
    pub id: Option<String>,
    /// `custom.severity`: error, warning or info.
    pub severity: Option<String>,
    /// `custom.fix`: how to fix a finding.
    pub fix: Option<String>,
    /// `custom.sensitive: true`: the rule points at secret values, so source excerpts of its
    /// findings are masked.
    pub sensitive: bool,
    /// The whole block as JSON, for `rego.metadata.rule()` and `chain()`.
    pub raw: Option<serde_json::Value>,
}

/// The package and conftest rules of one file.
#[derive(Debug, Clone, Default)]
pub struct Scanned {
    /// The package path (`main`, `k8s.images`).
    pub package: String,
    /// Package-level METADATA.
    pub package_meta: Annotation,
    /// Rules in order of first definition.
    pub rules: Vec<RuleHead>,
    /// Whether the file defines `exception`.
    pub has_exception: bool,
    /// `test_` rules (for `tollgate verify`), with their line.
    pub tests: Vec<(String, usize)>,
    /// Every rule head (conftest rules, helpers, tests): name, line, METADATA as JSON.
    pub heads: Vec<(String, usize, Option<serde_json::Value>)>,
    /// METADATA blocks that are not valid YAML, and conftest rules written `deny if` (a
    /// boolean, which conftest refuses): `(line, message)`.
    pub errors: Vec<(usize, String)>,
}

/// Whether `name` is a rule conftest reports: `deny`, `violation`, `warn`, or one of them
/// followed by `_suffix`.
pub fn is_conftest_rule(name: &str) -> bool {
    ["deny", "violation", "warn"].iter().any(|p| {
        name == *p
            || name
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('_') && rest.len() > 1)
    })
}

fn annotation(block: &str) -> Result<Annotation, String> {
    let docs = read_documents(block, Schema::Kubernetes).map_err(|e| e.message().to_owned())?;
    Ok(annotation_of(docs))
}

fn annotation_of(docs: Vec<tollgate_yaml::read::Document>) -> Annotation {
    let Some(root) = docs.into_iter().next().map(|d| d.root) else {
        return Annotation::default();
    };
    let raw = Some(crate::manifest::node_to_json(&root)).filter(serde_json::Value::is_object);
    let text = |n: Option<&Node>| n.and_then(Node::as_str).map(str::to_owned);
    let custom = root.get("custom");
    Annotation {
        title: text(root.get("title")),
        description: text(root.get("description")),
        id: text(custom.and_then(|c| c.get("id"))),
        severity: text(custom.and_then(|c| c.get("severity"))),
        fix: text(custom.and_then(|c| c.get("fix"))),
        sensitive: custom
            .and_then(|c| c.get("sensitive"))
            .is_some_and(|v| matches!(v, Node::Scalar(tollgate_yaml::tree::Scalar::Bool(true)))),
        raw,
    }
}

/// The identifier at the start of a line (a rule head starts at column 0).
fn head_name(line: &str) -> Option<&str> {
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len());
    let name = &line[..end];
    let rest = line[end..].trim_start();
    let is_head = !name.is_empty()
        && (rest.is_empty()
            || rest.starts_with("contains")
            || rest.starts_with("if")
            || rest.starts_with('[')
            || rest.starts_with('{')
            || rest.starts_with('=')
            || rest.starts_with(":="));
    is_head.then_some(name)
}

/// Whether what follows a rule name is `if` (a boolean rule, `deny if { ... }`), not
/// `contains ... if`, `[msg] if` or `:= value if`.
fn is_bare_if(rest: &str) -> bool {
    rest.trim_start()
        .strip_prefix("if")
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '{']))
}

/// `rego.metadata.rule()` and `rego.metadata.chain()` (OPA builtins regorus lacks) replaced
/// by what they return for the rule they are in: its METADATA block as an object (`{}`
/// without one), and the chain from the rule to its package. Each call becomes a literal on
/// the same line, so line numbers stay true.
pub fn inline_metadata_calls(text: &str, scan: &Scanned) -> Option<String> {
    const RULE: &str = "rego.metadata.rule()";
    const CHAIN: &str = "rego.metadata.chain()";
    if !text.contains(RULE) && !text.contains(CHAIN) {
        return None;
    }
    let package: Vec<serde_json::Value> = std::iter::once("data")
        .chain(scan.package.split('.'))
        .map(|p| serde_json::Value::String(p.to_owned()))
        .collect();
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.contains(RULE) && !line.contains(CHAIN) {
            out.push_str(line);
            continue;
        }
        let here = i + 1;
        let head = scan.heads.iter().rev().find(|(_, l, _)| *l <= here);
        let rule_meta = head
            .and_then(|(_, _, m)| m.clone())
            .unwrap_or_else(|| serde_json::json!({}));
        let mut chain = Vec::new();
        if let Some((name, _, meta)) = head {
            let mut path = package.clone();
            path.push(serde_json::Value::String(name.clone()));
            let mut entry = serde_json::json!({ "path": path });
            if let Some(m) = meta {
                entry["annotations"] = m.clone();
            }
            chain.push(entry);
        }
        if let Some(m) = &scan.package_meta.raw {
            chain.push(serde_json::json!({ "path": package, "annotations": m }));
        }
        out.push_str(
            &line
                .replace(RULE, &rule_meta.to_string())
                .replace(CHAIN, &serde_json::Value::Array(chain).to_string()),
        );
    }
    Some(out)
}

/// Scans a policy's source.
pub fn scan(text: &str) -> Scanned {
    let mut out = Scanned::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut pending: Option<Annotation> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == "# METADATA" {
            let mut block = String::new();
            i += 1;
            while i < lines.len() && lines[i].trim_start().starts_with('#') {
                let body = lines[i].trim_start().trim_start_matches('#');
                block.push_str(body.strip_prefix(' ').unwrap_or(body));
                block.push('\n');
                i += 1;
            }
            let start = i + 1 - block.lines().count();
            pending = match annotation(&block) {
                Ok(a) => Some(a),
                Err(e) => {
                    out.errors
                        .push((start, format!("METADATA is not valid YAML: {e}")));
                    None
                }
            };
            continue;
        }
        if let Some(pkg) = line.strip_prefix("package ") {
            out.package = pkg.trim().to_owned();
            if let Some(a) = pending.take() {
                out.package_meta = a;
            }
        } else if let Some(name) = head_name(line) {
            let meta = pending.take().unwrap_or_default();
            out.heads.push((name.to_owned(), i + 1, meta.raw.clone()));
            if name == "exception" {
                out.has_exception = true;
            } else if name.starts_with("test_") {
                if !out.tests.iter().any(|(t, _)| t == name) {
                    out.tests.push((name.to_owned(), i + 1));
                }
            } else if is_conftest_rule(name) {
                if is_bare_if(&line[name.len()..]) {
                    out.errors.push((
                        i + 1,
                        format!("rule is using 'if' keyword without 'contains' keyword: `{name} if` makes {name} a boolean, which conftest refuses; write `{name} contains msg if {{ ... }}`"),
                    ));
                }
                match out.rules.iter_mut().find(|r| r.name == name) {
                    Some(r) if r.meta == Annotation::default() => r.meta = meta,
                    Some(_) => {}
                    None => out.rules.push(RuleHead {
                        name: name.to_owned(),
                        line: i + 1,
                        meta,
                    }),
                }
            }
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            pending = None;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rules_and_annotations() {
        let src = "# METADATA\n# title: Images\n# custom:\n#   id: IMG001\n#   severity: warning\npackage k8s.images\n\nimport rego.v1\n\n# METADATA\n# title: No latest\n# custom:\n#   id: IMG002\ndeny_latest contains msg if {\n  msg := \"x\"\n}\n\ndeny[msg] {\n  msg := \"y\"\n}\n\nhelper := 1\nwarn contains \"z\" if { true }\nexception contains rules if { rules := [\"latest\"] }\ndenylist := [1]\n";
        let s = scan(src);
        assert_eq!(s.package, "k8s.images");
        assert_eq!(s.package_meta.id.as_deref(), Some("IMG001"));
        assert_eq!(s.package_meta.severity.as_deref(), Some("warning"));
        let names: Vec<_> = s.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["deny_latest", "deny", "warn"]);
        assert_eq!(s.rules[0].meta.id.as_deref(), Some("IMG002"));
        assert_eq!(s.rules[0].meta.title.as_deref(), Some("No latest"));
        assert_eq!(s.rules[1].meta, Annotation::default());
        assert!(s.has_exception);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        // conftest refuses `deny if` (a boolean rule, OPA issue 6509): an error on its line.
        let bare = scan("package main\nimport rego.v1\n\ndeny if {\n  true\n}\nwarn_x contains m if { m := 1 }\n");
        assert_eq!(bare.errors.len(), 1, "{:?}", bare.errors);
        assert_eq!(bare.errors[0].0, 4);
        assert!(
            !is_conftest_rule("denylist")
                && !is_conftest_rule("deny_")
                && is_conftest_rule("violation_x")
        );
    }
}
