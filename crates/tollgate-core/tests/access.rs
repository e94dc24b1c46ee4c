//! The access a change opens (ACCESS001, ACCESS002), hand-worked: each case gives the merge
//! base's manifests and the branch's, and says which grants and paths are new and why.

use std::path::Path;
use tollgate_core::checks;
use tollgate_core::manifest::{load_paths, Resource};

fn load(dir: &Path, name: &str, text: &str) -> Vec<Resource> {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    let inv = load_paths(&[p], &[]);
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    inv.resources
}

fn messages(base: &str, head: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let b = load(dir.path(), "base.yaml", base);
    let h = load(dir.path(), "head.yaml", head);
    let eval = checks::changes(&b, &h);
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    eval.findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.message.clone()))
        .collect()
}

const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: ns}\nrules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get]\n";

fn binding(subjects: &str) -> String {
    format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: b, namespace: ns}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}}\nsubjects:\n{subjects}")
}

#[test]
fn a_subject_added_to_a_binding_is_a_new_grant_for_it_only() {
    let a = "  - {kind: User, name: alice}\n";
    let b = "  - {kind: User, name: bob}\n";
    let base = format!("{ROLE}---\n{}", binding(a));
    let head = format!("{ROLE}---\n{}", binding(&format!("{a}{b}")));
    // alice held `get secrets` in ns before; bob did not.
    assert_eq!(
        messages(&base, &head),
        vec![(
            "ACCESS001".to_owned(),
            "newly grants User/bob get on secrets in namespace ns, through RoleBinding/ns/b (Role/ns/r)".to_owned()
        )]
    );
}

#[test]
fn a_widened_role_reports_only_what_is_new() {
    let subjects = "  - {kind: ServiceAccount, name: app, namespace: ns}\n";
    let base = format!("{ROLE}---\n{}", binding(subjects));
    let wider = ROLE.replace("verbs: [get]", "verbs: [get, list, watch]");
    let head = format!("{wider}---\n{}", binding(subjects));
    // get was granted; list and watch are the change.
    assert_eq!(
        messages(&base, &head),
        vec![(
            "ACCESS001".to_owned(),
            "newly grants ServiceAccount/ns/app list, watch on secrets in namespace ns, through RoleBinding/ns/b (Role/ns/r)".to_owned()
        )]
    );
}

#[test]
fn a_grant_moved_to_another_binding_is_not_new() {
    let subjects = "  - {kind: User, name: alice}\n";
    let base = format!("{ROLE}---\n{}", binding(subjects));
    // Same subject, same role, binding renamed: alice may do nothing she could not before.
    let head = format!(
        "{ROLE}---\n{}",
        binding(subjects).replace("name: b,", "name: b2,")
    );
    assert_eq!(messages(&base, &head), Vec::new());
}

#[test]
fn a_cluster_role_binding_to_view_grants_cluster_wide() {
    let head = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: auditors}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n  - {kind: Group, name: auditors}\n";
    // The built-in view role is modelled: its rules become cluster-wide grants, one finding
    // per rule of the role, all for Group/auditors.
    let got = messages("", head);
    assert!(!got.is_empty());
    assert!(got.iter().all(|(id, m)| id == "ACCESS001"
        && m.starts_with("newly grants Group/auditors ")
        && m.contains(" cluster-wide, through ClusterRoleBinding/auditors (ClusterRole/view)")));
    assert!(got.iter().any(|(_, m)| m.contains("pods")), "{got:?}");
}

const PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: shop, labels: {app: db}}\nspec:\n  containers: [{name: c, image: x, ports: [{containerPort: 5432}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: mon, labels: {app: probe}}\nspec:\n  containers: [{name: c, image: x}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";

const FROM_MONITORING: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-monitoring, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n    - from:\n        - namespaceSelector: {matchLabels: {team: monitoring}}\n";

#[test]
fn a_namespace_relabelled_into_a_selector_opens_its_paths() {
    let ns = |labels: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: mon, labels: {{{labels}}}}}\n")
    };
    let base = format!("{PODS}---\n{FROM_MONITORING}---\n{}", ns("team: other"));
    let head = format!(
        "{PODS}---\n{FROM_MONITORING}---\n{}",
        ns("team: monitoring")
    );
    // from-monitoring admits pods of namespaces labelled team=monitoring to web (any port).
    // On the base, mon is team=other: probe -> web is denied (deny isolates shop). On the
    // branch mon is team=monitoring: probe -> web on 8080 opens. probe -> db stays closed
    // (from-monitoring does not select db), and nothing in shop gains a path.
    assert_eq!(
        messages(&base, &head),
        vec![(
            "ACCESS002".to_owned(),
            "newly lets Pod mon/probe connect to Pod shop/web on 8080/TCP (allowed by NetworkPolicy shop/from-monitoring)".to_owned()
        )]
    );
}

#[test]
fn a_removed_isolation_opens_every_path_it_closed() {
    let base = PODS.to_owned();
    let head = PODS
        .split("---\napiVersion: networking.k8s.io/v1")
        .next()
        .unwrap()
        .to_owned();
    // Without `deny`, shop's pods are not isolated: every pod may reach web and db on their
    // ports. Each opened path is reported on the destination (no policy allows it: none is
    // left to point at).
    let got = messages(&base, &head);
    let expected: Vec<(String, String)> = [
        "newly lets Pod shop/db connect to Pod shop/web on 8080/TCP (no policy isolates it any more)",
        "newly lets Pod mon/probe connect to Pod shop/web on 8080/TCP (no policy isolates it any more)",
        "newly lets Pod shop/web connect to Pod shop/db on 5432/TCP (no policy isolates it any more)",
        "newly lets Pod mon/probe connect to Pod shop/db on 5432/TCP (no policy isolates it any more)",
    ]
    .iter()
    .map(|m| ("ACCESS002".to_owned(), (*m).to_owned()))
    .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got_sorted, want);
}

#[test]
fn no_change_no_access_finding() {
    let text = format!(
        "{ROLE}---\n{}---\n{PODS}",
        binding("  - {kind: User, name: a}\n")
    );
    assert_eq!(messages(&text, &text), Vec::new());
}
