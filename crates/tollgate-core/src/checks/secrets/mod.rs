//! Secrets governance that needs SOPS's own configuration: which files `.sops.yaml` says must
//! be encrypted, and which Flux Kustomizations must decrypt; and what the set's workloads
//! expect of it (the Secrets they reference). The plaintext-Secret rule of the
//! same pack is Rego (`policies/secrets`).

pub mod flux_decryption;
pub mod missing_secret;
pub mod sops_required;
pub mod stale_temp_file;
