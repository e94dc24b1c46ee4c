//! The Pod Security Standards pack against an independent source: the pod-security tests of
//! kyverno/policies (`../shared/corpus`, classic and CEL), which give, per resource, the
//! verdict of each control. Each policy is mapped to the rule of the same control; for every
//! resource a test names, the rule must find something exactly when the test expects `fail`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tollgate_core::checks::{self, RULES};
use tollgate_core::manifest::load_paths;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// Kyverno's pod-security policy -> the rule of the same control.
const MAP: &[(&str, &str)] = &[
    ("disallow-host-process", "PSS001"),
    ("disallow-host-namespaces", "PSS002"),
    ("disallow-privileged-containers", "PSS003"),
    ("disallow-capabilities", "PSS004"),
    ("disallow-host-path", "PSS005"),
    ("disallow-host-ports", "PSS006"),
    ("disallow-proc-mount", "PSS009"),
    ("restrict-seccomp", "PSS010"),
    ("restrict-sysctls", "PSS011"),
    ("restrict-volume-types", "PSS012"),
    ("disallow-privilege-escalation", "PSS013"),
    ("require-run-as-nonroot", "PSS014"),
    ("require-run-as-non-root-user", "PSS015"),
    ("restrict-seccomp-strict", "PSS016"),
    ("disallow-capabilities-strict", "PSS017"),
    // The ValidatingPolicy form splits that control into its two halves.
    ("require-drop-all", "PSS017"),
    ("adding-capabilities-strict", "PSS017"),
];

/// Controls Kyverno tests in halves (one rule, or one policy, per half), each resource for one
/// half only: the half (by rule or policy name) and the text of our findings for it.
const HALVES: &[(&str, &str)] = &[
    ("require-drop-all", "does not drop ALL"),
    ("adding-capabilities-strict", "adds the capability"),
];

/// Policies of the pod-security directories that are not a control of the standard:
/// `disallow-host-ports-range` allows a site-chosen range (5000-6000), which the standard
/// leaves to each cluster ("a known list") and Pod Security Admission does not support.
const NOT_A_CONTROL: &[&str] = &["disallow-host-ports-range"];

/// A kyverno-test.yaml as JSON (the manifest loader leaves test suites out, as `check` does).
fn read_test(path: &Path) -> serde_json::Value {
    use tollgate_yaml::read::{read_documents, Schema};
    use tollgate_yaml::tree::{Entry, Node, Scalar};
    fn json(n: &Node) -> serde_json::Value {
        match n {
            Node::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Pair(k, v) => Some((k.clone(), json(v))),
                        _ => None,
                    })
                    .collect(),
            ),
            Node::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .filter(|i| !matches!(i, Node::Comment(_)))
                    .map(json)
                    .collect(),
            ),
            Node::Scalar(Scalar::Str(s)) => s.clone().into(),
            Node::Scalar(Scalar::Bool(b)) => (*b).into(),
            Node::Scalar(Scalar::Int(i)) => (*i).into(),
            _ => serde_json::Value::Null,
        }
    }
    let text = std::fs::read_to_string(path).unwrap();
    let docs = read_documents(&text, Schema::Kubernetes).unwrap();
    json(&docs[0].root)
}

fn tests_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            tests_under(&p, out);
        } else if p.file_name().is_some_and(|n| n == "kyverno-test.yaml") {
            out.push(p);
        }
    }
}

#[test]
fn the_pss_pack_agrees_with_every_verdict_of_the_kyverno_pod_security_tests() {
    let root = corpus();
    assert!(
        root.join("kyverno-policies/pod-security").is_dir(),
        "the corpus is expected at {} (the project's ../shared checkout)",
        root.display()
    );
    let mut files = Vec::new();
    for d in [
        "kyverno-policies/pod-security",
        "kyverno-policies-cel/pod-security-cel",
        "kyverno-policies-cel/pod-security-vpol",
    ] {
        tests_under(&root.join(d), &mut files);
    }
    files.sort();
    let (mut compared, mut per_rule) = (0usize, BTreeMap::<&str, usize>::new());
    let mut disagreements = Vec::new();
    for test in &files {
        let dir = test.parent().unwrap();
        let spec = &read_test(test);
        let resources: Vec<PathBuf> = spec["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| dir.join(r.as_str().unwrap()))
            .collect();
        let loaded = load_paths(&resources, &[]);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        // (rule, kind, name) -> whether any policy (or policy rule) of the control expects a
        // failure: a control Kyverno splits into several rules or policies is one rule here.
        let mut expected: BTreeMap<(&str, Option<&str>, String, String), bool> = BTreeMap::new();
        for result in spec["results"].as_array().unwrap() {
            let policy = result["policy"].as_str().unwrap();
            if NOT_A_CONTROL.contains(&policy) {
                continue;
            }
            let id = MAP
                .iter()
                .find(|(p, _)| *p == policy)
                .map(|(_, id)| *id)
                .unwrap_or_else(|| panic!("{}: policy {policy} maps to no rule", test.display()));
            let kind = result["kind"].as_str().unwrap_or("").to_owned();
            let rule_name = result["rule"].as_str().unwrap_or(policy);
            let half = HALVES
                .iter()
                .find(|(name, _)| rule_name.contains(name) || policy == *name)
                .map(|(_, text)| *text);
            let fails = result["result"] == "fail";
            let names: Vec<String> = match result.get("resources").and_then(|r| r.as_array()) {
                Some(list) => list
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect(),
                None => vec![result["resource"].as_str().unwrap().to_owned()],
            };
            for name in names {
                let e = expected.entry((id, half, kind.clone(), name)).or_default();
                *e |= fails;
            }
        }
        for ((id, half, kind, name), fails) in expected {
            let rule = RULES.iter().find(|r| r.id == id).unwrap();
            let resource = loaded
                .resources
                .iter()
                .find(|r| r.kind == kind && r.name.as_deref() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("{}: no {kind} {name}", test.display()));
            let eval = checks::evaluate(&[*rule], std::slice::from_ref(resource), false);
            assert!(eval.errors.is_empty(), "{:?}", eval.errors);
            let found = eval
                .findings
                .iter()
                .any(|f| half.is_none_or(|text| f.message.contains(text)));
            if found != fails {
                disagreements.push(format!(
                    "{}: the test says {kind} {name} {}, {id} {}",
                    test.strip_prefix(&root).unwrap_or(test).display(),
                    if fails { "fails" } else { "passes" },
                    if found {
                        "finds something"
                    } else {
                        "finds nothing"
                    }
                ));
            }
            compared += 1;
            *per_rule.entry(id).or_default() += 1;
        }
    }
    eprintln!(
        "{compared} verdicts of {} tests compared: {per_rule:?}",
        files.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // Every control the corpus covers was compared, on many resources.
    assert!(compared > 1000, "only {compared} verdicts compared");
    for (_, id) in MAP.iter().filter(|(p, _)| *p != "require-run-as-nonroot") {
        assert!(
            per_rule.get(id).copied().unwrap_or(0) >= 6,
            "{id}: {per_rule:?}"
        );
    }
}
