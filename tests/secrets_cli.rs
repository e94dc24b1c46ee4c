//! `tollgate secrets audit` end to end: canary values fed through every secrets rule never
//! reach any report format, stdout or stderr; `--verify-mac` verifies with a key and reports
//! tampering; bad input (truncated SOPS files, wrong metadata types, binary files, huge
//! values) is a finding or a load error, never a panic and never the value.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The values planted; none may appear in any output. Each names its rule.
const CANARIES: &[(&str, &str)] = &[
    ("SECRET001", "zq7PlainCanary"),
    ("SECRET001-base64", "zq7EncodedCanary"),
    ("SOPS001", "zq7UncoveredCanary"),
    // A GitHub token's format: ghp_ and 36 characters.
    ("SECRET003", "ghp_zq7TokenCanary0123456789abcdefghijkl"),
    ("SECRET004", "zq7Rnd8Vt2LmZ9xK4pR7sW1nBc3Yd"),
    ("SOPS006", "zq7PastedCanary"),
];

fn rules_fixture(id: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/rules/{id}.yaml"))
}

fn canary(rule: &str) -> &'static str {
    CANARIES.iter().find(|(r, _)| *r == rule).unwrap().1
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A repository where each secrets rule fires on a canary.
fn planted() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recipient = "age1u5z3s42j4q7wngqqk75ep99mttyff7vuy5l0w35mg8me9qskps0sxsldyu";
    write(
        d,
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n"),
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(canary("SECRET001-base64"));
    write(
        d,
        "plain.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\n  namespace: a\nstringData:\n  password: {}\ndata:\n  token: {encoded}\n",
            canary("SECRET001")
        ),
    );
    write(
        d,
        "secrets/uncovered.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: uncovered\n  namespace: a\nstringData:\n  key: {}\n",
            canary("SOPS001")
        ),
    );
    write(
        d,
        "app.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: a\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: app:1\n          env:\n            - name: GH_TOKEN\n              value: {}\n            - name: DB_PASSWORD\n              value: {}\n",
            canary("SECRET003"),
            canary("SECRET004")
        ),
    );
    // A SOPS file (the SOPS006 fixture, encrypted for the recipient above) with a value
    // pasted over its ciphertext.
    let sops006 = std::fs::read_to_string(rules_fixture("SOPS006")).unwrap();
    write(
        d,
        "secrets/pasted.yaml",
        &sops006.replace(
            "password: hunter2",
            &format!("password: {}", canary("SOPS006")),
        ),
    );
    dir
}

const FORMATS: &[&str] = &[
    "human", "short", "json", "sarif", "junit", "github", "gitlab",
];

/// Every format at once, each to a file, plus human on stdout; returns the exit code, the
/// JSON report and everything written.
fn audit_all_formats(dir: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = tollgate();
    cmd.current_dir(dir).args(["secrets", "audit"]).args(extra);
    for f in FORMATS {
        cmd.args(["--format", f, "--output"])
            .arg(out.path().join(f));
    }
    cmd.args(["--format", "human", "--color", "always", "."]);
    let o = run(&mut cmd);
    let mut all = String::from_utf8_lossy(&o.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&o.stderr));
    for f in FORMATS {
        all.push_str(&std::fs::read_to_string(out.path().join(f)).unwrap());
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("json")).unwrap()).unwrap();
    (code(&o), json, all)
}

