//! Shared helpers for the binary's integration tests: run `tollgate` (and the real `sops`)
//! with a clean key environment.

#![allow(dead_code, unreachable_pub)]

pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const R1: &str = "age1u5z3s42j4q7wngqqk75ep99mttyff7vuy5l0w35mg8me9qskps0sxsldyu";
pub const R2: &str = "age1y6gekl5mrzc9wna76twnvnh65nlhvvmfkk3qxerz9dlfu9dgwuns4gw0w7";
pub const R3: &str = "age1cjtxu6dger0pek8qxswxpl9wetgt372w0h92cvtcscrq3acp2ucq3w6pvn";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops")
}

pub fn key(n: u8) -> PathBuf {
    match n {
        1 => fixtures().join("TEST-ONLY-age-key.txt"),
        n => fixtures().join(format!("TEST-ONLY-age-key-{n}.txt")),
    }
}

/// A command with no inherited key material: HOME points nowhere, key variables unset.
pub fn clean(program: &Path) -> Command {
    let mut c = Command::new(program);
    for v in [
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "SOPS_AGE_RECIPIENTS",
        "SOPS_CONFIG",
        "XDG_CONFIG_HOME",
        "SOPS_EDITOR",
        "EDITOR",
        "SOPS_PGP_FP",
        "SOPS_GPG_EXEC",
        "SOPS_DECRYPTION_ORDER",
    ] {
        c.env_remove(v);
    }
    // An empty keyring of the tests' own, never the developer's ~/.gnupg.
    c.env(
        "GNUPGHOME",
        std::env::temp_dir().join("tollgate-tests-empty-gnupg"),
    );
    c.env("HOME", "/nonexistent-tollgate-home");
    c.stdin(Stdio::null());
    c
}

pub fn tollgate() -> Command {
    clean(Path::new(env!("CARGO_BIN_EXE_tollgate")))
}

/// A peer tool installed by scripts/install-test-tools.sh into .tools/venv, or where `env`
/// points. Missing tools fail the test: these tests must not pass without the real peer.
fn peer(env: &str, name: &str) -> Command {
    clean(&peer_path(env, name))
}

/// The real Go sops.
pub fn sops() -> Command {
    peer("TOLLGATE_SOPS_BIN", "sops")
}

/// Where a peer tool is, for tests that hand its path to tollgate.
pub fn peer_path(env: &str, name: &str) -> PathBuf {
    let path = std::env::var(env).map(PathBuf::from).unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".tools/venv/bin")
            .join(name)
    });
    assert!(
        path.exists(),
        "{name} is needed: run scripts/install-test-tools.sh (looked at {})",
        path.display()
    );
    path
}

/// The real kubectl (for `kubectl kustomize`).
pub fn kubectl() -> Command {
    peer("TOLLGATE_KUBECTL_BIN", "kubectl")
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("process starts")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> Vec<u8> {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status.code(),
        stderr(&o)
    );
    o.stdout
}

/// `git ARGS` in `dir` with a fixed author, for tests that build repositories.
pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("git");
    c.args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env_remove("GIT_INDEX_FILE");
    c
}

/// `git` in `dir`; the output, whether it succeeded or not.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    git_command(dir, args).output().expect("git runs")
}

/// `git` in `dir` that must succeed; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = git_output(dir, args);
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `tollgate check --format json ARGS` in `dir`, with the real kubectl for rendering: exit
/// code, report, stderr.
pub fn check_json(dir: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = run(tollgate()
        .env(
            "TOLLGATE_KUSTOMIZE",
            peer_path("TOLLGATE_KUBECTL_BIN", "kubectl"),
        )
        .args(["check", "--format", "json"])
        .args(args)
        .current_dir(dir));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        )
    });
    (code(&o), v, stderr(&o))
}
