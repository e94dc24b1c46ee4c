//! What `tollgate check`, pre-commit and the admission webhook share: Kubernetes manifests
//! loaded with the source position of every field, ready for policy evaluation. No CLI, no
//! async.

#![forbid(unsafe_code)]

pub mod config;
pub mod engine;
pub mod finding;
pub mod kyverno;
pub mod manifest;
pub mod packs;
pub mod report;
pub mod suppress;
pub mod wildcard;
