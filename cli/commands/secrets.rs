//! `tollgate secrets`: secrets governance over a repository, which the `tollgate-secrets`
//! pre-commit hook runs on what a commit stages.

use super::check::{self, AuditArgs};
use clap::{ArgMatches, Args, Subcommand};
use tollgate_core::Error;

#[derive(Args)]
pub(crate) struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Plaintext Secrets, credentials outside Secrets, files `.sops.yaml` says must be
    /// encrypted, SOPS metadata, values and recipients (the `secrets` pack; no key needed,
    /// except for --verify-mac), on manifests, the staged state (--staged) or a change
    /// (--new-since); exit 0 clean, 1 findings, 2 errors.
    Audit(AuditArgs),
}

pub(crate) fn run(a: &SecretsArgs, m: &ArgMatches) -> Result<u8, Error> {
    match &a.command {
        SecretsCommand::Audit(args) => {
            let sub = m.subcommand_matches("audit").unwrap_or(m);
            check::audit(args, sub)
        }
    }
}
