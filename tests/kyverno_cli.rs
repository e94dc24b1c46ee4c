//! `tollgate test` on Kyverno suites and Kyverno policies in `tollgate check`: verdicts,
//! strict and lenient judging, report formats, exit codes, and policy errors that name the
//! file, rule and line.

mod common;

use common::{code, run, stderr, tollgate};

fn kyverno(p: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/kyverno")
        .join(p)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_passing_suite_exits_0_with_the_closing_line() {
    let o = run(tollgate().arg("test").arg(kyverno("suite")));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().last(), Some("7 passed, 0 failed"));
}

#[test]
fn failing_expectations_are_listed_and_exit_1() {
    let o = run(tollgate().arg("test").arg(kyverno("failing")));
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains("require-team-label/check-team Pod/default/bad: expected pass, got fail"),
        "{out}"
    );
    assert!(
        out.contains("check-teams Pod/default/good: expected pass, got none"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("0 passed, 2 failed"));
}

#[test]
fn lenient_mode_skips_rules_that_produced_nothing() {
    let o = run(tollgate()
        .args(["test", "--lenient"])
        .arg(kyverno("failing")));
    assert_eq!(code(&o), 1, "the wrong verdict still fails");
    assert_eq!(
        stdout(&o).lines().last(),
        Some("0 passed, 1 failed, 1 skipped")
    );
}

#[test]
fn json_and_junit_reports() {
    let o = run(tollgate()
        .args(["test", "--format", "json"])
        .arg(kyverno("suite"))
        .arg(kyverno("failing")));
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["totals"]["passed"], 7);
    assert_eq!(v["totals"]["failed"], 2);
    let tests = v["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2);
    let failing = tests
        .iter()
        .find(|t| t["name"] == "fixture-failing")
        .unwrap();
    assert_eq!(failing["rows"][0]["expected"], "pass");
    assert_eq!(failing["rows"][0]["got"], "fail");
    assert_eq!(failing["rows"][0]["outcome"], "fail");

    let o = run(tollgate()
        .args(["test", "--format", "junit"])
        .arg(kyverno("failing")));
    let xml = stdout(&o);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("tests=\"2\" failures=\"2\" skipped=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"expected pass, got fail\">"),
        "{xml}"
    );
}

#[test]
fn no_test_files_exit_2() {
    let o = run(tollgate().arg("test").arg(kyverno("manifests")));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no kyverno-test.yaml"));
}

#[test]
fn kyverno_policies_run_in_check() {
    let o = run(tollgate()
        .args(["check", "--format", "json", "--policy"])
        .arg(kyverno("policies"))
        .arg(kyverno("manifests")));
    assert_eq!(code(&o), 1, "an Enforce rule fails: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let ids: Vec<&str> = findings
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "no-latest/autogen-pinned-images",
            "require-team-label/check-team"
        ]
    );
    let latest = &findings[0];
    assert_eq!(latest["severity"], "error", "Enforce gives errors");
    assert_eq!(latest["engine"], "kyverno");
    assert_eq!(
        latest["message"],
        "Image ghcr.io/acme/web:latest must not use the latest tag."
    );
    // The failing element of the foreach list: the container's line.
    assert_eq!(latest["field_path"], "spec.template.spec.containers[0]");
    assert_eq!(latest["location"]["line"], 17);
    assert_eq!(findings[1]["severity"], "warning", "Audit gives warnings");
    // Rules that need the cluster are named once, not evaluated.
    assert!(
        stderr(&o).contains("rule allowed-registry: not evaluated offline"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn invalid_policies_name_file_rule_and_line() {
    let cases = [
        (
            "bad-operator.yaml",
            ":17: policy bad-operator, rule replicas: unknown operator `MoreThan`",
        ),
        (
            "bad-jmespath.yaml",
            ":16: policy bad-jmespath, rule names: invalid variable",
        ),
        (
            "bad-anchor.yaml",
            ":15: policy bad-anchor, rule host-network: the anchor in `+(hostNetwork)`",
        ),
    ];
    for (file, want) in cases {
        let o = run(tollgate()
            .args(["check", "--policy"])
            .arg(kyverno("invalid").join(file))
            .arg(kyverno("manifests")));
        assert_eq!(code(&o), 2, "{file}");
        let err = stderr(&o);
        assert!(err.contains(file) && err.contains(want), "{file}: {err}");
        assert_eq!(err.matches(": policy ").count(), 1, "reported once: {err}");
    }
}
