//! Kyverno context entries load lazily, as Kyverno 1.10+ does by default: an entry whose
//! JMESPath fails on a resource is an error only where a variable reads it.

use serde_json::json;
use tollgate_core::kyverno;
use tollgate_core::manifest::Resource;

fn policy() -> Resource {
    // `image` reads the first container of a pod template: on a Pod it is null (no default),
    // so loading it fails there. `unused` fails on every resource and nothing reads it.
    Resource::from_admission(
        json!({
            "apiVersion": "kyverno.io/v1",
            "kind": "ClusterPolicy",
            "metadata": {"name": "lazy"},
            "spec": {
                "validationFailureAction": "Enforce",
                "rules": [{
                    "name": "deployments-pin-images",
                    "match": {"any": [{"resources": {"kinds": ["Deployment", "Pod"]}}]},
                    "context": [
                        {"name": "image", "variable": {"jmesPath": "request.object.spec.template.spec.containers[0].image"}},
                        {"name": "unused", "variable": {"jmesPath": "request.object.nothing.here"}}
                    ],
                    "preconditions": {"all": [{"key": "{{ request.object.kind }}", "operator": "Equals", "value": "Deployment"}]},
                    "validate": {
                        "message": "image {{ image }} is not pinned",
                        "deny": {"conditions": {"all": [{"key": "{{ contains(image, '@') }}", "operator": "Equals", "value": false}]}}
                    }
                }, {
                    "name": "reads-it-in-preconditions",
                    "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "context": [
                        {"name": "image", "variable": {"jmesPath": "request.object.spec.template.spec.containers[0].image"}}
                    ],
                    "preconditions": {"all": [{"key": "{{ image }}", "operator": "NotEquals", "value": ""}]},
                    "validate": {"message": "never", "deny": {}}
                }]
            }
        }),
        "policy.yaml",
    )
}

fn object(kind: &str, spec: serde_json::Value) -> Resource {
    let api = if kind == "Pod" { "v1" } else { "apps/v1" };
    Resource::from_admission(
        json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": "a"}, "spec": spec}),
        kind,
    )
}

#[test]
fn a_context_entry_fails_a_rule_only_where_it_is_read() {
    let set = kyverno::PolicySet::from_resources(&[policy()]);
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let pod = object(
        "Pod",
        json!({"containers": [{"name": "c", "image": "nginx:1.27"}]}),
    );
    let deployment = object(
        "Deployment",
        json!({"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}),
    );
    let (findings, errors) = kyverno::check(&set, &[pod, deployment], None);
    // Rule 1 on the Pod: `image` fails to load, but the preconditions (kind == Deployment)
    // do not read it and exclude the Pod: skipped, not an error. `unused` fails on both
    // resources and nothing reads it: never loaded in Kyverno, ignored here.
    // Rule 1 on the Deployment: image = nginx:1.27 has no `@`: the deny holds -> a finding.
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule_id, "lazy/deployments-pin-images");
    assert_eq!(findings[0].resource.kind, "Deployment");
    assert_eq!(findings[0].message, "image nginx:1.27 is not pinned");
    // Rule 2 on the Pod reads `image` in its preconditions: loading it fails -> an
    // evaluation error for that rule and resource.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].message.contains("reads-it-in-preconditions")
            && errors[0].message.contains("failed to load context")
            && errors[0].message.contains("Unknown key \"template\""),
        "{}",
        errors[0].message
    );
}
