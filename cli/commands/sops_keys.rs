//! `tollgate sops rotate` and `updatekeys`: on one file, or on every SOPS file below
//! directories in parallel, with a dry run that lists recipient changes per file.

use super::sops::{
    emit, formats, indent_for, keyring, load_config, read_input, recipients, InputArgs,
};
use crate::output;
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use tollgate_sops::bulk::{self, Outcome, Report};
use tollgate_sops::error::{Error, ErrorKind, Result};
use tollgate_sops::fsio::Mode;

#[derive(Args)]
pub(crate) struct RotateArgs {
    /// Files, or directories with --recursive; `-` or nothing reads stdin.
    pub(crate) paths: Vec<PathBuf>,
    /// Write over the input file (always on for directories).
    #[arg(short, long)]
    pub(crate) in_place: bool,
    /// Write the result to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) keys: KeyChanges,
    /// Walk directories and rotate every SOPS file in them.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    /// Print what would change and write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) input: InputArgs,
}

/// `--add-*` / `--rm-*` of `rotate`: age and PGP recipients added to the first group or
/// removed from all; keys of other types only removed (adding one needs the key service).
#[derive(Args)]
pub(crate) struct KeyChanges {
    /// Add age recipients (comma-separated) to the first key group.
    #[arg(long, value_name = "RECIPIENTS")]
    add_age: Option<String>,
    /// Remove age recipients (comma-separated).
    #[arg(long, value_name = "RECIPIENTS")]
    rm_age: Option<String>,
    /// Add PGP keys (comma-separated fingerprints) to the first key group.
    #[arg(long, value_name = "FINGERPRINTS")]
    add_pgp: Option<String>,
    /// Remove PGP keys (comma-separated fingerprints).
    #[arg(long, value_name = "FINGERPRINTS")]
    rm_pgp: Option<String>,
    /// Remove AWS KMS keys (comma-separated ARNs). Offline, so only when no KMS or Vault key
    /// is left: those would still wrap the old data key.
    #[arg(long, value_name = "ARNS")]
    rm_kms: Option<String>,
    /// Remove GCP KMS keys (comma-separated resource ids); as --rm-kms.
    #[arg(long, value_name = "IDS")]
    rm_gcp_kms: Option<String>,
    /// Remove Azure Key Vault keys (comma-separated key URLs); as --rm-kms.
    #[arg(long, value_name = "URLS")]
    rm_azure_kv: Option<String>,
    /// Remove HashiCorp Vault transit keys (comma-separated key URIs); as --rm-kms.
    #[arg(long, value_name = "URIS")]
    rm_hc_vault_transit: Option<String>,
    /// Refused: wrapping a data key for AWS KMS needs AWS (use Go sops).
    #[arg(long, value_name = "ARNS")]
    add_kms: Option<String>,
    /// Refused, as --add-kms.
    #[arg(long, value_name = "IDS")]
    add_gcp_kms: Option<String>,
    /// Refused, as --add-kms.
    #[arg(long, value_name = "URLS")]
    add_azure_kv: Option<String>,
    /// Refused, as --add-kms.
    #[arg(long, value_name = "URIS")]
    add_hc_vault_transit: Option<String>,
}

impl KeyChanges {
    /// Whether any key is to be added or removed.
    pub(crate) fn any(&self) -> bool {
        [
            &self.add_age,
            &self.rm_age,
            &self.add_pgp,
            &self.rm_pgp,
            &self.rm_kms,
            &self.rm_gcp_kms,
            &self.rm_azure_kv,
            &self.rm_hc_vault_transit,
            &self.add_kms,
            &self.add_gcp_kms,
            &self.add_azure_kv,
            &self.add_hc_vault_transit,
        ]
        .iter()
        .any(|o| o.is_some())
    }

