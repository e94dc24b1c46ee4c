//! `tollgate sops …`: the sops command line (same flag names, same exit codes) over the
//! `tollgate-sops` library.

use super::{sops_edit, sops_exec, sops_groups, sops_keys, sops_legacy, sops_paths};
use crate::output;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use tollgate_sops::config::Config;
use tollgate_sops::error::{Error, ErrorKind, Result};
use tollgate_sops::file;
use tollgate_sops::fsio::{self, Mode};
use tollgate_sops::keys::Keyring;
use tollgate_sops::metadata::Metadata;
use tollgate_sops::selector::Selector;
use tollgate_sops::stores::Format;
use tollgate_sops::treepath;

#[derive(Args)]
pub(crate) struct SopsArgs {
    #[command(subcommand)]
    command: Option<SopsCommand>,
    /// sops's form before subcommands: `tollgate sops -d FILE`, `-e`, `-r`, `--set`, or
    /// `tollgate sops FILE` to edit.
    #[command(flatten)]
    legacy: sops_legacy::LegacyArgs,
    /// Accepted for sops compatibility (tollgate's messages already say which keys it tried).
    #[arg(long, global = true)]
    verbose: bool,
    /// Accepted for sops compatibility: tollgate never checks for updates.
    #[arg(long, global = true)]
    disable_version_check: bool,
}

#[derive(Subcommand)]
enum SopsCommand {
    /// Encrypt a file (stdout, --output, or -i in place).
    Encrypt(EncryptArgs),
    /// Decrypt a file, verifying its MAC.
    Decrypt(DecryptArgs),
    /// Decrypt into $SOPS_EDITOR/$EDITOR and re-encrypt, keeping unchanged values byte-identical.
    Edit(EditArgs),
    /// New data key (values keep their IVs); add or remove age and PGP recipients.
    Rotate(sops_keys::RotateArgs),
    /// Re-wrap data keys for the recipients .sops.yaml names now; values and MAC unchanged.
    Updatekeys(sops_keys::UpdatekeysArgs),
    /// Set one value: `set FILE '["key"]["sub"]' '"json value"'`.
    Set(sops_paths::SetArgs),
    /// Remove one key: `unset FILE '["key"]'`.
    Unset(sops_paths::UnsetArgs),
    /// Print `{"encrypted":true|false}` for a file.
    #[command(alias = "filestatus")]
    Status(sops_paths::StatusArgs),
    /// Run a command with the file's top-level values in its environment.
    ExecEnv(sops_exec::ExecEnvArgs),
    /// Run a command with the plaintext in a FIFO (or 0600 temp file) named by `{}`.
    ExecFile(sops_exec::ExecFileArgs),
    /// Add or delete a key group (the data key is kept and re-wrapped).
    #[command(subcommand)]
    Groups(sops_groups::GroupsCommand),
}

/// Flags shared by the commands that read a file.
#[derive(Args, Clone)]
pub(crate) struct InputArgs {
    /// Store of the input: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub(crate) input_type: Option<String>,
    /// Store of the output (default: the input's).
    #[arg(long, value_name = "TYPE")]
    pub(crate) output_type: Option<String>,
    /// Use this path for format detection and .sops.yaml matching (useful with stdin).
    #[arg(long, value_name = "PATH")]
    pub(crate) filename_override: Option<PathBuf>,
    /// The .sops.yaml to use instead of searching upwards from the working directory.
    #[arg(long, env = "SOPS_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Indentation of YAML/JSON output.
    #[arg(long, value_name = "N")]
    pub(crate) indent: Option<usize>,
    /// Key types to try first when decrypting, comma-separated (default `age,pgp`).
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    pub(crate) decryption_order: Option<String>,
}

