//! The manifest loader: positions of every field, List expansion, SOPS-encrypted manifests,
//! skipped documents, .gitignore, and files that fail without stopping the others.

use std::fs;
use std::path::{Path, PathBuf};
use tollgate_core::manifest::{load_paths, Resource};

const DEPLOY: &str = "# app\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n  labels:\n    app.kubernetes.io/name: web\nspec:\n  template:\n    spec:\n      hostNetwork: yes\n      containers:\n        - name: app\n          image: nginx:latest\n---\n---\nnot: kubernetes\n---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: one\n  - apiVersion: v1\n    kind: Service\n    metadata:\n      name: two\n    spec:\n      ports:\n        - port: 80\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

fn find<'a>(rs: &'a [Resource], kind: &str) -> &'a Resource {
    rs.iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn resources_know_where_every_field_is() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "app.yaml", DEPLOY);
    let inv = load_paths(&[file], &[]);
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    assert_eq!(inv.resources.len(), 3, "Deployment plus the two List items");
    assert_eq!(
        inv.skipped.iter().map(|s| s.documents).sum::<usize>(),
        1,
        "the non-Kubernetes document is counted; the empty one is not"
    );
    let d = find(&inv.resources, "Deployment");
    assert_eq!(
        (d.origin.document, d.origin.line, d.origin.column),
        (0, 2, 1)
    );
    assert_eq!(d.namespace.as_deref(), Some("prod"));
    assert_eq!(
        d.origin
            .position_of("spec.template.spec.containers[0].image"),
        Some((15, 18))
    );
    assert_eq!(
        d.origin
            .position_of("metadata.labels[\"app.kubernetes.io/name\"]"),
        Some((8, 29))
    );
    assert_eq!(
        d.object["spec"]["template"]["spec"]["hostNetwork"],
        serde_json::json!(true),
        "YAML 1.1 booleans, as Kubernetes reads them"
    );
    let svc = find(&inv.resources, "Service");
    assert_eq!(svc.origin.document, 3);
    assert_eq!((svc.origin.line, svc.origin.column), (27, 5));
    assert_eq!(svc.origin.position_of("spec.ports[0].port"), Some((33, 17)));
    assert_eq!(svc.name.as_deref(), Some("two"));
}

#[test]
fn sops_encrypted_manifests_are_objects_without_their_metadata() {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sops/k8s-multidoc.enc.yaml");
    let inv = load_paths(&[fixtures], &[]);
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    assert_eq!(inv.resources.len(), 2);
    for r in &inv.resources {
        assert!(r.sops_encrypted());
        assert!(r.object.get("sops").is_none());
    }
    // Values stay opaque: even apiVersion/kind are ENC[...] in a fully encrypted file.
    assert!(inv.resources[0].kind.starts_with("ENC[AES256_GCM"));
}

#[test]
fn directories_are_walked_sorted_and_gitignore_aware() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "b/two.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
    );
    write(
        dir.path(),
        "a/one.yml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    );
    write(
        dir.path(),
        "a/three.json",
        "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"j\"}}",
    );
    write(
        dir.path(),
        "rendered/out.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ignored\n",
    );
    write(dir.path(), "notes.txt", "apiVersion: v1\nkind: ConfigMap\n");
    write(dir.path(), ".gitignore", "rendered/\n");
    let inv = load_paths(&[dir.path().to_path_buf()], &[]);
    let names: Vec<_> = inv
        .resources
        .iter()
        .map(|r| r.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, vec!["a", "j", "b"]);
    assert_eq!(inv.files, 3);
    let j = find(&inv.resources, "Secret");
    assert_eq!(j.origin.position_of("metadata.name"), Some((1, 61)));
}

#[test]
fn broken_files_are_reported_and_the_rest_still_load() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
    );
    write(
        dir.path(),
        "broken.yaml",
        "apiVersion: v1\nkind: [unclosed\n",
    );
    fs::write(
        dir.path().join("binary.yaml"),
        b"apiVersion: v1\n\xff\xfe\x00\x01",
    )
    .unwrap();
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    write(dir.path(), "bomb.yaml", bomb);
    write(
        dir.path(),
        "deep.yaml",
        &format!("a: {}1{}\n", "[".repeat(10_000), "]".repeat(10_000)),
    );
    let inv = load_paths(
        &[dir.path().to_path_buf(), dir.path().join("missing.yaml")],
        &[],
    );
    assert_eq!(inv.resources.len(), 1);
    let msg = |f: &str| {
        inv.errors
            .iter()
            .find(|e| e.file.ends_with(f))
            .map(|e| e.message.clone())
            .unwrap_or_default()
    };
    assert!(msg("broken.yaml").contains("line 2"), "{:?}", inv.errors);
    assert!(
        msg("binary.yaml").contains("UTF-8") && msg("binary.yaml").contains("line 2"),
        "{:?}",
        inv.errors
    );
    assert!(msg("bomb.yaml").contains("alias"), "{:?}", inv.errors);
    assert!(msg("deep.yaml").contains("nesting"), "{:?}", inv.errors);
    assert!(
        msg("missing.yaml").contains("no such file"),
        "{:?}",
        inv.errors
    );
    assert_eq!(inv.errors.len(), 5);
}

#[test]
fn links_to_files_inside_a_walked_directory_are_read_and_links_outside_are_not() {
    // A ConfigMap volume: `main.rego -> ..data/main.rego`, `..data -> ..2026_12_01`.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: outside}\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stamp = dir.path().join("..2026_12_01");
    std::fs::create_dir(&stamp).unwrap();
    std::fs::write(
        stamp.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inside}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_12_01", dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/cm.yaml", dir.path().join("cm.yaml")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("leak.yaml"),
    )
    .unwrap();
    let inv = tollgate_core::manifest::load_paths(&[dir.path().to_path_buf()], &[]);
    let names: Vec<_> = inv
        .resources
        .iter()
        .map(|r| r.name.clone().unwrap())
        .collect();
    // The hidden `..` directories are not walked, so `inside` is read once, through its link.
    assert_eq!(names, ["inside"]);
}
