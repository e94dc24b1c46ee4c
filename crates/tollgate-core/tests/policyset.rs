//! One policy set, one verdict: what `check` finds on a manifest is what admission finds on
//! the same object, for every engine; admission reviews get the verdicts worked out below.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tollgate_core::admission::AdmissionRequest;
use tollgate_core::config::Config;
use tollgate_core::engine::rego;
use tollgate_core::finding::{Finding, Severity};
use tollgate_core::manifest::load_paths;
use tollgate_core::packs;
use tollgate_core::policyset::{Filters, PolicySet, Sources};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Rego (fixtures/check/policies, package main), Kyverno (fixtures/kyverno/policies) and the
/// bundled pack, as `check --policy ... --pack k8s` loads them.
fn policy_set() -> PolicySet {
    let sources = Sources {
        paths: vec![
            repo().join("fixtures/check/policies"),
            repo().join("fixtures/kyverno/policies"),
        ],
        rego: rego::Options {
            packs: packs::PACKS.iter().collect(),
            ..rego::Options::default()
        },
        combine: false,
        images: Default::default(),
    };
    let config = Config {
        annotation_exemptions: true,
        ..Config::default()
    };
    PolicySet::load(&sources, &config).expect("fixtures load")
}

/// What a finding says, wherever it was found.
fn verdict_of(f: &Finding) -> (String, Severity, String, Option<String>) {
    (
        f.rule_id.clone(),
        f.severity,
        f.message.clone(),
        f.field_path.clone(),
    )
}

const TODAY: &str = "2026-12-01";

fn filters() -> Filters<'static> {
    Filters {
        annotations: true,
        baseline: None,
        today: TODAY,
    }
}

#[test]
fn check_and_admission_agree_on_every_fixture_of_every_engine() {
    let set = policy_set();
    let inputs: Vec<PathBuf> = [
        "fixtures/check/manifests",
        "fixtures/kyverno/manifests",
        "fixtures/rules",
    ]
    .iter()
    .map(|p| repo().join(p))
    .collect();
    let inventory = load_paths(&inputs, &[]);
    assert!(inventory.errors.is_empty(), "{:?}", inventory.errors);
    let checked = set.evaluate(&inventory.resources, filters());
    let engines: BTreeSet<&str> = checked.findings.iter().map(|f| f.engine.as_str()).collect();
    assert_eq!(
        engines,
        BTreeSet::from(["builtin", "kyverno", "rego"]),
        "the fixtures exercise every engine"
    );
    // The rule list (SARIF's rules, `rules list`) knows every rule that fired, with the
    // severity its findings carry.
    let listed: std::collections::BTreeMap<String, Severity> = set
        .rules()
        .into_iter()
        .map(|r| (r.id, r.severity))
        .collect();
    for f in &checked.findings {
        assert_eq!(
            listed.get(&f.rule_id),
            Some(&f.severity),
            "{} ({}) in the rule list",
            f.rule_id,
            f.engine
        );
    }
    // Built-in rules that judge the whole set are not asked at admission.
    let inventory_rule = |f: &Finding| {
        tollgate_core::checks::RULES
            .iter()
            .any(|r| r.inventory && r.id == f.rule_id)
    };
    let mut compared = 0;
    for (i, r) in inventory.resources.iter().enumerate() {
        let review = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": format!("parity-{i}"),
                "kind": {"group": "", "version": "", "kind": r.kind},
                "namespace": r.namespace,
                "name": r.name,
                "operation": "CREATE",
                "userInfo": {"username": "ci"},
                "object": r.object,
            }
        });
        let req = AdmissionRequest::from_review(&review).unwrap();
        let verdict = set.review(&req, Severity::Error, TODAY);
        let here = |f: &&Finding| {
            *f.location.file == *r.origin.file && f.location.document == r.origin.document
        };
        // Admission sees the object alone: its verdict is `check` of that object alone,
        // without the whole-set rules.
        let alone = set.evaluate(std::slice::from_ref(r), filters());
        let expected: BTreeSet<_> = alone
            .findings
            .iter()
            .filter(|f| !inventory_rule(f))
            .map(verdict_of)
            .collect();
        let got: BTreeSet<_> = verdict.evaluation.findings.iter().map(verdict_of).collect();
        assert_eq!(
            got, expected,
            "{} document {}",
            r.origin.file, r.origin.document
        );
        // Per-resource engines judge an object the same alone and in the repository.
        let per_resource = |f: &&Finding| f.engine != "builtin";
        let in_set: BTreeSet<_> = checked
            .findings
            .iter()
            .filter(here)
            .filter(per_resource)
            .map(verdict_of)
            .collect();
        let by_itself: BTreeSet<_> = alone
            .findings
            .iter()
            .filter(per_resource)
            .map(verdict_of)
            .collect();
        assert_eq!(in_set, by_itself, "{}", r.origin.file);
        // The decision follows from the same findings: denied exactly when one is an error.
        let has_error = expected.iter().any(|(_, s, _, _)| *s == Severity::Error);
        assert_eq!(verdict.allowed, !has_error, "{}", r.origin.file);
        compared += 1;
    }
    assert!(compared >= 15, "only {compared} resources compared");
}

