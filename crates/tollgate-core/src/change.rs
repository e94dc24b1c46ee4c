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