/// The partial-encryption selectors; at most one may be given.
#[derive(Args, Clone, Default)]
pub(crate) struct SelectorArgs {
    /// Leave values under keys ending with this suffix unencrypted.
    #[arg(long, value_name = "SUFFIX")]
    unencrypted_suffix: Option<String>,
    /// Encrypt only values under keys ending with this suffix.
    #[arg(long, value_name = "SUFFIX")]
    encrypted_suffix: Option<String>,
    /// Leave values under keys matching this regex unencrypted.
    #[arg(long, value_name = "REGEX")]
    unencrypted_regex: Option<String>,
    /// Encrypt only values under keys matching this regex (e.g. '^(data|stringData)$').
    #[arg(long, value_name = "REGEX")]
    encrypted_regex: Option<String>,
    /// Leave values after a comment matching this regex unencrypted.
    #[arg(long, value_name = "REGEX")]
    unencrypted_comment_regex: Option<String>,
    /// Encrypt only values after a comment matching this regex.
    #[arg(long, value_name = "REGEX")]
    encrypted_comment_regex: Option<String>,
}

impl SelectorArgs {
    fn selector(&self) -> Result<Option<Selector>> {
        let fields = [
            ("unencrypted_suffix", &self.unencrypted_suffix),
            ("encrypted_suffix", &self.encrypted_suffix),
            ("unencrypted_regex", &self.unencrypted_regex),
            ("encrypted_regex", &self.encrypted_regex),
            ("unencrypted_comment_regex", &self.unencrypted_comment_regex),
            ("encrypted_comment_regex", &self.encrypted_comment_regex),
        ];
        Selector::from_fields(
            fields
                .iter()
                .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))),
        )
    }
}

#[derive(Args)]
pub(crate) struct EncryptArgs {
    /// The file to encrypt; `-` or nothing reads stdin.
    pub(crate) file: Option<PathBuf>,
    /// Write the result over the input file.
    #[arg(short, long)]
    pub(crate) in_place: bool,
    /// Write the result to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) keys: NewFileArgs,
    #[command(flatten)]
    pub(crate) input: InputArgs,
}

/// How a new file is encrypted; unset fields come from the matching `.sops.yaml` rule.
#[derive(Args, Clone, Default)]
pub(crate) struct NewFileArgs {
    /// age recipients, comma-separated (age1… or "ssh-ed25519 AAAA…"); overrides .sops.yaml.
    #[arg(short, long, env = "SOPS_AGE_RECIPIENTS", value_name = "RECIPIENTS")]
    age: Option<String>,
    /// PGP fingerprints, comma-separated; overrides .sops.yaml. Public keys come from the
    /// GnuPG keyring (GNUPGHOME).
    #[arg(short, long, env = "SOPS_PGP_FP", value_name = "FINGERPRINTS")]
    pgp: Option<String>,
    /// Hash only the encrypted values into the MAC, so plaintext values may change freely.
    #[arg(long)]
    mac_only_encrypted: bool,
    /// Key groups needed to recover the data key (Shamir), overriding .sops.yaml.
    #[arg(long, value_name = "N")]
    shamir_secret_sharing_threshold: Option<usize>,
    #[command(flatten)]
    selectors: SelectorArgs,
}

#[derive(Args)]
pub(crate) struct DecryptArgs {
    /// The file to decrypt; `-` or nothing reads stdin.
    pub(crate) file: Option<PathBuf>,
    /// Write the plaintext over the input file.
    #[arg(short, long)]
    pub(crate) in_place: bool,
    /// Write the plaintext to this file (created 0600).
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Print one value, e.g. '["stringData"]["password"]' (first document only, as sops).
    #[arg(long, value_name = "PATH")]
    pub(crate) extract: Option<String>,
    /// Decrypt even when the MAC does not match.
    #[arg(long)]
    pub(crate) ignore_mac: bool,
    #[command(flatten)]
    pub(crate) input: InputArgs,
}

#[derive(Args)]
pub(crate) struct EditArgs {
    /// The encrypted file.
    pub(crate) file: PathBuf,
    /// Open even when the MAC does not match.
    #[arg(long)]
    pub(crate) ignore_mac: bool,
    /// For a new file: how to encrypt it (default: the .sops.yaml rule).
    #[command(flatten)]
    pub(crate) keys: NewFileArgs,
    #[command(flatten)]
    pub(crate) input: InputArgs,
}

