//! `tollgate check --render`: Kustomize roots, Flux Kustomizations and Argo CD Applications
//! rendered with the real `kubectl kustomize`, findings located on the source files, files the
//! cluster never receives skipped, and input that reads nothing refused.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/render")
        .join(name)
}

fn check_in(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    check_json(dir, args)
}

/// `(rule, namespace/name, file:line, rendered_from)` of every finding, sorted.
fn rows(v: &Value) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                format!(
                    "{}/{}",
                    f["resource"]["namespace"].as_str().unwrap_or("-"),
                    f["resource"]["name"].as_str().unwrap_or("-")
                ),
                format!(
                    "{}:{}",
                    f["location"]["file"].as_str().unwrap(),
                    f["location"]["line"]
                ),
                f["location"]["rendered_from"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn row(rule: &str, res: &str, at: &str, root: &str) -> (String, String, String, String) {
    (rule.into(), res.into(), at.into(), root.into())
}

fn skipped(v: &Value) -> Vec<(String, String)> {
    v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["file"].as_str().unwrap().to_owned(),
                s["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_flux_repository_is_checked_as_flux_deploys_it() {
    let (c, v, err) = check_in(
        &fixture("flux"),
        &[
            "--render",
            "--show-skipped",
            "--policy",
            "policy",
            "--pack",
            "k8s",
            ".",
        ],
    );
    assert_eq!(c, 1, "{v:#}\n{err}");
    let got = rows(&v);
    // Hand-worked:
    // - apps/production is a kustomize root, but the Flux Kustomization `apps` deploys it with
    //   postBuild variables: Flux's build replaces kustomize's, so production is rendered once,
    //   as flux:flux-system/apps. Its ${cluster_name} comes from `substitute`, ${domain} from
    //   the ConfigMap cluster-vars (substituteFrom), ${region:=eu-west-1} from its default:
    //   no FIXTURE001 there.
    // - apps/staging is a root no Flux object deploys: rendered by kustomize alone, its three
    //   variables stay as written (FIXTURE001 three times, on the Deployment's document since
    //   the Rego rule names no field).
    // - The base has no memory limit; production's patch adds one: POD004 in staging only, on
    //   the container's line in the base (line 18), which staging renders unchanged.
    // - infrastructure/controllers has no kustomization.yaml: Flux generates one and
    //   `targetNamespace: infra` puts the ingress Deployment in `infra`.
    // - tests/ is in .sourceignore, so its plaintext Secret is never read (no SECRET001).
    let expected = vec![
        row(
            "FIXTURE001",
            "web-staging/web",
            "apps/base/web/deployment.yaml:1",
            "apps/staging",
        ),
        row(
            "FIXTURE001",
            "web-staging/web",
            "apps/base/web/deployment.yaml:1",
            "apps/staging",
        ),
        row(
            "FIXTURE001",
            "web-staging/web",
            "apps/base/web/deployment.yaml:1",
            "apps/staging",
        ),
        row(
            "FIXTURE002",
            "infra/ingress",
            "infrastructure/controllers/ingress.yaml:1",
            "flux:flux-system/infrastructure",
        ),
        row(
            "FIXTURE002",
            "web-production/web",
            "apps/base/web/deployment.yaml:1",
            "flux:flux-system/apps",
        ),
        row(
            "FIXTURE002",
            "web-staging/web",
            "apps/base/web/deployment.yaml:1",
            "apps/staging",
        ),
        row(
            "POD004",
            "web-staging/web",
            "apps/base/web/deployment.yaml:18",
            "apps/staging",
        ),
    ];
    assert_eq!(got, expected, "{v:#}");
    let messages: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "FIXTURE001")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("${region:=eu-west-1}")),
        "{messages:?}"
    );
    let s = skipped(&v);
    for (file, why) in [
        (
            "apps/production/memory-limit.yaml",
            "patch applied by apps/production/kustomization.yaml",
        ),
        (
            "apps/base/web/kustomization.yaml",
            "kustomize configuration",
        ),
        ("tests/secret.yaml", "ignored by .sourceignore"),
        (
            "infrastructure/controllers/ingress.yaml",
            "checked as rendered from flux:flux-system/infrastructure",
        ),
        // The SOPS file is rendered through Flux (it stays ciphertext) and not read raw.
        (
            "apps/production/web-db.enc.yaml",
            "checked as rendered from flux:flux-system/apps",
        ),
        // A Kyverno CLI suite and the resources it tests are never deployed.
        ("policy-tests/kyverno-test.yaml", "kyverno test"),
        ("policy-tests/bad-pod.yaml", "kyverno test"),
    ] {
        assert!(
            s.contains(&(file.to_owned(), why.to_owned())),
            "{file}: {why} not in {s:?}"
        );
    }
    assert_eq!(v["summary"]["rendered_roots"], 3, "{v:#}");
    assert_eq!(
        err.trim(),
        "tollgate: warning: infrastructure/charts/ingress-nginx.yaml:1: HelmRelease infra/ingress-nginx is not rendered (tollgate does not run helm); its chart is not checked",
        "the one note: the HelmRelease"
    );
}

