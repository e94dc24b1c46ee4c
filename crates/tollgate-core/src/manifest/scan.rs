//! What a check reads from a repository: the walk, minus what the cluster never receives
//! (kustomize configuration, patches, `.sourceignore`d and excluded files, Kyverno test
//! suites), and with `render` the output of every Kustomize, Flux and Argo CD root in place of
//! the files those roots include.

use super::{expand, load, Input, Inventory, LoadError, SkipReason, Skipped};
use crate::render::kustomization::{file_in, is_kustomization_name, normalize, Kustomization};
use crate::render::{self, argocd, flux, Renderer, Root, Source};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Path globs never loaded (tollgate.yaml `exclude`).
    pub exclude: Vec<String>,
    /// Render Kustomize, Flux and Argo CD roots and check their output.
    pub render: bool,
    /// Repository URLs Argo CD Applications may name for this repository, besides its git
    /// remotes (tollgate.yaml `render.argocd_repos`).
    pub argocd_repos: Vec<String>,
    /// Leave out documents that are not Kubernetes objects (`--kubernetes-only`); by default
    /// they are inputs for Rego policies, as conftest reads them.
    pub kubernetes_only: bool,
}

/// Why a scan could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// `render` without a kustomize or kubectl binary.
    NoRenderer,
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::NoRenderer => f.write_str(
                "rendering needs `kustomize` or `kubectl` on PATH (or TOLLGATE_KUSTOMIZE naming one)",
            ),
        }
    }
}

/// Counts the documents of a file without keeping them, for the skipped summary.
fn documents_in(file: &Path) -> usize {
    std::fs::read_to_string(file).map_or(1, |text| documents_of(&text))
}

/// The non-empty documents of a YAML text.
fn documents_of(text: &str) -> usize {
    let mut n = 0usize;
    let mut content = false;
    for line in text.lines() {
        if line.trim_end() == "---" {
            n = n.saturating_add(usize::from(content));
            content = false;
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            content = true;
        }
    }
    n.saturating_add(usize::from(content)).max(1)
}

/// The `.sourceignore` matchers that apply to files below the repository root.
struct SourceIgnores {
    by_dir: HashMap<PathBuf, Option<(ignore::gitignore::Gitignore, String)>>,
    root: PathBuf,
}

impl SourceIgnores {
    fn new(root: PathBuf) -> Self {
        SourceIgnores {
            by_dir: HashMap::new(),
            root,
        }
    }

    /// The `.sourceignore` (by name) that ignores `file`, if any.
    fn ignoring(&mut self, file: &Path) -> Option<String> {
        let abs = std::path::absolute(file).ok()?;
        for dir in abs.ancestors().skip(1) {
            if !dir.starts_with(&self.root) {
                break;
            }
            let entry = self.by_dir.entry(dir.to_path_buf()).or_insert_with(|| {
                let f = dir.join(".sourceignore");
                f.is_file().then(|| {
                    let (gi, _) = ignore::gitignore::Gitignore::new(&f);
                    (gi, render::relative_to_cwd(&f).display().to_string())
                })
            });
            if let Some((gi, name)) = entry {
                if gi.matched_path_or_any_parents(&abs, false).is_ignore() {
                    return Some(name.clone());
                }
            }
        }
        None
    }
}

/// The files a kustomization directory includes as resources, transitively.
fn closure(
    dir: &Path,
    cache: &mut HashMap<PathBuf, Option<Kustomization>>,
    out: &mut BTreeSet<PathBuf>,
    seen: &mut BTreeSet<PathBuf>,
) {
    if !seen.insert(dir.to_path_buf()) {
        return;
    }
    let k = cache
        .entry(dir.to_path_buf())
        .or_insert_with(|| {
            let f = file_in(dir)?;
            let text = std::fs::read_to_string(&f).ok()?;
            Kustomization::parse(&f, &text).ok()
        })
        .clone();
    let Some(k) = k else { return };
    out.extend(k.resource_files.iter().cloned());
    for d in &k.dirs {
        closure(d, cache, out, seen);
    }
}

/// The files a root is built from.
fn root_files(
    root: &Root,
    cache: &mut HashMap<PathBuf, Option<Kustomization>>,
) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    match &root.source {
        Source::Kustomization => closure(&root.dir, cache, &mut out, &mut seen),
        Source::Files(files) => {
            for f in files {
                if f.is_dir() {
                    closure(f, cache, &mut out, &mut seen);
                } else {
                    out.insert(f.clone());
                }
            }
        }
    }
    out
}

