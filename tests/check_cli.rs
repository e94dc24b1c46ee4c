//! The `tollgate check` contract: Rego policies (v1 and v0) over manifests, findings located on
//! the offending field, every report format, exit codes 0/1/2, and bad input.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn fixtures_check() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/check")
}

/// Runs check from the fixtures directory so reported paths are relative and stable.
fn check(args: &[&str]) -> std::process::Output {
    run(tollgate()
        .arg("check")
        .args(args)
        .current_dir(fixtures_check()))
}

fn json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let o = check(&all);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    (code(&o), v)
}

/// Writes a file into a test's scratch directory.
fn put(dir: &tempfile::TempDir, name: &str, text: &str) {
    fs::write(dir.path().join(name), text).unwrap();
}

#[test]
fn rego_findings_point_at_the_field() {
    let (c, v) = json(&["--policy", "policies", "manifests"]);
    assert_eq!(c, 1);
    assert_eq!(v["schema_version"], 1);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{v:#}");
    let by = |id: &str| {
        findings
            .iter()
            .find(|f| f["rule_id"] == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    assert_eq!(
        findings[0]["rule_id"], "main/warn",
        "sorted by location: line 1 before line 13"
    );
    let deny = by("main/deny");
    assert_eq!(deny["rule_id"], "main/deny");
    assert_eq!(deny["severity"], "error");
    assert_eq!(deny["engine"], "rego");
    assert_eq!(
        deny["message"],
        "container app uses the mutable tag :latest"
    );
    assert_eq!(deny["field_path"], "spec.template.spec.containers[1].image");
    assert_eq!(
        deny["details"],
        serde_json::json!({"image": "shop/web:latest"})
    );
    assert_eq!(
        deny["location"],
        serde_json::json!({"file": "manifests/app.yaml", "document": 0, "line": 13, "column": 18})
    );
    assert_eq!(
        deny["resource"],
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"})
    );
    let warn = by("main/warn");
    assert_eq!(
        (warn["rule_id"].as_str(), warn["severity"].as_str()),
        (Some("main/warn"), Some("warning"))
    );
    assert_eq!(
        warn["location"]["line"], 1,
        "no field: the resource's first line"
    );
    assert_eq!(
        v["summary"]["resources"], 4,
        "Deployment, Service, clean Deployment, SOPS Secret"
    );
    assert_eq!(v["summary"]["files"], 3);
}

#[test]
fn fail_on_namespaces_and_v0_policies() {
    assert_eq!(
        json(&[
            "--policy",
            "policies",
            "--fail-on",
            "warning",
            "manifests/clean.yaml"
        ])
        .0,
        0
    );
    let (c, v) = json(&["--policy", "policies", "--namespace", "legacy", "manifests"]);
    assert_eq!(c, 1);
    let ids: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec!["legacy/violation"]);
    let (_, v) = json(&["--policy", "policies", "--all-namespaces", "manifests"]);
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        5,
        "main 2, legacy 1, images 2"
    );
    let (c, v) = json(&[
        "--policy",
        "policies",
        "manifests/app.yaml",
        "--fail-on",
        "error",
    ]);
    assert_eq!(c, 1);
    assert_eq!(v["summary"]["findings"]["error"], 1);
    let o = check(&[
        "--policy",
        "policies",
        "--namespace",
        "main",
        "manifests/clean.yaml",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn every_report_format() {
    let dir = tempfile::tempdir().unwrap();
    let (sarif, junit, gh) = (
        dir.path().join("r.sarif"),
        dir.path().join("r.xml"),
        dir.path().join("r.txt"),
    );
    let o = check(&[
        "--policy",
        "policies",
        "manifests",
        "--format",
        "human",
        "--format",
        "sarif",
        "--output",
        sarif.to_str().unwrap(),
        "--format",
        "junit",
        "--output",
        junit.to_str().unwrap(),
        "--format",
        "github",
        "--output",
        gh.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let human = String::from_utf8(o.stdout).unwrap();
    assert!(human.contains("error[main/deny]: container app uses the mutable tag :latest\n  --> manifests/app.yaml:13:18 (Deployment/shop/web)"), "{human}");
    assert!(
        human.contains("13 |           image: shop/web:latest\n"),
        "{human}"
    );
    assert!(!human.contains('\x1b'), "no colour when not a terminal");
    let s: Value = serde_json::from_str(&fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let run0 = &s["runs"][0];
    let deny = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "main/deny")
        .unwrap();
    assert_eq!(
        deny["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 13, "startColumn": 18})
    );
    assert_eq!(
        deny["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "manifests/app.yaml"
    );
    assert!(deny["partialFingerprints"]["tollgate/v1"].is_string());
    assert_eq!(run0["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
    assert_eq!(run0["invocations"][0]["exitCode"], 1);
    let x = fs::read_to_string(&junit).unwrap();
    assert!(
        x.contains("<testsuite name=\"manifests/app.yaml\" tests=\"3\" failures=\"2\">"),
        "{x}"
    );
    assert!(
        x.contains("<testcase name=\"Deployment/shop/api\" classname=\"manifests/clean.yaml\"/>"),
        "{x}"
    );
    let g = fs::read_to_string(&gh).unwrap();
    assert!(g.contains("::error file=manifests/app.yaml,line=13,col=18,title=main/deny::Deployment/shop/web: container app uses the mutable tag :latest\n"), "{g}");
    assert!(
        g.contains("::warning file=manifests/app.yaml,line=1,col=1,title=main/warn::"),
        "{g}"
    );
}

#[test]
fn clean_runs_have_empty_results() {
    let o = check(&[
        "--policy",
        "policies",
        "--format",
        "sarif",
        "manifests/clean.yaml",
    ]);
    assert_eq!(code(&o), 0);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn bad_input_exits_2_and_still_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        fixtures_check().join("manifests/app.yaml"),
        dir.path().join("app.yaml"),
    )
    .unwrap();
    put(&dir, "broken.yaml", "apiVersion: v1\nkind: [unclosed\n");
    let policies = fixtures_check().join("policies");
    let o = run(tollgate()
        .args(["check", "--format", "json", "--policy"])
        .arg(&policies)
        .arg(".")
        .current_dir(dir.path()));
    assert_eq!(code(&o), 2);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        2,
        "the good file is still checked"
    );
    assert_eq!(v["errors"][0]["file"], "broken.yaml");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("line 2"));

    put(
        &dir,
        "bad.rego",
        "package main\n\ndeny contains msg if {\n  input.kind ==\n}\n",
    );
    let o = run(tollgate()
        .args(["check", "--policy", "bad.rego", "app.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("bad.rego") && stderr(&o).contains(":5:"),
        "{}",
        stderr(&o)
    );

    let o = run(tollgate()
        .args(["check", "--format", "xml", "app.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("unknown format"));
}

#[test]
fn metadata_suffixed_rules_and_exceptions() {
    let (c, v) = json(&[
        "--policy",
        "policies",
        "--namespace",
        "images",
        "--show-suppressed",
        "manifests",
    ]);
    assert_eq!(c, 0, "package METADATA makes these warnings: {v:#}");
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{v:#}");
    for f in findings {
        assert_eq!(f["rule_id"], "REG001");
        assert_eq!(f["severity"], "warning");
        assert_eq!(f["help"], "Images must come from registry.example.com");
    }
    assert_eq!(
        v["summary"]["suppressed"], 1,
        "the api Deployment is waived by `exception`"
    );
    assert_eq!(v["suppressed"][0]["resource"]["name"], "api");
    let by = v["suppressed"][0]["suppressed_by"].as_str().unwrap_or("");
    assert!(
        by.starts_with("exception rule ") && by.ends_with(".exception"),
        "{by}"
    );
    assert_eq!(
        json(&[
            "--policy",
            "policies",
            "--namespace",
            "images",
            "--fail-on",
            "warning",
            "manifests"
        ])
        .0,
        1
    );
}

fn project(args: &[&str]) -> (i32, Value, String) {
    let o = run(tollgate()
        .args(["check", "--format", "json"])
        .args(args)
        .current_dir(fixtures_check().join("project")));
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    (code(&o), v, stderr(&o))
}

#[test]
fn config_exceptions_annotations_and_severity_overrides() {
    let (c, v, err) = project(&["--show-suppressed", "."]);
    let ids: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["rule_id"].as_str().unwrap(),
                f["resource"]["name"].as_str().unwrap(),
                f["severity"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            "main/warn legacy-billing info",
            "main/deny legacy-billing error",
            "main/warn web info",
            "main/deny web error",
        ],
        "{v:#}"
    );
    assert_eq!(c, 1);
    let why: Vec<String> = v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["suppressed_by"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        why,
        vec![
            "exception: legacy apps pull from Docker Hub until the mirror lands",
            "annotation: built and scanned in-house",
        ]
    );
    assert_eq!(v["summary"]["resources"], 3, "rendered/ is excluded");
    assert!(
        err.contains("tollgate.yaml:16: the exception for main/deny expired on 2000-01-01"),
        "{err}"
    );
    assert_eq!(v["expired_exceptions"].as_array().unwrap().len(), 1);

    let (_, v, _) = project(&["--no-annotation-exemptions", "."]);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule_id"] == "REG001" && f["resource"]["name"] == "web"));
}

#[test]
fn baselines_accept_known_findings_only() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("baseline.json");
    let (c, _, _) = project(&["--write-baseline", base.to_str().unwrap(), "."]);
    assert_eq!(c, 1);
    let written: Value = serde_json::from_str(&fs::read_to_string(&base).unwrap()).unwrap();
    assert_eq!(written["findings"].as_array().unwrap().len(), 4);
    let (c, v, _) = project(&["--baseline", base.to_str().unwrap(), "."]);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["suppressed"], 6);
    let o = run(tollgate()
        .args(["check", "--baseline", "/nonexistent.json", "."])
        .current_dir(fixtures_check().join("project")));
    assert_eq!(code(&o), 2);
}

#[test]
fn config_errors_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    for (text, says) in [
        (
            "policies: [p]\nexceptions:\n  - rules: [x]\n    expires: 2030-01-01\n",
            "tollgate.yaml:3: an exception needs a `reason`",
        ),
        (
            "severity:\n  main/deny: fatal\n",
            "tollgate.yaml:2: `fatal` is not error, warning or info",
        ),
        ("polices: [p]\n", "unknown key `polices`"),
        (
            "exceptions:\n  - rules: [x]\n    reason: r\n    expires: soon\n",
            "tollgate.yaml:4: `soon` is not a date",
        ),
    ] {
        put(&dir, "tollgate.yaml", text);
        let o = run(tollgate().args(["check", "."]).current_dir(dir.path()));
        assert_eq!(code(&o), 2, "{text}");
        assert!(stderr(&o).contains(says), "{says} not in {}", stderr(&o));
    }
}

#[test]
fn verify_runs_rego_tests_with_coverage() {
    let o = run(tollgate()
        .args(["verify", "--coverage", "policies"])
        .current_dir(fixtures_check()));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
    assert!(out.contains("coverage policies/main.rego: "), "{out}");

    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "p.rego",
        "package p\n\nimport rego.v1\n\nallow if input.x == 1\n",
    );
    put(&dir, "p_test.rego", "package p\n\nimport rego.v1\n\ntest_ok if allow with input as {\"x\": 1}\n\ntest_wrong if allow with input as {\"x\": 2}\n");
    put(
        &dir,
        "old_test.rego",
        "package old\n\ntest_v0 {\n  1 == 1\n}\n",
    );
    let o = run(tollgate().args(["verify", "."]).current_dir(dir.path()));
    assert_eq!(code(&o), 1);
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        out,
        "FAIL p_test.rego:7: p.test_wrong\n2 passed, 1 failed\n"
    );
    put(&dir, "broken.rego", "package b\n\nallow if {\n");
    let o = run(tollgate().args(["verify", "."]).current_dir(dir.path()));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("broken.rego"), "{}", stderr(&o));
}

#[test]
fn combine_sees_every_input_at_once() {
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "a.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n",
    );
    put(&dir, "b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n");
    let policy = fixtures_check().join("combine");
    let o = run(tollgate()
        .args(["check", "--format", "json", "--combine", "--policy"])
        .arg(&policy)
        .arg(".")
        .current_dir(dir.path()));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["message"], "Service api is defined 2 times");
    assert_eq!(f[0]["resource"]["kind"], "Service");
    let o = run(tollgate()
        .args(["check", "--policy"])
        .arg(&policy)
        .arg(".")
        .current_dir(dir.path()));
    assert_eq!(code(&o), 0, "without --combine each resource is alone");
}

/// Checks `value` against the subset of JSON Schema that docs/report.schema.json uses.
fn conforms(schema: &Value, root: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
        None => schema,
    };
    if let Some(c) = schema.get("const") {
        if c != value {
            return Err(format!("{at}: {value} is not {c}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!("{at}: {value} not in {options:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types.contains(&actual) {
            return Err(format!("{at}: {actual} is not {types:?}"));
        }
    }
    for req in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let k = req.as_str().unwrap_or_default();
        if value.get(k).is_none() {
            return Err(format!("{at}: missing `{k}`"));
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => conforms(s, root, v, &format!("{at}.{k}"))?,
                None => return Err(format!("{at}: `{k}` is not in the schema")),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            conforms(items, root, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[test]
fn json_reports_conform_to_the_published_schema() {
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json"))
            .unwrap(),
    )
    .unwrap();
    for args in [
        vec!["--policy", "policies", "manifests"],
        vec![
            "--policy",
            "policies",
            "--namespace",
            "images",
            "--show-suppressed",
            "manifests",
        ],
    ] {
        let (_, v) = json(&args);
        conforms(&schema, &schema, &v, "report").unwrap();
    }
    let (_, v, _) = project(&["--show-suppressed", "."]);
    conforms(&schema, &schema, &v, "report").unwrap();
}

#[test]
fn kustomize_output_checked_through_stdin() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let rendered = ok(run(kubectl()
        .args(["kustomize", "apps/production"])
        .current_dir(&demo)));
    let check = |extra: &[&str]| -> Vec<(String, u64)> {
        let mut child = tollgate()
            .args(["check", "--format", "json", "--policy", "policy"])
            .args(extra)
            .arg("-")
            .current_dir(&demo)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &rendered).unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 1);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut ids: Vec<(String, u64)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["location"]["file"], "-");
                (
                    f["rule_id"].as_str().unwrap().to_owned(),
                    f["location"]["document"].as_u64().unwrap(),
                )
            })
            .collect();
        ids.sort();
        ids
    };
    let pair = |id: &str, doc: u64| (id.to_owned(), doc);
    // kubectl kustomize orders the overlay's objects by kind: ServiceAccount (0), Role (1),
    // RoleBinding (2), Service (3), Deployment (4), NetworkPolicy (5). The overlay sets 3
    // replicas, so DEMO002 stays quiet.
    assert_eq!(check(&[]), [pair("DEMO001", 4), pair("DEMO003", 4)]);
    // With the built-in checks: the Role reads every Secret (RBAC003, on the Role); the
    // namespace has no Namespace object and no default deny in either direction (NET001,
    // NET002, on its first workload); the NetworkPolicy names ingress-nginx by name, which
    // NET005 does not report.
    assert_eq!(
        check(&["--pack", "rbac", "--pack", "netpol"]),
        [
            pair("DEMO001", 4),
            pair("DEMO003", 4),
            pair("NET001", 4),
            pair("NET002", 4),
            pair("RBAC003", 1)
        ]
    );
}

#[test]
fn bundled_packs_by_default_and_rules_commands() {
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    let o = run(tollgate()
        .args(["check", "--format", "json", "SECRET001.yaml"])
        .current_dir(&rules_dir));
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let secret: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "SECRET001")
        .collect();
    // The fixture's plaintext, base64, mixed-reference and broken-base64 values; not its
    // references, empty or encrypted ones.
    assert_eq!(secret.len(), 4, "{v:#}");
    assert_eq!(secret[0]["field_path"], "stringData.password");
    assert_eq!(
        secret[0]["location"]["line"], 6,
        "located on the value via the canonical path"
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("hunter2"),
        "findings never quote secret values"
    );

    let list = String::from_utf8(ok(run(tollgate().args(["rules", "list"])))).unwrap();
    for id in [
        "IMG001",
        "IMG002",
        "IMG006",
        "POD004",
        "PSS001",
        "PSS014",
        "PSS017",
        "SECRET001",
        "SECRET004",
        "SOPS007",
    ] {
        assert!(list.contains(id), "{id} missing from:\n{list}");
    }
    let list = String::from_utf8(ok(run(tollgate()
        .args(["rules", "list", "--policy", "policies"])
        .current_dir(fixtures_check()))))
    .unwrap();
    assert!(
        list.contains("REG001") && list.contains("main/deny") && list.contains("legacy/violation"),
        "{list}"
    );
    let explain =
        String::from_utf8(ok(run(tollgate().args(["rules", "explain", "PSS014"])))).unwrap();
    assert!(
        explain.starts_with("PSS014: A container may run as root\nseverity: warning\n")
            && explain.contains("fix: Set `securityContext.runAsNonRoot: true`"),
        "{explain}"
    );
    assert_eq!(
        code(&run(tollgate().args(["rules", "explain", "NOPE001"]))),
        2
    );
    assert_eq!(
        code(&run(tollgate()
            .args(["check", "--pack", "nope", "."])
            .current_dir(&rules_dir))),
        2
    );
}

#[test]
fn a_rule_that_fails_at_runtime_is_an_error_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    put(&dir, "p.rego", "package main\n\nimport rego.v1\n\ndeny contains \"boom\" if {\n  to_number(input.metadata.name) > 1\n}\n\nwarn contains \"seen\" if { input.kind }\n");
    put(
        &dir,
        "m.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-a-number\n",
    );
    let o = run(tollgate()
        .args(["check", "--format", "json", "--policy", "p.rego", "m.yaml"])
        .current_dir(dir.path()));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(code(&o), 2, "{v:#}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("main/deny failed on ConfigMap/not-a-number"),
        "{v:#}"
    );
    assert_eq!(
        v["findings"][0]["rule_id"], "main/warn",
        "the other rule still ran"
    );
}

#[test]
fn every_renderer_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [
        "check",
        "--policy",
        "policies",
        "--all-namespaces",
        "manifests",
    ]
    .map(String::from)
    .to_vec();
    let formats = ["human", "json", "sarif", "junit", "github"];
    for f in formats {
        args.extend([
            "--format".into(),
            f.into(),
            "--output".into(),
            dir.path().join(f).display().to_string(),
        ]);
    }
    let o = run(tollgate().args(&args).current_dir(fixtures_check()));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for f in formats {
        let got = fs::read_to_string(dir.path().join(f)).unwrap();
        let path = snapshots.join(format!("check.{f}"));
        if std::env::var_os("TOLLGATE_UPDATE_SNAPSHOTS").is_some() {
            fs::write(&path, &got).unwrap();
        }
        let want = fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            got,
            want,
            "{f} differs from {}; rerun with TOLLGATE_UPDATE_SNAPSHOTS=1 if intended",
            path.display()
        );
    }
}

