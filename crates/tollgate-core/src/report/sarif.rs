//! SARIF 2.1.0 for GitHub code scanning: rules from the findings, stable rule ids, relative
//! URIs, positive regions, fingerprints for de-duplication, an empty result list when clean.

use super::Report;
use crate::finding::Severity;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub(super) fn render(r: &Report<'_>) -> String {
    // Every evaluated rule, plus any rule a finding names that the run did not list.
    let mut rules: BTreeMap<&str, (Option<&str>, Severity, Option<&str>)> = r
        .rules
        .iter()
        .map(|i| {
            (
                i.id.as_str(),
                (i.title.as_deref(), i.severity, i.help_uri.as_deref()),
            )
        })
        .collect();
    for f in r.findings {
        rules
            .entry(f.rule_id.as_str())
            .or_insert((None, f.severity, None));
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules_json: Vec<Value> = rules
        .iter()
        .map(|(id, (title, sev, uri))| {
            let mut rule = json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": title.unwrap_or(id) },
                "defaultConfiguration": { "level": level(*sev) }
            });
            if let Some(u) = uri {
                rule["helpUri"] = json!(u);
            }
            rule
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule_id,
                "ruleIndex": index.get(f.rule_id.as_str()).copied().unwrap_or(0),
                "level": level(f.severity),
                "message": { "text": format!("{}: {}", f.resource.display(), f.message) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.location.file.replace('\\', "/") },
                        "region": { "startLine": f.location.line.max(1), "startColumn": f.location.column.max(1) }
                    }
                }],
                "partialFingerprints": { "tollgate/v1": f.fingerprint() }
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "tollgate", "version": r.version, "informationUri": "https://example.invalid/tollgate", "rules": rules_json } },
            "results": results,
            "invocations": [{
                "executionSuccessful": r.errors.is_empty(),
                "exitCode": r.exit_code,
                "exitCodeDescription": match r.exit_code { 0 => "clean", 1 => "findings at or above the failure threshold", _ => "usage, configuration or input error" }
            }]
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
