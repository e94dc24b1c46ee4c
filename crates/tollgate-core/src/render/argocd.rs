//! Argo CD `Application` objects (and the Applications an `ApplicationSet`'s git-directory or
//! list generator makes) whose source is this repository, as render roots: directory sources
//! (`recurse`, `include`, `exclude`), Kustomize sources with `spec.source.kustomize`, and the
//! destination namespace, as Argo CD applies them. Helm sources are not rendered (a note).

use super::kustomization::{file_in, normalize};
use super::{relative_to_cwd, Root, Source, Transforms};
use crate::manifest::Resource;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Whether a resource is an Argo CD `Application` or `ApplicationSet`.
pub fn is_argocd_app(r: &Resource) -> bool {
    r.api_version.starts_with("argoproj.io/")
        && matches!(r.kind.as_str(), "Application" | "ApplicationSet")
}

/// A repository URL reduced to `host/path`, so `git@github.com:org/repo.git` and
/// `https://github.com/org/repo` compare equal.
pub fn normalize_url(url: &str) -> String {
    let mut u = url.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://", "ssh://", "git://", "git+ssh://"] {
        if let Some(rest) = u.strip_prefix(scheme) {
            u = rest.to_owned();
        }
    }
    if let Some((_, rest)) = u.split_once('@') {
        u = rest.to_owned();
    }
    // scp-like `host:org/repo`; a `host:port/` keeps its path.
    if let Some((host, path)) = u.split_once(':') {
        let path = path.trim_start_matches(|c: char| c.is_ascii_digit());
        u = format!("{host}/{}", path.trim_start_matches('/'));
    }
    u.trim_end_matches('/').trim_end_matches(".git").to_owned()
}

/// The remote URLs of the repository at `repo`, from `.git/config`.
pub fn remotes(repo: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(repo.join(".git/config")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("url"))
        .filter_map(|l| l.trim_start().strip_prefix('='))
        .map(|u| normalize_url(u.trim()))
        .collect()
}

/// An Argo CD image override (`name=new:tag`, `name:tag`, `name@sha256:…`) as a kustomize
/// `images:` entry.
fn image_entry(s: &str) -> Value {
    let (name, new) = match s.split_once('=') {
        Some((n, v)) => (n.to_owned(), Some(v)),
        None => (String::new(), None),
    };
    let spec = new.unwrap_or(s);
    let (image, digest) = match spec.split_once('@') {
        Some((i, d)) => (i, Some(d)),
        None => (spec, None),
    };
    // A tag is after the last `:` that follows the last `/` (a registry port is not a tag).
    let slash = image.rfind('/').map_or(0, |i| i.saturating_add(1));
    let (repo, tag) = match image.get(slash..).and_then(|tail| tail.rfind(':')) {
        Some(i) => {
            let at = slash.saturating_add(i);
            (
                image.get(..at).unwrap_or(image),
                image.get(at.saturating_add(1)..),
            )
        }
        None => (image, None),
    };
    let mut e = Map::new();
    let name = if name.is_empty() {
        repo.to_owned()
    } else {
        name
    };
    if name != repo {
        e.insert("newName".into(), json!(repo));
    }
    e.insert("name".into(), json!(name));
    if let Some(t) = tag {
        e.insert("newTag".into(), json!(t));
    }
    if let Some(d) = digest {
        e.insert("digest".into(), json!(d));
    }
    Value::Object(e)
}

/// A directory source's `include`/`exclude` glob (Argo CD's `{a.yaml,b.yaml}` alternation is
/// globset's too); an invalid one matches nothing.
fn glob(pattern: Option<&str>) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern?)
        .literal_separator(false)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The files of a directory source.
