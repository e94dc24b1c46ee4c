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

const POD_WITHOUT_TEAM: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n";

/// Runs `tollgate test` on `dir`: every expectation must hold, with this closing line.
fn all_pass(dir: &std::path::Path, closing: &str) {
    let o = run(tollgate().arg("test").arg(dir));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().last(), Some(closing));
}

fn scratch(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn unscored_policies_warn_in_tests_and_in_check() {
    // `policies.kyverno.io/scored: "false"`: Kyverno reports a failure as `warn`, even under
    // Enforce. The Pod has no `team` label, so the rule fails; the test expects `warn`, and
    // `check` reports a warning (exit 0 with the default --fail-on error).
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: team\n  annotations:\n    policies.kyverno.io/scored: \"false\"\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: check-team\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: a team label is required\n        pattern:\n          metadata:\n            labels:\n              team: \"?*\"\n";
    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pod.yaml]\nresults:\n  - policy: team\n    rule: check-team\n    resources: [bad]\n    kind: Pod\n    result: warn\n";
    let dir = scratch(&[
        ("policy.yaml", policy),
        ("pod.yaml", POD_WITHOUT_TEAM),
        ("kyverno-test.yaml", test),
    ]);
    let o = run(tollgate().arg("test").arg(dir.path()));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let o = run(tollgate()
        .args([
            "check",
            "--format",
            "json",
            "--policy",
            "policy.yaml",
            "pod.yaml",
        ])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["rule_id"], "team/check-team");
    assert_eq!(v["findings"][0]["severity"], "warning");
}

#[test]
fn missing_files_and_unsupported_rules_fail_in_both_modes() {
    // A lenient run that evaluated nothing must not be green: a policy file that does not
    // exist fails the test file, and an expectation on a rule tollgate does not evaluate (a
    // mutate rule) fails too, strict or lenient.
    let mutate = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: add-team\nspec:\n  rules:\n    - name: add\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      mutate:\n        patchStrategicMerge:\n          metadata:\n            labels:\n              team: a\n";
    let missing = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [nowhere.yaml]\nresources: [pod.yaml]\nresults:\n  - policy: team\n    rule: check-team\n    resources: [bad]\n    kind: Pod\n    result: pass\n";
    let unsupported = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: u\npolicies: [mutate.yaml]\nresources: [pod.yaml]\nresults:\n  - policy: add-team\n    rule: add\n    resources: [bad]\n    kind: Pod\n    result: pass\n";
    for (test, why) in [
        (missing, "policy file nowhere.yaml does not exist"),
        (unsupported, "unsupported rule type"),
    ] {
        let dir = scratch(&[
            ("mutate.yaml", mutate),
            ("pod.yaml", POD_WITHOUT_TEAM),
            ("kyverno-test.yaml", test),
        ]);
        for lenient in [false, true] {
            let mut c = tollgate();
            c.arg("test").arg(dir.path());
            if lenient {
                c.arg("--lenient");
            }
            let o = run(&mut c);
            assert_eq!(
                code(&o),
                1,
                "lenient={lenient}: {}{}",
                stdout(&o),
                stderr(&o)
            );
            assert!(
                stdout(&o).contains(why) || stderr(&o).contains(why),
                "lenient={lenient}: {}{}",
                stdout(&o),
                stderr(&o)
            );
        }
    }
}

