//! Rendering: what the cluster receives from a repository is not its files but the output of
//! kustomize (directly, through a Flux `Kustomization`, or through an Argo CD `Application`).
//! This module finds those roots, builds them with the kustomize binary the user has, and
//! maps every rendered resource back to the file and line it came from.

// Reads repositories: no indexing or unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod argocd;
mod build;
pub mod flux;
pub mod kustomization;
mod origin;
pub mod substitute;

use serde_json::Value;
use std::path::{Path, PathBuf};

pub use build::Renderer;

/// One thing to render.
#[derive(Debug, Clone)]
pub struct Root {
    /// How findings name it (`apps/staging`, `flux:flux-system/apps`, `argocd:podinfo`).
    pub label: String,
    /// The directory rendered (relative to the working directory, normalized).
    pub dir: PathBuf,
    /// What the directory holds.
    pub source: Source,
    /// Transformations the deploying controller applies on top of the directory's own.
    pub transforms: Transforms,
    /// Flux `postBuild` substitution, applied to the rendered text.
    pub substitute: Option<substitute::Vars>,
    /// Argo CD's destination namespace: set on namespaced resources that have none.
    pub default_namespace: Option<String>,
    /// The file of the Flux or Argo CD object that made this a root, for messages.
    pub defined_in: Option<String>,
}

/// What a root's directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A kustomization.
    Kustomization,
    /// Plain manifests (a Flux path without a kustomization, an Argo CD directory source):
    /// these files and directories with their own kustomization.
    Files(Vec<PathBuf>),
}

/// Transformations a controller adds: a wrapper kustomization applies them, as Flux and Argo
/// CD do, so the user's files are never edited.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transforms {
    /// `namespace:` (Flux `targetNamespace`, Argo CD `kustomize.namespace`).
    pub namespace: Option<String>,
    /// `namePrefix:`.
    pub name_prefix: Option<String>,
    /// `nameSuffix:`.
    pub name_suffix: Option<String>,
    /// `images:` entries as kustomize takes them.
    pub images: Vec<Value>,
    /// `patches:` entries as kustomize takes them (inline `patch` and `target`).
    pub patches: Vec<Value>,
    /// `commonLabels:`.
    pub common_labels: Option<Value>,
    /// `commonAnnotations:`.
    pub common_annotations: Option<Value>,
}

impl Transforms {
    /// Whether there is nothing to add: the directory renders as kustomize alone would.
    pub fn is_empty(&self) -> bool {
        *self == Transforms::default()
    }
}

/// The source files rendered resources are mapped back to, seeded with the documents the walk
/// loaded from them.
pub(crate) fn origin_sources(loaded: Vec<crate::manifest::Resource>) -> origin::SourceFiles {
    let s = origin::SourceFiles::default();
    s.seed(loaded);
    s
}

/// What one root rendered to.
pub(crate) struct Rendered {
    /// Its resources, located on their sources.
    pub(crate) resources: Vec<crate::manifest::Resource>,
    /// Documents of the output that did not load.
    pub(crate) errors: Vec<String>,
    /// `postBuild` variables that had no value.
    pub(crate) missing: Vec<String>,
}

/// Renders one root; the error is why it could not be built.
pub(crate) fn render(
    root: &Root,
    renderer: &Renderer,
    sources: &origin::SourceFiles,
) -> Result<Rendered, String> {
    let built = build::build(root, renderer)?;
    let substituted = root
        .substitute
        .as_ref()
        .map(|vars| substitute::stream(&built.text, vars));
    let (text, missing) = match &substituted {
        Some((text, missing)) => (text.as_str(), missing.clone()),
        None => (built.text.as_str(), Vec::new()),
    };
    let (resources, errors) = origin::remap(text, &built.wrapper, root, sources);
    Ok(Rendered {
        resources,
        errors,
        missing,
    })
}

/// A root and its place in the order roots are reported in.
type Numbered = (usize, Root);

