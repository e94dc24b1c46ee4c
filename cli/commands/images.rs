//! `tollgate images verify`: whether images carry a cosign signature by a given key, asked
//! of their registries (or the cache) with the same verifier `check`, the hooks and the
//! webhook use for `images.signatures`. Exit 0 every image verified, 1 some did not, 2 some
//! could not be checked.

use super::query::usage;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate_core::image::ImageRef;
use tollgate_core::signature::{key_name, Outcome, PublicKey, Requirement, Verifier};
use tollgate_core::Error;

#[derive(Args)]
pub(crate) struct ImagesArgs {
    #[command(subcommand)]
    command: ImagesCommand,
}

#[derive(Subcommand)]
enum ImagesCommand {
    /// Verify the cosign signatures of images with public keys (exit 0 all verified, 1 some
    /// not, 2 could not check).
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// Image references (`ghcr.io/acme/app:1.2`, `registry.acme.io/app@sha256:…`).
    #[arg(required = true, value_name = "REF")]
    images: Vec<String>,
    /// A public key (PEM, as cosign.pub) that may have signed (repeatable: any one will do).
    #[arg(long, required = true, value_name = "FILE")]
    key: Vec<PathBuf>,
    /// KEY=VALUE the signed payload's annotations must hold (as `cosign verify -a`).
    #[arg(short, long, value_name = "KEY=VALUE")]
    annotation: Vec<String>,
    /// Where the signatures are stored, if not beside the image (as COSIGN_REPOSITORY).
    #[arg(long, value_name = "REGISTRY/REPOSITORY")]
    signature_repository: Option<String>,
    /// Registry host (with its port) to reach over plain HTTP (repeatable; tollgate.yaml's
    /// `images.insecure_registries` are added).
    #[arg(long, value_name = "HOST")]
    allow_insecure_registry: Vec<String>,
    /// The configuration file (default: tollgate.yaml found upwards from here), for its
    /// `images.insecure_registries`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Answer from the cache only; what it does not hold is "not verified offline".
    #[arg(long)]
    offline: bool,
    /// Output: human or json.
    #[arg(long, value_name = "FORMAT", default_value = "human")]
    format: String,
}

pub(crate) fn run(a: &ImagesArgs) -> Result<u8, Error> {
    let ImagesCommand::Verify(v) = &a.command;
    let json = match v.format.as_str() {
        "human" => false,
        "json" => true,
        other => return Err(usage(format!("--format {other}: expected human or json"))),
    };
    let keys = v
        .key
        .iter()
        .map(|path| {
            PublicKey::read(path, &path.display().to_string())
                .map_err(|e| usage(format!("--key: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let annotations = v
        .annotation
        .iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| usage(format!("--annotation {a}: expected KEY=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let images = v
        .images
        .iter()
        .map(|r| ImageRef::parse(r).map_err(|e| usage(format!("{r}: not an image reference: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let config = super::check::load_config(v.config.as_deref())?;
    let mut insecure = v.allow_insecure_registry.clone();
    insecure.extend(config.images.insecure_registries.iter().cloned());
    let verifier = Verifier::new(&crate::registry::access(v.offline, &insecure));
    let req = Requirement {
        keys: &keys,
        annotations: &annotations,
        repository: v.signature_repository.as_deref(),
    };
    let outcomes: Vec<Outcome> = {
        use rayon::prelude::*;
        images.par_iter().map(|i| verifier.verify(i, req)).collect()
    };
    let mut code = 0u8;
    let mut rows = Vec::new();
    for (written, outcome) in v.images.iter().zip(&outcomes) {
        let (status, digest, key, reason, worst) = match outcome {
            Outcome::Verified { digest, key } => (
                "verified",
                Some(digest.clone()),
                keys.get(*key).map(key_name),
                None,
                0,
            ),
            Outcome::Unverified { digest, reason } => (
                "not verified",
                digest.clone(),
                None,
                Some(reason.clone()),
                1,
            ),
            Outcome::Offline(reason) => {
                ("not verified offline", None, None, Some(reason.clone()), 2)
            }
            Outcome::Unchecked(reason) => ("could not check", None, None, Some(reason.clone()), 2),
        };
        code = code.max(worst);
        if json {
            rows.push(serde_json::json!({
                "image": written,
                "status": status,
                "verified": worst == 0,
                "digest": digest,
                "key": key,
                "reason": reason,
            }));
        } else {
            let mut line = format!("{written}: {status}");
            if let Some(d) = digest.filter(|d| !written.ends_with(d.as_str())) {
                line.push_str(&format!(" ({d})"));
            }
            if let Some(k) = key {
                line.push_str(&format!(" with {k}"));
            }
            if let Some(r) = reason {
                line.push_str(&format!(": {r}"));
            }
            println!("{line}");
        }
    }
    if json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| usage(e.to_string()))?;
        println!("{text}");
    }
    Ok(code)
}
