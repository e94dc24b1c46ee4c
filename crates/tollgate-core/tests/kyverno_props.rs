//! Kyverno evaluation never panics, whatever the resource: arbitrary JSON objects against the
//! fixture policies and against patterns, conditions and expressions of every kind.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tollgate_core::kyverno::{evaluate, jmes, ops, pattern, PolicySet, Request, Subject, Values};
use tollgate_core::manifest::{load, Input};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-z0-9*?:/.|&!<>=-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("1Gi"),
            Just("90s"),
            Just("5000-6000"),
            Just("!x"),
            Just(">=1")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-z]{1,8}".prop_map(|s| s),
                        Just("spec".to_owned()),
                        Just("containers".to_owned()),
                        Just("metadata".to_owned()),
                        Just("(name)".to_owned()),
                        Just("=(image)".to_owned()),
                        Just("X(hostPath)".to_owned()),
                        Just("^(ports)".to_owned()),
                        Just("<(kind)".to_owned()),
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn fixture_policies() -> PolicySet {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/kyverno/policies");
    let inputs: Vec<Input> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| Input::File(e.unwrap().path()))
        .collect();
    let set = PolicySet::from_resources(&load(&inputs).resources);
    assert!(set.errors.is_empty() && set.policies.len() == 2);
    set
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn evaluation_never_panics(spec in arb_json(), meta in arb_json(), op in prop_oneof![Just("CREATE"), Just("UPDATE"), Just("DELETE")]) {
        let set = fixture_policies();
        for kind in ["Pod", "Deployment", "CronJob"] {
            let object = json!({"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": spec});
            let req = Request { operation: op, old_object: Some(&object), user: None, namespaces: None, subresource: None };
            let subject = Subject::new(&object, req);
            for p in &set.policies {
                let _ = evaluate(p, &subject, &Values::default());
            }
        }
    }

    #[test]
    fn patterns_operators_and_expressions_never_panic(resource in arb_json(), pat in arb_json(), key in arb_json(), value in arb_json()) {
        let _ = pattern::validate(&resource, &pat);
        for name in ["Equals", "NotEquals", "AnyIn", "AllIn", "AnyNotIn", "AllNotIn", "GreaterThan", "LessThanOrEquals", "In", "NotIn"] {
            let _ = ops::condition(ops::Operator::parse(name).unwrap(), &key, &value);
        }
        let _ = ops::pattern_scalar(&resource, &pat);
        for e in ["@", "*.a[0]", "[].b || `1`", "keys(@)", "length(@)", "sum(@)", "to_string(@)", "add(@, @)", "items(@, 'k', 'v')", "[?@ > `1`]", "max(@)", "sort(@)", "split(to_string(@), '-')", "x509_decode(to_string(@))", "divide(`1`, @)", "time_add(to_string(@), '1h')", "base64_decode(to_string(@))", "regex_match('a+', to_string(@))", "[-1:0:-1]"] {
            let _ = jmes::compile(e).unwrap().search(&resource);
        }
    }

    /// foreach reads lists item by item, borrowed; the items must be what the plain evaluation
    /// of the same expression gives as one list.
    #[test]
    fn listed_items_are_the_evaluated_list(data in arb_json()) {
        for e in ["@", "[]", "[*]", "*", "*[]", "[].spec", "[*].[spec, metadata][]", "spec.[containers, metadata][]", "[?spec][]", "*.containers[]", "[][][]", "spec.containers[].metadata || `[]`"] {
            let expr = jmes::compile(e).unwrap();
            let whole = expr.search(&data).map(|v| v.into_owned());
            match expr.search_list(&data) {
                Ok(jmes::Listed::Items(items)) => {
                    let items: Vec<Value> = items.into_iter().map(|c| c.into_owned()).collect();
                    prop_assert_eq!(whole, Ok(Value::Array(items)), "{}", e);
                }
                Ok(jmes::Listed::Other(v)) => {
                    prop_assert!(!v.is_array(), "{}", e);
                    prop_assert_eq!(whole, Ok(v.into_owned()), "{}", e);
                }
                Err(err) => prop_assert_eq!(whole, Err(err), "{}", e),
            }
        }
    }
}
