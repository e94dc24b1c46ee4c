//! docs/cli.md is the `--help` of every command, generated from the binary; this test fails
//! when it is stale (`TOLLGATE_UPDATE_DOCS=1 cargo test --test cli_docs` rewrites it).

mod common;

use common::*;
use std::path::Path;

const COMMANDS: &[&[&str]] = &[
    &[],
    &["check"],
    &["verify"],
    &["test"],
    &["secrets", "audit"],
    &["init"],
    &["images", "verify"],
    &["rules", "list"],
    &["rules", "explain"],
    &["rbac", "who-can"],
    &["rbac", "explain"],
    &["netpol", "reach"],
    &["webhook", "review"],
    &["webhook", "serve"],
    &["webhook", "certs"],
    &["sops"],
    &["sops", "encrypt"],
    &["sops", "decrypt"],
    &["sops", "edit"],
    &["sops", "rotate"],
    &["sops", "updatekeys"],
    &["sops", "set"],
    &["sops", "unset"],
    &["sops", "status"],
];

fn help(cmd: &[&str]) -> String {
    let o = run(tollgate().args(cmd).arg("--help").env("COLUMNS", "100"));
    String::from_utf8(ok(o)).unwrap()
}

#[test]
fn the_cli_reference_is_current() {
    let mut doc = String::from(
        "# Command-line reference\n\nGenerated from `tollgate … --help`; do not edit by hand.\n",
    );
    for cmd in COMMANDS {
        let title = if cmd.is_empty() {
            "tollgate".to_owned()
        } else {
            format!("tollgate {}", cmd.join(" "))
        };
        doc.push_str(&format!("\n## `{title}`\n\n```text\n{}```\n", help(cmd)));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
    if std::env::var_os("TOLLGATE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == doc,
        "docs/cli.md is stale: run `TOLLGATE_UPDATE_DOCS=1 cargo test --test cli_docs`"
    );
}
