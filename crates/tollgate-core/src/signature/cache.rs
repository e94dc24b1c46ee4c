//! Verification results on disk (`$XDG_CACHE_HOME/tollgate/images`), so CI runs and the
//! webhook do not ask the registry about every object: a digest verified with a key stays
//! verified (both are immutable), a tag's digest is kept for [`TAG_TTL`] (tags move). Only
//! successes are kept: an image signed a minute after a failed check must pass the next one.
//! Entries are written whole (a temporary file renamed) and checked when read, so a torn or
//! foreign file is a miss, never a wrong answer.

use super::keys::hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a tag's digest is believed without asking the registry again.
pub const TAG_TTL_SECONDS: u64 = 300;

/// The `optional` annotations of each payload one key verified for one digest.
pub type Signed = Vec<Vec<(String, String)>>;

/// One verified (digest, key, signature repository): the `optional` annotations of each
/// payload the key signed, so annotation constraints are judged without the registry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Verified {
    digest: String,
    key: String,
    repository: String,
    annotations: Signed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tag {
    image: String,
    digest: String,
    at: u64,
}

/// The cache: a directory, and what this process already read or wrote of it.
#[derive(Debug)]
pub struct Cache {
    dir: Option<PathBuf>,
    verified: RwLock<HashMap<String, Signed>>,
    tags: RwLock<HashMap<String, (String, u64)>>,
}

/// The default directory: `$XDG_CACHE_HOME/tollgate`, else `~/.cache/tollgate`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("tollgate"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn name(parts: &[&str]) -> String {
    hex(&Sha256::digest(parts.join("\n").as_bytes()))
}

impl Cache {
    /// A cache under `dir/images` (`None`: in memory only).
    pub fn new(dir: Option<&Path>) -> Cache {
        Cache {
            dir: dir.map(|d| d.join("images").join("v1")),
            verified: RwLock::new(HashMap::new()),
            tags: RwLock::new(HashMap::new()),
        }
    }