/// Scans paths as `tollgate check` takes them (`-` is stdin).
pub fn scan(paths: &[PathBuf], opts: &ScanOptions) -> Result<Inventory, ScanError> {
    let (inputs, walk_errors) = expand(paths);
    let mut skipped: Vec<Skipped> = Vec::new();
    let skip = |skipped: &mut Vec<Skipped>, file: &Path, reason: SkipReason| {
        skipped.push(Skipped {
            file: file.display().to_string(),
            documents: documents_in(file),
            reason,
        });
    };
    let excluded = super::path_globs(&opts.exclude);
    let start = paths.iter().find(|p| p.as_os_str() != "-").map_or_else(
        || PathBuf::from("."),
        |p| {
            if p.is_dir() {
                p.clone()
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            }
        },
    );
    let start = if start.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        start
    };
    let repo = render::repo_root(&start);
    let mut ignores = SourceIgnores::new(repo.clone());

    // Files named on the command line are read whatever their name; what a walk found is
    // sorted into what the cluster receives and what it does not.
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stdin = false;
    for input in inputs {
        match input {
            Input::Stdin => stdin = true,
            Input::File(p) => files.push(normalize(&p)),
        }
    }
    let mut kustomizations: BTreeMap<PathBuf, Kustomization> = BTreeMap::new();
    let mut errors: Vec<LoadError> = walk_errors;
    let mut kept: Vec<PathBuf> = Vec::new();
    let mut kyverno_resources: BTreeSet<PathBuf> = BTreeSet::new();
    for f in files {
        let name = f.display().to_string();
        if excluded.as_ref().is_some_and(|s| s.is_match(&name)) {
            skip(&mut skipped, &f, SkipReason::Excluded);
            continue;
        }
        if let Some(by) = ignores.ignoring(&f) {
            skip(&mut skipped, &f, SkipReason::SourceIgnore(by));
            continue;
        }
        if f.file_name().is_some_and(|n| n == crate::config::FILE_NAME) {
            skip(&mut skipped, &f, SkipReason::TollgateConfig);
            continue;
        }
        let kyverno_test = f.file_name().is_some_and(|n| n == "kyverno-test.yaml");
        if !is_kustomization_name(&f) && !kyverno_test {
            kept.push(f);
            continue;
        }
        // Read once: what it refers to, and how many documents it skips.
        let text = std::fs::read_to_string(&f).map_err(|e| e.to_string());
        skipped.push(Skipped {
            file: name.clone(),
            documents: text.as_deref().map_or(1, documents_of),
            reason: if kyverno_test {
                SkipReason::KyvernoTest
            } else {
                SkipReason::KustomizeConfig
            },
        });
        if kyverno_test {
            // The suite and the resource files it tests are never deployed.
            let docs = text
                .and_then(|t| super::json_documents(&t))
                .unwrap_or_default();
            let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
            for r in docs
                .iter()
                .filter_map(|d| d.get("resources").and_then(serde_json::Value::as_array))
                .flatten()
                .filter_map(serde_json::Value::as_str)
            {
                kyverno_resources.insert(normalize(&dir.join(r)));
            }
            continue;
        }
        match text.and_then(|t| Kustomization::parse(&f, &t)) {
            Ok(k) => {
                kustomizations.insert(k.dir.clone(), k);
            }
            Err(message) => errors.push(LoadError {
                file: name,
                message,
            }),
        }
    }
    // Patches and kustomize's own inputs are never applied as they are.
    let mut not_resources: BTreeMap<PathBuf, SkipReason> = BTreeMap::new();
    let resource_files: BTreeSet<&PathBuf> = kustomizations
        .values()
        .flat_map(|k| &k.resource_files)
        .collect();
    for k in kustomizations.values() {
        let by = k.file.display().to_string();
        for p in &k.patch_files {
            if !resource_files.contains(p) {
                not_resources
                    .entry(p.clone())
                    .or_insert_with(|| SkipReason::Patch(by.clone()));
            }
        }
        for p in &k.config_files {
            if !resource_files.contains(p) {
                not_resources
                    .entry(p.clone())
                    .or_insert(SkipReason::KustomizeConfig);
            }
        }
    }
    for p in &kyverno_resources {
        not_resources
            .entry(p.clone())
            .or_insert(SkipReason::KyvernoTest);
    }
    let mut to_load = Vec::new();
    for f in kept {
        match not_resources.get(&f) {
            Some(reason) => skip(&mut skipped, &f, reason.clone()),
            None => to_load.push(Input::File(f)),
        }
    }
    if stdin {
        to_load.push(Input::Stdin);
    }
    let mut inv = load(&to_load);
    inv.errors.extend(errors);
    inv.skipped.extend(skipped);

    if opts.render {
        render_roots(&mut inv, &kustomizations, &repo, opts)?;
    }
    for r in &inv.resources {
        if r.kind == "HelmRelease" && r.api_version.starts_with("helm.toolkit.fluxcd.io/") {
            inv.notes.push(format!(
                "{}:{}: HelmRelease {}/{} is not rendered (tollgate does not run helm); its chart is not checked",
                r.origin.file,
                r.origin.line,
                r.namespace.as_deref().unwrap_or("default"),
                r.name.as_deref().unwrap_or("")
            ));
        }
    }
    // Last, so the documents follow every object (rendered ones included): the engines that
    // judge objects only are then given the leading part, borrowed.
    if !opts.kubernetes_only {
        inv.include_documents();
    }
    inv.errors.sort_by(|a, b| a.file.cmp(&b.file));
    inv.skipped.sort();
    inv.notes.sort();
    inv.notes.dedup();
    Ok(inv)
}

