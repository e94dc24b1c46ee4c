//! Key work on one file or on every SOPS file of a repository, in parallel: `updatekeys` from
//! `.sops.yaml` and `rotate`, with a dry run that says per file what would change.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::file::{self, recipient_sets};
use crate::fsio::{write_atomic, Lock};
use crate::keys::{self, Keyring};
use crate::metadata::{self, KeyGroup};
use crate::stores::Format;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What happened to one file.
#[derive(Debug)]
pub enum Outcome {
    /// Its keys already match.
    Unchanged,
    /// Recipients were (or, in a dry run, would be) added and removed.
    Changed {
        /// Recipients added.
        added: Vec<String>,
        /// Recipients removed.
        removed: Vec<String>,
    },
    /// Not a SOPS file, or no rule applies.
    Skipped(String),
    /// The operation failed; the file is untouched.
    Failed(Error),
}

/// The outcome for one path.
#[derive(Debug)]
pub struct Report {
    /// The file.
    pub path: PathBuf,
    /// What happened.
    pub outcome: Outcome,
}

/// The files a walk found, and what it did not follow.
#[derive(Debug, Default)]
pub struct Walked {
    /// Regular files, sorted, each real file once.
    pub files: Vec<PathBuf>,
    /// Symlinks that lead out of the walked tree (or nowhere): `(link, why)`; never silently
    /// skipped, since a revoked key keeps access to a file `rotate` did not touch.
    pub not_followed: Vec<(PathBuf, String)>,
}

/// Every regular file below `roots` (hidden directories such as `.git` skipped). A root that
/// is a symlink to a file is taken as named (writes go through the link). Inside directories,
/// a symlink to a file in the walked tree is followed to that file (each real file is worked
/// on once); links elsewhere are listed in [`Walked::not_followed`].
pub fn walk(roots: &[PathBuf]) -> Walked {
    let mut out = Walked::default();
    let real_roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    let inside = |p: &Path| real_roots.iter().any(|r| p.starts_with(r));
    let mut found: Vec<PathBuf> = Vec::new();
    let mut stack: Vec<(PathBuf, bool)> = roots.iter().map(|r| (r.clone(), true)).collect();
    while let Some((p, is_root)) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            match std::fs::canonicalize(&p) {
                Ok(target) if target.is_file() && (is_root || inside(&target)) => {
                    found.push(p);
                }
                Ok(target) if target.is_dir() && is_root => stack.push((target, true)),
                Ok(target) => out.not_followed.push((
                    p,
                    format!("a link to {}, outside the walked tree", target.display()),
                )),
                Err(_) => out
                    .not_followed
                    .push((p, "a link to nothing (dangling)".into())),
            }
        } else if meta.is_dir() {
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.') && n != "." && n != "..");
            if hidden && !is_root {
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.filter_map(|e| e.ok().map(|e| (e.path(), false))));
            }
        } else if meta.is_file() {
            found.push(p);
        }
    }
    found.sort();
    // A file reached by its own path and through a link is worked on once: the lock would
    // serialise the two, but rotating a file twice is not what anyone asked for.
    let mut seen = std::collections::HashSet::new();
    out.files = found
        .into_iter()
        .filter(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())))
        .collect();
    out.not_followed.sort();
    out
}

/// Runs `f` on every file in parallel; reports come back in path order.
pub fn for_each<F>(files: &[PathBuf], f: F) -> Vec<Report>
where
    F: Fn(&Path) -> Outcome + Sync,
{
    files
        .par_iter()
        .map(|p| Report {
            path: p.clone(),
            outcome: f(p),
        })
        .collect()
}

pub(crate) fn diff(before: &[Vec<String>], after: &[Vec<String>]) -> (Vec<String>, Vec<String>) {
    let b: Vec<&String> = before.iter().flatten().collect();
    let a: Vec<&String> = after.iter().flatten().collect();
    let added = a
        .iter()
        .filter(|r| !b.contains(r))
        .map(|r| (*r).clone())
        .collect();
    let removed = b
        .iter()
        .filter(|r| !a.contains(r))
        .map(|r| (*r).clone())
        .collect();
    (added, removed)
}

fn indent(config: Option<&Config>, format: Format) -> Option<usize> {
    let c = config?;
    match format {
        Format::Yaml => c.yaml_indent,
        Format::Json | Format::Binary => c.json_indent,
        _ => None,
    }
}

fn sealed_or_skip(path: &Path, format: Format) -> std::result::Result<file::Sealed, Outcome> {
    let bytes = std::fs::read(path).map_err(|e| {
        Outcome::Failed(Error::new(
            crate::ErrorKind::CouldNotReadInput,
            format!("cannot read: {e}"),
        ))
    })?;
    match file::read_sealed(&bytes, format) {
        Ok(s) => Ok(s),
        Err(e) if file::is_not_encrypted(&e) => Err(Outcome::Skipped("not encrypted".into())),
        Err(e) => Err(Outcome::Failed(e)),
    }
}

