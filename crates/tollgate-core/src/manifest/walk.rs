//! Turns command-line paths into the list of manifest files to read: directories are walked
//! honouring `.gitignore`, files named explicitly are always read, `-` is stdin.

use super::{is_manifest_path, LoadError, MAX_FILE_BYTES};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// The name findings use.
    pub fn display_name(&self) -> String {
        match self {
            Input::File(p) => p.strip_prefix(".").unwrap_or(p).display().to_string(),
            Input::Stdin => "-".into(),
        }
    }

    /// The file's text, refusing files over the size limit and non-UTF-8 content.
    pub fn read(&self) -> Result<String, String> {
        let mut bytes = Vec::new();
        match self {
            Input::Stdin => {
                std::io::stdin()
                    .lock()
                    .take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read stdin: {e}"))?;
            }
            Input::File(p) => {
                let f = std::fs::File::open(p).map_err(|e| format!("cannot read: {e}"))?;
                f.take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read: {e}"))?;
            }
        }
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "larger than {} MB; split it or exclude it",
                MAX_FILE_BYTES >> 20
            ));
        }
        String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let line = e
                .as_bytes()
                .iter()
                .take(offset)
                .filter(|b| **b == b'\n')
                .count()
                .saturating_add(1);
            format!("line {line}: not valid UTF-8 (binary data?)")
        })
    }
}

/// The files below `dir` that `keep` selects, in walk order. `.gitignore` is honoured, in a git
/// checkout or not; symbolic links are not followed; hidden files and directories are skipped
/// unless `hidden`. What the walk could not read comes back as errors.
pub fn files_below(
    dir: &Path,
    hidden: bool,
    keep: impl Fn(&Path) -> bool,
) -> (Vec<PathBuf>, Vec<ignore::Error>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    // A link to a file inside the directory is read (a ConfigMap volume is links into its
    // hidden `..data`); a link that leads outside it is not, so a repository cannot make a
    // walk read files elsewhere.
    let root = std::fs::canonicalize(dir).ok();
    let inside = |link: &Path| {
        let target = std::fs::canonicalize(link).ok()?;
        (target.is_file() && root.as_ref().is_some_and(|r| target.starts_with(r))).then_some(())
    };
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(!hidden)
        .require_git(false)
        .follow_links(false)
        .build();
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_some_and(|t| t.is_file()) && keep(e.path()) => {
                files.push(e.into_path());
            }
            Ok(e)
                if e.file_type().is_some_and(|t| t.is_symlink())
                    && keep(e.path())
                    && inside(e.path()).is_some() =>
            {
                files.push(e.into_path());
            }
            Ok(_) => {}
            Err(err) => errors.push(err),
        }
    }
    (files, errors)
}

/// Expands paths into inputs, sorted, without duplicates; missing paths become errors.
pub fn expand(paths: &[PathBuf]) -> (Vec<Input>, Vec<LoadError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if p.is_dir() {
            // `Kustomization` (no extension) is one of kustomize's file names.
            let (files, unreadable) = files_below(p, false, |f| {
                is_manifest_path(f) || crate::render::kustomization::is_kustomization_name(f)
            });
            inputs.extend(files.into_iter().map(Input::File));
            errors.extend(unreadable.into_iter().map(|err| LoadError {
                file: p.display().to_string(),
                message: err.to_string(),
            }));
        } else if p.exists() {
            inputs.push(Input::File(p.clone()));
        } else {
            errors.push(LoadError {
                file: p.display().to_string(),
                message: "no such file or directory".into(),
            });
        }
    }
    // Findings name files relative to the working directory, however they were given; resolved
    // once here, which also merges a file named both ways.
    if let Ok(cwd) = std::env::current_dir() {
        for input in &mut inputs {
            if let Input::File(p) = input {
                if let Ok(rel) = p.strip_prefix(&cwd) {
                    *p = rel.to_path_buf();
                }
            }
        }
    }
    inputs.sort();
    inputs.dedup();
    (inputs, errors)
}