pub(crate) fn run(args: SopsArgs) -> Result<u8> {
    let _accepted = (args.verbose, args.disable_version_check);
    let Some(command) = args.command else {
        return sops_legacy::run(args.legacy).map(|()| 0);
    };
    match command {
        SopsCommand::Encrypt(a) => encrypt(a),
        SopsCommand::Decrypt(a) => decrypt(a),
        SopsCommand::Edit(a) => sops_edit::run(a),
        SopsCommand::Rotate(a) => sops_keys::rotate(a),
        SopsCommand::Updatekeys(a) => sops_keys::updatekeys(a),
        SopsCommand::Set(a) => sops_paths::set(a),
        SopsCommand::Unset(a) => sops_paths::unset(a),
        SopsCommand::Status(a) => sops_paths::status(a),
        // The child's exit status is ours.
        SopsCommand::ExecEnv(a) => return sops_exec::exec_env(a),
        SopsCommand::ExecFile(a) => return sops_exec::exec_file(a),
        SopsCommand::Groups(c) => sops_groups::run(c),
    }
    .map(|()| 0)
}

fn is_stdin(file: Option<&Path>) -> bool {
    file.is_none_or(|f| f.as_os_str() == "-")
}

/// The path used for format detection and rule matching.
pub(crate) fn logical_path(file: Option<&Path>, input: &InputArgs) -> PathBuf {
    input
        .filename_override
        .clone()
        .or_else(|| file.filter(|f| f.as_os_str() != "-").map(Path::to_path_buf))
        .unwrap_or_default()
}

pub(crate) fn formats(file: Option<&Path>, input: &InputArgs) -> Result<(Format, Format)> {
    let path = logical_path(file, input);
    let inp = match &input.input_type {
        Some(t) => Format::from_name(t)?,
        None => Format::from_path(&path),
    };
    let out = match &input.output_type {
        Some(t) => Format::from_name(t)?,
        None => inp,
    };
    Ok((inp, out))
}

pub(crate) fn read_input(file: Option<&Path>) -> Result<Vec<u8>> {
    if is_stdin(file) {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf).map_err(|e| {
            Error::new(
                ErrorKind::CouldNotReadInput,
                format!("cannot read stdin: {e}"),
            )
        })?;
        return Ok(buf);
    }
    let path = file.unwrap_or(Path::new("-"));
    std::fs::read(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NoFileSpecified
        } else {
            ErrorKind::CouldNotReadInput
        };
        Error::new(kind, format!("{}: {e}", path.display()))
    })
}

pub(crate) fn load_config(input: &InputArgs) -> Result<Option<Config>> {
    let path = match &input.config {
        Some(p) => Some(p.clone()),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| tollgate_sops::config::find(&d)),
    };
    path.map(|p| Config::load(&p)).transpose()
}

pub(crate) fn indent_for(
    format: Format,
    input: &InputArgs,
    config: Option<&Config>,
) -> Option<usize> {
    input.indent.or_else(|| match format {
        Format::Yaml => config.and_then(|c| c.yaml_indent),
        Format::Json | Format::Binary => config.and_then(|c| c.json_indent),
        _ => None,
    })
}

/// Takes the advisory lock on a file about to be read, changed and written back, and removes
/// temp files a killed tollgate left beside it (they may hold plaintext). Keep the lock until
/// the write is done.
pub(crate) fn lock_for_update(file: &Path) -> Result<fsio::Lock> {
    let lock = fsio::Lock::acquire(file)?;
    let removed = fsio::remove_stale_temp_files(file);
    if removed > 0 {
        output::warn(&format!(
            "{}: removed {removed} temporary file(s) an interrupted tollgate left",
            file.display()
        ));
    }
    Ok(lock)
}

