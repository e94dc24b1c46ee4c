//! What an attacker or an unlucky user tries against `tollgate check`: secret values in
//! reports, terminal escapes, broken documents, runaway or recursive policies, per-rule
//! Kyverno actions, and `--combine` switching packs off. Each case failed before its fix.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::process::Output;

fn put(dir: &tempfile::TempDir, name: &str, text: &str) {
    let path = dir.path().join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, text).unwrap();
}

fn check_in(dir: &tempfile::TempDir, args: &[&str]) -> Output {
    run(tollgate().arg("check").args(args).current_dir(dir.path()))
}

fn findings(o: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    v["findings"].as_array().cloned().unwrap_or_default()
}

const CANARY: &str = "CANARY-s3cr3t-7f3a9";
/// base64 of "CANARY-b64-d41c" (as a Secret's `data` holds it).
const CANARY_B64: &str = "Q0FOQVJZLWI2NC1kNDFj";
const CANARY_B64_PLAIN: &str = "CANARY-b64-d41c";

/// A Secret with plaintext values, a Kyverno policy and a Rego policy that both flag them, and
/// the bundled pack: every engine has a finding on the values.
fn canary_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "deploy/secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\ntype: Opaque\nstringData:\n  password: {CANARY}\n  url: \"postgres://app:{CANARY}@db\"\ndata:\n  token: {CANARY_B64}\n"
        ),
    );
    put(
        &dir,
        "policy/encrypted.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: sops-only\nspec:\n  rules:\n    - name: encrypted-values\n      match:\n        any:\n          - resources:\n              kinds: [Secret]\n      validate:\n        failureAction: Enforce\n        message: Secret values must be SOPS-encrypted.\n        pattern:\n          stringData:\n            password: \"ENC[*\"\n          data:\n            token: \"ENC[*\"\n",
    );
    put(
        &dir,
        "policy/main.rego",
        "package main\n\nimport rego.v1\n\ndeny contains {\"msg\": sprintf(\"%s is plaintext\", [k]), \"field\": sprintf(\"stringData.%s\", [k])} if {\n\tinput.kind == \"Secret\"\n\tsome k, v in input.stringData\n\tnot startswith(v, \"ENC[\")\n}\n",
    );
    dir
}

fn assert_no_canary(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for c in [CANARY, CANARY_B64, CANARY_B64_PLAIN] {
        assert!(
            !text.contains(c),
            "{what} shows a secret value ({c}):\n{text}"
        );
    }
}

#[test]
fn secret_values_never_reach_any_report() {
    let dir = canary_repo();
    // Rego + Kyverno from --policy, then the bundled pack alone (it runs without policies).
    let runs: [&[&str]; 2] = [&["--policy", "policy", "deploy"], &["deploy"]];
    for args in runs {
        for format in ["human", "json", "sarif", "junit", "github"] {
            let mut all = vec!["--format", format, "--color", "always"];
            all.extend_from_slice(args);
            let o = check_in(&dir, &all);
            assert_eq!(code(&o), 1, "{format} {args:?}: {}", stderr(&o));
            assert_no_canary(&format!("{format} {args:?} stdout"), &o.stdout);
            assert_no_canary(&format!("{format} {args:?} stderr"), &o.stderr);
        }
    }
    // Each engine did report on the values (a report with no findings would pass the above).
    let o = check_in(&dir, &["--format", "json", "--policy", "policy", "deploy"]);
    let engines: Vec<&str> = findings(&o)
        .iter()
        .map(|f| f["engine"].as_str().unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .iter()
        .map(|s| match s.as_str() {
            "rego" => "rego",
            "kyverno" => "kyverno",
            _ => "other",
        })
        .collect();
    assert!(
        engines.contains(&"rego") && engines.contains(&"kyverno"),
        "{engines:?}"
    );
    let o = check_in(&dir, &["--format", "json", "deploy"]);
    assert!(findings(&o).iter().any(|f| f["rule_id"] == "SECRET001"));
}

#[test]
fn the_human_excerpt_masks_the_secret_line_but_keeps_the_key() {
    let dir = canary_repo();
    let o = check_in(&dir, &["--format", "human", "deploy"]);
    let text = String::from_utf8_lossy(&o.stdout);
    // SECRET001 points at each value line: the excerpt names the key, not the value.
    assert!(text.contains("8 |   password: ********"), "{text}");
    assert!(text.contains("9 |   url: ********"), "{text}");
    assert!(text.contains("11 |   token: ********"), "{text}");
}

#[test]
fn kyverno_messages_name_the_path_and_pattern_not_the_value() {
    let dir = canary_repo();
    let o = check_in(&dir, &["--format", "json", "--policy", "policy", "deploy"]);
    let f = findings(&o);
    let k = f
        .iter()
        .find(|f| f["engine"] == "kyverno")
        .unwrap_or_else(|| panic!("{f:?}"));
    let msg = k["message"].as_str().unwrap();
    assert!(
        msg.contains("stringData.password") || msg.contains("data.token"),
        "{msg}"
    );
    assert!(
        msg.contains("'ENC[*'"),
        "the expected pattern is shown: {msg}"
    );
}

#[test]
fn terminal_escapes_in_manifests_are_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // A name with ESC [2K (erase line) and CR: printed raw, it would overwrite the finding.
    put(
        &dir,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"evil\\e[2K\\rall clear\"\nspec:\n  containers:\n    - name: app\n      image: nginx:latest\n",
    );
    for format in ["human", "github"] {
        let o = check_in(&dir, &["--format", format, "pod.yaml"]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert!(!o.stdout.contains(&0x1b), "{format} prints ESC");
        assert!(!o.stdout.contains(&b'\r'), "{format} prints CR");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("evil\\u{1b}[2K"), "{format}: {text}");
    }
}

