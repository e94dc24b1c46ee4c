//! Reads a `kustomization.yaml` for what it refers to, without building it: which directories
//! it includes (to find the roots no other kustomization includes), which files are cluster
//! resources, and which are patches or kustomize configuration that are never applied.

use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// The file names kustomize looks for in a directory, in its order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of a directory, if it has one.
pub fn file_in(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Whether a file name is one kustomize reads as a kustomization.
pub fn is_kustomization_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| FILE_NAMES.contains(&n))
}

/// Whether a loaded object is kustomize's own configuration (`Kustomization` or `Component`
/// of `kustomize.config.k8s.io`), which is never applied to a cluster.
pub fn is_kustomize_object(api_version: &str, kind: &str) -> bool {
    api_version.starts_with("kustomize.config.k8s.io/")
        && matches!(kind, "Kustomization" | "Component")
}

/// One kustomization, as far as its references go.
#[derive(Debug, Clone, Default)]
pub struct Kustomization {
    /// The directory it lives in.
    pub dir: PathBuf,
    /// The file itself.
    pub file: PathBuf,
    /// `kind: Component`: only ever included, never a root.
    pub component: bool,
    /// Directories included through `resources`, `bases` and `components`.
    pub dirs: Vec<PathBuf>,
    /// Files included through `resources`: applied to the cluster.
    pub resource_files: Vec<PathBuf>,
    /// Files used as patches (`patches`, `patchesStrategicMerge`, `patchesJson6902`).
    pub patch_files: Vec<PathBuf>,
    /// Files that configure kustomize (`transformers`, `generators`, `validators`,
    /// `replacements`, `crds`, `openapi`, `configurations`) or feed a generator.
    pub config_files: Vec<PathBuf>,
    /// Remote references (`https://…`, `github.com/…`): kustomize fetches them; nothing here
    /// can, so a root that has one cannot be rendered offline.
    pub remote: Vec<String>,
}

/// A path or URL from a kustomization is remote when kustomize would fetch it.
fn is_remote(s: &str) -> bool {
    s.contains("://")
        || s.starts_with("git@")
        || s.starts_with("github.com/")
        || s.starts_with("gitlab.com/")
        || s.starts_with("bitbucket.org/")
}

/// `a/b/../c` -> `a/c`, without touching the file system (a link in the path is kustomize's
/// business; the names must only compare equal to the walk's).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Kustomization {
    /// Reads the references of a kustomization file's text. A file that is not YAML or not a
    /// mapping gives an error message (kustomize would refuse it too).
    pub fn parse(file: &Path, text: &str) -> Result<Kustomization, String> {
        let docs = crate::manifest::json_documents(text)?;
        let doc = docs.into_iter().next().unwrap_or(Value::Null);
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut k = Kustomization {
            component: doc.get("kind").and_then(Value::as_str) == Some("Component"),
            dir: dir.clone(),
            file: file.to_path_buf(),
            ..Kustomization::default()
        };
        if !doc.is_object() && !doc.is_null() {
            return Err("a kustomization must be a mapping".into());
        }
        let local = |s: &str| normalize(&dir.join(s));
        let strings = |key: &str| -> Vec<String> {
            doc.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        for key in ["resources", "bases", "components"] {
            for r in strings(key) {
                if is_remote(&r) {
                    k.remote.push(r);
                    continue;
                }
                let p = local(&r);
                if p.is_dir() {
                    k.dirs.push(p);
                } else {
                    k.resource_files.push(p);
                }
            }
        }
        // `patches: [{path}]`, `patchesJson6902: [{path}]`, `patchesStrategicMerge: [file or
        // inline patch]`: only the file references matter here.
        for key in ["patches", "patchesJson6902", "replacements"] {
            let list = doc.get(key).and_then(Value::as_array);
            for p in list.into_iter().flatten() {
                if let Some(path) = p.get("path").and_then(Value::as_str) {
                    let f = local(path);
                    if key == "replacements" {
                        k.config_files.push(f);
                    } else {
                        k.patch_files.push(f);
                    }
                }
            }
        }
        for p in strings("patchesStrategicMerge") {
            if !p.contains('\n') {
                k.patch_files.push(local(&p));
            }
        }
        for key in [
            "transformers",
            "generators",
            "validators",
            "crds",
            "configurations",
        ] {
            for p in strings(key) {
                if !is_remote(&p) && !p.contains('\n') {
                    k.config_files.push(local(&p));
                }
            }
        }
        if let Some(p) = doc
            .get("openapi")
            .and_then(|o| o.get("path"))
            .and_then(Value::as_str)
        {
            k.config_files.push(local(p));
        }
        for key in ["configMapGenerator", "secretGenerator"] {
            let list = doc.get(key).and_then(Value::as_array);
            for g in list.into_iter().flatten() {
                let files = g.get("files").and_then(Value::as_array);
                for f in files.into_iter().flatten().filter_map(Value::as_str) {
                    // `key=path` or `path`.
                    let path = f.split_once('=').map_or(f, |(_, p)| p);
                    k.config_files.push(local(path));
                }
                let envs = g.get("envs").and_then(Value::as_array);
                for f in envs.into_iter().flatten().filter_map(Value::as_str) {
                    k.config_files.push(local(f));
                }
                if let Some(f) = g.get("env").and_then(Value::as_str) {
                    k.config_files.push(local(f));
                }
            }
        }
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_sorted_into_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("base")).unwrap();
        let file = dir.path().join("overlay/kustomization.yaml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::create_dir_all(dir.path().join("overlay/../base")).unwrap();
        let text = "resources:\n  - ../base\n  - extra.yaml\n  - https://github.com/org/repo//deploy?ref=v1\npatches:\n  - path: replicas.yaml\n  - patch: |\n      - op: remove\n        path: /spec\npatchesStrategicMerge:\n  - memory.yaml\nconfigMapGenerator:\n  - name: c\n    files: [app.properties, key=other.txt]\n    envs: [vars.env]\ntransformers: [labels.yaml]\n";
        let k = Kustomization::parse(&file, text).unwrap();
        let o = dir.path().join("overlay");
        assert_eq!(k.dirs, vec![dir.path().join("base")]);
        assert_eq!(k.resource_files, vec![o.join("extra.yaml")]);
        assert_eq!(k.remote.len(), 1);
        assert_eq!(
            k.patch_files,
            vec![o.join("replicas.yaml"), o.join("memory.yaml")]
        );
        assert_eq!(
            k.config_files,
            vec![
                o.join("labels.yaml"),
                o.join("app.properties"),
                o.join("other.txt"),
                o.join("vars.env")
            ]
        );
        assert!(!k.component);
    }

    #[test]
    fn normalizing_keeps_leading_parents() {
        assert_eq!(normalize(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("../x/../y")), PathBuf::from("../y"));
    }
}