    /// The identities to add and to remove, as the metadata names them (`pgp:FP`,
    /// `kms:ARN`, ...).
    fn lists(&self) -> Result<(Vec<String>, Vec<String>)> {
        let adds_other = [
            ("--add-kms", &self.add_kms),
            ("--add-gcp-kms", &self.add_gcp_kms),
            ("--add-azure-kv", &self.add_azure_kv),
            ("--add-hc-vault-transit", &self.add_hc_vault_transit),
        ];
        if let Some((flag, _)) = adds_other.iter().find(|(_, v)| v.is_some()) {
            return Err(Error::new(
                ErrorKind::Generic,
                format!("{flag}: tollgate cannot wrap a data key for KMS or Vault keys"),
            )
            .with_hint("add cloud keys with Go sops, which can reach the key service"));
        }
        let add = recipients(self.add_age.as_deref(), self.add_pgp.as_deref());
        let mut rm = recipients(self.rm_age.as_deref(), self.rm_pgp.as_deref());
        for (kind, list) in [
            ("kms", &self.rm_kms),
            ("gcp_kms", &self.rm_gcp_kms),
            ("azure_kv", &self.rm_azure_kv),
            ("hc_vault", &self.rm_hc_vault_transit),
        ] {
            rm.extend(
                list.iter()
                    .flat_map(|l| l.split(','))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|id| tollgate_sops::config::other_identity(kind, id)),
            );
        }
        Ok((add, rm))
    }
}

#[derive(Args)]
pub(crate) struct UpdatekeysArgs {
    /// Files, or directories with --recursive.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Walk directories and update every file a creation rule matches.
    #[arg(short, long)]
    recursive: bool,
    /// Print per file which recipients would be added and removed; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: exit 1 when any file would change (recipients drifted from
    /// .sops.yaml), for CI.
    #[arg(long, requires = "dry_run")]
    check: bool,
    #[command(flatten)]
    input: InputArgs,
}

