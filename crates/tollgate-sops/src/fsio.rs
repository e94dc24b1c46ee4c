//! Writes that cannot tear: a temp file in the same directory, fsync, rename over the target,
//! and the target's permissions kept, so a crash leaves the old file or the new one.

use crate::error::{err, Result};
use rand::RngCore;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `data` atomically. New files get `new_mode` (Unix permission bits).
pub fn write_atomic(path: &Path, data: &[u8], new_mode: u32) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| {
        err!(CouldNotWriteOutput, "{}: {what}: {e}", path.display())
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let existing = std::fs::metadata(path).ok();
    let mut tmp_path;
    let mut file;
    loop {
        let mut r = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut r);
        let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
        tmp_path = dir.join(format!(".{name}.tollgate-{suffix}.tmp"));
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
    let result = (|| {
        file.write_all(data).map_err(|e| fail("write failed", e))?;
        let perms = match &existing {
            Some(m) => m.permissions(),
            None => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::Permissions::from_mode(new_mode)
                }
                #[cfg(not(unix))]
                {
                    let _ = new_mode;
                    file.metadata()
                        .map_err(|e| fail("stat failed", e))?
                        .permissions()
                }
            }
        };
        file.set_permissions(perms)
            .map_err(|e| fail("cannot set permissions", e))?;
        file.sync_all().map_err(|e| fail("fsync failed", e))?;
        std::fs::rename(&tmp_path, path).map_err(|e| fail("rename failed", e))?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.yaml");
        write_atomic(&p, b"one", 0o600).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o640
            );
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
