//! Secrets governance: plaintext Secret values and secret-looking literals elsewhere; what
//! `.sops.yaml` says must be encrypted and for whom; the health of every SOPS file (metadata,
//! values left in the clear, recipients, the MAC when a key is at hand); which Flux
//! Kustomizations must decrypt; and what the set's workloads expect of it (the Secrets they
//! reference). None of it needs a private key, except the MAC check that asks for one.

pub mod detect;
pub mod entropy;
pub mod flux_decryption;
pub mod literal;
pub mod malformed;
pub mod missing_secret;
pub mod plaintext;
pub mod recipient_drift;
pub mod sops_required;
pub mod stale_temp_file;
pub mod tampered;
pub mod unsealed_value;

use crate::manifest::Resource;
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tollgate_sops::audit::Audit;
use tollgate_sops::config::Config as SopsConfig;

/// Default shortest value SECRET004 judges.
pub const ENTROPY_MIN_LENGTH: usize = 20;
/// Default bits per character at or above which a value looks random (a 20-character
/// base64 secret scores about 4.2; English words and paths stay under 3.8).
pub const ENTROPY_THRESHOLD: f64 = 4.0;

/// The secrets rules' settings (`secrets:` of tollgate.yaml).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Extra patterns for values that are references, not secrets.
    pub reference_patterns: Vec<Regex>,
    /// SECRET004's shortest value.
    pub entropy_min_length: usize,
    /// SECRET004's threshold, bits per character.
    pub entropy_threshold: f64,
    /// `secrets audit --verify-mac`: decrypt (in memory) and verify every MAC (SOPS007).
    pub verify_mac: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            reference_patterns: Vec::new(),
            entropy_min_length: ENTROPY_MIN_LENGTH,
            entropy_threshold: ENTROPY_THRESHOLD,
            verify_mac: false,
        }
    }
}

impl Settings {
    /// From tollgate.yaml's `secrets:` (its patterns were validated when it was read).
    pub fn from_config(c: &crate::config::Secrets) -> Settings {
        Settings {
            reference_patterns: c
                .reference_patterns
                .iter()
                .filter_map(|p| Regex::new(p).ok())
                .collect(),
            entropy_min_length: c.entropy_min_length.unwrap_or(ENTROPY_MIN_LENGTH),
            entropy_threshold: c.entropy_threshold.unwrap_or(ENTROPY_THRESHOLD),
            verify_mac: c.verify_mac,
        }
    }

    /// Whether `value` points at a secret kept elsewhere (a controller or plugin resolves it),
    /// so it is not a secret itself: the built-in forms, then the configured patterns.
    pub fn is_reference(&self, value: &str) -> bool {
        detect::is_builtin_reference(value)
            || self.reference_patterns.iter().any(|r| r.is_match(value))
    }
}

/// A SOPS-encrypted file of the set, audited once for every rule that asks.
pub struct SopsFile<'a> {
    /// The file.
    pub path: PathBuf,
    /// Its resources, by document index (findings are placed on them).
    pub resources: BTreeMap<usize, &'a Resource>,
    /// What its metadata says.
    pub audit: Audit,
    /// Its bytes, kept for the MAC check.
    pub bytes: Arc<[u8]>,
}

// Its bytes may hold plaintext an edit put there (SOPS006): `Debug` leaves them out.
impl std::fmt::Debug for SopsFile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SopsFile")
            .field("path", &self.path)
            .field("documents", &self.resources.keys().collect::<Vec<_>>())
            .field("audit", &self.audit)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl SopsFile<'_> {
    /// The resource findings about the whole file go on: its first document.
    pub fn first(&self) -> Option<&Resource> {
        self.resources.values().next().copied()
    }
}

/// `.sops.yaml` files by directory, read once per run.
#[derive(Default)]
pub(crate) struct Configs {
    by_dir: HashMap<PathBuf, Option<Arc<SopsConfig>>>,
}

impl Configs {
    /// The `.sops.yaml` that governs `file` (the nearest above it), if one can be read.
    pub(crate) fn for_file(&mut self, file: &Path) -> Option<Arc<SopsConfig>> {
        let dir = file.parent()?.to_path_buf();
        self.by_dir
            .entry(dir.clone())
            .or_insert_with(|| {
                let path = tollgate_sops::config::find(&dir)?;
                SopsConfig::load(&path).ok().map(Arc::new)
            })
            .clone()
    }
}

/// Every SOPS-encrypted file a resource of the set was read from, audited.
pub(crate) fn sops_files<'a>(resources: &'a [Resource]) -> Vec<SopsFile<'a>> {
    // Every document of a file any of whose documents is encrypted: sops treats the file as
    // one, so a plain document in it is judged by the file's metadata too.
    let encrypted: std::collections::BTreeSet<&str> = resources
        .iter()
        .filter(|r| r.sops_encrypted())
        .map(|r| &*r.origin.file)
        .collect();
    let mut by_file: BTreeMap<&str, BTreeMap<usize, &'a Resource>> = BTreeMap::new();
    for r in resources
        .iter()
        .filter(|r| encrypted.contains(&*r.origin.file))
    {
        by_file
            .entry(&r.origin.file)
            .or_default()
            .entry(r.origin.document)
            .or_insert(r);
    }
    let mut configs = Configs::default();
    let mut out = Vec::new();
    for (file, docs) in by_file {
        let path = PathBuf::from(file);
        // stdin, an admission request: nothing to read back.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let config = configs.for_file(&path);
        let Some(audit) = tollgate_sops::audit::audit(&path, &bytes, config.as_deref()) else {
            continue;
        };
        out.push(SopsFile {
            path,
            resources: docs,
            audit,
            bytes: bytes.into(),
        });
    }
    out
}