/// The files to work on. A missing path fails with `missing` (sops: 2 for `rotate`, 1 for
/// `updatekeys`); links the walk does not follow are named on stderr.
fn files(paths: &[PathBuf], recursive: bool, missing: ErrorKind) -> Result<Vec<PathBuf>> {
    for p in paths {
        if p.is_dir() && !recursive {
            return Err(Error::new(
                ErrorKind::Generic,
                format!("{} is a directory", p.display()),
            )
            .with_hint("pass --recursive"));
        }
        if !p.exists() {
            return Err(Error::new(
                missing,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    let walked = bulk::walk(paths);
    for (link, why) in &walked.not_followed {
        output::warn(&format!("{}: not followed: {why}", link.display()));
    }
    Ok(walked.files)
}

/// What an explicitly named file that was skipped fails with.
static NOT_DONE: std::sync::LazyLock<Error> = std::sync::LazyLock::new(|| {
    Error::new(
        ErrorKind::Generic,
        "a file named on the command line was not changed",
    )
});

/// Prints one line per file; returns the exit code of the first failure, if any.
fn print(reports: &[Report], dry_run: bool, explicit: bool) -> Result<()> {
    let mut out = String::new();
    let mut failure: Option<&Error> = None;
    for r in reports {
        let p = r.path.strip_prefix(".").unwrap_or(&r.path).display();
        match &r.outcome {
            Outcome::Unchanged => out.push_str(&format!("{p}: already up to date\n")),
            Outcome::Changed { added, removed } => {
                let verb = if dry_run { "would change" } else { "updated" };
                out.push_str(&format!("{p}: {verb}\n"));
                for a in added {
                    out.push_str(&format!("  + {a}\n"));
                }
                for rm in removed {
                    out.push_str(&format!("  - {rm}\n"));
                }
            }
            Outcome::Skipped(why) if explicit => {
                // A file named on the command line that cannot be worked on is an error, as
                // in sops ("sops metadata not found", exit 1): a script must not take a
                // skipped rotation for a done one.
                output::warn(&format!("{p}: {why}"));
                failure.get_or_insert(&NOT_DONE);
            }
            Outcome::Skipped(_) => {}
            Outcome::Failed(e) => {
                output::warn(&format!("{p}: {}", e.message()));
                failure.get_or_insert(e);
            }
        }
    }
    output::stdout(out.as_bytes())?;
    match failure {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

pub(crate) fn rotate(a: RotateArgs) -> Result<()> {
    let changes_keys = a.keys.any();
    if let Some(missing) = a.paths.iter().find(|p| p.as_os_str() != "-" && !p.exists()) {
        if changes_keys {
            return Err(Error::new(
                ErrorKind::CannotChangeKeysOfNonExistentFile,
                format!(
                    "cannot add or remove keys on non-existent file {}",
                    missing.display()
                ),
            )
            .with_hint("create it with `tollgate sops edit` or `encrypt` first"));
        }
    }
    let (add, rm) = a.keys.lists()?;
    let keyring = keyring(a.input.decryption_order.as_deref())?;
    let config = load_config(&a.input).ok().flatten();
    let single_stream = a.paths.len() <= 1
        && !a.paths.first().is_some_and(|p| p.is_dir())
        && !a.in_place
        && !a.dry_run;
    if single_stream {
        let file = a.paths.first().map(PathBuf::as_path);
        let (inp, out) = formats(file, &a.input)?;
        if inp != out {
            return Err(Error::new(
                ErrorKind::Generic,
                "rotate keeps the file's format; drop --output-type",
            ));
        }
        // sops: "Error reading file" (2) for a missing file.
        let bytes = read_input(file).map_err(|e| match e.kind() {
            ErrorKind::NoFileSpecified => e.with_kind(ErrorKind::CouldNotReadInput),
            _ => e,
        })?;
        let rotated = bulk::rotate_bytes(
            &bytes,
            inp,
            &keyring,
            &add,
            &rm,
            indent_for(inp, &a.input, config.as_ref()),
        )?;
        return emit(
            &rotated,
            file,
            false,
            a.output.as_deref(),
            Mode::KeepOr(0o644),
        );
    }
    if a.output.is_some() {
        return Err(Error::new(
            ErrorKind::ConflictingParameters,
            "--output takes a single file",
        ));
    }
    let files = files(&a.paths, a.recursive, ErrorKind::CouldNotReadInput)?;
    let format = a
        .input
        .input_type
        .as_deref()
        .map(tollgate_sops::Format::from_name)
        .transpose()?;
    let reports = bulk::for_each(&files, |p| {
        bulk::rotate(p, &keyring, &add, &rm, config.as_ref(), format, a.dry_run)
    });
    print(&reports, a.dry_run, !a.recursive)
}

fn confirm(reports: &[Report]) -> Result<bool> {
    let pending = reports
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Changed { .. }));
    if !pending {
        return Ok(false);
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            Error::new(ErrorKind::Generic, "updatekeys needs confirmation")
                .with_hint("pass -y to apply the changes above"),
        );
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "Apply these changes? (y/n) ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::new(ErrorKind::CouldNotReadInput, e.to_string()))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub(crate) fn updatekeys(a: UpdatekeysArgs) -> Result<()> {
    let config = load_config(&a.input)?.ok_or_else(|| {
        Error::new(ErrorKind::Generic, "no .sops.yaml found")
            .with_hint("updatekeys takes its recipients from .sops.yaml; pass --config")
    })?;
    let keyring = keyring(a.input.decryption_order.as_deref())?;
    let files = files(&a.paths, a.recursive, ErrorKind::Generic)?;
    let format = a
        .input
        .input_type
        .as_deref()
        .map(tollgate_sops::Format::from_name)
        .transpose()?;
    let explicit = !a.recursive;
    if a.dry_run || !a.yes {
        let plan = bulk::for_each(&files, |p| {
            bulk::updatekeys(p, &config, &keyring, format, true)
        });
        print(&plan, true, explicit)?;
        let drifted = plan
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Changed { .. }))
            .count();
        if a.check && drifted > 0 {
            return Err(Error::new(
                ErrorKind::Generic,
                format!("{drifted} file(s) would change: their recipients differ from .sops.yaml"),
            )
            .with_hint(
                "apply with `tollgate sops updatekeys -y` (a key that opens them is needed)",
            ));
        }
        if a.dry_run || !confirm(&plan)? {
            return Ok(());
        }
    }
    let reports = bulk::for_each(&files, |p| {
        bulk::updatekeys(p, &config, &keyring, format, false)
    });
    print(&reports, false, explicit)
}
