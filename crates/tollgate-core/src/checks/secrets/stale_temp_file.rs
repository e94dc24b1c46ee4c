//! SOPS003: beside a file, a temporary file that an interrupted in-place write of tollgate's
//! (`sops decrypt -i`, `edit`, `rotate -i`, ...) left behind. It may hold the plaintext; it
//! is hidden, so neither a directory listing nor a walk shows it, but `git add -A` commits it.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use std::collections::BTreeMap;
use std::path::Path;

/// The rule.
pub static RULE: Rule = Rule {
    id: "SOPS003",
    family: Family::Secrets,
    title: "An interrupted in-place write left a temporary file beside a manifest",
    severity: Severity::Error,
    // It judges the file system beside the manifest, which an admission request does not have.
    inventory: true,
    description: "An in-place write (`tollgate sops decrypt -i`, `edit`, `set`, `rotate -i`, `updatekeys`) goes through a hidden temporary file beside the real one, `.NAME.tollgate-XXXXXXXXXXXX.tmp`, renamed over it at the end. tollgate removes it on errors and on SIGINT, SIGTERM and SIGHUP, but not when the process is killed outright (SIGKILL, a crash, a power cut); the next in-place write of that file removes it. Until then it may hold the decrypted secret, and a `git add -A` commits it. The rule reports each one found beside a manifest of the set.",
    fix: "Delete the temporary file named (`rm`), after checking the real file is complete; if it was ever committed or pushed, rotate the secret it held.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    // One finding per file, on its first document; each directory is listed once.
    let mut first: BTreeMap<&Path, &crate::manifest::Resource> = BTreeMap::new();
    for r in model.resources() {
        first.entry(Path::new(&*r.origin.file)).or_insert(r);
    }
    let mut by_dir: BTreeMap<&Path, Vec<(&Path, &crate::manifest::Resource)>> = BTreeMap::new();
    for (file, r) in first {
        let Ok(meta) = std::fs::symlink_metadata(file) else {
            // stdin, an admission request, a rendered document without a source
            continue;
        };
        if meta.file_type().is_symlink() {
            // Its temp files are beside the link's target.
            for stale in tollgate_sops::fsio::stale_temp_files(file) {
                report(emit, r, &stale);
            }
        } else if meta.is_file() {
            let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
            by_dir
                .entry(dir.unwrap_or(Path::new(".")))
                .or_default()
                .push((file, r));
        }
    }
    for (dir, files) in by_dir {
        let stale = tollgate_sops::fsio::stale_temp_files_in(dir);
        if stale.is_empty() {
            continue;
        }
        for (file, r) in files {
            let name = file.file_name().map(|n| n.to_string_lossy());
            for (_, temp) in stale
                .iter()
                .filter(|(t, _)| name.as_deref() == Some(t.as_str()))
            {
                report(emit, r, temp);
            }
        }
    }
}

fn report(emit: &mut Emit, r: &crate::manifest::Resource, stale: &Path) {
    let shown = crate::render::relative_to_cwd(stale).display().to_string();
    emit.at(
        r,
        "",
        format!("{shown}, the temporary file of an interrupted in-place write of {}, may hold plaintext", r.origin.file),
    );
}
