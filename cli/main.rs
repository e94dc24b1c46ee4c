//! The `tollgate` binary: parses the command line and hands each subcommand to its module.
//! No format, policy or crypto logic lives here.

mod commands;
mod output;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Secrets and policy compliance for GitOps repositories.
#[derive(Parser)]
#[command(name = "tollgate", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encrypt, decrypt, edit and re-key SOPS files (compatible with Go sops).
    Sops(commands::sops::SopsArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // Nothing useful can be done when the terminal is gone.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Sops(args) => commands::sops::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => output::report(&e),
    }
}