/// `updatekeys`: re-wraps the data key of `path` for the recipients its creation rule names.
/// Values, MAC and `lastmodified` stay as they are.
pub fn updatekeys(
    path: &Path,
    config: &Config,
    keyring: &Keyring,
    format: Option<Format>,
    dry_run: bool,
) -> Outcome {
    let Some(rule) = config.rule_for(path) else {
        return Outcome::Skipped("no creation rule matches".into());
    };
    let format = format.unwrap_or_else(|| Format::from_path(path));
    let _lock = match (!dry_run).then(|| locked(path)).transpose() {
        Ok(l) => l,
        Err(e) => return Outcome::Failed(e),
    };
    let mut sealed = match sealed_or_skip(path, format) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let Some((added, removed)) = crate::audit::change(rule, &sealed.metadata) else {
        return Outcome::Unchanged;
    };
    let after: Vec<Vec<String>> = rule.key_groups.clone();
    let threshold = if after.len() > 1 {
        rule.shamir_threshold
    } else {
        0
    };
    if dry_run {
        return Outcome::Changed { added, removed };
    }
    // Re-wrapping for a KMS or Vault key the rule adds (or dropping one it removes) is beyond
    // tollgate: say so, naming the rule, rather than write a file that still differs.
    let foreign = |r: &String| r.contains(':') && !r.starts_with(file::PGP_PREFIX);
    if added.iter().chain(&removed).any(foreign) {
        if let Err(e) = rule.require_supported() {
            return Outcome::Failed(e);
        }
    }
    let result: Result<()> = (|| {
        let key = keyring.data_key(
            &sealed.metadata.key_groups,
            sealed.metadata.shamir_threshold,
        )?;
        let mut groups = file::groups_from(&after)?;
        // Other key types still wrap the same data key: keep them where they were.
        for (g, old) in groups.iter_mut().zip(sealed.metadata.key_groups.iter()) {
            g.other.clone_from(&old.other);
        }
        keys::wrap_groups(&key, &mut groups, threshold)?;
        sealed.metadata.key_groups = groups;
        sealed.metadata.shamir_threshold = threshold;
        let mut docs = std::mem::take(&mut sealed.docs);
        metadata::attach(format, &mut docs, &sealed.metadata);
        let out = format.write_encrypted(&docs, indent(Some(config), format))?;
        write_atomic(path, &out, 0o644)
    })();
    match result {
        Ok(()) => Outcome::Changed { added, removed },
        Err(e) => Outcome::Failed(e),
    }
}

/// The recipients after adding `add` to the first group and removing `remove` from all.
fn rotated_sets(before: &[Vec<String>], add: &[String], remove: &[String]) -> Vec<Vec<String>> {
    let mut after = before.to_vec();
    if after.is_empty() {
        after.push(Vec::new());
    }
    for r in add {
        if !after.iter().flatten().any(|x| x == r) {
            if let Some(first) = after.first_mut() {
                first.push(r.clone());
            }
        }
    }
    for g in &mut after {
        g.retain(|r| !remove.contains(r));
    }
    after
}

/// Rotates the data key of `input` and returns the new file (values keep their IVs).
pub fn rotate_bytes(
    input: &[u8],
    format: Format,
    keyring: &Keyring,
    add: &[String],
    remove: &[String],
    indent: Option<usize>,
) -> Result<Vec<u8>> {
    rotate_sealed(
        file::read_sealed(input, format)?,
        format,
        keyring,
        add,
        remove,
        indent,
    )
}

/// Rotates an already parsed file.
fn rotate_sealed(
    mut sealed: file::Sealed,
    format: Format,
    keyring: &Keyring,
    add: &[String],
    remove: &[String],
    indent: Option<usize>,
) -> Result<Vec<u8>> {
    let after = rotated_sets(&recipient_sets(&sealed.metadata.key_groups), add, remove);
    // KMS and Vault keys can be removed offline; any left would still wrap the old data key.
    for g in &mut sealed.metadata.key_groups {
        g.remove_others(remove);
    }
    if let Some(kind) = foreign_key_type(&sealed.metadata.key_groups) {
        // A new data key would leave those entries wrapping the old one.
        return Err(Error::new(
            crate::ErrorKind::Generic,
            format!("the file also has `{kind}` keys, which tollgate cannot re-wrap with a new data key"),
        )
        .with_hint("rotate this file with sops, or remove those keys in the same run (--rm-kms, --rm-gcp-kms, --rm-azure-kv, --rm-hc-vault-transit)"));
    }
    let opened = file::open(sealed, keyring, false)?;
    let mut meta = opened.metadata;
    let mut groups: Vec<KeyGroup> = file::groups_from(&after)?;
    let key = crate::cipher::DataKey::generate();
    keys::wrap_groups(&key, &mut groups, meta.shamir_threshold)?;
    meta.key_groups = groups;
    let sealed_docs = file::seal(format, opened.plain, &mut meta, &key, &opened.stash)?;
    format.write_encrypted(&sealed_docs, indent)
}