/// Renders every root, in parallel, each root's output or why it could not be built, in the
/// roots' order. Roots without a substitution are built in batches, one kustomize process per
/// thread (a kustomize start costs more than most builds); a batch that fails, or whose
/// output does not load cleanly, is built again root by root so each error names its root.
pub(crate) fn render_all(
    roots: Vec<Root>,
    renderer: &Renderer,
    sources: &origin::SourceFiles,
) -> Vec<(Root, Result<Rendered, String>)> {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads().max(1);
    let (batchable, single): (Vec<Numbered>, Vec<Numbered>) = roots
        .into_iter()
        .enumerate()
        .partition(|(_, r)| r.substitute.is_none());
    // Plain-file roots need kustomize's load restrictions off; kustomizations keep them.
    let (files, kustomizations): (Vec<Numbered>, Vec<Numbered>) = batchable
        .into_iter()
        .partition(|(_, r)| matches!(r.source, Source::Files(_)));
    let mut work: Vec<Vec<Numbered>> = single.into_iter().map(|r| vec![r]).collect();
    for group in [kustomizations, files] {
        if group.is_empty() {
            continue;
        }
        let per = group.len().div_ceil(threads);
        let mut it = group.into_iter().peekable();
        while it.peek().is_some() {
            work.push(it.by_ref().take(per).collect());
        }
    }
    let mut out: Vec<(usize, Root, Result<Rendered, String>)> = work
        .into_par_iter()
        .flat_map_iter(|batch| render_batch(batch, renderer, sources))
        .collect();
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, root, r)| (root, r)).collect()
}

fn render_batch(
    batch: Vec<Numbered>,
    renderer: &Renderer,
    sources: &origin::SourceFiles,
) -> Vec<(usize, Root, Result<Rendered, String>)> {
    let one_by_one = |batch: Vec<Numbered>| -> Vec<(usize, Root, Result<Rendered, String>)> {
        batch
            .into_iter()
            .map(|(i, root)| {
                let r = render(&root, renderer, sources);
                (i, root, r)
            })
            .collect()
    };
    if batch.len() < 2 {
        return one_by_one(batch);
    }
    let roots: Vec<&Root> = batch.iter().map(|(_, r)| r).collect();
    let Ok(built) = build::build_batch(&roots, renderer) else {
        return one_by_one(batch);
    };
    let loaded = crate::manifest::load_text("rendered", &built.text);
    if !loaded.errors.is_empty() {
        return one_by_one(batch);
    }
    let mut groups: Vec<Vec<crate::manifest::Resource>> =
        batch.iter().map(|_| Vec::new()).collect();
    for mut r in loaded.resources {
        let group = origin::take_root(&mut r.object).and_then(|i| groups.get_mut(i));
        match group {
            Some(g) => g.push(r),
            None => return one_by_one(batch),
        }
    }
    let base = built
        .wrapper
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    batch
        .into_iter()
        .zip(groups)
        .enumerate()
        .map(|(k, ((i, root), resources))| {
            let wrapper = base.join(format!("r{k}"));
            let resources = origin::remap_resources(resources, &wrapper, &root, sources);
            let rendered = Rendered {
                resources,
                errors: Vec::new(),
                missing: Vec::new(),
            };
            (i, root, Ok(rendered))
        })
        .collect()
}

/// Where a repository's root is: the nearest directory up from `start` with a `.git`, else
/// `start` itself. Flux and Argo CD paths are relative to it.
pub fn repo_root(start: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    abs.ancestors()
        .find(|d| d.join(".git").exists())
        .map_or(abs.clone(), Path::to_path_buf)
}

/// The directory a Flux or Argo CD path names: relative to the repository root, or, for a
/// repository kept inside another one (a fixture, a monorepo folder synced on its own), to
/// the nearest directory above the object's file where that path exists.
pub(crate) fn resolve_repo_path(path: &str, repo: &Path, object_file: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    let direct = kustomization::normalize(&repo.join(rel));
    if direct.is_dir() {
        return Some(direct);
    }
    let file = std::path::absolute(object_file).ok()?;
    file.ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(repo))
        .map(|d| kustomization::normalize(&d.join(rel)))
        .find(|d| d.is_dir())
}

/// The entries of a directory a controller reads, sorted, without hidden ones (`.git`,
/// editors' files): Flux and Argo CD skip them too.
pub(crate) fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    out.sort();
    out
}

/// `path` relative to the working directory, as the walk names files, normalized.
pub(crate) fn relative_to_cwd(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let path = kustomization::normalize(path);
    match path.strip_prefix(&cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) if path.is_absolute() => relative_path(&path, &cwd),
        Err(_) => path,
    }
}

/// `path` (absolute) relative to `base` (absolute), with `..` where needed.
pub(crate) fn relative_path(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in b.iter().skip(common) {
        out.push("..");
    }
    for c in p.iter().skip(common) {
        out.push(c.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_where_they_must() {
        assert_eq!(
            relative_path(Path::new("/a/b/c"), Path::new("/a/x")),
            PathBuf::from("../b/c")
        );
        assert_eq!(
            relative_path(Path::new("/a/b"), Path::new("/a/b")),
            PathBuf::new()
        );
    }
}