#[test]
fn foreach_element_scope_picks_the_pattern_target() {
    // The pattern `metadata.name: p` is true of the Pod and false of a container (a
    // container has no metadata). Worked per rule:
    // - `whole`: elementScope false: matched against the Pod for each container: pass.
    // - `each`: elementScope unset, the elements are maps: matched against each container:
    //   fail.
    // - `scalars`: elementScope true over container names (strings): an error, as Kyverno
    //   refuses element scope for elements that are not maps.
    let rule = |name: &str, list: &str, scope: &str| {
        format!("    - name: {name}\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: m\n        foreach:\n          - list: \"{list}\"\n{scope}            pattern:\n              metadata:\n                name: p\n")
    };
    let policy = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: scope\nspec:\n  rules:\n{}{}{}",
        rule("whole", "request.object.spec.containers", "            elementScope: false\n"),
        rule("each", "request.object.spec.containers", ""),
        rule("scalars", "request.object.spec.containers[].name", "            elementScope: true\n"),
    );
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a\n      image: nginx:1.25\n    - name: b\n      image: busybox:1.36\n";
    let result = |rule: &str, r: &str| {
        format!("  - policy: scope\n    rule: {rule}\n    resources: [p]\n    kind: Pod\n    result: {r}\n")
    };
    let test = format!(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pod.yaml]\nresults:\n{}{}{}",
        result("whole", "pass"),
        result("each", "fail"),
        result("scalars", "error"),
    );
    let dir = scratch(&[
        ("policy.yaml", &policy),
        ("pod.yaml", pod),
        ("kyverno-test.yaml", &test),
    ]);
    all_pass(dir.path(), "3 passed, 0 failed");
}

#[test]
fn a_result_can_name_the_operation_it_is_judged_under() {
    // The rule matches DELETE only and denies it for `env: prod`. The same Pod, judged:
    // - with `operation: DELETE`: matched, denied: fail;
    // - with no operation (CREATE, the CLI's default): not matched: skip (nothing produced).
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: no-prod-delete\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: block\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n              operations: [DELETE]\n      validate:\n        message: prod Pods are not deleted\n        deny:\n          conditions:\n            any:\n              - key: \"{{ request.oldObject.metadata.labels.env }}\"\n                operator: Equals\n                value: prod\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  labels:\n    env: prod\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n";
    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pod.yaml]\nresults:\n  - policy: no-prod-delete\n    rule: block\n    resources: [app]\n    kind: Pod\n    operation: DELETE\n    result: fail\n  - policy: no-prod-delete\n    rule: block\n    resources: [app]\n    kind: Pod\n    result: skip\n";
    let dir = scratch(&[
        ("policy.yaml", policy),
        ("pod.yaml", pod),
        ("kyverno-test.yaml", test),
    ]);
    all_pass(dir.path(), "2 passed, 0 failed");
}

#[test]
fn values_subresources_make_a_scale_the_deployments_scale_subresource() {
    // values.subresources says a `Scale` object is `deployments/scale` of an apps/v1
    // Deployment. Worked per rule, on a Scale of 5 replicas:
    // - `scale` matches `Deployment/scale` and allows at most 3: fail;
    // - `whole` matches `Deployment` (the resource, not its subresource): no match: skip.
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: replicas\nspec:\n  rules:\n    - name: scale\n      match:\n        any:\n          - resources:\n              kinds: [Deployment/scale]\n      validate:\n        message: at most 3\n        pattern:\n          spec:\n            replicas: \"<=3\"\n    - name: whole\n      match:\n        any:\n          - resources:\n              kinds: [Deployment]\n      validate:\n        message: at most 3\n        pattern:\n          spec:\n            replicas: \"<=3\"\n";
    let scale = "apiVersion: autoscaling/v1\nkind: Scale\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 5\n";
    let values = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nsubresources:\n  - parentResource:\n      group: apps\n      version: v1\n      kind: Deployment\n      name: deployments\n    subresource:\n      group: autoscaling\n      version: v1\n      kind: Scale\n      name: deployments/scale\n";
    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [scale.yaml]\nvariables: values.yaml\nresults:\n  - policy: replicas\n    rule: scale\n    resources: [default/web]\n    kind: Scale\n    result: fail\n  - policy: replicas\n    rule: whole\n    resources: [default/web]\n    kind: Scale\n    result: skip\n";
    let dir = scratch(&[
        ("policy.yaml", policy),
        ("scale.yaml", scale),
        ("values.yaml", values),
        ("kyverno-test.yaml", test),
    ]);
    all_pass(dir.path(), "2 passed, 0 failed");
}

