//! Writes that cannot tear: a temp file in the same directory, fsync, rename over the target,
//! and the target's permissions kept, so a crash leaves the old file or the new one.
//!
//! A symlink is written through, as Go sops does: the link stays and its target gets the new
//! content (replacing the link would leave the real file plaintext after `encrypt -i`).
//! Read-modify-write operations hold an advisory lock on the target ([`Lock`]), so two
//! concurrent `set -i` never lose an update. Temp files are named `.<name>.tollgate-<hex>.tmp`;
//! each one in flight is registered so a signal handler can remove it
//! ([`remove_temp_files_in_flight`]), and a locked operation removes the ones a killed process
//! left for the same file ([`remove_stale_temp_files`]).

use crate::error::{err, Result};
use rand::RngCore;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Links followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Temp files being written right now, for [`remove_temp_files_in_flight`].
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The permissions a written file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An existing file keeps its permissions; a new one gets these bits.
    KeepOr(u32),
    /// Always exactly these bits (plaintext output: 0600 even over an existing 0644 file).
    Exactly(u32),
}

/// The file a path names once every symlink is followed; a dangling link names its target
/// (so `--output link` creates the file the link points at).
pub fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|e| {
                    err!(
                        CouldNotWriteOutput,
                        "{}: cannot read the link: {e}",
                        current.display()
                    )
                })?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(err!(
        CouldNotWriteOutput,
        "{}: more than {MAX_LINKS} symbolic links",
        path.display()
    ))
}

/// Replaces the file `path` names (through symlinks) with `data` atomically. New files get
/// `new_mode` (Unix permission bits); existing ones keep theirs.
pub fn write_atomic(path: &Path, data: &[u8], new_mode: u32) -> Result<()> {
    write_with_mode(path, data, Mode::KeepOr(new_mode))
}

fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tollgate-")
}

fn directory_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Replaces the file `path` names with `data` atomically, with the permissions `mode` says.
pub fn write_with_mode(path: &Path, data: &[u8], mode: Mode) -> Result<()> {
    let target = resolve_links(path)?;
    let fail = |what: &str, e: std::io::Error| {
        err!(CouldNotWriteOutput, "{}: {what}: {e}", path.display())
    };
    // The temp file sits beside the real file: a rename across directories would not be atomic.
    let dir = directory_of(&target);
    let prefix = temp_prefix(&target);
    let existing = std::fs::metadata(&target).ok();
    let mut tmp_path;
    let mut file;
    loop {
        let mut r = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut r);
        let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
        tmp_path = dir.join(format!("{prefix}{suffix}.tmp"));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&tmp_path) {
            Ok(f) => {
                file = f;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail("cannot create a temporary file", e)),
        }
    }
    track_temp(&tmp_path);
    let result = (|| {
        file.write_all(data).map_err(|e| fail("write failed", e))?;
        let perms = match (mode, &existing) {
            (Mode::KeepOr(_), Some(m)) => m.permissions(),
            (Mode::KeepOr(bits) | Mode::Exactly(bits), _) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::Permissions::from_mode(bits)
                }
                #[cfg(not(unix))]
                {
                    let _ = bits;
                    file.metadata()
                        .map_err(|e| fail("stat failed", e))?
                        .permissions()
                }
            }
        };
        file.set_permissions(perms)
            .map_err(|e| fail("cannot set permissions", e))?;
        file.sync_all().map_err(|e| fail("fsync failed", e))?;
        std::fs::rename(&tmp_path, &target).map_err(|e| fail("rename failed", e))?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    untrack_temp(&tmp_path);
    result
}

fn in_flight() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while the list was held cannot leave it inconsistent (push and retain only).
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers a temp file or private directory (`edit`'s) to remove if a signal ends the
/// process before its owner does.
pub fn track_temp(path: &Path) {
    in_flight().push(path.to_path_buf());
}

/// Its owner removed or renamed it.
pub fn untrack_temp(path: &Path) {
    in_flight().retain(|p| p != path);
}

/// Removes every temp file and private directory this process has in flight (they may hold
/// plaintext). For the binary's signal handler: after it the process must exit.
pub fn remove_temp_files_in_flight() {
    for p in in_flight().drain(..) {
        if std::fs::remove_file(&p).is_err() {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// Temp files of this tool's naming for `path` (through symlinks) that are not being written
/// by this process: what a killed process left. They may hold plaintext (`decrypt -i`).
pub fn stale_temp_files(path: &Path) -> Vec<PathBuf> {
    let Ok(target) = resolve_links(path) else {
        return Vec::new();
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned());
    stale_temp_files_in(&directory_of(&target))
        .into_iter()
        .filter(|(t, _)| name.as_deref() == Some(t.as_str()))
        .map(|(_, p)| p)
        .collect()
}

/// Every stale temporary file in `dir`, listed once, with the name of the file it was the
/// in-place write of: `(target file name, temp path)`, sorted. For many files of one
/// directory this is one listing instead of one per file; a file reached through a symlink
/// has its temp file beside the link's target, which [`stale_temp_files`] looks up.
pub fn stale_temp_files_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let ours = in_flight().clone();
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
            let (target, hex) = rest.rsplit_once(".tollgate-")?;
            let ok =
                !target.is_empty() && hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| (target.to_owned(), e.path()))
        })
        .filter(|(_, p)| !ours.contains(p))
        .collect();
    out.sort();
    out
}

