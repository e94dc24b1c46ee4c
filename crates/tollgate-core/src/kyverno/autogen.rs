//! Autogen: Kyverno rewrites a rule written for Pods into `autogen-<rule>` for the pod
//! controllers and `autogen-cronjob-<rule>` for CronJobs, so one policy covers the templates of
//! Deployments, Jobs, CronJobs and the rest.

use serde_json::{Map, Value};

/// Controllers that get `autogen-` rules, with the kinds their rules match.
const CONTROLLERS: &[(&str, &str)] = &[
    ("DaemonSet", "apps/v1/DaemonSet"),
    ("Deployment", "apps/v1/Deployment"),
    ("Job", "batch/v1/Job"),
    ("StatefulSet", "apps/v1/StatefulSet"),
    ("ReplicaSet", "apps/v1/ReplicaSet"),
    ("ReplicationController", "v1/ReplicationController"),
];

/// The annotation that limits (or, with `none`, disables) autogen.
pub const ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

fn filters(block: Option<&Value>) -> Vec<&Map<String, Value>> {
    let Some(Value::Object(b)) = block else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in ["any", "all"] {
        if let Some(Value::Array(fs)) = b.get(key) {
            out.extend(
                fs.iter()
                    .filter_map(|f| f.get("resources").and_then(Value::as_object)),
            );
        }
    }
    if let Some(Value::Object(r)) = b.get("resources") {
        out.push(r);
    }
    out
}

fn kinds(f: &Map<String, Value>) -> Vec<&str> {
    f.get("kinds")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn is_pod(kind: &str) -> bool {
    kind.rsplit('/').next() == Some("Pod")
}

/// Whether a rule is written for Pods only (its match kinds are all `Pod`).
fn pod_only(rule: &Value) -> bool {
    let fs = filters(rule.get("match"));
    !fs.is_empty()
        && fs.iter().all(|f| {
            let k = kinds(f);
            !k.is_empty() && k.iter().all(|k| is_pod(k))
        })
}

/// Whether anything in the policy stops autogen for all its rules.
fn policy_eligible(rules: &[Value]) -> bool {
    rules.iter().all(|r| {
        if r.get("generate").is_some() {
            return false;
        }
        if let Some(m) = r.get("mutate") {
            if m.get("patchesJson6902").is_some()
                || m.get("foreach")
                    .and_then(Value::as_array)
                    .is_some_and(|fe| fe.iter().any(|f| f.get("patchesJson6902").is_some()))
            {
                return false;
            }
        }
        for block in [r.get("match"), r.get("exclude")] {
            for f in filters(block) {
                if ["name", "names", "selector", "annotations"]
                    .iter()
                    .any(|k| f.get(*k).is_some_and(|v| !v.is_null()))
                {
                    return false;
                }
                let k = kinds(f);
                if k.iter().any(|k| is_pod(k)) && k.len() > 1 {
                    return false;
                }
            }
        }
        true
    })
}

/// The controllers to generate for, from the policy's annotation.
fn controllers(annotation: Option<&str>) -> (Vec<&'static str>, bool) {
    match annotation.map(str::trim) {
        Some("none") => (Vec::new(), false),
        Some(list) if !list.is_empty() && list != "all" => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            let ctl = CONTROLLERS
                .iter()
                .filter(|(k, _)| wanted.contains(k))
                .map(|(_, gvk)| *gvk)
                .collect();
            (ctl, wanted.contains(&"CronJob"))
        }
        _ => (CONTROLLERS.iter().map(|(_, gvk)| *gvk).collect(), true),
    }
}

fn truncate_name(name: String) -> String {
    if name.len() <= 63 {
        return name;
    }
    let end = (0..=63)
        .rev()
        .find(|&i| name.is_char_boundary(i))
        .unwrap_or(0);
    name.get(..end).unwrap_or_default().to_owned()
}

fn replace_kinds(block: &mut Value, new_kinds: &[&str]) {
    let Value::Object(b) = block else { return };
    let set = |r: &mut Value| {
        if let Some(Value::Array(k)) = r.get_mut("kinds") {
            if k.iter().any(|x| x.as_str().is_some_and(is_pod)) {
                *k = new_kinds
                    .iter()
                    .map(|s| Value::String((*s).into()))
                    .collect();
            }
        }
    };
    for key in ["any", "all"] {
        if let Some(Value::Array(fs)) = b.get_mut(key) {
            for f in fs {
                if let Some(r) = f.get_mut("resources") {
                    set(r);
                }
            }
        }
    }
    if let Some(r) = b.get_mut("resources") {
        set(r);
    }
}