#[test]
fn foreach_values_give_each_element_its_own_value() {
    // `imageTag` comes from an imageRegistry context entry (never fetched offline); the
    // test's foreachValues give element i item i. The rule denies a container whose tag is
    // `latest`. Worked: tags [1.0, latest] -> the second container is denied: fail; tags
    // [1.0, 2.0] -> both allowed: pass.
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: tags\nspec:\n  rules:\n    - name: no-latest\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: \"{{ element.name }} uses latest\"\n        foreach:\n          - list: request.object.spec.containers\n            context:\n              - name: imageTag\n                imageRegistry:\n                  reference: \"{{ element.image }}\"\n                  jmesPath: tag\n            deny:\n              conditions:\n                any:\n                  - key: \"{{ imageTag }}\"\n                    operator: Equals\n                    value: latest\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a\n      image: registry.example/a\n    - name: b\n      image: registry.example/b\n";
    for (tags, want) in [
        ("[\"1.0\", latest]", "fail"),
        ("[\"1.0\", \"2.0\"]", "pass"),
    ] {
        let values = format!("apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\npolicies:\n  - name: tags\n    rules:\n      - name: no-latest\n        foreachValues:\n          imageTag: {tags}\n");
        let test = format!("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pod.yaml]\nvariables: values.yaml\nresults:\n  - policy: tags\n    rule: no-latest\n    resources: [p]\n    kind: Pod\n    result: {want}\n");
        let dir = scratch(&[
            ("policy.yaml", policy),
            ("pod.yaml", pod),
            ("values.yaml", &values),
            ("kyverno-test.yaml", &test),
        ]);
        let o = run(tollgate().arg("test").arg(dir.path()));
        assert_eq!(code(&o), 0, "{tags}: {}{}", stdout(&o), stderr(&o));
    }
}

#[test]
fn an_unresolved_variable_in_preconditions_is_an_error() {
    // The Pod has no `team` label. Worked per rule:
    // - `bare`: precondition on `{{ request.object.metadata.labels.team }}`: the field is
    //   missing on the direct path, so the variable does not resolve: error (Kyverno >= 1.8;
    //   it once read as "").
    // - `defaulted`: the same with `|| 'none'`: resolves to "none", not "platform": the
    //   precondition fails: skip.
    let rule = |name: &str, key: &str| {
        format!("    - name: {name}\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      preconditions:\n        all:\n          - key: \"{key}\"\n            operator: Equals\n            value: platform\n      validate:\n        message: m\n        pattern:\n          spec:\n            containers:\n              - image: \"*:*\"\n")
    };
    let policy = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: pre\nspec:\n  rules:\n{}{}",
        rule("bare", "{{ request.object.metadata.labels.team }}"),
        rule("defaulted", "{{ request.object.metadata.labels.team || 'none' }}"),
    );
    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pod.yaml]\nresults:\n  - policy: pre\n    rule: bare\n    resources: [bad]\n    kind: Pod\n    result: error\n  - policy: pre\n    rule: defaulted\n    resources: [bad]\n    kind: Pod\n    result: skip\n";
    let dir = scratch(&[
        ("policy.yaml", &policy),
        ("pod.yaml", POD_WITHOUT_TEAM),
        ("kyverno-test.yaml", test),
    ]);
    all_pass(dir.path(), "2 passed, 0 failed");
}

