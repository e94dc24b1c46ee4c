//! The `tollgate` binary: parses the command line and hands each subcommand to its module.
//! No format, policy or crypto logic lives here.

mod commands;
mod output;
mod registry;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Secrets and policy compliance for GitOps repositories.
#[derive(Parser)]
#[command(name = "tollgate", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate policies on Kubernetes manifests (exit 0 clean, 1 findings, 2 errors).
    Check(commands::check::CheckArgs),
    /// List the rules of bundled packs and policies, or explain one.
    Rules(commands::rules::RulesArgs),
    /// Run the `test_` rules of Rego policies (exit 0 all pass, 1 a test fails, 2 errors).
    Verify(commands::verify::VerifyArgs),
    /// Run Kyverno `kyverno-test.yaml` suites (exit 0 all hold, 1 one fails, 2 none found).
    Test(commands::test::TestArgs),
    /// Secrets governance: plaintext Secrets, files `.sops.yaml` says must be encrypted.
    Secrets(commands::secrets::SecretsArgs),
    /// Set a repository up: tollgate.yaml, .pre-commit-config.yaml, .sops.yaml.
    Init(commands::init::InitArgs),
    /// Encrypt, decrypt, edit and re-key SOPS files (compatible with Go sops).
    Sops(Box<commands::sops::SopsArgs>),
    /// Ask the RBAC of the manifests: who can do what, what a subject can do.
    Rbac(commands::rbac::RbacArgs),
    /// Ask the NetworkPolicies of the manifests: may one workload reach another.
    Netpol(commands::netpol::NetpolArgs),
    /// The admission webhook: answer AdmissionReviews offline or over HTTPS.
    Webhook(commands::webhook::WebhookArgs),
    /// Container images: verify their cosign signatures.
    Images(commands::images::ImagesArgs),
}

/// The stack of every thread that evaluates policies: the main work thread and rayon's
/// workers. Recursive Rego functions are rejected before evaluation and input nesting is
/// capped by the YAML reader (1,000 levels), so evaluation depth is bounded; a known stack,
/// not the platform's default (2 MiB for spawned threads), makes that bound hold everywhere.
pub(crate) const STACK_BYTES: usize = 64 * 1024 * 1024;

fn main() -> ExitCode {
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_BYTES)
        .build_global();
    let work = std::thread::Builder::new()
        .name("tollgate".into())
        .stack_size(STACK_BYTES)
        .spawn(run);
    match work.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        // The panic message is already on stderr; 101 is Rust's code for it.
        Ok(Err(_)) => ExitCode::from(101),
        Err(_) => run(),
    }
}

fn run() -> ExitCode {
    // The raw matches are kept: `check` pairs each --output with the --format before it.
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // Nothing useful can be done when the terminal is gone.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Check(args) => {
            let sub = matches.subcommand_matches("check").unwrap_or(&matches);
            policy_exit(commands::check::run(&args, sub))
        }
        Command::Secrets(args) => {
            let sub = matches.subcommand_matches("secrets").unwrap_or(&matches);
            policy_exit(commands::secrets::run(&args, sub))
        }
        Command::Init(args) => policy_exit(commands::init::run(&args)),
        Command::Rules(args) => policy_exit(commands::rules::run(&args)),
        Command::Verify(args) => policy_exit(commands::verify::run(&args)),
        Command::Test(args) => policy_exit(commands::test::run(&args)),
        Command::Rbac(args) => policy_exit(commands::rbac::run(&args)),
        Command::Netpol(args) => policy_exit(commands::netpol::run(&args)),
        Command::Webhook(args) => policy_exit(commands::webhook::run(args)),
        Command::Images(args) => policy_exit(commands::images::run(&args)),
        Command::Sops(args) => {
            output::remove_temp_files_on_signals();
            match commands::sops::run(*args) {
                Ok(code) => ExitCode::from(code),
                Err(e) => output::report(&e),
            }
        }
    }
}

/// The policy commands share one contract: their own code, or 2 for usage, configuration and
/// input errors, printed with what to do (sops's commands keep sops's exit codes instead).
fn policy_exit(result: Result<u8, tollgate_core::Error>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::report_policy(&e);
            ExitCode::from(2)
        }
    }
}
