//! The built-in checks: every rule has a fixture (`fixtures/rules/ID.yaml`) whose documents
//! say where it must fire (`# expect: ID FIELD`, one line per finding, the reasoning beside
//! it) and where it must not (`# ok`); the file is evaluated as one set of manifests, as
//! `tollgate check` would see that directory.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tollgate_core::checks::{self, RULES};
use tollgate_core::manifest::load_paths;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `(document, field path)` of each `# expect: ID FIELD` line, for rule `id`.
fn expected(text: &str, id: &str) -> (usize, BTreeSet<(usize, String)>) {
    let docs: Vec<&str> = text.split("\n---\n").collect();
    let mut out = BTreeSet::new();
    for (i, doc) in docs.iter().enumerate() {
        for line in doc.lines().take_while(|l| l.starts_with('#')) {
            if let Some(rest) = line.strip_prefix("# expect: ") {
                let (rule, field) = rest.split_once(' ').unwrap_or((rest, ""));
                assert_eq!(rule, id, "a fixture of {id} expects only {id}");
                out.insert((i, field.trim().to_owned()));
            }
        }
    }
    (docs.len(), out)
}

#[test]
fn every_builtin_rule_fires_exactly_where_its_fixture_says() {
    // IMG003 judges against an allow list; SOPS007 verifies MACs with the fixtures' key;
    // IMG007 and IMG008 verify against the in-memory registry.
    let settings = checks::Settings {
        allowed_registries: vec!["ghcr.io/acme/*".into(), "registry.example.com".into()],
        secrets: checks::secrets::Settings {
            verify_mac: true,
            ..Default::default()
        },
        signatures: vec![signature_rule(&["fake.test/acme/*", "down.test/*"])],
        verifier: Some(std::sync::Arc::new(fixture_registry())),
    };
    // Each test runs in its own process (nextest): the key is this test's alone.
    std::env::set_var(
        "SOPS_AGE_KEY_FILE",
        repo().join("fixtures/sops/TEST-ONLY-age-key.txt"),
    );
    std::env::remove_var("SOPS_AGE_KEY");
    // Rules over a change have two sets of manifests: tests/access.rs works them by hand.
    for rule in RULES.iter().filter(|r| !r.judges_a_change()) {
        let fixture = repo().join(format!("fixtures/rules/{}.yaml", rule.id));
        let text = std::fs::read_to_string(&fixture)
            .unwrap_or_else(|_| panic!("{} has no fixture", rule.id));
        let (documents, want) = expected(&text, rule.id);
        assert!(
            !want.is_empty(),
            "{}: the fixture expects no finding",
            rule.id
        );
        assert!(
            text.contains("# ok"),
            "{}: the fixture needs clean documents",
            rule.id
        );
        let inv = load_paths(std::slice::from_ref(&fixture), &[]);
        assert!(inv.errors.is_empty(), "{:?}", inv.errors);
        assert_eq!(inv.resources.len(), documents, "{}", rule.id);
        let eval = checks::evaluate_with(&[*rule], &inv.resources, false, &settings);
        assert!(eval.errors.is_empty(), "{}: {:?}", rule.id, eval.errors);
        let got: BTreeSet<(usize, String)> = eval
            .findings
            .iter()
            .map(|f| {
                assert_eq!(f.rule_id, rule.id);
                assert_eq!(f.severity, rule.severity);
                assert_eq!(f.engine, "builtin");
                assert_eq!(f.help.as_deref(), Some(rule.fix));
                // Located on the field named, not the start of the document.
                let field = f.field_path.clone().unwrap_or_default();
                let resource = &inv.resources[f.location.document];
                assert_eq!(
                    Some((f.location.line, f.location.column)),
                    resource.origin.position_of(&field),
                    "{}: {} is located on {field}",
                    rule.id,
                    f.message
                );
                (f.location.document, field)
            })
            .collect();
        assert_eq!(got, want, "{} on {}", rule.id, fixture.display());
    }
}

/// `images.signatures` entry covering `patterns`, signed by the TEST-ONLY cosign key.
fn signature_rule(patterns: &[&str]) -> tollgate_core::config::SignatureRule {
    let pem = std::fs::read_to_string(repo().join("fixtures/images/keys/cosign.pub")).unwrap();
    tollgate_core::config::SignatureRule {
        matches: patterns.iter().map(|p| (*p).to_owned()).collect(),
        keys: vec![tollgate_core::signature::PublicKey::from_pem(&pem, "cosign.pub").unwrap()],
        annotations: Vec::new(),
        repository: None,
        line: 1,
    }
}

/// The registry the IMG007 and IMG008 fixtures describe, behind a verifier without a cache.
fn fixture_registry() -> tollgate_core::signature::Verifier {
    let fake = support::FakeRegistry::default();
    let signed = fake.image("acme/signed", "v1", "signed");
    fake.sign("acme/signed", &signed, "null");
    fake.image("acme/unsigned", "v1", "unsigned");
    let copied = fake.image("acme/copied", "v1", "copied");
    fake.attach(
        "acme/copied",
        &copied,
        &support::payload(&signed, "null"),
        None,
    );
    fake.image("public/unsigned", "v1", "public");
    tollgate_core::signature::Verifier::new(&tollgate_core::signature::Access {
        transport: Some(std::sync::Arc::new(fake)),
        insecure: vec![support::HOST.into(), "down.test".into()],
        cache_dir: None,
    })
}

#[test]
fn rule_ids_are_sorted_families_prefixed_and_documented() {
    // Grouped by family, each family in id order: the table reads like the rule reference.
    let ids: Vec<(checks::Family, &str)> = RULES.iter().map(|r| (r.family, r.id)).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "RULES is grouped by family, in id order");
    for r in RULES {
        let prefix = match r.family {
            checks::Family::Rbac => "RBAC",
            checks::Family::Netpol => "NET",
            checks::Family::Images => "IMG",
            checks::Family::PssBaseline | checks::Family::PssRestricted => "PSS",
            checks::Family::Secrets if r.id.starts_with("SECRET") => "SECRET",
            checks::Family::Secrets => "SOPS",
            checks::Family::Access => "ACCESS",
        };
        assert!(r.id.starts_with(prefix), "{}", r.id);
        assert!(
            !r.title.is_empty() && r.description.len() > 40 && r.fix.len() > 20,
            "{} lacks documentation",
            r.id
        );
    }
}

#[test]
fn configured_reference_patterns_extend_the_builtin_ones() {
    // A house convention (`sm://`) is a reference once configured, and only then; a value
    // that merely contains it is still plaintext (patterns are the user's regexes, anchored
    // here with `^`).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: a}\nstringData:\n  a: sm://db/password\n  b: x sm://db\n",
    )
    .unwrap();
    let inv = load_paths(std::slice::from_ref(&file), &[]);
    let rule = RULES.iter().find(|r| r.id == "SECRET001").unwrap();
    let fields = |settings: &checks::Settings| -> Vec<String> {
        checks::evaluate_with(&[*rule], &inv.resources, false, settings)
            .findings
            .into_iter()
            .filter_map(|f| f.field_path)
            .collect()
    };
    assert_eq!(
        fields(&checks::Settings::default()),
        ["stringData.a", "stringData.b"]
    );
    let settings = checks::Settings {
        secrets: checks::secrets::Settings {
            reference_patterns: vec![regex::Regex::new("^sm://").unwrap()],
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(fields(&settings), ["stringData.b"]);
}
