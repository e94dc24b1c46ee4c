//! Fail only on what a change adds (`check --new-since`): the findings of the merge base are
//! subtracted from the branch's. A finding matches one of the base's by rule, object and field
//! in the same file (followed through renames), else in any file (a document moved to another
//! file keeps its findings); each base finding matches at most one.

use crate::finding::Finding;
use std::collections::HashMap;

/// What identifies a finding across commits, with and without its file.
fn identity(f: &Finding, file: Option<&str>) -> String {
    if let Some(scope) = &f.scope {
        // About a namespace, not the object it is placed on: the same wherever it is placed.
        return format!(
            "{}\0{scope}\0{}",
            f.rule_id,
            f.location.rendered_from.as_deref().unwrap_or("")
        );
    }
    format!(
        "{}\0{}\0{}\0{}\0{}\0{}\0{}",
        f.rule_id,
        file.unwrap_or(""),
        f.resource.kind,
        f.resource.namespace.as_deref().unwrap_or(""),
        f.resource.name.as_deref().unwrap_or(""),
        f.field_path.as_deref().unwrap_or(&f.message),
        f.location.rendered_from.as_deref().unwrap_or("")
    )
}

/// Splits `head` into findings the change adds and findings the base already had.
/// `renames` maps a base file name to its name on the branch.
pub fn subtract(
    head: Vec<Finding>,
    base: &[Finding],
    renames: &HashMap<String, String>,
) -> (Vec<Finding>, Vec<Finding>) {
    let mut exact: HashMap<String, usize> = HashMap::new();
    let mut loose: HashMap<String, usize> = HashMap::new();
    for b in base {
        let file = renames
            .get(&b.location.file)
            .map_or(b.location.file.as_str(), String::as_str);
        *exact.entry(identity(b, Some(file))).or_default() += 1;
        *loose.entry(identity(b, None)).or_default() += 1;
    }
    let take = |m: &mut HashMap<String, usize>, k: &str| -> bool {
        match m.get_mut(k) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    // Same-file matches first, so a moved duplicate does not take the match of one that
    // stayed.
    let mut pending = Vec::new();
    let mut known = Vec::new();
    for f in head {
        if take(&mut exact, &identity(&f, Some(&f.location.file))) {
            take(&mut loose, &identity(&f, None));
            known.push(f);
        } else {
            pending.push(f);
        }
    }
    let mut added = Vec::new();
    for f in pending {
        if take(&mut loose, &identity(&f, None)) {
            known.push(f);
        } else {
            added.push(f);
        }
    }
    (added, known)
}

/// What differs between a commit and the work tree (the index included), with git's
/// root-relative names and the names findings use (relative to the working directory).
#[derive(Debug, Clone)]
pub struct Changes {
    /// `(status letter, path in the commit, path now)`, root-relative; renames followed.
    pub entries: Vec<(char, String, String)>,
    /// Files git does not track (and does not ignore), root-relative.
    pub untracked: Vec<String>,
    /// How root-relative names read from the working directory.
    pub names: crate::git::Names,
}

impl Changes {
    /// Reads what differs between `commit` and the work tree of `repo`, for a run from `cwd`.
    pub fn read(
        repo: &crate::git::Repo,
        commit: &str,
        cwd: &std::path::Path,
    ) -> Result<Changes, String> {
        Ok(Changes {
            entries: repo.changes_since(commit)?,
            untracked: repo.untracked()?,
            names: repo.names(cwd),
        })
    }

    /// A root-relative path as findings name it.
    pub fn name(&self, root_relative: &str) -> String {
        self.names.name(root_relative)
    }

    /// Base file name to branch file name, for the files renamed.
    pub fn renames(&self) -> HashMap<String, String> {
        self.entries
            .iter()
            .filter(|(letter, _, _)| *letter == 'R')
            .map(|(_, old, new)| (self.name(old), self.name(new)))
            .collect()
    }

    /// Whether a change touches what decides how other files are read (what is rendered,
    /// skipped, ignored or must be encrypted): a kustomization, `.sops.yaml`, `.sourceignore`,
    /// a kyverno-test suite, tollgate.yaml, `.gitignore`.
    pub fn affect_how_files_are_read(&self) -> bool {
        let decides = |path: &str| {
            let name = path.rsplit('/').next().unwrap_or(path);
            crate::render::kustomization::FILE_NAMES.contains(&name)
                || matches!(
                    name,
                    ".sourceignore"
                        | ".sops.yaml"
                        | "kyverno-test.yaml"
                        | "tollgate.yaml"
                        | ".gitignore"
                )
        };
        self.entries
            .iter()
            .any(|(_, old, new)| decides(old) || decides(new))
    }
}

/// The merge base's resources without writing its tree out: files the branch did not change
/// are the work tree's, already loaded in `head`; the base's versions of the changed ones
/// (modified, deleted, renamed away) under `paths` and not excluded are read from git.
/// Returns them with the names (either side's) of every file that differs, which
/// [`crate::policyset::PolicySet::evaluate_change`] uses to judge only those. With
/// `documents`, the changed files' non-Kubernetes documents are inputs too, as `head`'s are.
pub fn base_resources(
    repo: &crate::git::Repo,
    commit: &str,
    changes: &Changes,
    head: &crate::manifest::Inventory,
    paths: &[std::path::PathBuf],
    exclude: &[String],
    documents: bool,
) -> Result<
    (
        Vec<crate::manifest::Resource>,
        std::collections::HashSet<String>,
    ),
    String,
> {
    use std::path::Path;
    let mut differs: std::collections::HashSet<String> = changes
        .entries
        .iter()
        .filter(|(letter, _, _)| *letter != 'D')
        .map(|(_, _, new)| changes.name(new))
        .chain(changes.untracked.iter().map(|p| changes.name(p)))
        .collect();
    let wanted: Vec<std::path::PathBuf> = paths
        .iter()
        .map(|p| crate::render::kustomization::normalize(p))
        .collect();
    let excluded = crate::manifest::path_globs(exclude);
    let in_scope = |name: &str| {
        let p = Path::new(name);
        crate::manifest::is_manifest_path(p)
            && wanted
                .iter()
                .any(|w| w.as_os_str() == "." || p.starts_with(w))
            && !excluded.as_ref().is_some_and(|g| g.is_match(name))
    };
    let from_git: Vec<String> = changes
        .entries
        .iter()
        .filter(|(letter, _, _)| matches!(letter, 'M' | 'T' | 'D' | 'R'))
        .map(|(_, old, _)| old.clone())
        .filter(|old| in_scope(&changes.name(old)))
        .collect();
    let texts: Vec<(String, String)> = repo
        .read_at(commit, &from_git)?
        .into_iter()
        .filter_map(|(p, bytes)| String::from_utf8(bytes).ok().map(|t| (changes.name(&p), t)))
        .collect();
    let mut resources: Vec<crate::manifest::Resource> = head
        .resources
        .iter()
        .filter(|r| !differs.contains(&*r.origin.file))
        .cloned()
        .collect();
    let mut changed = crate::manifest::load_texts(texts);
    if documents {
        changed.include_documents();
    }
    resources.extend(changed.resources);
    // Objects first, documents after (stable), as a scan orders them.
    resources.sort_by_key(|r| !r.is_kubernetes());
    differs.extend(changes.entries.iter().map(|(_, old, _)| changes.name(old)));
    Ok((resources, differs))
}