#[test]
fn without_render_the_raw_tree_is_checked_minus_what_is_never_applied() {
    let (c, v, _) = check_in(&fixture("flux"), &["--policy", "policy", "."]);
    assert_eq!(c, 1);
    let got = rows(&v);
    // The base Deployment is read as it is (no namespace, variables unsubstituted); the patch
    // file and the kustomizations are not resources; tests/ is ignored.
    assert!(got.contains(&row(
        "FIXTURE002",
        "-/web",
        "apps/base/web/deployment.yaml:1",
        "-"
    )));
    assert!(got
        .iter()
        .all(|r| !r.2.starts_with("apps/production/memory-limit.yaml")));
    assert!(got.iter().all(|r| !r.2.starts_with("tests/")));
    assert!(got.iter().all(|r| r.3 == "-"), "{got:?}");
}

#[test]
fn an_unresolved_flux_variable_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("flux"), dir.path());
    std::fs::remove_file(
        dir.path()
            .join("clusters/production/flux-system/cluster-vars.yaml"),
    )
    .unwrap();
    let (_, v, err) = check_in(dir.path(), &["--render", "--policy", "policy", "."]);
    assert!(
        err.contains("substituteFrom ConfigMap cluster-vars is not in the repository"),
        "{err}"
    );
    assert!(
        err.contains("postBuild variables without a value, left as written: ${domain}"),
        "{err}"
    );
    // The production Deployment now keeps ${domain}: one FIXTURE001 there.
    let prod: Vec<_> = rows(&v)
        .into_iter()
        .filter(|r| r.0 == "FIXTURE001" && r.3 == "flux:flux-system/apps")
        .collect();
    assert_eq!(prod.len(), 1, "{v:#}");
}

