//! The SOPS format, compatible with Go sops in both directions: documents and stores, the
//! AES-256-GCM value cipher, the MAC, metadata, age/SSH keys with Shamir key groups, and
//! `.sops.yaml` creation rules. No CLI, no async: the binary and other crates call into this.

#![forbid(unsafe_code)]
// Everything here reads files from repositories: no indexing or unchecked arithmetic, unless
// a module says why its remaining sites cannot fail.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod audit;
pub mod bulk;
pub mod cipher;
pub mod config;
pub mod crypt;
pub mod error;
pub mod file;
pub mod fsio;
pub mod keys;
pub mod metadata;
pub mod selector;
pub mod stores;
pub mod treepath;

// The YAML layer lives in tollgate-yaml (the policy core reads manifests with it too); the
// SOPS modules keep reaching it through these paths.
pub use tollgate_yaml::{time, tree};

pub use error::{Error, ErrorKind, Result};
pub use stores::Format;
