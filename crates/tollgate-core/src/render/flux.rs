//! Flux `Kustomization` objects (`kustomize.toolkit.fluxcd.io`) as render roots: `spec.path`
//! in this repository, with the transforms kustomize-controller applies (`targetNamespace`,
//! `namePrefix`/`nameSuffix`, `patches`, `images`) and `postBuild` substitution.

use super::kustomization::file_in;
use super::substitute::Vars;
use super::{relative_to_cwd, Root, Source, Transforms};
use crate::manifest::Resource;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Whether a resource is a Flux `Kustomization`.
pub fn is_flux_kustomization(r: &Resource) -> bool {
    r.kind == "Kustomization" && r.api_version.starts_with("kustomize.toolkit.fluxcd.io/")
}

/// What Flux generates for a path without a kustomization: every YAML file below it, and a
/// directory that has its own kustomization as one entry (not descended into).
pub(crate) fn generated_resources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in super::entries(&d) {
            if p.is_dir() {
                if file_in(&p).is_some() {
                    out.push(p);
                } else {
                    stack.push(p);
                }
            } else if crate::manifest::is_manifest_path(&p)
                && p.extension().is_some_and(|e| e != "json")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The values of the ConfigMaps and Secrets `substituteFrom` names, from the repository's
/// resources; what cannot be read is a note.
fn substitute_from(
    k: &Resource,
    spec_from: &[Value],
    all: &[Resource],
    notes: &mut Vec<String>,
) -> Vars {
    use base64::Engine as _;
    let mut vars = Vars::default();
    for from in spec_from {
        let kind = from.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = from.get("name").and_then(Value::as_str).unwrap_or("");
        let optional = from.get("optional").and_then(Value::as_bool) == Some(true);
        let found = all.iter().find(|r| {
            r.kind == kind
                && r.name.as_deref() == Some(name)
                && (r.namespace.is_none() || r.namespace == k.namespace)
        });
        let Some(src) = found else {
            if !optional {
                notes.push(format!(
                    "{}: Kustomization {}: substituteFrom {kind} {name} is not in the repository; its variables stay unresolved",
                    k.origin.file,
                    name_of(k)
                ));
            }
            continue;
        };
        if src.sops_encrypted() {
            notes.push(format!(
                "{}: Kustomization {}: substituteFrom {kind} {name} is SOPS-encrypted; its variables stay unresolved",
                k.origin.file,
                name_of(k)
            ));
            continue;
        }
        let data = src.object.get("data").and_then(Value::as_object);
        for (key, v) in data.into_iter().flatten() {
            let Some(s) = v.as_str() else { continue };
            let value = if kind == "Secret" {
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
            } else {
                Some(s.to_owned())
            };
            if let Some(value) = value {
                vars.values.insert(key.clone(), value);
            }
        }
        if kind == "Secret" {
            let string_data = src.object.get("stringData").and_then(Value::as_object);
            for (key, v) in string_data.into_iter().flatten() {
                if let Some(s) = v.as_str() {
                    vars.values.insert(key.clone(), s.to_owned());
                }
            }
        }
    }
    vars
}

fn name_of(r: &Resource) -> String {
    format!(
        "{}/{}",
        r.namespace.as_deref().unwrap_or("default"),
        r.name.as_deref().unwrap_or("")
    )
}

/// The root a Flux `Kustomization` renders, if its path is in this repository.
pub fn root_of(
    k: &Resource,
    repo: &Path,
    all: &[Resource],
    notes: &mut Vec<String>,
) -> Option<Root> {
    let spec = k.object.get("spec")?;
    let source_kind = spec
        .get("sourceRef")
        .and_then(|s| s.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("GitRepository");
    if source_kind != "GitRepository" {
        notes.push(format!(
            "{}: Kustomization {}: its source is a {source_kind}, not this repository; not rendered",
            k.origin.file,
            name_of(k)
        ));
        return None;
    }
    let path = spec.get("path").and_then(Value::as_str).unwrap_or("./");
    let Some(dir_abs) = super::resolve_repo_path(path, repo, &k.origin.file) else {
        notes.push(format!(
            "{}: Kustomization {}: spec.path {path} is not a directory of this repository; not rendered",
            k.origin.file,
            name_of(k)
        ));
        return None;
    };
    let dir = relative_to_cwd(&dir_abs);
    let source = if file_in(&dir).is_some() {
        Source::Kustomization
    } else {
        Source::Files(generated_resources(&dir))
    };
    let mut t = Transforms {
        namespace: text(spec.get("targetNamespace")),
        name_prefix: text(spec.get("namePrefix")),
        name_suffix: text(spec.get("nameSuffix")),
        images: spec
            .get("images")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        patches: spec
            .get("patches")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        ..Transforms::default()
    };
    // The v1beta2 forms, still in many repositories.
    for p in spec
        .get("patchesStrategicMerge")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        t.patches
            .push(serde_json::json!({ "patch": serde_json::to_string(p).unwrap_or_default() }));
    }
    for p in spec
        .get("patchesJson6902")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ops = p
            .get("patch")
            .map(|o| serde_json::to_string(o).unwrap_or_default());
        t.patches
            .push(serde_json::json!({ "target": p.get("target"), "patch": ops }));
    }
    let post = spec.get("postBuild");
    let substitute = post.map(|post| {
        let from = post
            .get("substituteFrom")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut vars = substitute_from(k, &from, all, notes);
        for (key, v) in post
            .get("substitute")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vars.values.insert(key.clone(), value);
        }
        vars
    });
    Some(Root {
        label: format!("flux:{}", name_of(k)),
        dir,
        source,
        transforms: t,
        substitute,
        default_namespace: None,
        defined_in: Some(k.origin.file.to_string()),
    })
}