/// The lock of an `-i` run's file, held until the result is written over it.
fn lock_if_in_place(file: Option<&Path>, in_place: bool) -> Result<Option<fsio::Lock>> {
    match file {
        Some(f) if in_place && !is_stdin(file) => lock_for_update(f).map(Some),
        _ => Ok(None),
    }
}

/// Where results go: stdout, `--output`, or the input file itself (through symlinks).
pub(crate) fn emit(
    bytes: &[u8],
    file: Option<&Path>,
    in_place: bool,
    output: Option<&Path>,
    mode: Mode,
) -> Result<()> {
    if in_place && output.is_some() {
        return Err(Error::new(
            ErrorKind::ConflictingParameters,
            "--in-place and --output cannot be used together",
        ));
    }
    if in_place {
        if is_stdin(file) {
            return Err(Error::new(
                ErrorKind::NoFileSpecified,
                "--in-place needs a file, not stdin",
            ));
        }
        return fsio::write_with_mode(file.unwrap_or(Path::new("-")), bytes, mode);
    }
    match output {
        Some(p) => fsio::write_with_mode(p, bytes, mode),
        None => output::stdout(bytes),
    }
}

/// sops rejects contradictory output flags before touching any key.
pub(crate) fn check_output_flags(in_place: bool, output: Option<&Path>) -> Result<()> {
    if in_place && output.is_some() {
        return Err(Error::new(
            ErrorKind::ConflictingParameters,
            "--in-place and --output cannot be used together",
        ));
    }
    Ok(())
}

pub(crate) fn encrypt(a: EncryptArgs) -> Result<()> {
    check_output_flags(a.in_place, a.output.as_deref())?;
    let file = a.file.as_deref();
    let _lock = lock_if_in_place(file, a.in_place)?;
    let (inp, out) = formats(file, &a.input)?;
    let bytes = read_input(file)?;
    let ctx = |e: Error| e.context(logical_path(file, &a.input).display());
    let docs = inp.read_plain(&bytes).map_err(ctx)?;
    let config = load_config(&a.input)?;
    let meta = new_metadata(&logical_path(file, &a.input), &a.keys, config.as_ref())?;
    let sealed = file::encrypt_new(inp, docs, meta).map_err(ctx)?;
    let text = out.write_encrypted(&sealed, indent_for(out, &a.input, config.as_ref()))?;
    emit(
        &text,
        file,
        a.in_place,
        a.output.as_deref(),
        Mode::KeepOr(0o644),
    )
}

/// Metadata for a new file at `path`: flags first, then the first matching creation rule.
pub(crate) fn new_metadata(
    path: &Path,
    keys: &NewFileArgs,
    config: Option<&Config>,
) -> Result<Metadata> {
    let flagged = keys.age.is_some() || keys.pgp.is_some();
    let rule = match config {
        Some(c) if !flagged => Some(c.require_rule(path)?.clone()),
        None if !flagged => {
            return Err(Error::new(
                ErrorKind::Generic,
                "no recipients: pass --age or --pgp, or add a .sops.yaml creation rule",
            )
            .with_hint("e.g. tollgate sops encrypt --age age1… FILE"));
        }
        _ => None,
    };
    let recipients: Vec<Vec<String>> = if flagged {
        vec![recipients(keys.age.as_deref(), keys.pgp.as_deref())]
    } else {
        match &rule {
            Some(r) => {
                // A rule that also names KMS or Vault keys would leave those out of the file.
                r.require_supported()?;
                r.key_groups.clone()
            }
            None => Vec::new(),
        }
    };
    let selector = match keys.selectors.selector()? {
        Some(s) => s,
        None => rule
            .as_ref()
            .and_then(|r| r.selector.clone())
            .unwrap_or_default(),
    };
    let threshold = keys
        .shamir_secret_sharing_threshold
        .or(rule.as_ref().map(|r| r.shamir_threshold))
        .unwrap_or(0);
    let mac_only = keys.mac_only_encrypted || rule.as_ref().is_some_and(|r| r.mac_only_encrypted);
    let groups = file::groups_from(&recipients)?;
    Ok(Metadata::new(groups, threshold, selector, mac_only))
}

