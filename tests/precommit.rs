//! The pre-commit hooks with the real pre-commit framework (PyPI `pre-commit`) in temporary
//! git repositories: this repository's `.pre-commit-hooks.yaml` is the hook repository, the
//! `-system` hooks run the tollgate under test. A blocked commit, an allowed one, staged
//! content judged while the work tree differs, and rules over the set seeing the whole
//! repository at its staged state.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// git with the hooks' environment: the tollgate under test and pre-commit on PATH.
fn git(dir: &Path, args: &[&str]) -> Output {
    git_command(dir, args)
        .env("PATH", path_with_tollgate())
        .env("PRE_COMMIT_HOME", pre_commit_home())
        .output()
        .expect("git runs")
}

fn ok_git(dir: &Path, args: &[&str]) {
    let o = git(dir, args);
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
}

/// PATH with the tollgate under test and pre-commit first.
fn path_with_tollgate() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_tollgate")).parent().unwrap();
    let pre_commit = peer_path("TOLLGATE_PRE_COMMIT_BIN", "pre-commit");
    format!(
        "{}:{}:{}",
        bin.display(),
        pre_commit.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// pre-commit's cache (it clones the hook repository there): one per test process, inside
/// the system's temporary directory under a name the test removes when it ends.
fn pre_commit_home() -> PathBuf {
    std::env::temp_dir().join(format!("tollgate-pre-commit-{}", std::process::id()))
}

/// Removes this process's pre-commit cache when a test ends, pass or fail.
struct Home;

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(pre_commit_home());
    }
}

fn put(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A git repository holding this repository's `.pre-commit-hooks.yaml`, byte for byte; its
/// commit is the `rev` users pin.
fn hook_repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let hooks = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"))
        .unwrap();
    std::fs::write(dir.path().join(".pre-commit-hooks.yaml"), hooks).unwrap();
    ok_git(dir.path(), &["init", "-q", "-b", "main"]);
    ok_git(dir.path(), &["add", "-A"]);
    ok_git(dir.path(), &["commit", "-qm", "hooks"]);
    let rev = String::from_utf8(git(dir.path(), &["rev-parse", "HEAD"]).stdout).unwrap();
    (dir, rev.trim().to_owned())
}

/// A user's repository with both hooks installed (`pre-commit install`).
fn user_repo(hooks: &Path, rev: &str, check_args: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok_git(d, &["init", "-q", "-b", "main"]);
    put(
        d,
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: tollgate-secrets-system\n      - id: tollgate-check-system\n        args: [{check_args}]\n",
            hooks.display()
        ),
    );
    let o = Command::new(peer_path("TOLLGATE_PRE_COMMIT_BIN", "pre-commit"))
        .arg("install")
        .current_dir(d)
        .env("PRE_COMMIT_HOME", pre_commit_home())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    ok_git(d, &["add", ".pre-commit-config.yaml"]);
    dir
}

fn commit(dir: &Path) -> Output {
    git(dir, &["commit", "-qm", "change"])
}

fn all_output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const PLAINTEXT: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: hunter2-canary\n";

const CLEAN: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  level: info\n";

#[test]
fn the_hooks_block_a_plaintext_secret_and_allow_a_clean_commit() {
    let _home = Home;
    let (hooks, rev) = hook_repo();
    let dir = user_repo(hooks.path(), &rev, "--pack, k8s");
    let d = dir.path();
    put(d, "settings.yaml", CLEAN);
    ok_git(d, &["add", "settings.yaml"]);
    let o = commit(d);
    assert!(
        o.status.success(),
        "a clean commit passes: {}",
        all_output(&o)
    );

    put(d, "secret.yaml", PLAINTEXT);
    ok_git(d, &["add", "secret.yaml"]);
    let o = commit(d);
    let out = all_output(&o);
    assert!(!o.status.success(), "a plaintext Secret is blocked: {out}");
    // One line per finding with file:line, then the summary; never the value.
    assert!(
        out.contains("secret.yaml:7:13: error[SECRET001] Secret value stringData.password is not encrypted (Secret/shop/db)"),
        "{out}"
    );
    assert!(out.contains("1 errors, 0 warnings, 0 info"), "{out}");
    assert!(!out.contains("hunter2-canary"), "the value leaked: {out}");
    // Nothing was committed.
    let log = String::from_utf8(git(d, &["log", "--oneline"]).stdout).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
}

#[test]
fn the_staged_content_is_judged_not_the_work_tree() {
    let _home = Home;
    let (hooks, rev) = hook_repo();
    let dir = user_repo(hooks.path(), &rev, "--pack, k8s");
    let d = dir.path();
    // The plaintext Secret is staged; the work tree then replaces it with a clean file that is
    // not staged. The commit would record the Secret: it is blocked.
    put(d, "secret.yaml", PLAINTEXT);
    ok_git(d, &["add", "secret.yaml"]);
    put(d, "secret.yaml", CLEAN);
    let o = commit(d);
    assert!(!o.status.success(), "{}", all_output(&o));
    assert!(all_output(&o).contains("error[SECRET001]"));
    // The other way round: a clean file staged, a violation only in the work tree, passes.
    ok_git(d, &["reset", "-q", "secret.yaml"]);
    put(d, "secret.yaml", CLEAN);
    ok_git(d, &["add", "secret.yaml"]);
    put(d, "secret.yaml", PLAINTEXT);
    let o = commit(d);
    assert!(o.status.success(), "{}", all_output(&o));
    // The work tree kept its unstaged change (pre-commit stashes and restores it).
    assert_eq!(
        std::fs::read_to_string(d.join("secret.yaml")).unwrap(),
        PLAINTEXT
    );
}