/// A key group change of sops `groups add|delete`.
pub enum GroupChange {
    /// Append a group with these recipients (age, and PGP as `pgp:FINGERPRINT`).
    Add(Vec<String>),
    /// Remove the group at this index (0-based, as sops counts).
    Delete(usize),
}

/// Adds or deletes a key group and wraps the same data key for the groups that result (split
/// anew for Shamir when there is more than one): values, MAC and `lastmodified` stay as they
/// are. `threshold`, when given, becomes the file's Shamir threshold.
pub fn change_groups(
    input: &[u8],
    format: Format,
    keyring: &Keyring,
    change: &GroupChange,
    threshold: Option<usize>,
    indent: Option<usize>,
) -> Result<Vec<u8>> {
    let mut sealed = file::read_sealed(input, format)?;
    let meta = &mut sealed.metadata;
    let key = keyring.data_key(&meta.key_groups, meta.shamir_threshold)?;
    match change {
        GroupChange::Add(recipients) => {
            let mut new = file::groups_from(std::slice::from_ref(recipients))?;
            meta.key_groups.append(&mut new);
        }
        GroupChange::Delete(index) => {
            if *index >= meta.key_groups.len() {
                return Err(Error::new(
                    crate::ErrorKind::Generic,
                    format!(
                        "there is no key group {index}: the file has {} (counted from 0)",
                        meta.key_groups.len()
                    ),
                ));
            }
            meta.key_groups.remove(*index);
        }
    }
    if let Some(t) = threshold.filter(|&t| t > 0) {
        meta.shamir_threshold = t;
    }
    let groups = meta.key_groups.len();
    if groups > 1 && meta.shamir_threshold == 0 {
        // sops: more than one group and no threshold means every group is needed.
        meta.shamir_threshold = groups;
    }
    if meta.shamir_threshold > groups {
        return Err(Error::new(
            crate::ErrorKind::Generic,
            format!(
                "the Shamir threshold is {}, but the file would have only {groups} key group(s)",
                meta.shamir_threshold
            ),
        )
        .with_hint("lower it with --shamir-secret-sharing-threshold"));
    }
    keys::wrap_groups(&key, &mut meta.key_groups, meta.shamir_threshold)?;
    let mut docs = std::mem::take(&mut sealed.docs);
    metadata::attach(format, &mut docs, &sealed.metadata);
    format.write_encrypted(&docs, indent)
}

/// `rotate` in place: a new data key for `path`, with recipients added to the first group and
/// removed from every group.
pub fn rotate(
    path: &Path,
    keyring: &Keyring,
    add: &[String],
    remove: &[String],
    config: Option<&Config>,
    format: Option<Format>,
    dry_run: bool,
) -> Outcome {
    let format = format.unwrap_or_else(|| Format::from_path(path));
    let _lock = match (!dry_run).then(|| locked(path)).transpose() {
        Ok(l) => l,
        Err(e) => return Outcome::Failed(e),
    };
    let sealed = match sealed_or_skip(path, format) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let before = recipient_sets(&sealed.metadata.key_groups);
    let (added, removed) = diff(&before, &rotated_sets(&before, add, remove));
    if dry_run {
        return Outcome::Changed { added, removed };
    }
    let result = rotate_sealed(sealed, format, keyring, add, remove, indent(config, format))
        .and_then(|out| write_atomic(path, &out, 0o644));
    match result {
        Ok(()) => Outcome::Changed { added, removed },
        Err(e) => Outcome::Failed(e),
    }
}

/// The lock a rewrite of `path` holds from its read to its write (see [`Lock`]), with the
/// temp files a killed run left for it removed.
fn locked(path: &Path) -> Result<Lock> {
    let lock = Lock::acquire(path)?;
    crate::fsio::remove_stale_temp_files(path);
    Ok(lock)
}

/// The first key type other than age and PGP that holds a wrapped data key, if any.
fn foreign_key_type(groups: &[KeyGroup]) -> Option<String> {
    groups
        .iter()
        .flat_map(|g| g.other.iter())
        .find(|(_, v)| matches!(v, crate::tree::Node::List(items) if !items.is_empty()))
        .map(|(k, _)| k.clone())
}