#[test]
fn policy_exceptions_waive_the_rules_they_name_in_test_and_check() {
    // The rule requires a `team` label; neither Pod has one. The exception names the rule,
    // matches Pods in `tools`, and holds when the Pod is named `b`. Worked:
    // - apps/a: not in tools: the rule judges it: fail;
    // - tools/b: matched and the condition holds: skip ("skipped due to policy exception");
    // - tools/c: matched but named c: the condition fails, so no waiver: fail.
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-team\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: check-team\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: a team label is required\n        pattern:\n          metadata:\n            labels:\n              team: \"?*\"\n";
    let exception = "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: tools-b\n  namespace: tools\nspec:\n  exceptions:\n    - policyName: require-team\n      ruleNames: [check-*]\n  match:\n    any:\n      - resources:\n          kinds: [Pod]\n          namespaces: [tools]\n  conditions:\n    any:\n      - key: \"{{ request.object.metadata.name }}\"\n        operator: Equals\n        value: b\n";
    let pod = |ns: &str, name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n")
    };
    let pods = [pod("apps", "a"), pod("tools", "b"), pod("tools", "c")].join("---\n");
    let result = |name: &str, r: &str| {
        format!("  - policy: require-team\n    rule: check-team\n    resources: [{name}]\n    kind: Pod\n    result: {r}\n")
    };
    let test = format!(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pods.yaml]\nexceptions: [exception.yaml]\nresults:\n{}{}{}",
        result("apps/a", "fail"),
        result("tools/b", "skip"),
        result("tools/c", "fail"),
    );
    let dir = scratch(&[
        ("policy.yaml", policy),
        ("exception.yaml", exception),
        ("pods.yaml", &pods),
        ("kyverno-test.yaml", &test),
    ]);
    all_pass(dir.path(), "3 passed, 0 failed");
    // `check` with the exception among the policies reports a and c, and counts b's failure
    // as suppressed by the exception.
    let o = run(tollgate()
        .args([
            "check",
            "--format",
            "json",
            "--show-suppressed",
            "--policy",
            "policy.yaml",
            "--policy",
            "exception.yaml",
            "pods.yaml",
        ])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut names: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "c"], "{v:#}");
    assert_eq!(v["suppressed"][0]["resource"]["name"], "b", "{v:#}");
    assert_eq!(
        v["suppressed"][0]["suppressed_by"],
        "PolicyException tools/tools-b"
    );
    assert_eq!(v["summary"]["suppressed"], 1);
}

#[test]
fn values_set_on_request_object_are_seen_by_match() {
    // The rule matches only Pods annotated `owner: platform`; the Pod has no annotations,
    // the values file gives it one. Kyverno's CLI applies such values to the resource, so
    // the rule matches and its deny (always) fails it; without the value it would not
    // match at all (nothing produced).
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: platform\nspec:\n  rules:\n    - name: owned\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n              annotations:\n                owner: platform\n      validate:\n        message: platform Pods are not changed here\n        deny: {}\n";
    let values = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\npolicies:\n  - name: platform\n    resources:\n      - name: bad\n        values:\n          request.object.metadata.annotations.owner: platform\n";
    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pod.yaml]\nvariables: values.yaml\nresults:\n  - policy: platform\n    rule: owned\n    resources: [bad]\n    kind: Pod\n    result: fail\n";
    let dir = scratch(&[
        ("policy.yaml", policy),
        ("pod.yaml", POD_WITHOUT_TEAM),
        ("values.yaml", values),
        ("kyverno-test.yaml", test),
    ]);
    let o = run(tollgate().arg("test").arg(dir.path()));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn config_map_context_entries_read_the_tests_cluster_resources() {
    // The rule loads ConfigMap `allowed-<team label>` from namespace `platform` and denies a
    // Pod whose image registry is not in its `registries` list. The ConfigMaps come from
    // `clusterResources` (one wrapped in a ClusterResource document, as Kyverno's CLI writes
    // them; one plain). Worked:
    // - a (team a, quay.io image): allowed-a lists docker.io only: fail;
    // - b (team b, quay.io image): allowed-b lists quay.io: pass;
    // - c (team c): no allowed-c anywhere: the entry cannot load and the deny reads it: error.
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: registries\nspec:\n  rules:\n    - name: allowed\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      context:\n        - name: allowed\n          configMap:\n            name: \"allowed-{{ request.object.metadata.labels.team }}\"\n            namespace: platform\n      validate:\n        message: registry not allowed\n        deny:\n          conditions:\n            any:\n              - key: \"{{ images.containers.*.registry }}\"\n                operator: AnyNotIn\n                value: \"{{ allowed.data.registries }}\"\n";
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    team: {name}\nspec:\n  containers:\n    - name: c\n      image: quay.io/org/app:1.0\n")
    };
    let pods = [pod("a"), pod("b"), pod("c")].join("---\n");
    let wrapped = "apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nmetadata:\n  name: cms\nspec:\n  resources:\n    - apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: allowed-a\n        namespace: platform\n      data:\n        registries: '[\"docker.io\"]'\n";
    let plain = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: allowed-b\n  namespace: platform\ndata:\n  registries: '[\"quay.io\"]'\n";
    let result = |name: &str, r: &str| {
        format!("  - policy: registries\n    rule: allowed\n    resources: [{name}]\n    kind: Pod\n    result: {r}\n")
    };
    let test = format!(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pods.yaml]\nclusterResources: [wrapped.yaml, plain.yaml]\nresults:\n{}{}{}",
        result("a", "fail"),
        result("b", "pass"),
        result("c", "error"),
    );
    let dir = scratch(&[
        ("policy.yaml", policy),
        ("pods.yaml", &pods),
        ("wrapped.yaml", wrapped),
        ("plain.yaml", plain),
        ("kyverno-test.yaml", &test),
    ]);
    all_pass(dir.path(), "3 passed, 0 failed");
}

