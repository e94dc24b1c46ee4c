//! The `tollgate rbac` and `tollgate netpol` contract: JSON shapes, exit codes (0 answered,
//! 2 usage, unknown names or unreadable manifests), close-match hints; and `check` running the
//! built-in families with malformed RBAC and NetworkPolicy objects reported, never a panic.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;

fn in_fixtures(args: &[&str]) -> std::process::Output {
    run(tollgate()
        .args(args)
        .current_dir(fixtures().parent().unwrap().parent().unwrap()))
}

fn json_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn who_can_answers_in_json_sorted_with_every_way() {
    let o = in_fixtures(&[
        "rbac",
        "who-can",
        "get",
        "secrets",
        "--namespace",
        "shop",
        "--format",
        "json",
        "fixtures/rbac",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Worked out in crates/tollgate-core/tests/queries.rs: edit (devs), ops by aggregation
    // (sre), secrets-read through a RoleBinding in shop (backup).
    assert_eq!(
        json_of(&o),
        json!({
            "subjects": [
                {"kind": "Group", "namespace": null, "name": "devs",
                 "via": [{"binding": "RoleBinding/shop/devs", "role": "ClusterRole/edit"}]},
                {"kind": "Group", "namespace": null, "name": "sre",
                 "via": [{"binding": "ClusterRoleBinding/ops", "role": "ClusterRole/ops"}]},
                {"kind": "ServiceAccount", "namespace": "shop", "name": "backup",
                 "via": [{"binding": "RoleBinding/shop/backup-reads-secrets", "role": "ClusterRole/secrets-read"}]}
            ],
            "unresolved": []
        })
    );
    let human = in_fixtures(&["rbac", "who-can", "create", "pods/exec", "fixtures/rbac"]);
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(
        text.starts_with("may create pods/exec in any namespace:\n  Group/devs\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "User/alice\n      via RoleBinding/payments/alice-exec -> ClusterRole/pod-exec"
        ),
        "{text}"
    );
}

#[test]
fn explain_and_bad_queries() {
    let o = in_fixtures(&[
        "rbac",
        "explain",
        "Group/sre",
        "--format",
        "json",
        "fixtures/rbac",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(
        v["subject"],
        json!({"kind": "Group", "namespace": null, "name": "sre"})
    );
    assert_eq!(v["scopes"][0]["namespace"], Value::Null);
    assert_eq!(v["scopes"][0]["grants"][0]["verbs"], json!(["get", "list"]));

    let o = in_fixtures(&["rbac", "explain", "Group/sr", "fixtures/rbac"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("did you mean Group/sre"),
        "{}",
        stderr(&o)
    );
    let o = in_fixtures(&["rbac", "explain", "Robot/x", "fixtures/rbac"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("ServiceAccount/NAMESPACE/NAME"),
        "{}",
        stderr(&o)
    );
    let o = in_fixtures(&[
        "rbac",
        "who-can",
        "get",
        "pods",
        "--format",
        "yaml",
        "fixtures/rbac",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("use human or json"));
}

#[test]
fn reach_answers_in_json_and_names_close_workloads() {
    let o = in_fixtures(&[
        "netpol",
        "reach",
        "shop/web",
        "shop/api",
        "--port",
        "9000",
        "--format",
        "json",
        "fixtures/netpol",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        json_of(&o),
        json!({
            "allowed": true,
            "egress": {"isolated": true, "isolated_by": ["shop/default-deny", "shop/web-egress"], "allowed_by": ["shop/web-egress"]},
            "ingress": {"isolated": true, "isolated_by": ["shop/api-egress", "shop/api-ingress", "shop/default-deny"], "allowed_by": ["shop/api-ingress"]},
            "port": "9000/TCP"
        })
    );
    let o = in_fixtures(&["netpol", "reach", "shop/web", "shop/db", "fixtures/netpol"]);
    assert_eq!(code(&o), 0);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.starts_with("shop/web -> shop/db (any port): denied\n"),
        "{text}"
    );
    assert!(text.contains("egress of the source: isolated by shop/default-deny, shop/web-egress; no rule allows it: denied"), "{text}");

    let o = in_fixtures(&["netpol", "reach", "shop/wbe", "shop/db", "fixtures/netpol"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("did you mean") && stderr(&o).contains("shop/web"),
        "{}",
        stderr(&o)
    );
    let o = in_fixtures(&[
        "netpol",
        "reach",
        "shop/web",
        "shop/db",
        "--port",
        "99999",
        "fixtures/netpol",
    ]);
    assert_eq!(code(&o), 2);
}

#[test]
fn malformed_rbac_and_network_policies_are_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: shop}\nsubjects:\n  - {kind: User, name: alice}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: shop}\nrules:\n  - verbs: get\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  podSelector: {}\n  ingress:\n    - from:\n        - ipBlock: {cidr: 10.0.0.0/33}\n",
    )
    .unwrap();
    let o = run(tollgate()
        .args(["check", "--pack", "rbac", "--pack", "netpol", "bad.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // The human report lists evaluation errors with the findings.
    let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("bad.yaml:1: RoleBinding/shop/b: has no roleRef"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:11: Role/shop/r: rules[0]: verbs must be a list of strings"),
        "{err}"
    );
    assert!(err.contains("bad.yaml:20: NetworkPolicy/shop/p: spec.ingress[0].from[0].ipBlock: `10.0.0.0/33`: the prefix length must be 0 to 32"), "{err}");
    // They are evaluation errors, not files that failed to load.
    assert!(
        err.contains("(0 suppressed, 0 documents skipped, 0 files failed, 3 evaluation errors)"),
        "{err}"
    );
    // The query commands read the same objects and exit 2 for the same reason.
    let o = run(tollgate()
        .args(["rbac", "who-can", "get", "pods", "bad.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("the answer may be incomplete"));
}

#[test]
fn check_runs_the_builtin_families_and_lists_their_rules() {
    let o = in_fixtures(&[
        "check",
        "--pack",
        "rbac",
        "--format",
        "json",
        "fixtures/rules/RBAC010.yaml",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json_of(&o);
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    // RBAC001 on the `everything` role's wildcard rule, RBAC010 on the two bindings, and the
    // capability rules that `*` on `*` implies; no Rego pack (only rbac was asked for).
    assert!(
        ids.contains(&"RBAC010") && ids.contains(&"RBAC001"),
        "{ids:?}"
    );
    assert!(
        !ids.iter()
            .any(|i| i.starts_with("POD") || i.starts_with("NET")),
        "{ids:?}"
    );
    let sarif = in_fixtures(&[
        "check",
        "--pack",
        "netpol",
        "--format",
        "sarif",
        "fixtures/rules/NET001.yaml",
    ]);
    let s = json_of(&sarif);
    let rules: Vec<&str> = s["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["NET001", "NET002", "NET003", "NET004", "NET005", "NET006"]
    );
    let o = in_fixtures(&["rules", "explain", "NET003"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("NET003: Workload is not selected by any NetworkPolicy\nseverity: warning\nsource: built-in netpol\n"), "{text}");
    assert!(text.contains("fix: Add a NetworkPolicy"), "{text}");
}
