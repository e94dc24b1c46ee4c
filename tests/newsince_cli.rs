//! `tollgate check --new-since REF` in temporary git repositories: what the merge base already
//! had does not fail, what the branch adds does; renames keep findings; the RBAC grants and
//! network paths a branch opens are reported (ACCESS001/ACCESS002); the work tree and the
//! index are not touched.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

fn put(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A repository with `main` committed and a `feature` branch checked out.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    for (name, text) in files {
        put(dir.path(), name, text);
    }
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "base"]);
    git(dir.path(), &["checkout", "-qb", "feature"]);
    dir
}

fn commit(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "change"]);
}

fn check(dir: &Path, args: &[&str]) -> (i32, Value) {
    let (c, v, _) = check_json(dir, args);
    (c, v)
}

fn ids(v: &Value) -> Vec<(String, String, u64)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["location"]["file"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

const PRIVILEGED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\n  namespace: shop\nspec:\n  securityContext:\n    runAsNonRoot: true\n  containers:\n    - name: c\n      image: busybox@sha256:2919d0172f7524b2d8df9e50066a682669e6d170ac0f6a49676d54358fe970b5\n      resources:\n        limits:\n          memory: 64Mi\n      securityContext:\n        privileged: true\n";

const HOST_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: old\n  namespace: shop\nspec:\n  hostPID: true\n  containers:\n    - name: c\n      image: busybox@sha256:2919d0172f7524b2d8df9e50066a682669e6d170ac0f6a49676d54358fe970b5\n      resources:\n        limits:\n          memory: 64Mi\n";

#[test]
fn old_findings_pass_new_ones_fail_and_renames_keep_them() {
    let dir = repo(&[("pods/old.yaml", HOST_POD)]);
    let d = dir.path();
    // The base's own finding (PSS002, the host's PID namespace) does not fail the branch.
    let (c, v) = check(d, &["--new-since", "main", "--pack", "pss-baseline", "."]);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["suppressed"], 1);
    // Renamed and moved down a directory, with a line added above it: still the base's.
    git(d, &["mv", "pods/old.yaml", "old-pod.yaml"]);
    let moved = format!("# moved\n{HOST_POD}");
    put(d, "old-pod.yaml", &moved);
    commit(d);
    let (c, v) = check(d, &["--new-since", "main", "--pack", "pss-baseline", "."]);
    assert_eq!(c, 0, "a rename must keep the finding known: {v:#}");
    // A new privileged pod fails (PSS003, an error), in the work tree, uncommitted.
    put(d, "debug.yaml", PRIVILEGED);
    let (c, v) = check(d, &["--new-since", "main", "--pack", "pss-baseline", "."]);
    assert_eq!(c, 1, "{v:#}");
    let got = ids(&v);
    assert!(got.iter().all(|(_, f, _)| f == "debug.yaml"), "{got:?}");
    assert!(got.iter().any(|(id, _, _)| id == "PSS003"), "{got:?}");
    // Without --new-since the old finding counts again.
    let (_, v) = check(d, &["--pack", "pss-baseline", "."]);
    assert!(ids(&v)
        .iter()
        .any(|(id, f, _)| id == "PSS002" && f == "old-pod.yaml"));
}

const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n          ports:\n            - containerPort: 8080\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n        - name: db\n          image: postgres:17\n          ports:\n            - containerPort: 5432\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\n  namespace: shop\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";