#[test]
fn api_call_gets_are_answered_from_the_tests_cluster_resources() {
    // `svcs` lists the Services of the Pod's namespace through the API path, as Kyverno's CLI
    // answers it from clusterResources; `jmesPath` picks their names. The rule denies a Pod
    // named like a Service of its namespace. `cls` GETs one object of a CRD
    // (`/apis/example.com/v1/widgetclasses/{name}`, plural of WidgetClass) and the rule also
    // denies a Pod whose class is not `allowed: true`. Worked, clusterResources holding
    // Services apps/web and tools/api and WidgetClasses good (allowed) and bad:
    // - apps/web (class good): a Service apps/web exists: fail;
    // - apps/api (class good): the only `api` Service is in tools: pass;
    // - apps/db (class bad): no Service, but the class is not allowed: fail.
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: lookups\nspec:\n  rules:\n    - name: no-clash\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      context:\n        - name: svcs\n          apiCall:\n            urlPath: \"/api/v1/namespaces/{{ request.namespace }}/services\"\n            jmesPath: \"items[].metadata.name\"\n        - name: cls\n          apiCall:\n            urlPath: \"/apis/example.com/v1/widgetclasses/{{ request.object.metadata.labels.class }}\"\n      validate:\n        message: clash or class\n        deny:\n          conditions:\n            any:\n              - key: \"{{ request.object.metadata.name }}\"\n                operator: AnyIn\n                value: \"{{ svcs }}\"\n              - key: \"{{ cls.spec.allowed }}\"\n                operator: NotEquals\n                value: true\n";
    let pod = |name: &str, class: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: apps\n  labels:\n    class: {class}\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n")
    };
    let pods = [pod("web", "good"), pod("api", "good"), pod("db", "bad")].join("---\n");
    let cluster = "apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nmetadata:\n  name: c\nspec:\n  resources:\n    - apiVersion: v1\n      kind: Service\n      metadata: {name: web, namespace: apps}\n    - apiVersion: v1\n      kind: Service\n      metadata: {name: api, namespace: tools}\n    - apiVersion: example.com/v1\n      kind: WidgetClass\n      metadata: {name: good}\n      spec: {allowed: true}\n    - apiVersion: example.com/v1\n      kind: WidgetClass\n      metadata: {name: bad}\n      spec: {allowed: false}\n";
    let result = |name: &str, r: &str| {
        format!("  - policy: lookups\n    rule: no-clash\n    resources: [apps/{name}]\n    kind: Pod\n    result: {r}\n")
    };
    let test = format!(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [pods.yaml]\nclusterResources: [cluster.yaml]\nresults:\n{}{}{}",
        result("web", "fail"),
        result("api", "pass"),
        result("db", "fail"),
    );
    let dir = scratch(&[
        ("policy.yaml", policy),
        ("pods.yaml", &pods),
        ("cluster.yaml", cluster),
        ("kyverno-test.yaml", &test),
    ]);
    all_pass(dir.path(), "3 passed, 0 failed");
}