fn directory_files(dir: &Path, directory: Option<&Value>) -> Vec<PathBuf> {
    let recurse = directory
        .and_then(|d| d.get("recurse"))
        .and_then(Value::as_bool)
        == Some(true);
    let include = directory.and_then(|d| d.get("include"));
    let exclude = directory.and_then(|d| d.get("exclude"));
    let (include, exclude) = (
        include.map(|g| glob(g.as_str())),
        exclude.map(|g| glob(g.as_str())),
    );
    // Matched against the path below the source directory or the file name, as Argo CD does.
    let hit = |m: &Option<globset::GlobMatcher>, rel: &str, name: &str| {
        m.as_ref()
            .is_some_and(|m| m.is_match(rel) || m.is_match(name))
    };
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in super::entries(&d) {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if p.is_dir() {
                if recurse {
                    stack.push(p);
                }
                continue;
            }
            if !crate::manifest::is_manifest_path(&p) {
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            if include.as_ref().is_some_and(|m| !hit(m, &rel, &name))
                || exclude.as_ref().is_some_and(|m| hit(m, &rel, &name))
            {
                continue;
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The roots of one Application object (`app` is its JSON), one per source in this
/// repository.
fn app_roots(
    app: &Value,
    defined_in: &str,
    repo: &Path,
    ours: &[String],
    notes: &mut Vec<String>,
) -> Vec<Root> {
    let name = app
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(spec) = app.get("spec") else {
        return Vec::new();
    };
    let sources: Vec<&Value> = match spec.get("sources").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => spec.get("source").into_iter().collect(),
    };
    let namespace = spec
        .get("destination")
        .and_then(|d| d.get("namespace"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut out = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let url = src.get("repoURL").and_then(Value::as_str).unwrap_or("");
        let path = src.get("path").and_then(Value::as_str).unwrap_or(".");
        let dir_abs = super::resolve_repo_path(path, repo, defined_in)
            .unwrap_or_else(|| normalize(&repo.join(path)));
        let helm = src.get("chart").is_some()
            || src.get("helm").is_some()
            || dir_abs.join("Chart.yaml").is_file();
        if !helm && !ours.contains(&normalize_url(url)) {
            notes.push(format!(
                "{defined_in}: Application {name}: source {url} is not this repository; not rendered"
            ));
            continue;
        }
        if helm {
            notes.push(format!(
                "{defined_in}: Application {name}: a Helm source is not rendered (tollgate does not run helm)"
            ));
            continue;
        }
        if !dir_abs.is_dir() {
            notes.push(format!(
                "{defined_in}: Application {name}: path {path} is not a directory of this repository; not rendered"
            ));
            continue;
        }
        let dir = relative_to_cwd(&dir_abs);
        let label = if sources.len() > 1 {
            format!("argocd:{name}[{i}]")
        } else {
            format!("argocd:{name}")
        };
        let mut transforms = Transforms::default();
        let source = if file_in(&dir).is_some() || src.get("kustomize").is_some() {
            if let Some(k) = src.get("kustomize") {
                let text = |key: &str| {
                    k.get(key)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                transforms.name_prefix = text("namePrefix");
                transforms.name_suffix = text("nameSuffix");
                transforms.namespace = text("namespace");
                transforms.images = k
                    .get("images")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(image_entry)
                    .collect();
                transforms.patches = k
                    .get("patches")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                transforms.common_labels = k.get("commonLabels").cloned();
                transforms.common_annotations = k.get("commonAnnotations").cloned();
            }
            if file_in(&dir).is_some() {
                Source::Kustomization
            } else {
                Source::Files(directory_files(&dir, None))
            }
        } else {
            Source::Files(directory_files(&dir, src.get("directory")))
        };
        out.push(Root {
            label,
            dir,
            source,
            transforms,
            substitute: None,
            default_namespace: namespace.clone(),
            defined_in: Some(defined_in.to_owned()),
        });
    }
    out
}

/// Replaces `{{param}}` and `{{.param}}` (Go template form, `{{ .path.basename }}`) in every
/// string of a template.
fn fill(template: &Value, params: &Map<String, Value>) -> Value {
    match template {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(at) = rest.find("{{") {
                let (before, from) = rest.split_at(at);
                out.push_str(before);
                let Some(end) = from.find("}}") else {
                    out.push_str(from);
                    rest = "";
                    break;
                };
                let key = from.get(2..end).unwrap_or("").trim();
                let key = key.strip_prefix('.').unwrap_or(key);
                match params.get(key) {
                    Some(Value::String(v)) => out.push_str(v),
                    Some(other) => out.push_str(&other.to_string()),
                    None => out.push_str(from.get(..end.saturating_add(2)).unwrap_or("")),
                }
                rest = from.get(end.saturating_add(2)..).unwrap_or("");
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| fill(v, params)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), fill(v, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The parameter sets of one generator; `None` for a kind not expanded here.
fn generator_params(
    g: &Value,
    repo: &Path,
    defined_in: &str,
    ours: &[String],
) -> Option<Vec<Map<String, Value>>> {
    if let Some(list) = g.get("list") {
        let elements = list.get("elements").and_then(Value::as_array)?;
        return Some(
            elements
                .iter()
                .filter_map(|e| e.as_object().cloned())
                .collect(),
        );
    }
    let git = g.get("git")?;
    let url = git.get("repoURL").and_then(Value::as_str).unwrap_or("");
    if !ours.contains(&normalize_url(url)) {
        return Some(Vec::new());
    }
    let dirs = git.get("directories").and_then(Value::as_array)?;
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for d in dirs {
        let Some(p) = d.get("path").and_then(Value::as_str) else {
            continue;
        };
        if d.get("exclude").and_then(Value::as_bool) == Some(true) {
            exclude.push(p.to_owned());
        } else {
            include.push(p.to_owned());
        }
    }
    // The repository root, or (a repository kept inside another) the nearest directory above
    // the ApplicationSet's file where the patterns find directories.
    let mut bases = vec![repo.to_path_buf()];
    if let Ok(file) = std::path::absolute(defined_in) {
        bases.extend(
            file.ancestors()
                .skip(1)
                .take_while(|d| d.starts_with(repo) && *d != repo)
                .map(Path::to_path_buf),
        );
    }
    let found = bases
        .iter()
        .map(|b| directories(b, &include, &exclude))
        .find(|f| !f.is_empty())
        .unwrap_or_default();
    Some(
        found
            .into_iter()
            .map(|rel| {
                let basename = rel.rsplit('/').next().unwrap_or(&rel).to_owned();
                let normalized: String = basename
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect();
                let mut m = Map::new();
                m.insert("path".into(), json!(rel));
                m.insert("path.path".into(), json!(rel));
                m.insert("path.basename".into(), json!(basename));
                m.insert("path.basenameNormalized".into(), json!(normalized));
                for (i, seg) in rel.split('/').enumerate() {
                    m.insert(format!("path[{i}]"), json!(seg));
                }
                m
            })
            .collect(),
    )
}

/// The directories below `repo` (relative paths) that an include pattern matches and no
/// exclude pattern does.
fn directories(repo: &Path, include: &[String], exclude: &[String]) -> Vec<String> {
    let (include, exclude) = (
        crate::manifest::path_globs(include),
        crate::manifest::path_globs(exclude),
    );
    let mut found = Vec::new();
    let mut stack = vec![repo.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in super::entries(&d) {
            if !p.is_dir() {
                continue;
            }
            let rel = p.strip_prefix(repo).unwrap_or(&p).display().to_string();
            let hit = |g: &Option<globset::GlobSet>| g.as_ref().is_some_and(|g| g.is_match(&rel));
            if hit(&include) && !hit(&exclude) {
                found.push(rel);
            }
            stack.push(p);
        }
    }
    found.sort();
    found
}

/// The roots of an Application or ApplicationSet resource.
pub fn roots_of(r: &Resource, repo: &Path, ours: &[String], notes: &mut Vec<String>) -> Vec<Root> {
    let defined_in = r.origin.file.to_string();
    if r.kind == "Application" {
        return app_roots(&r.object, &defined_in, repo, ours, notes);
    }
    let spec = r.object.get("spec");
    let Some(template) = spec.and_then(|s| s.get("template")) else {
        return Vec::new();
    };
    let generators = spec
        .and_then(|s| s.get("generators"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for g in &generators {
        let Some(params) = generator_params(g, repo, &defined_in, ours) else {
            let kind = g
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default();
            notes.push(format!(
                "{defined_in}: ApplicationSet {}: the {kind} generator is not expanded; its Applications are not rendered",
                r.name.as_deref().unwrap_or("")
            ));
            continue;
        };
        for p in params {
            let app = fill(template, &p);
            out.extend(app_roots(&app, &defined_in, repo, ours, notes));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_urls_compare_in_any_spelling() {
        let a = normalize_url("git@github.com:Org/Repo.git");
        assert_eq!(a, "github.com/org/repo");
        assert_eq!(normalize_url("https://github.com/org/repo/"), a);
        assert_eq!(normalize_url("ssh://git@github.com/org/repo.git"), a);
        assert_eq!(
            normalize_url("https://gitlab.example:8443/g/r"),
            "gitlab.example/g/r"
        );
    }

    #[test]
    fn image_overrides_become_kustomize_entries() {
        assert_eq!(
            image_entry("nginx:1.27"),
            json!({"name": "nginx", "newTag": "1.27"})
        );
        assert_eq!(
            image_entry("nginx=registry:5000/nginx:1.27"),
            json!({"name": "nginx", "newName": "registry:5000/nginx", "newTag": "1.27"})
        );
        assert_eq!(
            image_entry("ghcr.io/x/app@sha256:abc"),
            json!({"name": "ghcr.io/x/app", "digest": "sha256:abc"})
        );
    }

    #[test]
    fn templates_take_both_parameter_forms() {
        let mut p = Map::new();
        p.insert("path.basename".into(), json!("podinfo"));
        p.insert("cluster".into(), json!("prod"));
        let t = json!({"name": "{{path.basename}}-{{ .cluster }}", "keep": "{{missing}}"});
        assert_eq!(
            fill(&t, &p),
            json!({"name": "podinfo-prod", "keep": "{{missing}}"})
        );
    }
}
