//! The project's one YAML layer, shared by the SOPS format and the policy core: the document
//! tree (ordered maps, typed scalars, comments), the reader that builds it from granit-parser's
//! events with the position of every field (YAML 1.2 as Go's yaml.v3 types it, or the YAML 1.1
//! Kubernetes reads), and Go-compatible time.

#![forbid(unsafe_code)]
// Reads files from repositories: no indexing or unchecked arithmetic, unless a module says why
// its remaining sites cannot fail.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod error;
pub mod read;
pub mod time;
pub mod tree;

pub use error::{Error, ErrorKind, Result};
