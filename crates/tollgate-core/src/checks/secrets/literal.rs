//! SECRET003: a credential in a known format (a private key, a cloud access key, a forge or
//! chat token, a JWT) written where secrets do not belong: a container's environment, a
//! ConfigMap, an annotation. Those are plaintext by design, logged and shown by `kubectl`.

use super::super::{Check, Emit, Family, Model, Rule};
use super::detect;
use crate::finding::Severity;
use crate::manifest::Resource;
use serde_json::Value;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SECRET003",
    family: Family::Secrets,
    title: "A credential is written outside a Secret",
    severity: Severity::Error,
    inventory: false,
    description: "Container `env` values, ConfigMap `data` and the annotations of any object (the pod template's too) are plaintext by design: shown by `kubectl describe`, copied into `last-applied-configuration`, readable by anyone with `get` on the object. The rule recognises credentials by their documented formats: private keys (`-----BEGIN … PRIVATE KEY-----`), AWS access key ids (`AKIA…`/`ASIA…`, AWS's `…EXAMPLE` keys excepted), GCP service-account key JSON, Azure connection strings with an `AccountKey`/`SharedAccessKey`, GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), GitLab (`glpat-` and its siblings) and Slack (`xox?-`, incoming webhooks) tokens, and JSON Web Tokens. References (SECRET001's list) are not judged. The finding names the field and the kind of credential, never the value; the source line is masked in every report.",
    fix: "Move the value into a Secret (SOPS-encrypted) and read it with `valueFrom.secretKeyRef` or a volume; rotate the credential, it is in git history.",
    check: Check::Set(check),
};

/// A plaintext value that could hold a secret: where it is and what it is called.
pub(crate) struct Literal<'a> {
    pub(crate) resource: &'a Resource,
    pub(crate) path: String,
    /// The env variable, ConfigMap key or annotation key.
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
}

/// Every env value, ConfigMap value and annotation of the set.
pub(crate) fn literals<'a>(model: &Model<'a>) -> Vec<Literal<'a>> {
    let mut out = Vec::new();
    let map = |r: &'a Resource, base: &str, v: Option<&'a Value>, out: &mut Vec<Literal<'a>>| {
        for (k, v) in v.and_then(Value::as_object).into_iter().flatten() {
            if let Some(value) = v.as_str() {
                let mut path = base.to_owned();
                tollgate_yaml::read::push_key(&mut path, k);
                out.push(Literal {
                    resource: r,
                    path,
                    name: k,
                    value,
                });
            }
        }
    };
    for r in model.resources() {
        map(
            r,
            "metadata.annotations",
            r.object.pointer("/metadata/annotations"),
            &mut out,
        );
        if r.kind == "ConfigMap" && r.api_version == "v1" {
            map(r, "data", r.object.get("data"), &mut out);
        }
    }
    for pod in model.pods() {
        // A Pod's own metadata is the object's, judged above; a template's is its own.
        if pod.metadata_path.contains('.') {
            map(
                pod.resource,
                &format!("{}.annotations", pod.metadata_path),
                pod.metadata.and_then(|m| m.get("annotations")),
                &mut out,
            );
        }
        for c in pod.containers() {
            let env = c.value.get("env").and_then(Value::as_array);
            for (i, e) in env.into_iter().flatten().enumerate() {
                let (Some(name), Some(value)) = (
                    e.get("name").and_then(Value::as_str),
                    e.get("value").and_then(Value::as_str),
                ) else {
                    continue;
                };
                out.push(Literal {
                    resource: pod.resource,
                    path: format!("{}.env[{i}].value", c.path),
                    name,
                    value,
                });
            }
        }
    }
    out
}

fn check(model: &Model<'_>, emit: &mut Emit) {
    let settings = &model.settings().secrets;
    for l in model.literals() {
        if settings.is_reference(l.value) {
            continue;
        }
        if let Some(d) = detect::credential(l.value) {
            emit.secret_at(l.resource, &l.path, format!("{} holds {}", l.path, d.what));
        }
    }
}
