//! CEL policies through the CLI: Kyverno ValidatingPolicy (with autogen) and a Kubernetes
//! ValidatingAdmissionPolicy with its binding and params in `tollgate check`; the same in a
//! kyverno-test.yaml suite with `paramResources` and a `context:` file; compile errors with
//! file and line; the cost budget stopping a runaway expression.

mod common;

use common::{code, run, stderr, tollgate};
use serde_json::Value;

fn cel(p: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cel")
        .join(p)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_reports_each_cel_policy_on_what_it_selects() {
    let o = run(tollgate()
        .arg("check")
        .arg("--policy")
        .arg(cel("policies"))
        .args(["--format", "json"])
        .arg(cel("manifests")));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: Vec<(String, String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["resource"]["name"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let s = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    // - disallow-host-network (Deny): the Pod `hostnet`, and through autogen the Deployment
    //   `hostnet-agent` whose template sets hostNetwork; `web` and `big` set nothing
    //   (orValue(false)).
    // - max-replicas through its binding (Deny, params replica-limits: 10): `big` asks for
    //   12; `web` (3) and `hostnet-agent` (1) are within; the Pod is not a Deployment.
    assert_eq!(
        got,
        vec![
            s(
                "disallow-host-network",
                "hostnet",
                "error",
                "Pod pods may not use the host network"
            ),
            s(
                "disallow-host-network",
                "hostnet-agent",
                "error",
                "Deployment pods may not use the host network"
            ),
            s(
                "max-replicas/max-replicas-everywhere",
                "big",
                "error",
                "replicas 12 exceed the limit of 10"
            ),
        ]
    );
    // Findings are placed on the object's document.
    let hostnet = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"]["name"] == "hostnet")
        .unwrap();
    assert_eq!(hostnet["location"]["line"], 35);
}

#[test]
fn a_suite_with_params_and_a_context_file_passes() {
    let o = run(tollgate().arg("test").arg(cel("suite")));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    // 2 + 2 (disallow-host-network), 1 + 1 (max-replicas), 1 + 2 (hpa-required).
    assert_eq!(stdout(&o).lines().last(), Some("9 passed, 0 failed"));
}

#[test]
fn a_suite_whose_expectation_is_wrong_fails() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["hpa-required.yaml", "limits.yaml", "context.yaml"] {
        std::fs::copy(cel("suite").join(f), tmp.path().join(f)).unwrap();
    }
    let text = std::fs::read_to_string(cel("suite/kyverno-test.yaml"))
        .unwrap()
        .replace("../", &format!("{}/", cel("").display()))
        // The test's own param allows 5: claim web (3 replicas) fails.
        .replacen(
            "resources: [web]\n  result: pass",
            "resources: [web]\n  result: fail",
            1,
        );
    std::fs::write(tmp.path().join("kyverno-test.yaml"), text).unwrap();
    let o = run(tollgate().arg("test").arg(tmp.path()));
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("expected fail, got pass"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_undeclared_name_is_a_load_error_with_file_and_line() {
    let o = run(tollgate()
        .arg("check")
        .arg("--policy")
        .arg(cel("invalid"))
        .arg(cel("manifests")));
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains(
            "bad-expression.yaml:14: policy bad-expression: undeclared reference to 'objct'"
        ),
        "{err}"
    );
}

#[test]
fn a_runaway_expression_is_stopped_and_reported() {
    let o = run(tollgate()
        .arg("check")
        .arg("--policy")
        .arg(cel("runaway"))
        .arg(cel("manifests")));
    // Not a finding: the policy could not judge, so the run exits 2 with why.
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let err = stderr(&o) + &stdout(&o);
    assert!(
        err.contains("ValidatingPolicy runaway could not be evaluated on Pod/shop/hostnet")
            && err.contains("exceeded its budget of 1000000 comprehension steps"),
        "{err}"
    );
}

#[test]
fn cel_policy_exceptions_waive_or_widen_a_validating_policy() {
    // fixtures/cel/exceptions/pods.yaml says what each Pod gets and why: legacy-batch waives
    // shop/legacy-report entirely (counted as suppressed, naming the exception);
    // tools-busybox lets tools/debug run busybox:1.36 through exceptions.allowedValues; the
    // same image in shop fails.
    let o = run(tollgate()
        .arg("check")
        .arg("--policy")
        .arg(cel("exceptions"))
        .args(["--format", "json", "--show-suppressed"])
        .arg(cel("exceptions/pods.yaml")));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let who = |list: &str| -> Vec<(String, String, String)> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["resource"]["namespace"].as_str().unwrap().to_owned(),
                    f["resource"]["name"].as_str().unwrap().to_owned(),
                    f["suppressed_by"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        who("findings"),
        vec![("shop".into(), "debug".into(), String::new())]
    );
    assert_eq!(
        who("suppressed"),
        vec![(
            "shop".into(),
            "legacy-report".into(),
            "PolicyException platform/legacy-batch".into()
        )]
    );
    assert!(
        !stderr(&o).contains("not evaluated"),
        "the exceptions are read, not reported as unsupported: {}",
        stderr(&o)
    );
    // The same in a kyverno-test.yaml suite: the exempted Pod is `skip`.
    let o = run(tollgate().arg("test").arg(cel("exceptions-suite")));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("4 passed, 0 failed"), "{}", stdout(&o));
}

#[test]
fn a_cel_exception_that_does_not_compile_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ex.yaml"),
        "apiVersion: policies.kyverno.io/v1\nkind: PolicyException\nmetadata: {name: bad, namespace: p}\nspec:\n  policyRefs: [{name: x, kind: ValidatingPolicy}]\n  matchConditions:\n  - name: c\n    expression: object.metadata.name ==\n",
    )
    .unwrap();
    let o = run(tollgate()
        .arg("check")
        .arg("--policy")
        .arg(dir.path())
        .arg(cel("exceptions/pods.yaml")));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("ex.yaml:8"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("spec.matchConditions[0].expression"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn audit_annotations_reach_the_admission_response() {
    // max-replicas's auditAnnotations: `replicas` gives a value ("asked for 12 of 10": the
    // Deployment asks for 12, the ConfigMap allows 10, so it is also denied), `unset` gives ""
    // and is left out, as the API server leaves it out. The key is POLICY.KEY (the API server prefixes the webhook's
    // name, so the key holds no `/`).
    let dir = tempfile::tempdir().unwrap();
    let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "a1", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
          "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
          "namespace": "shop", "operation": "CREATE", "userInfo": {"username": "flux"},
          "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big", "namespace": "shop"},
            "spec": {"replicas": 12, "selector": {"matchLabels": {"app": "big"}},
              "template": {"metadata": {"labels": {"app": "big"}}, "spec": {"containers": [{"name": "a", "image": "a:1"}]}}}}}});
    let file = dir.path().join("review.json");
    std::fs::write(&file, review.to_string()).unwrap();
    let o = run(tollgate()
        .args(["webhook", "review"])
        .arg(&file)
        .arg("--policy")
        .arg(cel("policies")));
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["response"]["auditAnnotations"],
        serde_json::json!({"max-replicas.replicas": "asked for 12 of 10"}),
        "{v:#}"
    );
}
