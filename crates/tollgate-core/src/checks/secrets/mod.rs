//! Secrets governance that needs SOPS's own configuration: which files `.sops.yaml` says must
//! be encrypted. The plaintext-Secret rule of the same pack is Rego (`policies/secrets`).

pub mod sops_required;