#[test]
fn one_broken_document_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n    - name: app\n      image: nginx:latest\n")
    };
    put(
        &dir,
        "pods.yaml",
        &format!(
            "{}---\nkind: [unclosed\n---\n{}",
            pod("first"),
            pod("third")
        ),
    );
    let o = check_in(&dir, &["--format", "json", "pods.yaml"]);
    // The broken document is an error (exit 2) that names the file, document and line...
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{v:#}");
    assert_eq!(errors[0]["file"], "pods.yaml");
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(msg.starts_with("document 2: "), "{msg}");
    assert!(msg.contains("line 10"), "{msg}");
    // ...and both valid Pods are still checked, at their own documents.
    let names: Vec<(String, u64)> = findings(&o)
        .iter()
        .filter(|f| f["rule_id"] == "IMG001")
        .map(|f| {
            (
                f["resource"]["name"].as_str().unwrap().to_owned(),
                f["location"]["document"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("first".into(), 0), ("third".into(), 2)]);
}

#[test]
fn combine_keeps_the_bundled_packs() {
    let dir = canary_repo();
    put(
        &dir,
        "combined/unique.rego",
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tcount(input) > 5\n\tmsg := \"too many files\"\n}\n",
    );
    // With --combine but no other policy, the bundled pack still judges each resource.
    let o = check_in(&dir, &["--format", "json", "--combine", "deploy"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(findings(&o).iter().any(|f| f["rule_id"] == "SECRET001"));
    // With a --combine policy and the pack named: both run, each its own way.
    let o = check_in(
        &dir,
        &[
            "--format",
            "json",
            "--combine",
            "--policy",
            "combined",
            "--pack",
            "secrets",
            "deploy",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(findings(&o).iter().any(|f| f["rule_id"] == "SECRET001"));
}

fn kyverno_action_policy(policy_action: Option<&str>, rule_actions: [Option<&str>; 2]) -> String {
    let mut s = String::from(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: labels\nspec:\n",
    );
    if let Some(a) = policy_action {
        s.push_str(&format!("  validationFailureAction: {a}\n"));
    }
    s.push_str("  rules:\n");
    for (i, action) in rule_actions.iter().enumerate() {
        s.push_str(&format!(
            "    - name: r{i}\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n"
        ));
        if let Some(a) = action {
            s.push_str(&format!("        failureAction: {a}\n"));
        }
        s.push_str(&format!(
            "        message: needs label l{i}\n        pattern:\n          metadata:\n            labels:\n              l{i}: \"?*\"\n"
        ));
    }
    s
}

#[test]
fn a_rules_own_failure_action_wins_over_the_policys() {
    // Hand-worked: rule r0 and r1 both fail on a Pod without labels. The severity of each is
    // the rule's `validate.failureAction` if it has one, else the policy's
    // `validationFailureAction`, else Audit (Kyverno's default): Enforce -> error, Audit ->
    // warning. The SARIF rule list must say the same as the findings.
    type Case<'a> = (Option<&'a str>, [Option<&'a str>; 2], [&'a str; 2]);
    let cases: [Case<'_>; 4] = [
        (None, [Some("Enforce"), None], ["error", "warning"]),
        (Some("Audit"), [Some("Enforce"), None], ["error", "warning"]),
        (Some("Enforce"), [Some("Audit"), None], ["warning", "error"]),
        (Some("enforce"), [None, Some("audit")], ["error", "warning"]),
    ];
    for (policy_action, rule_actions, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        put(
            &dir,
            "policy/labels.yaml",
            &kyverno_action_policy(policy_action, rule_actions),
        );
        put(
            &dir,
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a\n      image: nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
        );
        let o = check_in(
            &dir,
            &["--format", "json", "--policy", "policy", "pod.yaml"],
        );
        let got: Vec<(String, String)> = findings(&o)
            .iter()
            .map(|f| {
                (
                    f["rule_id"].as_str().unwrap().to_owned(),
                    f["severity"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = want
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("labels/r{i}"), (*s).to_owned()))
            .collect();
        assert_eq!(got, expected, "{policy_action:?} {rule_actions:?}");
        let o = check_in(
            &dir,
            &["--format", "sarif", "--policy", "policy", "pod.yaml"],
        );
        let sarif: Value = serde_json::from_slice(&o.stdout).unwrap();
        let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        for (i, s) in want.iter().enumerate() {
            let level = if *s == "error" { "error" } else { "warning" };
            let rule = rules
                .iter()
                .find(|r| r["id"] == format!("labels/r{i}"))
                .unwrap();
            assert_eq!(rule["defaultConfiguration"]["level"], level, "{rule}");
        }
    }
}

/// A Pod with 400 containers and a policy with three nested foreach over them: 64 million
/// element scopes, minutes of work without a limit.
fn runaway_kyverno(dir: &tempfile::TempDir) {
    let mut pod =
        String::from("apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\nspec:\n  containers:\n");
    for i in 0..400 {
        pod.push_str(&format!("    - name: c{i}\n      image: nginx:{i}\n"));
    }
    put(dir, "pod.yaml", &pod);
    put(
        dir,
        "policy/slow.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: slow\nspec:\n  rules:\n    - name: cubic\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: never\n        foreach:\n          - list: request.object.spec.containers\n            foreach:\n              - list: request.object.spec.containers\n                foreach:\n                  - list: request.object.spec.containers\n                    deny:\n                      conditions:\n                        all:\n                          - key: \"{{ element.name }}\"\n                            operator: Equals\n                            value: nothing-is-called-this\n",
    );
}

#[test]
fn a_runaway_kyverno_rule_is_stopped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    runaway_kyverno(&dir);
    let o = check_in(
        &dir,
        &[
            "--format",
            "json",
            "--eval-timeout",
            "0.3",
            "--policy",
            "policy",
            "pod.yaml",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("slow/cubic") && m.contains("time limit"))),
        "{v:#}"
    );
}

#[test]
fn a_recursive_rego_function_is_a_compile_error_not_a_crash() {
    // Once: "thread 'main' has overflowed its stack", exit 134, in check and in verify.
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "policy/loop.rego",
        "package main\n\nimport rego.v1\n\nf(x) := y if {\n\ty := f(x)\n}\n\ndeny contains msg if {\n\tmsg := f(input.kind)\n}\n",
    );
    put(
        &dir,
        "policy/loop_test.rego",
        "package main\n\nimport rego.v1\n\ntest_f if {\n\tf(1) == 1\n}\n",
    );
    put(
        &dir,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
    );
    for args in [
        &["check", "--policy", "policy", "pod.yaml"][..],
        &["verify", "policy"][..],
    ] {
        let o = run(tollgate().args(args).current_dir(dir.path()));
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("policy/loop.rego:5"), "{args:?}: {err}");
        assert!(
            err.contains("data.main.f -> data.main.f"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn deeply_nested_input_is_evaluated_without_exhausting_the_stack() {
    // 990 levels, just under the reader's cap: Rego's walk(), --combine (one big input) and
    // the bundled pack all recurse through it.
    let dir = tempfile::tempdir().unwrap();
    let depth = 990;
    put(
        &dir,
        "deep.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\nspec: {}2{}\n",
            "{a: ".repeat(depth),
            "}".repeat(depth)
        ),
    );
    put(
        &dir,
        "policy/walk.rego",
        "package main\n\nimport rego.v1\n\ndeny contains \"a 2 somewhere\" if {\n\twalk(input, [_, v])\n\tv == 2\n}\n",
    );
    for args in [
        &["--policy", "policy", "deep.yaml"][..],
        &["--policy", "policy", "--combine", "deep.yaml"][..],
    ] {
        let o = check_in(&dir, args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("a 2 somewhere"));
    }
}

#[test]
fn verify_has_the_same_time_limit_as_check() {
    // `verify` once compiled policies its own way, without the limit: a runaway test hung it.
    let dir = tempfile::tempdir().unwrap();
    put(
        &dir,
        "policy/slow_test.rego",
        "package main\n\nimport rego.v1\n\ntest_slow if {\n\tcount([i | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000); i == j]) > 0\n}\n\ntest_fast if {\n\t1 == 1\n}\n",
    );
    let o = run(tollgate()
        .args(["verify", "--eval-timeout", "0.5", "policy"])
        .current_dir(dir.path()));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(
        out.contains("ERROR policy/slow_test.rego:5: main.test_slow"),
        "{out}"
    );
    assert!(out.contains("1 passed, 1 failed"), "{out}");
}

#[test]
fn kyverno_test_suites_have_the_same_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    runaway_kyverno(&dir);
    put(
        &dir,
        "kyverno-test.yaml",
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: slow\npolicies:\n  - policy/slow.yaml\nresources:\n  - pod.yaml\nresults:\n  - policy: slow\n    rule: cubic\n    resources: [big]\n    kind: Pod\n    result: pass\n",
    );
    let o = run(tollgate()
        .args(["test", "--eval-timeout", "0.3", "--format", "json", "."])
        .current_dir(dir.path()));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(out.contains("time limit"), "{out}");
}
