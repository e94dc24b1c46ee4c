//! SARIF 2.1.0 for GitHub code scanning: rules from the findings, stable rule ids, relative
//! URIs, positive regions, fingerprints for de-duplication, an empty result list when clean.

use super::Report;
use crate::finding::{Finding, Severity};
use serde::Serialize;
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
    let mut out = Vec::new();
    // Writing to memory cannot fail, and serde_json writes valid UTF-8.
    let _ = write(r, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// One result, in the order of SARIF's examples; borrowed from the finding where it can be.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    partial_fingerprints: Fingerprints,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: Physical,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    artifact_location: Artifact,
    region: Region,
}

#[derive(Serialize)]
struct Artifact {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
}

#[derive(Serialize)]
struct Fingerprints {
    #[serde(rename = "tollgate/v1")]
    v1: String,
}

fn result<'a>(f: &'a Finding, index: &BTreeMap<&str, usize>) -> SarifResult<'a> {
    SarifResult {
        rule_id: &f.rule_id,
        rule_index: index.get(f.rule_id.as_str()).copied().unwrap_or(0),
        level: level(f.severity),
        message: Text {
            text: super::one_line(f),
        },
        locations: [Location {
            physical_location: Physical {
                artifact_location: Artifact {
                    uri: f.location.file.replace('\\', "/"),
                },
                region: Region {
                    start_line: f.location.line.max(1),
                    start_column: f.location.column.max(1),
                },
            },
        }],
        partial_fingerprints: Fingerprints {
            v1: f.fingerprint(),
        },
    }
}

/// Streams the log; results (the bulk of a large run) are rendered in parallel batches.
pub(super) fn write(r: &Report<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
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
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "tollgate", "version": r.version, "informationUri": "https://example.invalid/tollgate", "rules": rules_json } },
            "results": [],
            "invocations": [{
                "executionSuccessful": r.problems().next().is_none(),
                "exitCode": r.exit_code,
                "exitCodeDescription": match r.exit_code { 0 => "clean", 1 => "findings at or above the failure threshold", _ => "usage, configuration or input error" }
            }]
        }]
    });
    let frame = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    // The run's keys are the only ones indented by exactly six spaces.
    let slot = "\n      \"results\": []";
    super::pretty::write_spliced(
        &frame,
        slot,
        4,
        r.findings,
        |f, ser| result(f, &index).serialize(ser),
        out,
    )?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location as At, ResourceRef};
    use crate::report::RuleInfo;

    #[test]
    fn results_are_streamed_into_the_run() {
        let findings: Vec<Finding> = (0..3000u32)
            .map(|i| Finding {
                rule_id: format!("p/r{}", i % 7),
                severity: if i % 2 == 0 {
                    Severity::Error
                } else {
                    Severity::Info
                },
                message: "needs \"x\"\nnow".into(),
                engine: "kyverno".into(),
                resource: ResourceRef {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                    namespace: Some("ns".into()),
                    name: Some(format!("p{i}")),
                },
                location: At {
                    file: "dir\\a.yaml".into(),
                    document: 0,
                    line: i,
                    column: 0,
                    rendered_from: None,
                },
                field_path: None,
                help: None,
                details: None,
                suppressed_by: None,
                sensitive: false,
                scope: None,
            })
            .collect();
        let rules = [RuleInfo {
            id: "p/r3".into(),
            title: Some("Three".into()),
            severity: Severity::Warning,
            help_uri: None,
        }];
        let report = Report {
            findings: &findings,
            rules: &rules,
            suppressed: &[],
            show_suppressed: false,
            errors: &[],
            eval_errors: &[],
            expired: &[],
            files: 1,
            resources: 3000,
            skipped: &[],
            show_skipped: false,
            roots: 0,
            evaluated: &[],
            exit_code: 1,
            version: "0.0.0",
        };
        let text = render(&report);
        let doc: Value = serde_json::from_str(&text).unwrap();
        // Laid out exactly as one pretty serialization of the same document.
        assert_eq!(text, serde_json::to_string_pretty(&doc).unwrap() + "\n");
        let run = &doc["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3000);
        let ids: Vec<&str> = run["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            ["p/r0", "p/r1", "p/r2", "p/r3", "p/r4", "p/r5", "p/r6"]
        );
        let r = &results[10];
        assert_eq!(r["ruleId"], "p/r3");
        assert_eq!(r["ruleIndex"], 3);
        assert_eq!(r["level"], "error");
        assert_eq!(r["message"]["text"], "Pod/ns/p10: needs \"x\"\nnow");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "dir/a.yaml");
        assert_eq!(loc["region"]["startLine"], 10);
        assert_eq!(loc["region"]["startColumn"], 1);
        assert_eq!(
            r["partialFingerprints"]["tollgate/v1"],
            findings[10].fingerprint()
        );
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
    }
}
