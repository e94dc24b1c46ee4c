//! `tollgate webhook review | serve`: the admission enforcement point. `review` answers one
//! AdmissionReview offline (what a user debugging a denial runs, and what the parity tests
//! compare); `serve` answers the API server over HTTPS. Both are adapters over
//! `PolicySet::admit`, the same verdict `tollgate check` gives.

use super::check::{load_config, PolicyArgs};
use super::query::{usage, written};
use crate::output;
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use tollgate_core::admission::AdmissionRequest;
use tollgate_core::config::Config;
use tollgate_core::policyset::PolicySet;
use tollgate_core::Error;

#[derive(Args)]
pub(crate) struct WebhookArgs {
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Answer one AdmissionReview (a file, or `-` for stdin) with the response the webhook
    /// would send (exit 0 allowed, 1 denied, 2 error).
    Review {
        /// The AdmissionReview (JSON).
        #[arg(default_value = "-")]
        file: PathBuf,
        #[command(flatten)]
        policies: PolicyArgs,
    },
    /// Serve admission reviews over HTTPS (`POST /validate`, `/healthz`, `/readyz`, `/metrics`).
    #[cfg(feature = "webhook")]
    Serve(super::webhook_server::ServeArgs),
    /// Write a self-signed CA and a serving certificate for the webhook's Service (ca.crt,
    /// tls.crt, tls.key) and the caBundle patch for its ValidatingWebhookConfiguration.
    #[cfg(feature = "webhook")]
    Certs(super::webhook_server::CertsArgs),
}

/// Compiles the policy set admission uses: the same sources `check` reads, with the
/// configuration read again (a reload picks up its changes).
pub(crate) fn policy_set(policies: &PolicyArgs) -> Result<PolicySet, Error> {
    policy_set_with(policies, &load_config(policies.config.as_deref())?)
}

/// The policy set of `policies` under an already read `config`.
pub(crate) fn policy_set_with(policies: &PolicyArgs, config: &Config) -> Result<PolicySet, Error> {
    let sources = policies.sources(config, false)?;
    let set = PolicySet::load(&sources, config).map_err(Error::Policies)?;
    for note in set.notes() {
        output::warn(note);
    }
    Ok(set)
}

pub(crate) fn run(a: WebhookArgs) -> Result<u8, Error> {
    match a.command {
        WebhookCommand::Review { file, policies } => review(&file, &policies),
        #[cfg(feature = "webhook")]
        WebhookCommand::Serve(args) => super::webhook_server::serve(args),
        #[cfg(feature = "webhook")]
        WebhookCommand::Certs(args) => super::webhook_server::certs(&args),
    }
}

fn review(file: &std::path::Path, policies: &PolicyArgs) -> Result<u8, Error> {
    let mut text = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut text))
    };
    read.map_err(|e| usage(format!("{}: cannot read: {e}", file.display())))?;
    let body: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::Review(format!("{}: not JSON: {e}", file.display())))?;
    let request = AdmissionRequest::from_review(&body)?;
    let set = policy_set(policies)?;
    let verdict = set.admit(&request, &tollgate_core::suppress::today_utc());
    for e in verdict.errors() {
        output::warn(&format!("{}: {}", e.file, e.message));
    }
    let mut out = serde_json::to_string_pretty(&verdict.to_review()).unwrap_or_default();
    out.push('\n');
    output::stdout(out.as_bytes()).map_err(written("stdout"))?;
    Ok(if !verdict.errors().is_empty() {
        2
    } else {
        u8::from(!verdict.allowed)
    })
}