fn wrap(pattern: &Value, cronjob: bool) -> Value {
    let template = serde_json::json!({ "template": pattern });
    if cronjob {
        serde_json::json!({"spec": {"jobTemplate": {"spec": template}}})
    } else {
        serde_json::json!({ "spec": template })
    }
}

fn generate(rule: &Value, name_prefix: &str, kinds: &[&str], cronjob: bool) -> Option<Value> {
    let target = if cronjob {
        "spec.jobTemplate.spec.template"
    } else {
        "spec.template"
    };
    // Kyverno rewrites the rule's JSON text: every `request.object.spec`/`metadata` reference
    // moves into the pod template (`object.spec`/`metadata` in CEL rules, which name `object`
    // and `oldObject` directly).
    let roots: [&str; 2] = if rule.pointer("/validate/cel").is_some() {
        ["object", "oldObject"]
    } else {
        ["request.object", "request.oldObject"]
    };
    let mut text = serde_json::to_string(rule).ok()?;
    for field in ["spec", "metadata"] {
        for root in roots {
            text = text.replace(
                &format!("{root}.{field}"),
                &format!("{root}.{target}.{field}"),
            );
        }
    }
    let mut r: Value = serde_json::from_str(&text).ok()?;
    let name = r
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if let Some(rule) = r.as_object_mut() {
        rule.insert(
            "name".into(),
            Value::String(truncate_name(format!("{name_prefix}{name}"))),
        );
    }
    if let Some(m) = r.get_mut("match") {
        replace_kinds(m, kinds);
    }
    if let Some(e) = r.get_mut("exclude") {
        replace_kinds(e, kinds);
    }
    if let Some(Value::Object(v)) = r.get_mut("validate") {
        if let Some(p) = v.get("pattern").cloned() {
            v.insert("pattern".into(), wrap(&p, cronjob));
        }
        if let Some(Value::Array(ps)) = v.get("anyPattern").cloned() {
            v.insert(
                "anyPattern".into(),
                Value::Array(ps.iter().map(|p| wrap(p, cronjob)).collect()),
            );
        }
    }
    Some(r)
}

/// The rules generated for a policy's rules: (index of the source rule, generated rule).
pub fn expand(rules: &[Value], annotation: Option<&str>) -> Vec<(usize, Value)> {
    if !policy_eligible(rules) {
        return Vec::new();
    }
    let (ctl, cron) = controllers(annotation);
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if !pod_only(rule) {
            continue;
        }
        if !ctl.is_empty() {
            if let Some(r) = generate(rule, "autogen-", &ctl, false) {
                out.push((i, r));
            }
        }
        if cron {
            if let Some(r) = generate(rule, "autogen-cronjob-", &["batch/v1/CronJob"], true) {
                out.push((i, r));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_rules_get_controller_and_cronjob_twins() {
        let rule = json!({
            "name": "r",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "preconditions": {"all": [{"key": "{{ request.object.spec.x || '' }}", "operator": "Equals", "value": ""}]},
            "validate": {"pattern": {"spec": {"hostNetwork": false}}}
        });
        let out = expand(&[rule], None);
        assert_eq!(out.len(), 2);
        let (_, a) = &out[0];
        assert_eq!(a["name"], "autogen-r");
        assert_eq!(
            a["validate"]["pattern"],
            json!({"spec": {"template": {"spec": {"hostNetwork": false}}}})
        );
        assert_eq!(
            a["preconditions"]["all"][0]["key"],
            "{{ request.object.spec.template.spec.x || '' }}"
        );
        assert_eq!(
            a["match"]["any"][0]["resources"]["kinds"][1],
            "apps/v1/Deployment"
        );
        let (_, c) = &out[1];
        assert_eq!(c["name"], "autogen-cronjob-r");
        assert_eq!(
            c["validate"]["pattern"]["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            json!({"hostNetwork": false})
        );
    }

    #[test]
    fn annotation_and_ineligible_policies() {
        let rule = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"pattern": {}}});
        assert!(expand(std::slice::from_ref(&rule), Some("none")).is_empty());
        let out = expand(std::slice::from_ref(&rule), Some("Deployment"));
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].1["match"]["any"][0]["resources"]["kinds"],
            json!(["apps/v1/Deployment"])
        );
        let named = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["x"]}}]}, "validate": {"pattern": {}}});
        assert!(expand(&[named], None).is_empty());
        let mixed = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod", "Service"]}}]}, "validate": {"pattern": {}}});
        assert!(expand(&[mixed], None).is_empty());
    }
}
