//! SECRET002: a workload references a Secret that nothing in the set provides: no Secret, no
//! SealedSecret, ExternalSecret or cert-manager Certificate produces it. The pod will not
//! start (or starts without what it needs) once it is applied.

use super::super::pods::Pod;
use super::super::{namespace_of, Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use serde_json::Value;
use std::collections::HashSet;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SECRET002",
    family: Family::Secrets,
    title: "A workload references a Secret no manifest provides",
    severity: Severity::Info,
    // It judges a reference against the whole set.
    inventory: true,
    description: "A pod that mounts a Secret, reads a key of it into an environment variable, takes all of it with `envFrom`, or pulls images with it (`imagePullSecrets`) stays in ContainerCreating (or fails to pull) when the Secret does not exist. In a GitOps repository the Secret comes from a manifest: a Secret (SOPS-encrypted or not), a SealedSecret (its `spec.template.metadata.name`, else its name), an ExternalSecret (its `spec.target.name`, else its name) or a cert-manager Certificate (`spec.secretName`), in the same namespace. References marked `optional: true` are not reported. Info by default: a Secret created in the cluster by hand or by an operator is invisible here, and without `--render` a kustomize `secretGenerator`'s Secret is not in the set.",
    fix: "Add the Secret (encrypted with `tollgate sops encrypt -i`), a SealedSecret or an ExternalSecret for it to the workload's namespace, fix the name, or mark the reference `optional: true` if the pod can do without it.",
    check: Check::Set(check),
};

fn text<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// `(namespace, name)` of every Secret the set provides.
fn provided(model: &Model<'_>) -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    for r in model.resources() {
        let name = match (
            r.api_version.split('/').next().unwrap_or(""),
            r.kind.as_str(),
        ) {
            ("v1", "Secret") => r.name.as_deref(),
            ("bitnami.com", "SealedSecret") => {
                text(&r.object, &["spec", "template", "metadata", "name"]).or(r.name.as_deref())
            }
            ("external-secrets.io", "ExternalSecret") => {
                text(&r.object, &["spec", "target", "name"]).or(r.name.as_deref())
            }
            ("cert-manager.io", "Certificate") => text(&r.object, &["spec", "secretName"]),
            _ => None,
        };
        if let Some(name) = name {
            out.insert((namespace_of(r).to_owned(), name.to_owned()));
        }
    }
    out
}

/// The list under `key`, or none.
fn items<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Every non-optional Secret reference of a pod template: `(field path, name)`.
fn references(pod: &Pod<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // A reference object (`secretKeyRef`, `secretRef`, `secret`) names its Secret under `key`;
    // one marked `optional: true` is not needed.
    let mut take = |r: Option<&Value>, key: &str, path: String| {
        let Some(r) = r else { return };
        if r.get("optional").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if let Some(name) = r.get(key).and_then(Value::as_str).filter(|n| !n.is_empty()) {
            out.push((format!("{path}.{key}"), name.to_owned()));
        }
    };
    for c in pod.containers() {
        for (j, e) in items(c.value, "env").iter().enumerate() {
            let r = e.get("valueFrom").and_then(|v| v.get("secretKeyRef"));
            take(
                r,
                "name",
                format!("{}.env[{j}].valueFrom.secretKeyRef", c.path),
            );
        }
        for (j, e) in items(c.value, "envFrom").iter().enumerate() {
            take(
                e.get("secretRef"),
                "name",
                format!("{}.envFrom[{j}].secretRef", c.path),
            );
        }
    }
    let at = &pod.spec_path;
    for (i, v) in items(pod.spec, "volumes").iter().enumerate() {
        take(
            v.get("secret"),
            "secretName",
            format!("{at}.volumes[{i}].secret"),
        );
        let sources = v
            .get("projected")
            .map(|p| items(p, "sources"))
            .unwrap_or_default();
        for (j, s) in sources.iter().enumerate() {
            take(
                s.get("secret"),
                "name",
                format!("{at}.volumes[{i}].projected.sources[{j}].secret"),
            );
        }
    }
    for (i, p) in items(pod.spec, "imagePullSecrets").iter().enumerate() {
        take(Some(p), "name", format!("{at}.imagePullSecrets[{i}]"));
    }
    out
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    let provided = provided(model);
    for pod in model.pods() {
        let r = pod.resource;
        let namespace = namespace_of(r);
        for (path, name) in references(pod) {
            if provided.contains(&(namespace.to_owned(), name.clone())) {
                continue;
            }
            emit.at(
                r,
                &path,
                format!(
                    "{} {namespace}/{} references Secret {namespace}/{name}, which no Secret, SealedSecret, ExternalSecret or Certificate of the manifests provides",
                    r.kind,
                    r.name.as_deref().unwrap_or_default()
                ),
            );
        }
    }
}