#[test]
fn an_argocd_repository_is_checked_as_argocd_syncs_it() {
    let (c, v, err) = check_in(
        &fixture("argocd"),
        &[
            "--render",
            "--pack",
            "k8s",
            "--pack",
            "images",
            "--pack",
            "pss-baseline",
            ".",
        ],
    );
    assert_eq!(c, 1, "{v:#}");
    // Hand-worked:
    // - The Application podinfo renders workloads/podinfo with namePrefix prod-, the image
    //   override to 6.7.1 and destination namespace podinfo: IMG002 (tag, no digest) on
    //   prod-podinfo, located on the document (line 1) because the image in the file
    //   (`:latest`) is not what is deployed. IMG001 (mutable tag) does not fire: 6.7.1 is not
    //   `latest`.
    // - The ApplicationSet's git generator matches workloads/* minus workloads/podinfo: one
    //   Application, redis, namespace redis, a directory source. Its fields come through
    //   unchanged, so IMG002 keeps its line (16).
    // - The ApplicationSet per-cluster's list generator makes agent-eu and agent-us (Go
    //   template parameters): the DaemonSet with the suffix, in agent-eu and agent-us; its
    //   privileged container (PSS003) keeps its line, 23, in both.
    // - The Application monitoring has two sources: the directory (recursed, `*.yaml` only,
    //   without `*-draft.yaml`) renders exporter and dashboard in monitoring (IMG002, tags
    //   without digests, on their lines); the second source is a Helm chart: a note. The
    //   draft and the JSON file are in no root's output: they are checked as they are
    //   (no namespace, no rendered_from), as files outside every root are.
    // - The app of apps (root) renders argocd/apps, which is how the Applications themselves
    //   are checked; cert-manager is a Helm chart: a note, not a render.
    let expected = vec![
        row(
            "IMG001",
            "-/draft",
            "workloads/monitoring/extra/scratch-draft.yaml:10",
            "-",
        ),
        row(
            "IMG001",
            "-/json-pod",
            "workloads/monitoring/not-included.json:1",
            "-",
        ),
        row(
            "IMG002",
            "-/draft",
            "workloads/monitoring/extra/scratch-draft.yaml:10",
            "-",
        ),
        row(
            "IMG002",
            "-/json-pod",
            "workloads/monitoring/not-included.json:1",
            "-",
        ),
        row(
            "IMG002",
            "monitoring/dashboard",
            "workloads/monitoring/dashboards/dashboard.yaml:10",
            "argocd:monitoring[0]",
        ),
        row(
            "IMG002",
            "monitoring/exporter",
            "workloads/monitoring/exporter.yaml:10",
            "argocd:monitoring[0]",
        ),
        row(
            "IMG002",
            "podinfo/prod-podinfo",
            "workloads/podinfo/deployment.yaml:1",
            "argocd:podinfo",
        ),
        row(
            "IMG002",
            "redis/redis",
            "workloads/redis/deployment.yaml:16",
            "argocd:redis",
        ),
        row(
            "POD004",
            "-/json-pod",
            "workloads/monitoring/not-included.json:1",
            "-",
        ),
        row(
            "PSS003",
            "agent-eu/agent-eu",
            "workloads/agent/daemonset.yaml:23",
            "argocd:agent-eu",
        ),
        row(
            "PSS003",
            "agent-us/agent-us",
            "workloads/agent/daemonset.yaml:23",
            "argocd:agent-us",
        ),
    ];
    assert_eq!(rows(&v), expected, "{v:#}");
    for note in [
        "Application cert-manager: a Helm source is not rendered",
        "Application monitoring: a Helm source is not rendered",
    ] {
        assert!(err.contains(note), "{err}");
    }
    // root, podinfo, redis, monitoring[0], agent-eu, agent-us.
    assert_eq!(v["summary"]["rendered_roots"], 6);
}

