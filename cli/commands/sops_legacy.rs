//! `tollgate sops [-e|-d|-r|--set …] FILE`: sops's original command line, before subcommands,
//! which helm-secrets, old CI jobs and editors' plugins still call. Each form is mapped onto
//! the subcommand that does the same work, so there is one implementation of each operation.

use super::sops::{DecryptArgs, EditArgs, EncryptArgs, InputArgs, NewFileArgs};
use super::{sops_edit, sops_keys, sops_paths};
use clap::Args;
use std::path::PathBuf;
use tollgate_sops::error::{Error, ErrorKind, Result};

/// The flags of `sops FILE`: a mode switch, then the flags the chosen mode reads.
#[derive(Args)]
pub(crate) struct LegacyArgs {
    /// The file to work on (no subcommand: `-e`, `-d`, `-r`, `--set`, or edit when none).
    file: Option<PathBuf>,
    /// Encrypt FILE (legacy form of `sops encrypt`).
    #[arg(short, long)]
    encrypt: bool,
    /// Decrypt FILE (legacy form of `sops decrypt`).
    #[arg(short, long)]
    decrypt: bool,
    /// Rotate the data key of FILE (legacy form of `sops rotate`).
    #[arg(short, long)]
    rotate: bool,
    /// Set one value in FILE, in place: '["key"]["sub"] "json value"'.
    #[arg(long, value_name = "PATH VALUE")]
    set: Option<String>,
    /// With -d: print one value, e.g. '["stringData"]["password"]'.
    #[arg(long, value_name = "PATH")]
    extract: Option<String>,
    /// Write the result over FILE.
    #[arg(short, long)]
    in_place: bool,
    /// Write the result to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Open even when the MAC does not match.
    #[arg(long)]
    ignore_mac: bool,
    /// Accepted for sops compatibility; the editor always shows the data only.
    #[arg(short = 's', long)]
    show_master_keys: bool,
    /// With -r: recipients to add and remove.
    #[command(flatten)]
    changes: sops_keys::KeyChanges,
    #[command(flatten)]
    keys: NewFileArgs,
    #[command(flatten)]
    input: InputArgs,
}

/// Runs the legacy form; the exit code is the subcommand's.
pub(crate) fn run(a: LegacyArgs) -> Result<()> {
    let Some(file) = a.file else {
        return Err(Error::new(ErrorKind::NoFileSpecified, "no file specified")
            .with_hint("name a file, or a command: `tollgate sops --help`"));
    };
    let modes = [a.encrypt, a.decrypt, a.rotate, a.set.is_some()];
    if modes.iter().filter(|&&m| m).count() > 1 {
        // sops warns and keeps only the last result; doing one of two asked-for things
        // silently is worse than refusing.
        return Err(Error::new(
            ErrorKind::ConflictingParameters,
            "give one of --encrypt, --decrypt, --rotate and --set",
        ));
    }
    super::sops::check_output_flags(a.in_place, a.output.as_deref())?;
    let changes_keys = a.changes.any();
    if !file.exists() {
        if changes_keys {
            return Err(Error::new(
                ErrorKind::CannotChangeKeysOfNonExistentFile,
                format!(
                    "cannot add or remove keys on non-existent file {}",
                    file.display()
                ),
            )
            .with_hint("use --age and --pgp to choose the recipients of a new file"));
        }
        if a.encrypt || a.decrypt || a.rotate {
            return Err(Error::new(
                ErrorKind::NoFileSpecified,
                format!("cannot operate on non-existent file {}", file.display()),
            ));
        }
    }
    if a.encrypt {
        return super::sops::encrypt(EncryptArgs {
            file: Some(file),
            in_place: a.in_place,
            output: a.output,
            keys: a.keys,
            input: a.input,
        });
    }
    if a.decrypt {
        return super::sops::decrypt(DecryptArgs {
            file: Some(file),
            in_place: a.in_place,
            output: a.output,
            extract: a.extract,
            ignore_mac: a.ignore_mac,
            input: a.input,
        });
    }
    if a.rotate {
        return sops_keys::rotate(sops_keys::RotateArgs {
            paths: vec![file],
            in_place: a.in_place,
            output: a.output,
            keys: a.changes,
            recursive: false,
            dry_run: false,
            input: a.input,
        });
    }
    if let Some(set) = a.set {
        let (path, value) = split_set(&set)?;
        // The legacy --set always writes FILE in place, changed or not.
        return sops_paths::set(sops_paths::SetArgs {
            file,
            path,
            value: Some(value),
            value_file: false,
            value_stdin: false,
            idempotent: false,
            ignore_mac: a.ignore_mac,
            input: a.input,
        });
    }
    // `-s` adds the metadata to sops's editor buffer; tollgate's editor shows the data only,
    // so the flag is read and has nothing to change.
    let _shown_anyway = a.show_master_keys;
    sops_edit::run(EditArgs {
        file,
        ignore_mac: a.ignore_mac,
        keys: a.keys,
        input: a.input,
    })
}

/// Splits `--set '["a"]["b"] "value"'` where sops does: after the first `] `.
fn split_set(set: &str) -> Result<(String, String)> {
    let invalid = || {
        Error::new(ErrorKind::InvalidSetFormat, "invalid --set format")
            .with_hint(r#"give the path and a JSON value: --set '["key"]["sub"] "value"'"#)
    };
    let at = set.find("] ").ok_or_else(invalid)?;
    let (path, value) = set.split_at(at.checked_add(1).ok_or_else(invalid)?);
    Ok((
        path.trim_end().to_owned(),
        value.get(1..).unwrap_or_default().to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::split_set;

    #[test]
    fn set_splits_after_the_first_closing_bracket_and_space() {
        let (p, v) = split_set(r#"["a"]["b"] {"x": "y z"}"#).unwrap();
        assert_eq!(p, r#"["a"]["b"]"#);
        assert_eq!(v.as_str(), r#"{"x": "y z"}"#);
        // A path with "] " inside a key splits there, as sops does; the rest is then not JSON
        // and set reports it.
        let (p, v) = split_set(r#"["a] b"] 1"#).unwrap();
        assert_eq!((p.as_str(), v.as_str()), (r#"["a]"#, r#"b"] 1"#));
        assert_eq!(split_set(r#"["a"]"#).unwrap_err().exit_code(), 7);
    }
}
