//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod images;
pub(crate) mod init;
pub(crate) mod netpol;
mod query;
pub(crate) mod rbac;
pub(crate) mod rules;
pub(crate) mod secrets;
pub(crate) mod sops;
mod sops_edit;
mod sops_exec;
mod sops_groups;
mod sops_keys;
mod sops_legacy;
mod sops_paths;
pub(crate) mod test;
pub(crate) mod verify;
pub(crate) mod webhook;
#[cfg(feature = "webhook")]
mod webhook_server;
