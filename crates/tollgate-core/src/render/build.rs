//! Runs the user's kustomize on a root through a temporary wrapper kustomization: the wrapper
//! asks for origin annotations (where each resource came from) and carries the transforms a
//! Flux or Argo CD object adds, so the user's own files are never touched.

use super::{relative_path, Root, Source};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A root that takes longer than this to build is reported as an error: kustomize does not
/// hang on local files, so a build this slow is waiting on a network it will not get.
const BUILD_TIMEOUT: Duration = Duration::from_secs(120);

/// The kustomize a render uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renderer {
    /// `kustomize build`.
    Kustomize(PathBuf),
    /// `kubectl kustomize`.
    Kubectl(PathBuf),
}

impl Renderer {
    /// `$TOLLGATE_KUSTOMIZE` (a kustomize or kubectl binary), else `kustomize` on `PATH`,
    /// else `kubectl`.
    pub fn find() -> Option<Renderer> {
        if let Some(p) = std::env::var_os("TOLLGATE_KUSTOMIZE").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            let kubectl = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("kubectl"));
            return Some(if kubectl {
                Renderer::Kubectl(p)
            } else {
                Renderer::Kustomize(p)
            });
        }
        on_path("kustomize")
            .map(Renderer::Kustomize)
            .or_else(|| on_path("kubectl").map(Renderer::Kubectl))
    }

    fn command(&self, dir: &Path, unrestricted: bool) -> Command {
        let mut c = match self {
            Renderer::Kustomize(p) => {
                let mut c = Command::new(p);
                c.arg("build");
                c
            }
            Renderer::Kubectl(p) => {
                let mut c = Command::new(p);
                c.arg("kustomize");
                c
            }
        };
        c.arg(dir);
        if unrestricted {
            c.args(["--load-restrictor", "LoadRestrictionsNone"]);
        }
        c
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The rendered text of a root and the wrapper directory its origin paths are relative to.
pub(crate) struct Built {
    pub(crate) text: String,
    pub(crate) wrapper: PathBuf,
    // Removed when the build's output has been read.
    _dir: tempfile::TempDir,
}

/// The wrapper kustomization for a root whose directory is `dir_abs`, written in `wrapper`.
fn wrapper_for(root: &Root, dir_abs: &Path, wrapper: &Path) -> Result<Value, String> {
    let rel = |p: &Path| -> Result<String, String> {
        let abs = std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(relative_path(&abs, wrapper).display().to_string())
    };
    let resources: Vec<String> = match &root.source {
        Source::Kustomization => vec![rel(dir_abs)?],
        Source::Files(files) => files.iter().map(|f| rel(f)).collect::<Result<_, _>>()?,
    };
    let mut k = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        "buildMetadata": ["originAnnotations"],
    });
    let t = &root.transforms;
    if let Some(obj) = k.as_object_mut() {
        let mut put = |key: &str, v: Value| {
            obj.insert(key.to_owned(), v);
        };
        if let Some(ns) = &t.namespace {
            put("namespace", json!(ns));
        }
        if let Some(p) = &t.name_prefix {
            put("namePrefix", json!(p));
        }
        if let Some(s) = &t.name_suffix {
            put("nameSuffix", json!(s));
        }
        if !t.images.is_empty() {
            put("images", Value::Array(t.images.clone()));
        }
        if !t.patches.is_empty() {
            put("patches", Value::Array(t.patches.clone()));
        }
        if let Some(l) = &t.common_labels {
            put("commonLabels", l.clone());
        }
        if let Some(a) = &t.common_annotations {
            put("commonAnnotations", a.clone());
        }
    }
    Ok(k)
}

/// Writes a kustomization (JSON is YAML) into `dir`.
fn write_kustomization(dir: &Path, k: &Value) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(
        dir.join("kustomization.yaml"),
        serde_json::to_string_pretty(k).unwrap_or_default(),
    )
    .map_err(|e| format!("cannot write the wrapper kustomization: {e}"))
}

