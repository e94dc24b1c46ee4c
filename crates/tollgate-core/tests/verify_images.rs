//! Kyverno `verifyImages` with key attestors, through the policy set (as `check` and the
//! webhook run it), against the in-memory registry. Each case says what Kyverno decides and
//! why; the registry holds `acme/plain:v1` signed by the TEST-ONLY cosign key, `acme/one:v1`
//! signed by it with the annotation `env: prod`, and `acme/none:v1` unsigned; the other
//! TEST-ONLY key signed nothing.

mod support;

use std::sync::Arc;
use support::{FakeRegistry, HOST};
use tollgate_core::config::Config;
use tollgate_core::manifest::load_paths;
use tollgate_core::policyset::{Evaluation, Filters, PolicySet, Sources};
use tollgate_core::signature::Access;

fn pem(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../fixtures/images/keys/{name}.pub"));
    std::fs::read_to_string(path).unwrap()
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

fn registry() -> Arc<FakeRegistry> {
    let fake = FakeRegistry::default();
    let plain = fake.image("acme/plain", "v1", "plain");
    fake.sign("acme/plain", &plain, "null");
    let one = fake.image("acme/one", "v1", "one");
    fake.sign("acme/one", &one, r#"{"env":"prod"}"#);
    fake.image("acme/none", "v1", "none");
    Arc::new(fake)
}

/// A ClusterPolicy whose one rule verifies `acme/*` images with `attestors` (YAML, indented
/// for the rule), plus `extra` keys of the verifyImages entry.
fn policy(dir: &std::path::Path, attestors: &str, extra: &str) {
    std::fs::write(
        dir.join("policy.yaml"),
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: signed\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: check-signature\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      verifyImages:\n        - imageReferences: [\"{HOST}/acme/*\"]\n{extra}          attestors:\n{attestors}"
        ),
    )
    .unwrap();
}

fn key_entry(name: &str, annotations: &str) -> String {
    format!(
        "              - keys:\n                  publicKeys: |-\n{}                  rekor: {{ignoreTlog: true}}\n{annotations}",
        indent(pem(name).trim(), 20)
    )
}

fn run(
    dir: &std::path::Path,
    fake: &Arc<FakeRegistry>,
    images: &[&str],
) -> (PolicySet, Evaluation) {
    let containers: String = images
        .iter()
        .enumerate()
        .map(|(i, image)| format!("    - {{name: c{i}, image: \"{HOST}/{image}\"}}\n"))
        .collect();
    std::fs::write(
        dir.join("pod.yaml"),
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: a}}\nspec:\n  containers:\n{containers}"),
    )
    .unwrap();
    let sources = Sources {
        paths: vec![dir.join("policy.yaml")],
        images: Access {
            transport: Some(fake.clone()),
            insecure: vec![HOST.into()],
            cache_dir: None,
        },
        ..Sources::default()
    };
    let set = PolicySet::load(&sources, &Config::default()).unwrap_or_else(|e| panic!("{e:?}"));
    let inv = load_paths(&[dir.join("pod.yaml")], &[]);
    let eval = set.evaluate(
        &inv.resources,
        Filters {
            annotations: true,
            baseline: None,
            today: "2026-12-01",
        },
    );
    (set, eval)
}

fn messages(e: &Evaluation) -> Vec<(String, String)> {
    e.findings
        .iter()
        .map(|f| (f.field_path.clone().unwrap_or_default(), f.message.clone()))
        .collect()
}