#[test]
fn reading_nothing_is_an_error_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(tollgate().args(["check", "-"]).current_dir(dir.path()));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no resources read from -"),
        "{}",
        stderr(&o)
    );
    let o = run(tollgate()
        .args(["check", "--allow-empty", "-"])
        .current_dir(dir.path()));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A directory of kustomize configuration only holds nothing the cluster receives.
    std::fs::write(dir.path().join("kustomization.yaml"), "resources: []\n").unwrap();
    let o = run(tollgate().args(["check", "."]).current_dir(dir.path()));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn a_yaml11_boolean_key_loads_as_kustomize_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    // A GitHub workflow kept in a ConfigMap: `on:` is a string key for kustomize and kubectl.
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: workflow\ndata:\n  on: push\n  yes: \"1\"\n",
    )
    .unwrap();
    let (c, v, err) = check_in(dir.path(), &["--pack", "k8s", "cm.yaml"]);
    assert_eq!(c, 0, "{v:#}\n{err}");
    assert_eq!(v["summary"]["resources"], 1);
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn rendering_needs_kustomize_only_when_there_is_something_to_render() {
    let empty = tempfile::tempdir().unwrap();
    let o = run(tollgate()
        .env("PATH", empty.path())
        .env_remove("TOLLGATE_KUSTOMIZE")
        .args(["check", "--render", "--policy", "policy", "."])
        .current_dir(fixture("flux")));
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("rendering needs `kustomize` or `kubectl` on PATH"),
        "{}",
        stderr(&o)
    );
    // Plain manifests with `render` on need no kustomize.
    std::fs::write(
        empty.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    )
    .unwrap();
    let o = run(tollgate()
        .env("PATH", empty.path())
        .env_remove("TOLLGATE_KUSTOMIZE")
        .args(["check", "--render", "--pack", "k8s", "."])
        .current_dir(empty.path()));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn roots_that_render_the_same_object_are_each_checked() {
    // Two overlays render the very same Deployment (no namespace or prefix of their own):
    // built together they would collide in one kustomize build, so each is built alone, and
    // each overlay's copy of the base's problem is reported once, named by its root.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, text) in [
        ("base/kustomization.yaml", "resources:\n  - pod.yaml\n"),
        (
            "base/pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  hostPID: true\n  containers:\n    - name: c\n      image: busybox@sha256:2919d0172f7524b2d8df9e50066a682669e6d170ac0f6a49676d54358fe970b5\n      resources:\n        limits:\n          memory: 64Mi\n",
        ),
        ("a/kustomization.yaml", "resources:\n  - ../base\n"),
        ("b/kustomization.yaml", "resources:\n  - ../base\n"),
    ] {
        let p = d.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let (c, v, err) = check_in(d, &["--render", "--pack", "pss-baseline", "."]);
    assert_eq!(c, 1, "{v:#}\n{err}");
    assert_eq!(
        rows(&v),
        vec![
            row("PSS002", "-/app", "base/pod.yaml:6", "a"),
            row("PSS002", "-/app", "base/pod.yaml:6", "b"),
        ]
    );
}

#[test]
fn the_demo_is_checked_as_flux_deploys_it() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let (c, v, _) = check_in(
        &demo,
        &[
            "--render",
            "--policy",
            "policy",
            "--pack",
            "images",
            "--pack",
            "pss-baseline",
            "--pack",
            "rbac",
            "--pack",
            "netpol",
            ".",
        ],
    );
    assert_eq!(c, 1);
    // The base's Deployment is judged once per overlay that renders it; production's patch
    // sets 3 replicas, so DEMO002 (fewer than 2 in production) does not fire anywhere.
    let got = rows(&v);
    for root in ["apps/production", "apps/staging"] {
        assert!(
            got.contains(&row(
                "DEMO001",
                &format!("podinfo-{}/podinfo", root.trim_start_matches("apps/")),
                "apps/base/podinfo/deployment.yaml:1",
                root
            )),
            "{got:?}"
        );
    }
    assert!(got.iter().all(|r| r.0 != "DEMO002"), "{got:?}");
    // Staging's debugging patch adds SYS_PTRACE: a baseline violation in staging only, on the
    // document (the field came from the patch, not the base's lines).
    let pss: Vec<_> = got.iter().filter(|r| r.0 == "PSS004").collect();
    assert_eq!(
        pss,
        [&row(
            "PSS004",
            "podinfo-staging/podinfo",
            "apps/base/podinfo/deployment.yaml:1",
            "apps/staging"
        )],
        "{got:?}"
    );
    // The image has a tag and no digest: IMG002 (info) in both overlays.
    assert_eq!(got.iter().filter(|r| r.0 == "IMG002").count(), 2, "{got:?}");
    assert!(
        got.iter().all(|r| r.3 != "-"),
        "everything the cluster receives is rendered: {got:?}"
    );
    // The secrets audit: the Secret whose recipients drifted from .sops.yaml (SOPS004), the
    // webhook URL in the base's env (SECRET003), and the Secret committed without sops
    // (SOPS001, SECRET001).
    let o = run(tollgate()
        .args(["secrets", "audit", "--format", "json", "."])
        .current_dir(&demo));
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["SECRET003", "SOPS004", "SOPS001", "SECRET001"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("TEST-ONLY-not-a-real-token"));
}