fn rules(v: &Value) -> BTreeSet<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn canary_values_reach_no_format_of_any_rule() {
    let dir = planted();
    let (c, v, all) = audit_all_formats(dir.path(), &[]);
    assert_eq!(c, 1, "{all}");
    // Every rule that judges a value fired on its canary...
    let got = rules(&v);
    for id in ["SECRET001", "SECRET003", "SECRET004", "SOPS001", "SOPS006"] {
        assert!(got.contains(id), "{id} did not fire: {got:?}");
    }
    // ...and no output holds a canary, in any format, nor its base64 form.
    for (rule, value) in CANARIES {
        assert!(!all.contains(value), "{rule}'s value leaked:\n{all}");
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(canary("SECRET001-base64"));
    assert!(!all.contains(&encoded), "the base64 value leaked");
    // The human excerpt is still there, masked.
    assert!(all.contains("••••") || all.contains("***"), "{all}");
    // `check` runs the same pack: the same holds for it.
    let o = run(tollgate()
        .current_dir(dir.path())
        .args(["check", "--format", "human", "--format", "json", "."]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for (rule, value) in CANARIES {
        assert!(!text.contains(value), "check: {rule}'s value leaked");
    }
}

#[test]
fn verify_mac_opens_every_file_in_memory_and_reports_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // SOPS004's fixture is intact (its MAC holds); SOPS007's had a value deleted.
    for (name, from) in [("intact.yaml", "SOPS004"), ("tampered.yaml", "SOPS007")] {
        std::fs::copy(rules_fixture(from), d.join(name)).unwrap();
    }
    let before: Vec<_> = std::fs::read_dir(d).unwrap().collect();
    // Without the flag no key is used and nothing is verified.
    let o = run(tollgate()
        .current_dir(d)
        .env("SOPS_AGE_KEY_FILE", key(1))
        .args(["secrets", "audit", "--format", "json", "."]));
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    let o = run(tollgate()
        .current_dir(d)
        .env("SOPS_AGE_KEY_FILE", key(1))
        .args(["secrets", "audit", "--verify-mac", "--format", "json", "."]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let found: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap(),
                f["location"]["file"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, [("SOPS007", "tampered.yaml")], "{v:#}");
    // Decrypted in memory only: no file was written beside them.
    assert_eq!(std::fs::read_dir(d).unwrap().count(), before.len());
    // With a key that opens neither, both are reported (CI cannot vouch for them).
    let o = run(tollgate()
        .current_dir(d)
        .env("SOPS_AGE_KEY_FILE", key(2))
        .args(["secrets", "audit", "--verify-mac", "--format", "json", "."]));
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 2, "{v:#}");
}

#[test]
fn bad_input_is_a_finding_or_an_error_never_a_panic_or_the_value() {
    let dir = planted();
    let d = dir.path();
    let sops = std::fs::read_to_string(rules_fixture("SOPS004")).unwrap();
    // Truncated in the middle of its metadata.
    write(d, "secrets/truncated.yaml", &sops[..sops.len() / 3]);
    // The metadata is a string, a list, or has a number for `age`.
    write(d, "secrets/scalar.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n  mac: 42\n  lastmodified: 7\n  version: [3]\n  age: 12\n");
    // Binary bytes named .yaml, and a huge value under a secret's name.
    std::fs::write(d.join("blob.yaml"), [0u8, 159, 146, 150, 255, 0, 1, 2]).unwrap();
    let huge = format!("zq7Huge{}", "x9Y8".repeat(256 * 1024));
    write(
        d,
        "huge.yaml",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: a\ndata:\n  API_TOKEN: {huge}\n"),
    );
    let (c, v, all) = audit_all_formats(d, &[]);
    assert!(c == 1 || c == 2, "exit {c}:\n{all}");
    assert!(
        !all.contains("panicked") && !all.contains("RUST_BACKTRACE"),
        "{all}"
    );
    assert!(
        !all.contains("zq7Huge") && !all.contains("x9Y8x9Y8"),
        "the huge value leaked"
    );
    for (rule, value) in CANARIES {
        assert!(!all.contains(value), "{rule}'s value leaked");
    }
    // The binary file is a load error naming it; the damaged SOPS files are findings or
    // load errors naming them; the huge value is judged (SECRET004).
    let named = |file: &str| all.contains(file);
    assert!(
        named("blob.yaml") && named("truncated.yaml") && named("scalar.yaml"),
        "{all}"
    );
    assert!(rules(&v).contains("SECRET004"), "{v:#}");
}
