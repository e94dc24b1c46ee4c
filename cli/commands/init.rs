//! `tollgate init`: writes a starter tollgate.yaml, a `.pre-commit-config.yaml` pinned to this
//! version and, when the repository has none and `--age` names a recipient, a `.sops.yaml`.
//! An existing file is kept unless `--force`.

use crate::output;
use clap::Args;
use std::path::PathBuf;
use tollgate_core::{scaffold, Error};
use tollgate_sops::fsio::write_atomic;

#[derive(Args)]
pub(crate) struct InitArgs {
    /// The repository to set up.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Write `.sops.yaml` for this age recipient (`age1…`), when the repository has none.
    #[arg(long, value_name = "RECIPIENT")]
    age: Option<String>,
    /// Replace files that exist.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(a: &InitArgs) -> Result<u8, Error> {
    if !a.dir.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory",
            a.dir.display()
        )));
    }
    if let Some(age) = &a.age {
        tollgate_sops::keys::Recipient::parse(age).map_err(|e| Error::Usage(e.to_string()))?;
    }
    let version = env!("CARGO_PKG_VERSION");
    let repository = env!("CARGO_PKG_REPOSITORY");
    let mut files = vec![
        ("tollgate.yaml", scaffold::tollgate_yaml()),
        (
            ".pre-commit-config.yaml",
            scaffold::pre_commit_config(repository, version),
        ),
    ];
    let sops = a.dir.join(".sops.yaml");
    match &a.age {
        Some(age) => files.push((".sops.yaml", scaffold::sops_yaml(age))),
        None if !sops.exists() => output::warn(
            "no .sops.yaml written: pass --age RECIPIENT to create one for your age key",
        ),
        None => {}
    }
    for (name, text) in files {
        let path = a.dir.join(name);
        if path.exists() && !a.force {
            output::warn(&format!(
                "kept {} (it exists; --force replaces it)",
                path.display()
            ));
            continue;
        }
        write_atomic(&path, text.as_bytes(), 0o644).map_err(|e| Error::Write {
            what: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        eprintln!("wrote {}", path.display());
    }
    Ok(0)
}
