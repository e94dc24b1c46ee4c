//! `tollgate sops set`, `unset` and `status`: single-value changes that keep every other
//! value's ciphertext, and the encrypted-or-not check.

use super::sops::{formats, lock_for_update, open, read_input, write_back, InputArgs};
use crate::output;
use clap::Args;
use std::path::PathBuf;
use tollgate_sops::error::{Error, ErrorKind, Result};
use tollgate_sops::{file, treepath};

#[derive(Args)]
pub(crate) struct SetArgs {
    /// The encrypted file (changed in place).
    pub(crate) file: PathBuf,
    /// Where: '["key"]["sub"]' or '["list"][0]'.
    pub(crate) path: String,
    /// The value as JSON ('"text"', 42, {"a": 1}); with --value-file the file holding it;
    /// omitted with --value-stdin.
    pub(crate) value: Option<String>,
    /// VALUE names a file to read the JSON value from (keeps it out of process listings).
    #[arg(long, conflicts_with = "value_stdin")]
    pub(crate) value_file: bool,
    /// Read the JSON value from stdin (no VALUE argument).
    #[arg(long)]
    pub(crate) value_stdin: bool,
    /// Do not rewrite the file when the value is already set.
    #[arg(long)]
    pub(crate) idempotent: bool,
    /// Open even when the MAC does not match.
    #[arg(long)]
    pub(crate) ignore_mac: bool,
    #[command(flatten)]
    pub(crate) input: InputArgs,
}

#[derive(Args)]
pub(crate) struct UnsetArgs {
    /// The encrypted file (changed in place).
    file: PathBuf,
    /// The key to remove: '["key"]["sub"]'.
    path: String,
    /// Succeed when the key is already absent.
    #[arg(long)]
    idempotent: bool,
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Args)]
pub(crate) struct StatusArgs {
    /// The file to inspect.
    file: PathBuf,
    #[command(flatten)]
    input: InputArgs,
}

/// sops's `set`/`unset` codes: a missing file is "Error reading file" (2), a malformed path
/// "Invalid set index format" (7), where `decrypt` uses 100 and 91.
fn set_codes(e: Error) -> Error {
    match e.kind() {
        ErrorKind::NoFileSpecified => e.with_kind(ErrorKind::CouldNotReadInput),
        ErrorKind::InvalidTreePath => e.with_kind(ErrorKind::InvalidSetFormat),
        _ => e,
    }
}

/// Where `set` takes its JSON value from.
enum ValueSource {
    /// The VALUE argument.
    Arg(String),
    /// The file VALUE names (`--value-file`).
    File(String),
    /// Standard input (`--value-stdin`).
    Stdin,
}

pub(crate) fn set(mut a: SetArgs) -> Result<()> {
    // sops counts the positional arguments first (exit 100), before reading anything.
    let source = match (a.value.take(), a.value_stdin) {
        (None, false) => {
            return Err(Error::new(
                ErrorKind::NoFileSpecified,
                "the value is missing: set FILE PATH VALUE",
            )
            .with_hint("or read it with --value-stdin, or from a file with --value-file"))
        }
        (Some(_), true) => {
            return Err(Error::new(
                ErrorKind::NoFileSpecified,
                "with --value-stdin, give only FILE and PATH",
            ))
        }
        (Some(f), false) if a.value_file => ValueSource::File(f),
        (Some(v), false) => ValueSource::Arg(v),
        (None, true) => ValueSource::Stdin,
    };
    set_value(a, source).map_err(set_codes)
}

fn set_value(a: SetArgs, source: ValueSource) -> Result<()> {
    let path = treepath::parse(&a.path)?;
    let raw = zeroize::Zeroizing::new(match source {
        ValueSource::Arg(v) => v,
        ValueSource::File(f) => std::fs::read_to_string(&f)
            .map_err(|e| Error::new(ErrorKind::Generic, format!("{f}: {e}")))?,
        ValueSource::Stdin => String::from_utf8_lossy(&read_input(None)?).into_owned(),
    });
    let value: serde_json::Value = serde_json::from_str(&raw).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSetFormat,
            format!("the value is not valid JSON: {e}"),
        )
        .with_hint("strings need quotes: '\"text\"'")
    })?;
    if value.is_array() {
        // sops reads a structured value as a JSON file, whose top level must be an object.
        return Err(Error::new(
            ErrorKind::InvalidSetFormat,
            "invalid set value format: a list cannot be the value",
        )
        .with_hint("set an object holding it ('{\"k\": [1]}'), or each item ('[\"key\"][0]')"));
    }
    let _lock = lock_for_update(&a.file)?;
    let (mut opened, _, format) = open(Some(&a.file), &a.input, a.ignore_mac, true)?;
    let first = opened
        .plain
        .0
        .first_mut()
        .ok_or_else(|| Error::new(ErrorKind::Generic, "the file has no document"))?;
    let changed = treepath::set(first, &path, tollgate_sops::stores::json_value(value))?;
    if !changed && a.idempotent {
        return Ok(());
    }
    write_back(&a.file, opened, format, &a.input)
}

pub(crate) fn unset(a: UnsetArgs) -> Result<()> {
    unset_key(a).map_err(set_codes)
}

fn unset_key(a: UnsetArgs) -> Result<()> {
    let path = treepath::parse(&a.path)?;
    let _lock = lock_for_update(&a.file)?;
    let (mut opened, _, format) = open(Some(&a.file), &a.input, false, true)?;
    let first = opened
        .plain
        .0
        .first_mut()
        .ok_or_else(|| Error::new(ErrorKind::Generic, "the file has no document"))?;
    if !treepath::unset(first, &path)? {
        if a.idempotent {
            return Ok(());
        }
        return Err(Error::new(
            ErrorKind::Generic,
            format!("key not found: {}", a.path),
        ));
    }
    write_back(&a.file, opened, format, &a.input)
}

/// sops `filestatus`: a plain file is `false`; a file that cannot be read or parsed is an
/// error (exit 1), not a silent `false`.
pub(crate) fn status(a: StatusArgs) -> Result<()> {
    let (inp, _) = formats(Some(&a.file), &a.input)?;
    let bytes = read_input(Some(&a.file)).map_err(|e| e.with_kind(ErrorKind::Generic))?;
    let encrypted = match file::read_sealed(&bytes, inp) {
        Ok(s) => !s.metadata.mac.is_empty(),
        Err(e) if file::is_not_encrypted(&e) => false,
        Err(e) => return Err(e.context(a.file.display()).with_kind(ErrorKind::Generic)),
    };
    output::stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}
