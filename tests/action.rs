//! The GitHub Action's steps, run locally as a runner would run them (`action/tollgate-action.sh`
//! with GitHub's variables): a pull request from a shallow clone fails only on what it adds,
//! with annotations on stdout, SARIF on disk and the step outputs written.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn put(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const HOST_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: old\n  namespace: shop\nspec:\n  hostPID: true\n  containers:\n    - name: c\n      image: busybox@sha256:2919d0172f7524b2d8df9e50066a682669e6d170ac0f6a49676d54358fe970b5\n      resources:\n        limits:\n          memory: 64Mi\n";

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("action/tollgate-action.sh")
}

fn step(dir: &Path, name: &str, env: &[(&str, &str)], runner: &Path) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_tollgate")).parent().unwrap();
    let mut c = Command::new("bash");
    c.arg(script())
        .arg(name)
        .current_dir(dir)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("RUNNER_TEMP", runner)
        .env("GITHUB_OUTPUT", runner.join("output"))
        .env("GITHUB_PATH", runner.join("path"))
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_BASE_REF", "main");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn a_pull_request_fails_only_on_what_it_adds() {
    let work = tempfile::tempdir().unwrap();
    let origin = work.path().join("origin.git");
    let author = work.path().join("author");
    std::fs::create_dir_all(&author).unwrap();
    git(
        work.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    git(&author, &["init", "-q", "-b", "main"]);
    put(&author, "old.yaml", HOST_POD);
    git(&author, &["add", "-A"]);
    git(&author, &["commit", "-qm", "base"]);
    git(
        &author,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    git(&author, &["push", "-q", "origin", "main"]);
    git(&author, &["checkout", "-qb", "feature"]);
    put(
        &author,
        "new.yaml",
        &HOST_POD.replace("name: old", "name: new"),
    );
    git(&author, &["add", "-A"]);
    git(&author, &["commit", "-qm", "feature"]);
    git(&author, &["push", "-q", "origin", "feature"]);
    // actions/checkout's default: a depth-1 clone of the pull request's head, no base branch.
    let url = format!("file://{}", origin.display());
    git(
        work.path(),
        &[
            "clone", "-q", "--depth", "1", "--branch", "feature", &url, "checkout",
        ],
    );
    let checkout = work.path().join("checkout");
    let runner = work.path().join("runner");
    std::fs::create_dir_all(&runner).unwrap();

    // The tollgate on PATH is this version: the install step keeps it.
    let o = step(&checkout, "install", &[], &runner);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!(
            "tollgate {} is on PATH",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let o = step(
        &checkout,
        "check",
        &[("INPUT_PATHS", "."), ("INPUT_RENDER", "true")],
        &runner,
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    // Only the branch's Pod is annotated: the base's was there before the pull request.
    assert!(
        stdout.contains("::error file=new.yaml,line=7,col=12,title=PSS002::"),
        "{stdout}"
    );
    assert!(!stdout.contains("file=old.yaml"), "{stdout}");
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(checkout.join("tollgate.sarif")).unwrap()).unwrap();
    // The new Pod's own findings: the host's PID namespace (PSS002, the error), the four
    // restricted controls it does not meet (PSS013, PSS014, PSS016, PSS017: warnings) and no
    // NetworkPolicy selecting it (NET003).
    // The namespace's missing default deny (NET001, NET002) was there before: not new, even
    // though it is now placed on the new Pod (the first workload of the namespace).
    let mut results: Vec<(String, String)> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap().to_owned(),
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    results.sort();
    assert_eq!(
        results,
        [
            ("NET003".to_owned(), "new.yaml".to_owned()),
            ("PSS002".to_owned(), "new.yaml".to_owned()),
            ("PSS013".to_owned(), "new.yaml".to_owned()),
            ("PSS014".to_owned(), "new.yaml".to_owned()),
            ("PSS016".to_owned(), "new.yaml".to_owned()),
            ("PSS017".to_owned(), "new.yaml".to_owned()),
        ],
        "{sarif:#}"
    );
    let outputs = std::fs::read_to_string(runner.join("output")).unwrap();
    assert!(outputs.contains("exit-code=1\n"), "{outputs}");
    assert!(outputs.contains("sarif-file=tollgate.sarif\n"), "{outputs}");

    // new-since: none checks everything, the base's Pod included.
    let o = step(&checkout, "check", &[("INPUT_NEW_SINCE", "none")], &runner);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("file=old.yaml"));
}

#[test]
fn action_yml_runs_the_script_with_every_input() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("action.yml")).unwrap();
    let doc = tollgate_core::manifest::json_documents(&text)
        .unwrap()
        .remove(0);
    assert_eq!(doc["runs"]["using"], "composite");
    let steps = doc["runs"]["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert_eq!(
        runs,
        [
            "\"$GITHUB_ACTION_PATH/action/tollgate-action.sh\" install",
            "\"$GITHUB_ACTION_PATH/action/tollgate-action.sh\" check"
        ]
    );
    let script = std::fs::read_to_string(script()).unwrap();
    let check = steps.iter().find(|s| s["id"] == "check").unwrap();
    for (input, _) in doc["inputs"].as_object().unwrap() {
        if input == "upload-sarif" {
            continue;
        }
        let var = format!("INPUT_{}", input.to_uppercase().replace('-', "_"));
        assert!(
            check["env"].get(&var).is_some(),
            "{input} is not passed to the check step"
        );
        assert!(script.contains(&var), "the script does not read {var}");
    }
}