/// Removes what [`stale_temp_files`] finds. Call it while holding the file's [`Lock`]: every
/// in-place operation takes it first, so no other process can be writing them then.
pub fn remove_stale_temp_files(path: &Path) -> usize {
    stale_temp_files(path)
        .into_iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// An exclusive advisory lock (`flock`) on a file, held while it lives. Read-modify-write
/// operations take it before reading, so a second one waits instead of losing the first's
/// update. Go sops has no lock; tools that ignore advisory locks are not stopped by it.
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Waits for the lock on the file `path` names (through symlinks). Each write replaces
    /// the file (a rename), so after waiting the lock may be on a file that is no longer
    /// there: then the current one is locked instead.
    pub fn acquire(path: &Path) -> Result<Lock> {
        let target = resolve_links(path)?;
        let fail = |e: std::io::Error| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                crate::ErrorKind::NoFileSpecified
            } else {
                crate::ErrorKind::CouldNotReadInput
            };
            crate::Error::new(kind, format!("{}: {e}", path.display()))
        };
        loop {
            let file = File::open(&target).map_err(fail)?;
            file.lock().map_err(fail)?;
            if same_file(&file, &target) {
                return Ok(Lock { _file: file });
            }
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode_of(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.yaml");
        write_atomic(&p, b"one", 0o600).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(mode_of(&p), 0o600);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        assert_eq!(mode_of(&p), 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn private_writes_are_0600_even_over_a_0644_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain.yaml");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_with_mode(&p, b"secret", Mode::Exactly(0o600)).unwrap();
        assert_eq!(mode_of(&p), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_written_through_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("secret.yaml");
        std::fs::write(&real, "old").unwrap();
        // link -> link2 -> real/secret.yaml, relative links in another directory.
        std::os::unix::fs::symlink("real/secret.yaml", dir.path().join("link2")).unwrap();
        std::os::unix::fs::symlink("link2", dir.path().join("link")).unwrap();
        let link = dir.path().join("link");
        write_atomic(&link, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // The temp file was made beside the real file, and is gone.
        assert_eq!(std::fs::read_dir(&real_dir).unwrap().count(), 1);
        // A dangling link creates its target.
        std::os::unix::fs::symlink("real/new.yaml", dir.path().join("dangling")).unwrap();
        write_with_mode(&dir.path().join("dangling"), b"x", Mode::Exactly(0o600)).unwrap();
        assert_eq!(std::fs::read(real_dir.join("new.yaml")).unwrap(), b"x");
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        assert!(write_atomic(&dir.path().join("loop"), b"x", 0o644).is_err());
    }

    #[test]
    fn stale_temp_files_are_found_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.yaml");
        std::fs::write(&p, "x").unwrap();
        let stale = dir.path().join(".s.yaml.tollgate-0123456789ab.tmp");
        std::fs::write(&stale, "plaintext").unwrap();
        // Other files, and temp files of another file, are not touched.
        std::fs::write(dir.path().join(".t.yaml.tollgate-0123456789ab.tmp"), "").unwrap();
        std::fs::write(dir.path().join(".s.yaml.tollgate-notours.tmp"), "").unwrap();
        assert_eq!(stale_temp_files(&p), std::slice::from_ref(&stale));
        let _lock = Lock::acquire(&p).unwrap();
        assert_eq!(remove_stale_temp_files(&p), 1);
        assert!(!stale.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n");
        std::fs::write(&p, "0").unwrap();
        // Each thread: lock, read, write n+1 atomically (a rename: the lock must follow it).
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let _lock = Lock::acquire(&p).unwrap();
                        let n: u32 = std::fs::read_to_string(&p).unwrap().parse().unwrap();
                        write_atomic(&p, (n + 1).to_string().as_bytes(), 0o644).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "80");
    }
}