fn review_fixture(name: &str) -> AdmissionRequest {
    let text = std::fs::read_to_string(repo().join("fixtures/admission").join(name)).unwrap();
    AdmissionRequest::from_review(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn admission_reviews_get_the_verdicts_worked_out_by_hand() {
    let set = policy_set();

    // CREATE of Pod shop/web with nginx:latest and no labels, no securityContext:
    // - no-latest/pinned-images (Enforce): the image ends in :latest -> error;
    // - IMG001 (error): `:latest` is a mutable tag;
    // - the Pod Security Standards: no baseline control is broken (nothing privileged, no
    //   host namespaces, ports or paths), so no error; four restricted controls are, each a
    //   warning: PSS013 (allowPrivilegeEscalation unset), PSS014 (runAsNonRoot unset),
    //   PSS016 (no seccomp profile), PSS017 (capabilities not dropped);
    // - require-team-label/check-team (Audit): no team label -> warning;
    // - POD004 (warning): no memory limit; IMG002 (info): not pinned, neither denies nor warns;
    // - main/deny (fixtures/check): flags `:latest` images of Deployments only, not Pods.
    // Errors deny (403, each failing rule named); warnings go to `warnings`.
    let v = set.review(
        &review_fixture("pod-latest-create.json"),
        Severity::Error,
        TODAY,
    );
    let denied: BTreeSet<&str> = v.denied_by.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(
        denied,
        BTreeSet::from(["IMG001", "no-latest/pinned-images"])
    );
    let out = v.to_review();
    assert_eq!(
        out["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["response"]["status"]["code"], 403);
    let message = out["response"]["status"]["message"].as_str().unwrap();
    for id in &denied {
        assert!(message.contains(&format!("[{id}]")), "{message}");
    }
    let warnings: Vec<&str> = out["response"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(warnings.len(), 6, "{warnings:?}");
    for id in ["POD004", "PSS013", "PSS014", "PSS016", "PSS017"] {
        assert!(
            warnings.iter().any(|w| w.starts_with(&format!("{id}: "))),
            "{id}"
        );
    }
    assert!(warnings
        .iter()
        .any(|w| w.starts_with("require-team-label/check-team: ")));
    assert!(warnings.iter().all(|w| w.chars().count() <= 256));

    // UPDATE (dry run) of shop/api, now labelled and on a versioned tag: no error (the
    // restricted controls it breaks are warnings), so it is allowed; the dry run is judged
    // the same way.
    let v = set.review(
        &review_fixture("pod-labelled-update.json"),
        Severity::Error,
        TODAY,
    );
    assert!(v.denied_by.is_empty(), "{:?}", v.denied_by);
    assert!(v.allowed);
    // A stricter threshold (`webhook.fail_on: warning`, a namespace enforcing `restricted`)
    // denies on the warnings: POD004 and the four restricted controls.
    let v = set.review(
        &review_fixture("pod-labelled-update.json"),
        Severity::Warning,
        TODAY,
    );
    let denied: BTreeSet<&str> = v.denied_by.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(
        denied,
        BTreeSet::from(["POD004", "PSS013", "PSS014", "PSS016", "PSS017"])
    );

    // DELETE of the :latest Pod: no rule names DELETE in `match.operations`, and Rego rules
    // judge objects being admitted: the deletion is allowed with no findings.
    let v = set.review(
        &review_fixture("pod-latest-delete.json"),
        Severity::Error,
        TODAY,
    );
    assert!(v.allowed);
    assert!(
        v.evaluation.findings.is_empty(),
        "{:?}",
        v.evaluation.findings
    );
    assert_eq!(
        v.to_review()["response"],
        json!({"uid": "c0ffee00-0000-4000-8000-000000000003", "allowed": true})
    );
}

#[test]
fn the_rule_list_covers_every_engine_once() {
    let set = policy_set();
    let rules = set.rules();
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted, each id once");
    for id in [
        "IMG001",
        "SECRET001",
        "main/deny",
        "require-team-label/check-team",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    // Severity is decided once: the rule list says what the findings say.
    let team = rules
        .iter()
        .find(|r| r.id == "require-team-label/check-team")
        .unwrap();
    assert_eq!((team.engine, team.severity), ("kyverno", Severity::Warning));
    // Rules that need the cluster are not evaluated offline, so they are not listed.
    assert!(!ids.contains(&"no-latest/allowed-registry"));
    assert!(!set.notes().is_empty());
}

#[test]
fn rego_rules_see_the_admission_request_as_data_tollgate_review() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("who.rego"),
        "package main\n\nimport rego.v1\n\n# Only CI may change Deployments; `input` is the object, the request is data.\ndeny contains msg if {\n  data.tollgate.review.operation == \"UPDATE\"\n  data[\"tollgate\"][\"review\"].userInfo.username != \"ci\"\n  input.kind == \"Deployment\"\n  msg := sprintf(\"%s may not change Deployments\", [data.tollgate.review.userInfo.username])\n}\n",
    )
    .unwrap();
    let sources = Sources {
        paths: vec![dir.path().to_path_buf()],
        ..Sources::default()
    };
    let set = PolicySet::load(&sources, &Config::default()).unwrap();
    let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}});
    let verdict = |operation: &str, user: &str| {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"kind": "Deployment"}, "namespace": "shop", "name": "web",
            "operation": operation, "userInfo": {"username": user},
            "object": object, "oldObject": object}});
        set.review(
            &AdmissionRequest::from_review(&review).unwrap(),
            Severity::Error,
            TODAY,
        )
    };
    // UPDATE by mallory: the rule reads the operation and the user from the review -> denied.
    let v = verdict("UPDATE", "mallory");
    assert!(!v.allowed);
    assert_eq!(v.denied_by[0].message, "mallory may not change Deployments");
    // The same change by ci, or a CREATE by mallory: allowed.
    assert!(verdict("UPDATE", "ci").allowed);
    assert!(verdict("CREATE", "mallory").allowed);
    // `check` has no review: the rule's body is undefined there, so it finds nothing.
    let inv = tollgate_core::manifest::Resource::from_admission(object.clone(), "web.yaml");
    assert!(set.evaluate(&[inv], filters()).findings.is_empty());
}