/// A comma-separated flag value as a list.
fn split_list(list: Option<&str>) -> Vec<String> {
    list.map(|l| {
        l.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    })
    .unwrap_or_default()
}

/// `--age` and `--pgp` style lists as one recipient list (PGP keys as `pgp:FINGERPRINT`).
pub(crate) fn recipients(age: Option<&str>, pgp: Option<&str>) -> Vec<String> {
    let mut out = split_list(age);
    out.extend(split_list(pgp).iter().map(|fp| file::pgp_recipient(fp)));
    out
}

/// The keyring of a command that decrypts, with `--decryption-order` applied.
pub(crate) fn keyring(order: Option<&str>) -> Result<Keyring> {
    let mut k = Keyring::from_env();
    if let Some(o) = order {
        k.set_order(tollgate_sops::keys::decryption_order(o)?);
    }
    Ok(k)
}

/// Reads, parses and decrypts the file named by `file` (or stdin).
pub(crate) fn open(
    file: Option<&Path>,
    input: &InputArgs,
    ignore_mac: bool,
    for_writing: bool,
) -> Result<(file::Opened, Format, Format)> {
    let (inp, out) = formats(file, input)?;
    let bytes = read_input(file)?;
    let shown = logical_path(file, input);
    let ctx = |e: Error| {
        e.context(if shown.as_os_str().is_empty() {
            "stdin".into()
        } else {
            shown.display().to_string()
        })
    };
    let sealed = file::read_sealed(&bytes, inp).map_err(ctx)?;
    let keyring = keyring(input.decryption_order.as_deref())?;
    let opened = if for_writing {
        file::open(sealed, &keyring, ignore_mac)
    } else {
        file::open_read_only(sealed, &keyring, ignore_mac)
    };
    let opened = opened.map_err(|e| {
        if e.exit_code() == 128 {
            for w in &keyring.warnings {
                output::warn(w);
            }
        }
        ctx(e)
    })?;
    for w in &opened.warnings {
        output::warn(w);
    }
    Ok((opened, inp, out))
}

pub(crate) fn decrypt(a: DecryptArgs) -> Result<()> {
    check_output_flags(a.in_place, a.output.as_deref())?;
    let file = a.file.as_deref();
    let _lock = lock_if_in_place(file, a.in_place)?;
    let (opened, _, out) = open(file, &a.input, a.ignore_mac, false)?;
    let indent = indent_for(out, &a.input, None);
    let bytes = match &a.extract {
        Some(p) => {
            let path = treepath::parse(p)?;
            let first = opened
                .plain
                .0
                .first()
                .ok_or_else(|| Error::new(ErrorKind::Generic, "the file has no document"))?;
            let node = treepath::get(first, &path).ok_or_else(|| {
                Error::new(ErrorKind::Generic, format!("component {p} not found"))
            })?;
            out.write_value(node, indent)?
        }
        None => out.write_plain(&opened.plain.0, indent)?,
    };
    let bytes = zeroize::Zeroizing::new(bytes);
    // Plaintext is 0600 wherever it goes, also over an existing 0644 file.
    emit(
        &bytes,
        file,
        a.in_place,
        a.output.as_deref(),
        Mode::Exactly(0o600),
    )
}

/// Re-encrypts an opened file in place, keeping the IVs of unchanged values.
pub(crate) fn write_back(
    path: &Path,
    mut opened: file::Opened,
    format: Format,
    input: &InputArgs,
) -> Result<()> {
    let sealed = file::seal(
        format,
        std::mem::take(&mut opened.plain),
        &mut opened.metadata,
        &opened.key,
        &opened.stash,
    )?;
    let config = load_config(input).ok().flatten();
    let bytes = format.write_encrypted(&sealed, indent_for(format, input, config.as_ref()))?;
    fsio::write_atomic(path, &bytes, 0o644)
}
