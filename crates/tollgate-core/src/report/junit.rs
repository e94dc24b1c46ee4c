//! JUnit XML: a testsuite per file, a testcase per resource and rule (resources without
//! findings pass), so CI servers that read JUnit show policy results as tests.

use super::{xml_escape as xml, Report};
use std::collections::BTreeMap;

pub(super) fn render(r: &Report<'_>) -> String {
    // file -> testcase name -> failure messages (empty: passed)
    let mut suites: BTreeMap<&str, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (file, resource) in r.evaluated {
        suites
            .entry(file.as_str())
            .or_default()
            .entry(resource.clone())
            .or_default();
    }
    for f in r.findings {
        let cases = suites.entry(f.location.file.as_str()).or_default();
        let resource = f.resource.display();
        if cases.get(&resource).is_some_and(Vec::is_empty) {
            cases.remove(&resource);
        }
        cases
            .entry(format!("{resource} {}", f.rule_id))
            .or_default()
            .push(format!(
                "{}:{}:{}: {}: {}",
                f.location.file,
                f.location.line,
                f.location.column,
                f.severity.as_str(),
                f.message
            ));
    }
    for e in r.errors {
        suites
            .entry(e.file.as_str())
            .or_default()
            .entry("load".into())
            .or_default()
            .push(e.message.clone());
    }
    for e in r.eval_errors {
        suites
            .entry(e.file.as_str())
            .or_default()
            .entry("evaluate".into())
            .or_default()
            .push(e.message.clone());
    }
    let tests: usize = suites.values().map(BTreeMap::len).sum();
    let failures: usize = suites
        .values()
        .flat_map(BTreeMap::values)
        .filter(|v| !v.is_empty())
        .count();
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tollgate\" tests=\"{tests}\" failures=\"{failures}\">\n");
    for (file, cases) in &suites {
        let failed = cases.values().filter(|v| !v.is_empty()).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">\n",
            xml(file),
            cases.len()
        ));
        for (name, messages) in cases {
            if messages.is_empty() {
                out.push_str(&format!(
                    "    <testcase name=\"{}\" classname=\"{}\"/>\n",
                    xml(name),
                    xml(file)
                ));
            } else {
                out.push_str(&format!(
                    "    <testcase name=\"{}\" classname=\"{}\">\n",
                    xml(name),
                    xml(file)
                ));
                out.push_str(&format!(
                    "      <failure message=\"{}\">{}</failure>\n",
                    xml(&messages[0]),
                    xml(&messages.join("\n"))
                ));
                out.push_str("    </testcase>\n");
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