#[test]
fn every_entry_of_an_attestor_set_must_verify_unless_count_says_fewer() {
    let fake = registry();
    let dir = tempfile::tempdir().unwrap();
    // Two entries, no count: both keys must have signed (a logical AND). acme/one is signed
    // by the cosign key only, so entry 1 (the other key) fails and names itself.
    let two = format!(
        "          - entries:\n{}{}",
        key_entry("cosign", ""),
        key_entry("other", "")
    );
    policy(dir.path(), &two, "");
    let (_, e) = run(dir.path(), &fake, &["acme/one:v1"]);
    let m = messages(&e);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].0, "spec.containers[0].image");
    assert!(m[0].1.contains(&format!("failed to verify image {HOST}/acme/one:v1: .attestors[0].entries[1].keys: none of its 1 signature(s)")), "{}", m[0].1);
    // count: 1, one of the two will do (a logical OR).
    let one = format!(
        "          - count: 1\n            entries:\n{}{}",
        key_entry("other", ""),
        key_entry("cosign", "")
    );
    policy(dir.path(), &one, "");
    let (set, e) = run(dir.path(), &fake, &["acme/one:v1", "other/unmatched:v1"]);
    assert!(messages(&e).is_empty(), "{:?}", messages(&e));
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    // The tag is not pinned and mutateDigest (default true) would pin it: said, not applied.
    assert!(
        set.notes()
            .iter()
            .any(|n| n.contains("mutateDigest is a mutation and is not applied")),
        "{:?}",
        set.notes()
    );
}

#[test]
fn unsigned_images_annotations_and_digests() {
    let fake = registry();
    let dir = tempfile::tempdir().unwrap();
    let set = format!(
        "          - entries:\n{}",
        key_entry("cosign", "                annotations: {env: prod}\n")
    );
    policy(dir.path(), &set, "");
    let (_, e) = run(dir.path(), &fake, &["acme/one:v1", "acme/none:v1"]);
    let m = messages(&e);
    // acme/one carries env=prod; acme/none has no signature at all (the second container).
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].0, "spec.containers[1].image");
    assert!(m[0].1.contains("has no cosign signature"), "{}", m[0].1);
    // acme/plain's signature has no env annotation.
    let (_, e) = run(dir.path(), &fake, &["acme/plain:v1"]);
    assert!(
        messages(&e)[0].1.contains("lack the annotations env=prod"),
        "{:?}",
        messages(&e)
    );

    // verifyDigest without mutateDigest: a tag is a failure even when signed (Kyverno's
    // "missing digest"), a digest is fine.
    let plain = format!("          - entries:\n{}", key_entry("cosign", ""));
    policy(
        dir.path(),
        &plain,
        "          verifyDigest: true\n          mutateDigest: false\n",
    );
    let (_, e) = run(dir.path(), &fake, &["acme/plain:v1"]);
    assert_eq!(
        messages(&e)[0].1,
        format!("missing digest for {HOST}/acme/plain:v1")
    );
    let digest =
        support::digest_of(&fake.objects.lock().unwrap()["/v2/acme/plain/manifests/v1"].clone());
    let (_, e) = run(dir.path(), &fake, &[&format!("acme/plain@{digest}")]);
    assert!(messages(&e).is_empty(), "{:?}", messages(&e));
}

#[test]
fn what_cannot_be_checked_is_an_error_and_keyless_is_not_evaluated() {
    let fake = registry();
    let dir = tempfile::tempdir().unwrap();
    let plain = format!("          - entries:\n{}", key_entry("cosign", ""));
    policy(dir.path(), &plain, "");
    // The registry does not have the image: the rule cannot be judged (exit 2 in check).
    let (_, e) = run(dir.path(), &fake, &["acme/missing:v1"]);
    assert!(e.findings.is_empty(), "{:?}", messages(&e));
    assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
    assert!(
        e.errors[0]
            .message
            .contains("does not exist in the registry"),
        "{:?}",
        e.errors
    );

    // A keyless attestor needs Fulcio and Rekor: the rule is reported, not half-checked.
    let keyless = "          - entries:\n              - keyless:\n                  subject: \"https://github.com/acme/*\"\n                  issuer: https://token.actions.githubusercontent.com\n";
    policy(dir.path(), keyless, "");
    let (set, e) = run(dir.path(), &fake, &["acme/none:v1"]);
    assert!(e.findings.is_empty() && e.errors.is_empty());
    assert!(
        set.notes()
            .iter()
            .any(|n| n.contains("verifyImages with keyless attestors rules are not evaluated")),
        "{:?}",
        set.notes()
    );
}