#[test]
fn colour_only_when_asked_and_huge_files_refused() {
    let o = check(&[
        "--policy",
        "policies",
        "--color",
        "always",
        "manifests/app.yaml",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\x1b[1;31merror[main/deny]"),
        "colour when forced"
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n");
    while text.len() <= 51 << 20 {
        text.push_str(&format!("  k{}: {}\n", text.len(), "v".repeat(200)));
    }
    fs::write(&big, text).unwrap();
    let o = run(tollgate()
        .args(["check", "--format", "json", "big.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 2);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 50 MB"),
        "{v:#}"
    );
}

#[test]
fn absolute_paths_are_reported_relative_to_the_working_directory() {
    let abs = fixtures_check().join("manifests/app.yaml");
    let (_, v) = json(&["--policy", "policies", abs.to_str().unwrap()]);
    assert_eq!(v["findings"][0]["location"]["file"], "manifests/app.yaml");
}

#[test]
fn a_runaway_policy_is_stopped_by_the_evaluation_limit() {
    let dir = tempfile::tempdir().unwrap();
    put(&dir, "slow.rego", "package main\n\nimport rego.v1\n\ndeny contains \"never\" if {\n  count([1 | some a in numbers.range(1, 5000); some b in numbers.range(1, 5000); a == b + 7000]) > 0\n}\n");
    put(
        &dir,
        "m.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n",
    );
    let started = std::time::Instant::now();
    let o = run(tollgate()
        .args([
            "check",
            "--format",
            "json",
            "--eval-timeout",
            "0.2",
            "--policy",
            "slow.rego",
            "m.yaml",
        ])
        .current_dir(dir.path()));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(code(&o), 2, "{v:#}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded time limit"),
        "{v:#}"
    );
    // Generous: the point is that 25 million iterations did not run to the end.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(
        code(&run(tollgate()
            .args(["check", "--eval-timeout", "0", "m.yaml"])
            .current_dir(dir.path()))),
        2
    );
}

#[test]
fn the_webhook_deploy_base_renders_and_passes_every_builtin_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rendered = ok(run(kubectl()
        .args(["kustomize", "deploy"])
        .current_dir(root)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploy.yaml");
    fs::write(&file, &rendered).unwrap();
    let o = run(tollgate()
        .args([
            "check", "--pack", "k8s", "--pack", "rbac", "--pack", "netpol", "--policy",
        ])
        .arg(root.join("deploy/policies"))
        .args(["--format", "json", "--fail-on", "info"])
        .arg(&file));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Clean at every severity: the base is what the docs tell users to apply.
    assert_eq!(v["findings"], serde_json::json!([]), "{v:#}");
    assert_eq!(code(&o), 0);
    assert!(v["summary"]["resources"].as_u64().unwrap() >= 12);
}

#[test]
fn rego_sees_the_sops_block_as_conftest_does() {
    // The usual conftest rule for "Secrets must be encrypted": it tests `input.sops`. A
    // SOPS-encrypted Secret has it (Rego sees the document as the file holds it); a plaintext
    // one does not. Kyverno and the built-in rules judge the object without it, as the
    // cluster receives it after Flux decrypts.
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "policy.rego",
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.kind == \"Secret\"\n\tnot input.sops\n\tmsg := sprintf(\"Secret %s is not SOPS-encrypted\", [input.metadata.name])\n}\n\ndeny contains msg if {\n\tinput.sops\n\tnot input.sops.mac\n\tmsg := \"a sops block without a MAC\"\n}\n",
    );
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/clusters/staging/secrets");
    fs::copy(demo.join("podinfo-db.yaml"), dir.path().join("sealed.yaml")).unwrap();
    put(
        &dir,
        "plain.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\nstringData:\n  a: b\n",
    );
    let o = run(tollgate()
        .args([
            "check",
            "--format",
            "json",
            "--policy",
            "policy.rego",
            "sealed.yaml",
            "plain.yaml",
        ])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let messages = messages_of(&o);
    assert_eq!(messages, ["Secret plain is not SOPS-encrypted"]);
    // --combine's input set carries it too.
    put(
        &dir,
        "combined.rego",
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tsome f in input\n\tnot f.contents.sops\n\tmsg := sprintf(\"%s is not SOPS-encrypted\", [f.path])\n}\n",
    );
    let o = run(tollgate()
        .args([
            "check",
            "--format",
            "json",
            "--combine",
            "--policy",
            "combined.rego",
            "sealed.yaml",
            "plain.yaml",
        ])
        .current_dir(dir.path()));
    let messages = messages_of(&o);
    assert_eq!(messages, ["plain.yaml is not SOPS-encrypted"]);
}

/// The messages of a JSON report's findings, in order.
fn messages_of(o: &std::process::Output) -> Vec<String> {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_gitlab_code_quality_report_lists_every_finding() {
    // The same run in JSON and in GitLab's Code Quality shape: one issue per finding, the
    // finding's fingerprint (as SARIF's), its file and line, and GitLab's severity words.
    let (_, v) = json(&["--policy", "policies", "manifests"]);
    let o = check(&["--format", "gitlab", "--policy", "policies", "manifests"]);
    assert_eq!(code(&o), 1);
    let issues: Value = serde_json::from_slice(&o.stdout).unwrap();
    let issues = issues.as_array().unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(issues.len(), findings.len());
    for (issue, f) in issues.iter().zip(findings) {
        assert_eq!(issue["check_name"], f["rule_id"]);
        assert_eq!(issue["location"]["path"], f["location"]["file"]);
        assert_eq!(issue["location"]["lines"]["begin"], f["location"]["line"]);
        let want = match f["severity"].as_str().unwrap() {
            "error" => "major",
            "warning" => "minor",
            _ => "info",
        };
        assert_eq!(issue["severity"], want);
        assert_eq!(issue["fingerprint"].as_str().unwrap().len(), 16);
    }
}

/// Runs check in `dir` with JSON output; returns the exit code, the report and stderr.
fn json_in(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let o = run(tollgate()
        .args(["check", "--format", "json"])
        .args(args)
        .current_dir(dir));
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (code(&o), v, stderr(&o))
}

fn rule_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|x| {
                    format!(
                        "{} {}",
                        x["rule_id"].as_str().unwrap_or(""),
                        x["message"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn rule_values_count_as_conftest_counts_them() {
    // conftest reads a rule's value as a list of results and passes anything else. Worked
    // per rule, for a Pod and a ConfigMap:
    // - `violation := [{"msg": ...}] if kind is Pod`: a list with one object: one finding on
    //   the Pod; undefined on the ConfigMap: nothing (before: a "<undefined>" finding).
    // - `deny := "single" if true`: a string, not a list: passes on both.
    // - `deny_set contains 7 if true`: a set whose member is a number: not a result, passes.
    // - v0 `warn { true }`: a boolean, not a list: passes (conftest's reading).
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "p.rego",
        "package main\nimport rego.v1\n\nviolation := [{\"msg\": \"a pod\"}] if input.kind == \"Pod\"\n\ndeny := \"single\"\n\ndeny_set contains 7 if true\n",
    );
    put(&dir, "v0.rego", "package main\n\nwarn_v0 { true }\n");
    put(
        &dir,
        "m.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: []\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let (c, v, err) = json_in(
        dir.path(),
        &["--policy", "p.rego", "--policy", "v0.rego", "m.yaml"],
    );
    assert_eq!(c, 1, "{err}");
    assert_eq!(rule_ids(&v), ["main/violation a pod"], "{v:#}");
}

#[test]
fn namespaces_take_globs_and_empty_policy_paths_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (file, pkg) in [
        ("a.rego", "main"),
        ("b.rego", "k8s.images"),
        ("c.rego", "k8s.rbac"),
        ("d.rego", "other"),
    ] {
        put(
            &dir,
            file,
            &format!("package {pkg}\nimport rego.v1\n\ndeny contains \"{pkg}\" if true\n"),
        );
    }
    put(
        &dir,
        "m.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    // `k8s.*` selects the two k8s packages (a glob over the whole dotted name, as conftest's
    // path.Match does: `*` crosses the dot); `*` selects all four; none: `main` only.
    for (ns, want) in [
        (
            Some("k8s.*"),
            vec!["k8s.images/deny k8s.images", "k8s.rbac/deny k8s.rbac"],
        ),
        (
            Some("*"),
            vec![
                "k8s.images/deny k8s.images",
                "k8s.rbac/deny k8s.rbac",
                "main/deny main",
                "other/deny other",
            ],
        ),
        (Some("ot?er"), vec!["other/deny other"]),
        (None, vec!["main/deny main"]),
    ] {
        let mut args = vec!["--policy", "."];
        if let Some(n) = ns {
            args.extend(["--namespace", n]);
        }
        args.push("m.yaml");
        let (c, v, err) = json_in(dir.path(), &args);
        assert_eq!(c, 1, "{ns:?}: {err}");
        assert_eq!(rule_ids(&v), want, "{ns:?}");
    }
    // A policy directory that holds nothing, or a path that does not exist: exit 2, named.
    fs::create_dir(dir.path().join("empty")).unwrap();
    for path in ["empty", "missing"] {
        let (c, _, err) = json_in(dir.path(), &["--policy", path, "m.yaml"]);
        assert_eq!(c, 2, "{path}");
        assert!(err.contains(&format!("{path}: no policies found")), "{err}");
        assert!(err.contains("check the --policy paths"), "{err}");
        let o = run(tollgate().args(["verify", path]).current_dir(dir.path()));
        assert_eq!(code(&o), 2, "verify {path}");
        assert!(
            stderr(&o).contains("tollgate: error:") && stderr(&o).contains("no policies found"),
            "{}",
            stderr(&o)
        );
    }
    // `deny if { ... }` is a boolean rule, which conftest refuses at load: exit 2 on its line.
    put(
        &dir,
        "bare.rego",
        "package main\nimport rego.v1\n\ndeny if {\n  true\n}\n",
    );
    let (c, _, err) = json_in(dir.path(), &["--policy", "bare.rego", "m.yaml"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("bare.rego:4") && err.contains("without 'contains'"),
        "{err}"
    );
}

#[test]
fn undefined_functions_fail_at_load_even_in_rules_that_never_run() {
    // OPA rejects a call to a function nothing defines when it compiles. Worked cases:
    // - `lib.name_of(input)`: defined in package lib, imported: fine.
    // - `sprintf`, `count`, `startswith`: builtins: fine.
    // - `sprintff(...)` in a rule whose first line is never true (kind `Nope`): still an
    //   error, on the call's line (7), exit 2.
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "lib.rego",
        "package lib\nimport rego.v1\n\nname_of(o) := n if n := o.metadata.name\n",
    );
    put(
        &dir,
        "main.rego",
        "package main\nimport rego.v1\nimport data.lib\n\ndeny contains m if {\n  input.kind == \"Nope\"\n  m := sprintff(\"%s\", [lib.name_of(input)])\n}\n\nwarn contains m if {\n  startswith(lib.name_of(input), \"c\")\n  count(input.data) > 0\n  m := sprintf(\"%s has data\", [lib.name_of(input)])\n}\n",
    );
    put(
        &dir,
        "m.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n",
    );
    let (c, _, err) = json_in(dir.path(), &["--policy", ".", "m.yaml"]);
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("main.rego:7") && err.contains("undefined function sprintff"),
        "{err}"
    );
    assert_eq!(err.matches("undefined function").count(), 1, "{err}");
    // Fixed, the same policies load and the warn rule fires.
    put(
        &dir,
        "main.rego",
        &fs::read_to_string(dir.path().join("main.rego"))
            .unwrap()
            .replace("sprintff", "sprintf"),
    );
    let (c, v, err) = json_in(dir.path(), &["--policy", ".", "m.yaml"]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(rule_ids(&v), ["main/warn c has data"]);
}

#[test]
fn rego_metadata_rule_and_chain_return_the_enclosing_rules_annotations() {
    // regorus lacks these OPA builtins; tollgate answers them from the METADATA blocks it
    // reads. Worked: the rule's block has title "No latest" and custom.id IMG900, the
    // package's has title "Images"; the message spells what the calls returned: the title,
    // the id, and the chain's length (rule, then package: 2) and its first path.
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "p.rego",
        "# METADATA\n# title: Images\npackage main\nimport rego.v1\n\n# METADATA\n# title: No latest\n# custom:\n#   id: IMG900\ndeny contains msg if {\n  input.kind == \"ConfigMap\"\n  meta := rego.metadata.rule()\n  chain := rego.metadata.chain()\n  msg := sprintf(\"%s %s %d %s\", [meta.title, meta.custom.id, count(chain), concat(\".\", chain[0].path)])\n}\n\nhelper_without_metadata := rego.metadata.rule()\n\nwarn contains msg if {\n  input.kind == \"ConfigMap\"\n  helper_without_metadata == {}\n  msg := \"helpers without METADATA get {}\"\n}\n",
    );
    put(
        &dir,
        "m.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let (c, v, err) = json_in(dir.path(), &["--policy", "p.rego", "m.yaml"]);
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        rule_ids(&v),
        [
            "IMG900 No latest IMG900 2 data.main.deny",
            "main/warn helpers without METADATA get {}"
        ],
        "{v:#}"
    );
}

/// `(rule, file, document, resource kind)` of each finding, sorted as reported.
fn placed(v: &Value) -> Vec<(String, String, u64, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["location"]["file"].as_str().unwrap().to_owned(),
                f["location"]["document"].as_u64().unwrap(),
                f["resource"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn rego_policies_see_every_document_and_the_other_engines_only_kubernetes_objects() {
    // conftest's convention: a Rego policy judges whatever YAML or JSON it is given (a
    // compose file, a Terraform plan, plain data); the bundled packs and the built-in
    // checks are Kubernetes rules and see Kubernetes objects only.
    let (c, v) = json(&[
        "--policy",
        "documents/policy",
        "--pack",
        "k8s",
        "--pack",
        "images",
        "documents/inputs",
    ]);
    assert_eq!(c, 1, "{v:#}");
    let got = placed(&v);
    let of = |file: &str| -> Vec<(String, u64, String)> {
        got.iter()
            .filter(|(_, f, _, _)| f == file)
            .map(|(r, _, d, k)| (r.clone(), *d, k.clone()))
            .collect()
    };
    // The compose file: the privileged service only (the policy's rule), no image rule
    // although `nginx:latest` is there: it is not a pod template.
    assert_eq!(
        of("documents/inputs/compose.yaml"),
        vec![("main/deny".into(), 0, String::new())]
    );
    // The plan: the public bucket, once.
    assert_eq!(
        of("documents/inputs/plan.json"),
        vec![("main/deny".into(), 0, String::new())]
    );
    // The mixed file: the Deployment (document 0) gets the Kubernetes rules (the Rego warn,
    // IMG001 for its tag, the k8s pack's limits rule); the data (document 1) only the owners rule.
    let mixed = of("documents/inputs/mixed.yaml");
    assert!(
        mixed.contains(&("main/deny".into(), 1, String::new())),
        "{mixed:?}"
    );
    assert!(
        mixed.contains(&("main/warn".into(), 0, "Deployment".into())),
        "{mixed:?}"
    );
    assert!(
        mixed.contains(&("IMG001".into(), 0, "Deployment".into())),
        "{mixed:?}"
    );
    assert!(
        mixed.iter().all(|(r, d, _)| *d == 0 || r == "main/deny"),
        "only the policy's rule judges the data document: {mixed:?}"
    );
    let messages: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"compose service web is privileged"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"aws_s3_bucket.logs would be public"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"team payments has no on-call rota"),
        "{messages:?}"
    );
    assert_eq!(v["summary"]["resources"], 4, "{v:#}");

    // --kubernetes-only: the other documents are skipped, and say so.
    let (c, v) = json(&[
        "--policy",
        "documents/policy",
        "--kubernetes-only",
        "--show-skipped",
        "documents/inputs",
    ]);
    assert_eq!(c, 0, "a warning alone: {v:#}");
    let got = placed(&v);
    assert_eq!(
        got,
        vec![(
            "main/warn".into(),
            "documents/inputs/mixed.yaml".into(),
            0,
            "Deployment".into()
        )],
        "{v:#}"
    );
    assert_eq!(v["summary"]["resources"], 1);
    assert_eq!(v["summary"]["skipped_documents"], 3);
    let skipped: Vec<(&str, &str)> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["file"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert!(
        skipped.contains(&("documents/inputs/compose.yaml", "not a Kubernetes object")),
        "{skipped:?}"
    );
}