const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\n  namespace: shop\nrules:\n  - apiGroups: [\"\"]\n    resources: [\"secrets\", \"configmaps\"]\n    verbs: [\"get\", \"list\"]\n";

const BINDING: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: reader\n  namespace: shop\nsubjects:\n  - kind: ServiceAccount\n    name: web\n    namespace: shop\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: reader\n";

const WEB_TO_DB: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web-to-db\n  namespace: shop\nspec:\n  podSelector:\n    matchLabels: {app: db}\n  ingress:\n    - from:\n        - podSelector:\n            matchLabels: {app: web}\n      ports:\n        - port: 5432\n";

fn access(v: &Value) -> Vec<(String, String, u64, String)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with("ACCESS"))
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["location"]["file"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn access_the_branch_opens_is_reported_on_what_opens_it() {
    let dir = repo(&[("app.yaml", APP), ("rbac/role.yaml", ROLE)]);
    let d = dir.path();
    // The binding is in another file than the role it binds: the grant is judged with both.
    put(d, "rbac/binding.yaml", BINDING);
    put(d, "netpol.yaml", WEB_TO_DB);
    commit(d);
    let (c, v) = check(
        d,
        &[
            "--new-since",
            "main",
            "--pack",
            "rbac",
            "--pack",
            "netpol",
            ".",
        ],
    );
    // Info by default: reported, not failing.
    assert_eq!(c, 0, "{v:#}");
    // Hand-worked:
    // - ACCESS001: on the base, no binding names ServiceAccount shop/web; the branch binds it
    //   to Role reader (get, list on secrets and configmaps in shop): one finding for that
    //   subject and rule, on the subject (rbac/binding.yaml line 7, `- kind: ServiceAccount`).
    // - ACCESS002: on the base, deny-all isolates every pod of shop for ingress and allows
    //   nothing; the branch's web-to-db allows web -> db on 5432. web is not selected by it,
    //   so only web -> db opens, on db's one port; the finding sits on web-to-db's
    //   podSelector, whose value starts on netpol.yaml line 8 (`matchLabels`).
    let expected = vec![
        (
            "ACCESS001".to_owned(),
            "rbac/binding.yaml".to_owned(),
            7,
            "newly grants ServiceAccount/shop/web get, list on configmaps, secrets in namespace shop, through RoleBinding/shop/reader (Role/shop/reader)".to_owned(),
        ),
        (
            "ACCESS002".to_owned(),
            "netpol.yaml".to_owned(),
            8,
            "newly lets Deployment shop/web connect to Deployment shop/db on 5432/TCP (allowed by NetworkPolicy shop/web-to-db)".to_owned(),
        ),
    ];
    assert_eq!(access(&v), expected, "{v:#}");
    // The severity is configurable: as a warning it fails a run at --fail-on warning.
    put(d, "tollgate.yaml", "severity:\n  ACCESS001: warning\n");
    let (c, _) = check(
        d,
        &[
            "--new-since",
            "main",
            "--pack",
            "rbac",
            "--fail-on",
            "warning",
            ".",
        ],
    );
    assert_eq!(c, 1);
    // Without the change nothing is new.
    let (_, v) = check(
        d,
        &[
            "--new-since",
            "HEAD",
            "--pack",
            "rbac",
            "--pack",
            "netpol",
            ".",
        ],
    );
    assert!(access(&v).is_empty(), "{v:#}");
}

#[test]
fn the_work_tree_and_index_are_left_as_they_were() {
    let dir = repo(&[("pods/old.yaml", HOST_POD)]);
    let d = dir.path();
    put(d, "debug.yaml", PRIVILEGED);
    git(d, &["add", "debug.yaml"]);
    put(
        d,
        "debug.yaml",
        &format!("{PRIVILEGED}# edited after staging\n"),
    );
    let status = git(d, &["status", "--porcelain=v2"]);
    let index = std::fs::read(d.join(".git/index")).unwrap();
    let (c, _) = check(d, &["--new-since", "main", "--pack", "pss-baseline", "."]);
    assert_eq!(c, 1);
    assert_eq!(git(d, &["status", "--porcelain=v2"]), status);
    assert_eq!(std::fs::read(d.join(".git/index")).unwrap(), index);
}

#[test]
fn new_since_works_on_rendered_overlays() {
    let base_k = "resources:\n  - pod.yaml\n";
    let overlay = "namespace: prod\nresources:\n  - ../base\n";
    let dir = repo(&[
        ("base/kustomization.yaml", base_k),
        ("base/pod.yaml", HOST_POD),
        ("prod/kustomization.yaml", overlay),
    ]);
    let d = dir.path();
    let (c, v) = check(
        d,
        &[
            "--render",
            "--new-since",
            "main",
            "--pack",
            "pss-baseline",
            ".",
        ],
    );
    assert_eq!(c, 0, "{v:#}");
    // The overlay now also renders the privileged pod: new, located on its source file.
    put(d, "base/debug.yaml", PRIVILEGED);
    put(
        d,
        "base/kustomization.yaml",
        "resources:\n  - pod.yaml\n  - debug.yaml\n",
    );
    let (c, v) = check(
        d,
        &[
            "--render",
            "--new-since",
            "main",
            "--pack",
            "pss-baseline",
            ".",
        ],
    );
    assert_eq!(c, 1, "{v:#}");
    let f = &v["findings"][0];
    assert_eq!(f["location"]["file"], "base/debug.yaml");
    assert_eq!(f["location"]["rendered_from"], "prod");
    assert!(ids(&v).iter().all(|(_, file, _)| file == "base/debug.yaml"));
}

#[test]
fn a_reference_git_cannot_resolve_is_a_clear_error() {
    let dir = repo(&[("pods/old.yaml", HOST_POD)]);
    let o = run(tollgate()
        .args(["check", "--new-since", "no-such-branch", "."])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--new-since no-such-branch"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn deleted_and_edited_files_are_judged_as_the_base_had_them() {
    let other = HOST_POD.replace("name: old", "name: other");
    let dir = repo(&[("pods/old.yaml", HOST_POD), ("pods/other.yaml", &other)]);
    let d = dir.path();
    // The branch deletes one violating Pod and edits the other (a comment and a label, the
    // violation kept): read from git, the base had both findings, so nothing is new.
    std::fs::remove_file(d.join("pods/old.yaml")).unwrap();
    put(
        d,
        "pods/other.yaml",
        &format!(
            "# edited\n{}",
            other.replace("namespace: shop", "namespace: shop\n  labels: {a: b}")
        ),
    );
    let (c, v) = check(d, &["--new-since", "main", "--pack", "pss-baseline", "."]);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["summary"]["suppressed"], 1, "{v:#}");
    // Editing in a second violation (a privileged container) is new.
    put(
        d,
        "pods/other.yaml",
        &other.replace(
            "    - name: c\n",
            "    - name: c\n      securityContext: {privileged: true}\n",
        ),
    );
    let (c, v) = check(d, &["--new-since", "main", "--pack", "pss-baseline", "."]);
    assert_eq!(c, 1, "{v:#}");
    assert_eq!(
        ids(&v)
            .iter()
            .map(|(id, _, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["PSS003"]
    );
}
