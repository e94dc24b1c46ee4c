//! The bundled packs: every rule has a fixture of violating (`# expect: ID`) and clean (`# ok`)
//! documents and fires exactly where marked; the generated rule reference is current.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tollgate_core::engine::{self, rego};
use tollgate_core::manifest::load_paths;
use tollgate_core::packs;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `# expect: ID` / `# ok` marker of each document, in order.
fn markers(text: &str) -> Vec<Option<String>> {
    text.split("\n---\n")
        .map(|doc| {
            let first = doc.lines().next().unwrap_or("");
            first
                .strip_prefix("# expect: ")
                .map(|id| id.trim().to_owned())
        })
        .collect()
}

#[test]
fn every_bundled_rule_fires_exactly_where_its_fixture_says() {
    let opts = rego::Options {
        packs: packs::PACKS.iter().collect(),
        ..rego::Options::default()
    };
    let policies = rego::Policies::compile(&[], &opts).expect("bundled packs compile");
    let rules = packs::rules();
    assert!(!rules.is_empty());
    for rule in &rules {
        let fixture = repo().join(format!("fixtures/rules/{}.yaml", rule.id));
        let text = std::fs::read_to_string(&fixture)
            .unwrap_or_else(|_| panic!("{} has no fixture at {}", rule.id, fixture.display()));
        let expected = markers(&text);
        assert!(
            expected.iter().any(Option::is_some) && expected.iter().any(Option::is_none),
            "{}: needs failing and clean documents",
            rule.id
        );
        let inv = load_paths(std::slice::from_ref(&fixture), &[]);
        assert!(inv.errors.is_empty(), "{:?}", inv.errors);
        assert_eq!(
            inv.resources.len(),
            expected.len(),
            "{}: one resource per document",
            rule.id
        );
        let eval = engine::run(&policies, &inv.resources);
        assert!(eval.errors.is_empty(), "{:?}", eval.errors);
        for (doc, want) in expected.iter().enumerate() {
            let fired = eval
                .findings
                .iter()
                .any(|f| f.rule_id == rule.id && f.location.document == doc);
            assert_eq!(
                fired,
                want.as_deref() == Some(rule.id.as_str()),
                "{} document {doc} of {}",
                rule.id,
                fixture.display()
            );
            if fired {
                let f = eval
                    .findings
                    .iter()
                    .find(|f| f.rule_id == rule.id && f.location.document == doc)
                    .unwrap();
                assert!(
                    f.location.line > 1 || doc == 0,
                    "{}: located on the resource",
                    rule.id
                );
                assert_eq!(f.help, rule.meta.title, "{}: help is the title", rule.id);
            }
        }
    }
    let with_fixture: BTreeSet<String> = std::fs::read_dir(repo().join("fixtures/rules"))
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        // The fixtures' own `.sops.yaml` (for SOPS001) is not a rule's fixture.
        .filter(|s| !s.starts_with('.'))
        .collect();
    let mut ids: BTreeSet<String> = rules.iter().map(|r| r.id.clone()).collect();
    // Rules over a change are worked by hand in tests/access.rs, not by a one-tree fixture.
    ids.extend(
        tollgate_core::checks::RULES
            .iter()
            .filter(|r| !r.judges_a_change())
            .map(|r| r.id.to_owned()),
    );
    assert_eq!(
        with_fixture, ids,
        "fixtures and rules must match one to one"
    );
}

#[test]
fn rule_ids_are_unique_and_documented() {
    let rules = packs::rules();
    let mut ids: BTreeSet<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    ids.extend(tollgate_core::checks::RULES.iter().map(|r| r.id));
    assert_eq!(
        ids.len(),
        rules.len() + tollgate_core::checks::RULES.len(),
        "duplicate rule ids"
    );
    for r in &rules {
        assert!(
            r.meta.title.is_some() && r.meta.description.is_some() && r.meta.fix.is_some(),
            "{} lacks title, description or fix",
            r.id
        );
        assert!(
            !r.id.contains('/'),
            "{}: bundled rules carry a custom.id",
            r.id
        );
    }
}

#[test]
fn the_rule_reference_is_current() {
    let dir = repo().join("docs/rules");
    let generated = packs::docs();
    if std::env::var_os("TOLLGATE_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &generated {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    for (name, text) in &generated {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert_eq!(&on_disk, text, "docs/rules/{name} is stale: run `TOLLGATE_UPDATE_DOCS=1 cargo test -p tollgate-core --test packs`");
    }
    let names: BTreeSet<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        on_disk, names,
        "docs/rules has pages for rules that no longer exist"
    );
}

#[test]
fn invalid_metadata_is_a_compile_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rego"), "package main\n\nimport rego.v1\n\n# METADATA\n# title: a: b: c\ndeny contains \"x\" if { true }\n").unwrap();
    let err = rego::Policies::compile(&[dir.path().to_path_buf()], &rego::Options::default())
        .unwrap_err();
    assert!(
        err[0].file.ends_with("p.rego:6") && err[0].message.contains("METADATA"),
        "{err:?}"
    );
}