/// A temporary directory for wrappers, by its real path (kustomize resolves links).
fn temp_dir() -> Result<(tempfile::TempDir, PathBuf), String> {
    let dir = tempfile::Builder::new()
        .prefix("tollgate-render-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let real = std::fs::canonicalize(dir.path()).map_err(|e| e.to_string())?;
    Ok((dir, real))
}

/// Builds one root. The error is kustomize's own message, for the user to act on.
pub(crate) fn build(root: &Root, renderer: &Renderer) -> Result<Built, String> {
    let (dir, wrapper) = temp_dir()?;
    write_kustomization(&wrapper, &wrapper_for(root, &root.dir, &wrapper)?)?;
    // Plain files are listed in the wrapper, outside its root: Flux builds with kustomize's
    // load restrictions off for the same reason.
    let unrestricted = matches!(root.source, Source::Files(_));
    let text = run(renderer, &wrapper, unrestricted)?;
    Ok(Built {
        text,
        wrapper,
        _dir: dir,
    })
}

/// Several roots built by one kustomize process: a kustomize start costs more than most
/// roots' builds. Each root gets its own wrapper (`r<i>`, siblings, so origin paths read the
/// same from any of them) with a patch that marks its resources with its index; a top
/// kustomization includes them all. Fails as a whole (two roots rendering the same object
/// collide), and the caller then builds the roots one by one.
pub(crate) fn build_batch(roots: &[&Root], renderer: &Renderer) -> Result<Built, String> {
    let (dir, base) = temp_dir()?;
    let mut top = Vec::with_capacity(roots.len());
    for (i, root) in roots.iter().enumerate() {
        let wrapper = base.join(format!("r{i}"));
        std::fs::create_dir_all(&wrapper).map_err(|e| e.to_string())?;
        let mut k = wrapper_for(root, &root.dir, &wrapper)?;
        let mark = json!({
            "target": {"name": ".*"},
            "patch": serde_json::to_string(&json!({
                "apiVersion": "any/v1",
                "kind": "Any",
                "metadata": {"name": "any", "annotations": {super::origin::ROOT: i.to_string()}},
            })).unwrap_or_default(),
        });
        if let Some(patches) = k
            .as_object_mut()
            .map(|o| {
                o.entry("patches")
                    .or_insert_with(|| Value::Array(Vec::new()))
            })
            .and_then(Value::as_array_mut)
        {
            patches.push(mark);
        }
        write_kustomization(&wrapper, &k)?;
        top.push(format!("../r{i}"));
    }
    let top_dir = base.join("top");
    write_kustomization(
        &top_dir,
        &json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": top,
            "buildMetadata": ["originAnnotations"],
        }),
    )?;
    let unrestricted = roots.iter().any(|r| matches!(r.source, Source::Files(_)));
    let text = run(renderer, &top_dir, unrestricted)?;
    Ok(Built {
        text,
        // Every root's wrapper is one level below `base`: origin paths resolve from any.
        wrapper: base.join("r0"),
        _dir: dir,
    })
}

/// Runs kustomize on a directory and returns its output.
fn run(renderer: &Renderer, wrapper: &Path, unrestricted: bool) -> Result<String, String> {
    let mut child = renderer
        .command(wrapper, unrestricted)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run kustomize: {e}"))?;
    // Both pipes are drained on their own threads so a large output cannot stall the child.
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > BUILD_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "kustomize did not finish in {} s (a remote base?)",
                    BUILD_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("cannot wait for kustomize: {e}")),
        }
    };
    let text = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        // kustomize names the wrapper's temporary path; the user knows the root's.
        let msg = stderr
            .trim()
            .trim_start_matches("Error: ")
            .trim_start_matches("error: ")
            .replace(&wrapper.display().to_string(), "<root>");
        return Err(format!("kustomize build failed: {msg}"));
    }
    Ok(text)
}
