//! Secrets governance that needs SOPS's own configuration: which files `.sops.yaml` says must
//! be encrypted, and which Flux Kustomizations must decrypt. The plaintext-Secret rule of the
//! same pack is Rego (`policies/secrets`).

pub mod flux_decryption;
pub mod sops_required;