    /// The annotation sets of the payloads `key` verified for `digest`, if it did.
    pub fn verified(&self, digest: &str, key: &str, repository: &str) -> Option<Signed> {
        let id = name(&[digest, key, repository]);
        if let Some(hit) = self.verified.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Some(hit);
        }
        let entry: Verified = self.read("verified", &id)?;
        let wanted = (digest, key, repository);
        if (
            entry.digest.as_str(),
            entry.key.as_str(),
            entry.repository.as_str(),
        ) != wanted
        {
            return None;
        }
        if let Ok(mut m) = self.verified.write() {
            m.insert(id, entry.annotations.clone());
        }
        Some(entry.annotations)
    }

    /// Records that `key` verified `digest`, with its payloads' annotations.
    pub fn put_verified(&self, digest: &str, key: &str, repository: &str, annotations: Signed) {
        let id = name(&[digest, key, repository]);
        let entry = Verified {
            digest: digest.to_owned(),
            key: key.to_owned(),
            repository: repository.to_owned(),
            annotations,
        };
        self.write("verified", &id, &entry);
        if let Ok(mut m) = self.verified.write() {
            m.insert(id, entry.annotations);
        }
    }

    /// The digest `image` (`registry/repository:tag`) had when last resolved, if within the
    /// TTL (any age with `stale_ok`: offline, the cache is all there is).
    pub fn tag(&self, image: &str, stale_ok: bool) -> Option<String> {
        let id = name(&[image]);
        let fresh = |at: u64| stale_ok || now().saturating_sub(at) < TAG_TTL_SECONDS;
        if let Some((d, at)) = self.tags.read().ok().and_then(|m| m.get(&id).cloned()) {
            if fresh(at) {
                return Some(d);
            }
        }
        let entry: Tag = self.read("tags", &id)?;
        (entry.image == image && fresh(entry.at)).then(|| {
            if let Ok(mut m) = self.tags.write() {
                m.insert(id, (entry.digest.clone(), entry.at));
            }
            entry.digest
        })
    }

    /// Records the digest `image`'s tag points at now.
    pub fn put_tag(&self, image: &str, digest: &str) {
        let id = name(&[image]);
        let at = now();
        self.write(
            "tags",
            &id,
            &Tag {
                image: image.to_owned(),
                digest: digest.to_owned(),
                at,
            },
        );
        if let Ok(mut m) = self.tags.write() {
            m.insert(id, (digest.to_owned(), at));
        }
    }

    fn read<T: for<'de> Deserialize<'de>>(&self, kind: &str, id: &str) -> Option<T> {
        let path = self.dir.as_ref()?.join(kind).join(format!("{id}.json"));
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes an entry whole; a cache that cannot be written costs speed, not the answer.
    fn write<T: Serialize>(&self, kind: &str, id: &str, entry: &T) {
        let Some(dir) = self.dir.as_ref().map(|d| d.join(kind)) else {
            return;
        };
        let Ok(bytes) = serde_json::to_vec(entry) else {
            return;
        };
        let _ = std::fs::create_dir_all(&dir).and_then(|()| {
            let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
            std::io::Write::write_all(&mut tmp, &bytes)?;
            tmp.persist(dir.join(format!("{id}.json")))
                .map(drop)
                .map_err(|e| e.error)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_the_process_and_are_keyed_by_digest_key_and_repository() {
        let dir = tempfile::tempdir().unwrap();
        let a = Cache::new(Some(dir.path()));
        let notes = vec![vec![("env".to_owned(), "prod".to_owned())]];
        a.put_verified("sha256:1", "k1", "r/x", notes.clone());
        // A new process (a new Cache) reads it from disk.
        let b = Cache::new(Some(dir.path()));
        assert_eq!(b.verified("sha256:1", "k1", "r/x"), Some(notes));
        // Another key, digest or signature repository is another question.
        assert_eq!(b.verified("sha256:1", "k2", "r/x"), None);
        assert_eq!(b.verified("sha256:2", "k1", "r/x"), None);
        assert_eq!(b.verified("sha256:1", "k1", "r/y"), None);
    }

    #[test]
    fn a_torn_or_foreign_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(Some(dir.path()));
        c.put_verified("sha256:1", "k1", "r/x", vec![]);
        let file = dir
            .path()
            .join("images/v1/verified")
            .join(format!("{}.json", name(&["sha256:1", "k1", "r/x"])));
        std::fs::write(&file, b"{\"digest\":").unwrap();
        assert_eq!(
            Cache::new(Some(dir.path())).verified("sha256:1", "k1", "r/x"),
            None
        );
        // A whole entry for another question under this name does not answer this one.
        std::fs::write(
            &file,
            br#"{"digest":"sha256:9","key":"k1","repository":"r/x","annotations":[]}"#,
        )
        .unwrap();
        assert_eq!(
            Cache::new(Some(dir.path())).verified("sha256:1", "k1", "r/x"),
            None
        );
    }

    #[test]
    fn a_tag_is_believed_within_its_ttl_and_offline_at_any_age() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(Some(dir.path()));
        c.put_tag("r/x:v1", "sha256:1");
        assert_eq!(
            Cache::new(Some(dir.path())).tag("r/x:v1", false).as_deref(),
            Some("sha256:1")
        );
        // Age the entry past the TTL.
        let file = dir
            .path()
            .join("images/v1/tags")
            .join(format!("{}.json", name(&["r/x:v1"])));
        std::fs::write(&file, br#"{"image":"r/x:v1","digest":"sha256:1","at":1}"#).unwrap();
        let old = Cache::new(Some(dir.path()));
        assert_eq!(old.tag("r/x:v1", false), None);
        assert_eq!(old.tag("r/x:v1", true).as_deref(), Some("sha256:1"));
    }
}
