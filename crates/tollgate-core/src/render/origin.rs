//! Maps rendered resources back to their source: kustomize's origin annotation names the
//! file, the document is found in it by kind and name, and a field keeps its source line only
//! when its value came through unchanged.

use super::{relative_to_cwd, Root};
use crate::manifest::{load_text, Origin, Resource};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The annotation `buildMetadata: [originAnnotations]` adds.
pub(crate) const ORIGIN: &str = "config.kubernetes.io/origin";

/// Source files read once per run, whichever roots include them.
#[derive(Default)]
pub(crate) struct SourceFiles {
    files: Mutex<HashMap<PathBuf, Arc<Vec<Resource>>>>,
}

impl SourceFiles {
    /// Files already loaded by the walk.
    pub(crate) fn seed(&self, resources: Vec<Resource>) {
        let mut by_file: HashMap<PathBuf, Vec<Resource>> = HashMap::new();
        for r in resources {
            by_file
                .entry(PathBuf::from(&*r.origin.file))
                .or_default()
                .push(r);
        }
        if let Ok(mut files) = self.files.lock() {
            files.extend(by_file.into_iter().map(|(k, v)| (k, Arc::new(v))));
        }
    }

    fn get(&self, file: &Path) -> Arc<Vec<Resource>> {
        if let Some(hit) = self.files.lock().ok().and_then(|f| f.get(file).cloned()) {
            return hit;
        }
        let name = file.display().to_string();
        let loaded = std::fs::read_to_string(file)
            .map(|text| load_text(&name, &text).resources)
            .unwrap_or_default();
        let loaded = Arc::new(loaded);
        if let Ok(mut files) = self.files.lock() {
            files.insert(file.to_path_buf(), loaded.clone());
        }
        loaded
    }
}

/// The source document of a rendered resource among a file's documents: same kind, then the
/// same name, else the one whose name the rendered name contains (a prefix or suffix was
/// added), else the only one of that kind.
fn source_doc<'a>(candidates: &'a [Resource], rendered: &Resource) -> Option<&'a Resource> {
    let same_kind: Vec<&Resource> = candidates
        .iter()
        .filter(|c| c.kind == rendered.kind)
        .collect();
    let name = rendered.name.as_deref().unwrap_or("");
    same_kind
        .iter()
        .find(|c| c.name.as_deref() == Some(name))
        .or_else(|| {
            same_kind
                .iter()
                .filter(|c| c.name.as_deref().is_some_and(|n| name.contains(n)))
                .max_by_key(|c| c.name.as_deref().map_or(0, str::len))
        })
        .or_else(|| (same_kind.len() == 1).then(|| same_kind.first()).flatten())
        .copied()
}

/// Takes the origin annotation off a rendered object (it is ours, not the user's) and returns
/// the file it names, relative to the working directory.
fn take_origin(object: &mut Value, wrapper: &Path) -> Option<PathBuf> {
    let meta = object.get_mut("metadata")?.as_object_mut()?;
    let annotations = meta.get_mut("annotations")?.as_object_mut()?;
    let text = annotations.remove(ORIGIN)?;
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    let doc = crate::manifest::json_documents(text.as_str()?)
        .ok()?
        .into_iter()
        .next()?;
    let path = doc
        .get("path")
        .or_else(|| doc.get("configuredIn"))
        .and_then(Value::as_str)?;
    // A resource fetched from a remote repository names its path there.
    if doc.get("repo").is_some() {
        return None;
    }
    Some(relative_to_cwd(&wrapper.join(path)))
}

/// The annotation a batch build puts on every resource to say which root it came from.
pub(crate) const ROOT: &str = "tollgate.dev/render-root";

/// The resources of a built root, each located on its source file.
pub(crate) fn remap(
    text: &str,
    wrapper: &Path,
    root: &Root,
    sources: &SourceFiles,
) -> (Vec<Resource>, Vec<String>) {
    let loaded = load_text(&root.label, text);
    let errors = loaded
        .errors
        .into_iter()
        .map(|e| format!("rendered output: {e}"))
        .collect();
    (
        remap_resources(loaded.resources, wrapper, root, sources),
        errors,
    )
}

/// Takes the batch annotation off a rendered object: the index of the root it names.
pub(crate) fn take_root(object: &mut Value) -> Option<usize> {
    let meta = object.get_mut("metadata")?.as_object_mut()?;
    let annotations = meta.get_mut("annotations")?.as_object_mut()?;
    let index = annotations.remove(ROOT)?.as_str()?.parse().ok();
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    index
}

/// Rendered resources of one root, each located on its source file.
pub(crate) fn remap_resources(
    resources: Vec<Resource>,
    wrapper: &Path,
    root: &Root,
    sources: &SourceFiles,
) -> Vec<Resource> {
    let label: Arc<str> = Arc::from(root.label.as_str());
    let fallback = super::kustomization::file_in(&root.dir)
        .map(|f| relative_to_cwd(&f))
        .unwrap_or_else(|| root.dir.clone())
        .display()
        .to_string();
    let mut out = Vec::with_capacity(resources.len());
    for mut r in resources {
        let file = take_origin(&mut r.object, wrapper);
        if let Some(ns) = &root.default_namespace {
            if r.namespace.is_none() && !crate::manifest::is_cluster_scoped(&r.kind) {
                if let Some(meta) = r.object.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.insert("namespace".into(), Value::String(ns.clone()));
                }
                r.namespace = Some(ns.clone());
            }
        }
        let source = file.as_deref().and_then(|f| {
            let docs = sources.get(f);
            source_doc(&docs, &r).map(|s| s.origin.rendered(&s.object, &r.object, &label))
        });
        r.origin = match source {
            Some(o) => o,
            None => Origin::of_root(
                &file.map_or_else(|| fallback.clone(), |f| f.display().to_string()),
                &label,
            ),
        };
        out.push(r);
    }
    out
}