/// Finds the roots, renders them in parallel and puts their output in place of the files
/// they include.
fn render_roots(
    inv: &mut Inventory,
    kustomizations: &BTreeMap<PathBuf, Kustomization>,
    repo: &Path,
    opts: &ScanOptions,
) -> Result<(), ScanError> {
    let included: BTreeSet<&PathBuf> = kustomizations.values().flat_map(|k| &k.dirs).collect();
    let mut roots: Vec<Root> = kustomizations
        .values()
        .filter(|k| !k.component && !included.contains(&k.dir))
        .map(|k| Root {
            label: k.dir.display().to_string(),
            dir: k.dir.clone(),
            source: Source::Kustomization,
            transforms: render::Transforms::default(),
            substitute: None,
            default_namespace: None,
            defined_in: None,
        })
        .collect();
    let mut notes = Vec::new();
    let mut ours = argocd::remotes(repo);
    ours.extend(opts.argocd_repos.iter().map(|u| argocd::normalize_url(u)));
    let mut deployed: Vec<Root> = Vec::new();
    for r in &inv.resources {
        if flux::is_flux_kustomization(r) {
            deployed.extend(flux::root_of(r, repo, &inv.resources, &mut notes));
        } else if argocd::is_argocd_app(r) {
            deployed.extend(argocd::roots_of(r, repo, &ours, &mut notes));
        }
    }
    // A controller's root over a directory replaces kustomize's root there: what it renders
    // is what the cluster gets. Without transforms the two are the same build, done once.
    for d in deployed {
        let plain = d.transforms.is_empty()
            && d.substitute.is_none()
            && d.default_namespace.is_none()
            && d.source == Source::Kustomization;
        if let Some(i) = roots
            .iter()
            .position(|r| r.dir == d.dir && r.defined_in.is_none())
        {
            if plain {
                continue;
            }
            roots.remove(i);
        }
        // The same build twice (two Applications of one directory alike) is done once.
        if !roots.iter().any(|r| {
            r.dir == d.dir
                && r.source == d.source
                && r.transforms == d.transforms
                && r.substitute == d.substitute
                && r.default_namespace == d.default_namespace
        }) {
            roots.push(d);
        }
    }
    roots.sort_by(|a, b| a.label.cmp(&b.label));
    if roots.is_empty() {
        inv.notes.extend(notes);
        return Ok(());
    }
    // Only a tree with something to render needs kustomize.
    let renderer = Renderer::find().ok_or(ScanError::NoRenderer)?;
    let renderer = &renderer;

    let mut cache = HashMap::new();
    let mut covered: BTreeMap<PathBuf, String> = BTreeMap::new();
    for root in &roots {
        for f in root_files(root, &mut cache) {
            covered.entry(f).or_insert_with(|| root.label.clone());
        }
    }
    // The files roots include are checked through their output; their loaded documents become
    // the sources rendered resources are located on.
    let (included, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut inv.resources)
        .into_iter()
        .partition(|r| covered.contains_key(Path::new(&*r.origin.file)));
    inv.resources = kept;
    let mut raw_counts: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for r in &included {
        let n = raw_counts
            .entry(PathBuf::from(&*r.origin.file))
            .or_default();
        *n = n.saturating_add(1);
    }
    let sources = render::origin_sources(included);
    for (f, n) in raw_counts {
        if let Some(label) = covered.get(&f) {
            inv.skipped.push(Skipped {
                file: f.display().to_string(),
                documents: n,
                reason: SkipReason::Rendered(label.clone()),
            });
        }
    }
    let built = render::render_all(roots, renderer, &sources);
    for (root, result) in built {
        match result {
            Ok(render::Rendered {
                resources,
                errors,
                missing,
            }) => {
                inv.resources.extend(resources);
                for message in errors {
                    inv.errors.push(LoadError {
                        file: root.label.clone(),
                        message,
                    });
                }
                if !missing.is_empty() {
                    notes.push(format!(
                        "{}: {}: postBuild variables without a value, left as written: {}",
                        root.defined_in.as_deref().unwrap_or(&root.label),
                        root.label,
                        missing
                            .iter()
                            .map(|m| format!("${{{m}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                inv.roots.push(root.label);
            }
            Err(message) => inv.errors.push(LoadError {
                file: root
                    .defined_in
                    .clone()
                    .unwrap_or_else(|| root.label.clone()),
                message: format!("render root {}: {message}", root.label),
            }),
        }
    }
    inv.notes.extend(notes);
    Ok(())
}