const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\n  namespace: shop\nrules:\n  - apiGroups: [\"\"]\n    resources: [configmaps]\n    verbs: [get]\n";

fn binding_to(role: &str) -> String {
    format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: reader\n  namespace: shop\nsubjects:\n  - kind: ServiceAccount\n    name: app\n    namespace: shop\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: {role}\n")
}

#[test]
fn rules_over_the_set_see_the_whole_staged_repository() {
    let _home = Home;
    let (hooks, rev) = hook_repo();
    // RBAC013 (a binding to a role that is not in the manifests) raised to an error.
    let dir = user_repo(hooks.path(), &rev, "--pack, rbac");
    let d = dir.path();
    put(d, "tollgate.yaml", "severity:\n  RBAC013: error\n");
    put(d, "rbac/role.yaml", ROLE);
    ok_git(d, &["add", "-A"]);
    let o = commit(d);
    assert!(o.status.success(), "{}", all_output(&o));
    // Only the binding is staged; its Role is in a committed file the commit does not touch.
    // Judged with the whole repository, the binding resolves: the commit passes.
    put(d, "rbac/binding.yaml", &binding_to("reader"));
    ok_git(d, &["add", "rbac/binding.yaml"]);
    let o = commit(d);
    assert!(o.status.success(), "{}", all_output(&o));
    // A binding to a role no file defines is blocked, reported on the staged file.
    put(d, "rbac/binding.yaml", &binding_to("writer"));
    ok_git(d, &["add", "rbac/binding.yaml"]);
    let o = commit(d);
    let out = all_output(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("rbac/binding.yaml:"), "{out}");
    assert!(out.contains("error[RBAC013]"), "{out}");
    // And an unstaged role file that would resolve it does not count: it is not committed.
    put(
        d,
        "rbac/writer.yaml",
        &ROLE.replace("name: reader", "name: writer"),
    );
    let o = commit(d);
    assert!(!o.status.success(), "{}", all_output(&o));
}

#[test]
fn the_rust_and_system_hooks_run_the_same_command() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    let hooks: Vec<serde_json::Value> = tollgate_core::manifest::json_documents(&text)
        .unwrap()
        .into_iter()
        .next()
        .and_then(|v| v.as_array().cloned())
        .unwrap();
    let by_id = |id: &str| {
        hooks
            .iter()
            .find(|h| h["id"] == id)
            .unwrap_or_else(|| panic!("no hook {id}"))
            .clone()
    };
    for id in ["tollgate-secrets", "tollgate-check"] {
        let rust = by_id(id);
        let system = by_id(&format!("{id}-system"));
        assert_eq!(rust["language"], "rust");
        assert_eq!(system["language"], "system");
        for key in ["entry", "types_or", "require_serial"] {
            assert_eq!(rust[key], system[key], "{id}: {key}");
        }
        assert!(rust["entry"].as_str().unwrap().contains("--staged"));
    }
}

#[test]
fn init_writes_a_working_setup_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok_git(d, &["init", "-q", "-b", "main"]);
    let recipient = std::fs::read_to_string(key(1))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .unwrap();
    let o = run(tollgate()
        .args(["init", "--age", &recipient])
        .current_dir(d));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The pre-commit configuration pins this version and names hooks this repository has.
    let pc = std::fs::read_to_string(d.join(".pre-commit-config.yaml")).unwrap();
    assert!(
        pc.contains(&format!("rev: v{}", env!("CARGO_PKG_VERSION"))),
        "{pc}"
    );
    let hooks = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    for id in ["tollgate-secrets", "tollgate-check"] {
        assert!(pc.contains(&format!("- id: {id}\n")), "{pc}");
        assert!(hooks.contains(&format!("- id: {id}\n")));
    }
    // The .sops.yaml encrypts a Secret for the recipient; the starter tollgate.yaml loads and
    // the encrypted Secret passes the secrets audit, where the plaintext one did not.
    put(d, "secret.yaml", PLAINTEXT);
    let o = run(tollgate()
        .args(["secrets", "audit", "--format", "short", "."])
        .current_dir(d));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("error[SOPS001]") && out.contains("error[SECRET001]"),
        "{out}"
    );
    let o = run(tollgate()
        .args(["sops", "encrypt", "-i", "secret.yaml"])
        .current_dir(d));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(tollgate()
        .args(["secrets", "audit", "--format", "short", "."])
        .current_dir(d));
    assert_eq!(
        code(&o),
        0,
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    let o = run(tollgate().args(["check", "."]).current_dir(d));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A second init keeps what exists; --force replaces it.
    put(d, "tollgate.yaml", "packs: [k8s]\n");
    let o = run(tollgate().args(["init"]).current_dir(d));
    assert_eq!(code(&o), 0);
    assert!(
        stderr(&o).contains("kept ./tollgate.yaml"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("tollgate.yaml")).unwrap(),
        "packs: [k8s]\n"
    );
    let o = run(tollgate().args(["init", "--force"]).current_dir(d));
    assert_eq!(code(&o), 0);
    assert!(std::fs::read_to_string(d.join("tollgate.yaml"))
        .unwrap()
        .contains("render: true"));
    // A recipient that is not one is refused before anything is written.
    let empty = tempfile::tempdir().unwrap();
    let o = run(tollgate()
        .args(["init", "--age", "age1nope"])
        .current_dir(empty.path()));
    assert_eq!(code(&o), 2);
    assert!(std::fs::read_dir(empty.path()).unwrap().next().is_none());
}
