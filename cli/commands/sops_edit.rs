//! `tollgate sops edit`: decrypt into a private temporary file, run the editor, re-encrypt
//! with the old IVs so unchanged values stay byte-identical, and write atomically.

use super::sops::{
    formats, indent_for, load_config, lock_for_update, new_metadata, open, write_back, EditArgs,
};
use crate::output;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use tollgate_sops::error::{Error, ErrorKind, Result};
use tollgate_sops::file;
use tollgate_sops::fsio::write_atomic;
use tollgate_sops::keys::split_command;
use tollgate_sops::tree::Node;
use tollgate_sops::Format;

/// A private directory that is removed, with the plaintext in it, when dropped.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> Result<Self> {
        let base = std::env::temp_dir();
        for n in 0..100u32 {
            let p = base.join(format!("tollgate-edit-{}-{n}", std::process::id()));
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            if b.create(&p).is_ok() {
                tollgate_sops::fsio::track_temp(&p);
                return Ok(PrivateDir(p));
            }
        }
        Err(Error::new(
            ErrorKind::CouldNotWriteOutput,
            "cannot create a private temporary directory",
        ))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // Overwrite before unlinking so the plaintext does not linger in the page cache's file.
        if let Ok(rd) = std::fs::read_dir(&self.0) {
            for e in rd.flatten() {
                if let Ok(len) = e.metadata().map(|m| m.len()) {
                    let _ = std::fs::write(e.path(), vec![0u8; usize::try_from(len).unwrap_or(0)]);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
        tollgate_sops::fsio::untrack_temp(&self.0);
    }
}

fn editor() -> Result<Vec<String>> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Ok(v) = std::env::var(var) {
            let words = split_command(&v);
            if !words.is_empty() {
                return Ok(words);
            }
        }
    }
    for candidate in ["vim", "nano", "vi"] {
        let found = std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|d| d.join(candidate).is_file())
        });
        if found {
            return Ok(vec![candidate.to_owned()]);
        }
    }
    Err(Error::new(ErrorKind::NoEditorFound, "no editor found")
        .with_hint("set SOPS_EDITOR or EDITOR"))
}

pub(crate) fn run(a: EditArgs) -> Result<()> {
    let file = a.file.as_path();
    if !file.exists() {
        return create(&a);
    }
    // Held until the file is written back: a second edit (or set) waits for this one.
    let _lock = lock_for_update(file)?;
    let (mut opened, format, _) = open(Some(file), &a.input, a.ignore_mac, true)?;
    let config = load_config(&a.input).ok().flatten();
    let indent = indent_for(format, &a.input, config.as_ref());
    let before = zeroize::Zeroizing::new(format.write_plain(&opened.plain.0, indent)?);
    opened.plain.0 = edit_until_valid(file, format, &before)?;
    write_back(file, opened, format, &a.input)
}

/// A file that does not exist yet starts from a small template and is encrypted as
/// `encrypt` would (flags, then the matching `.sops.yaml` rule), as `sops edit` does.
fn create(a: &EditArgs) -> Result<()> {
    let file = a.file.as_path();
    let (format, _) = formats(Some(file), &a.input)?;
    let config = load_config(&a.input)?;
    // Fail on missing recipients before the user types anything.
    let meta = new_metadata(file, &a.keys, config.as_ref())?;
    let template: &[u8] = match format {
        Format::Yaml => b"# A new encrypted file: replace this example, save and close.\nexample_key: example_value\n",
        Format::Json => b"{\n\t\"example_key\": \"example_value\"\n}\n",
        Format::Dotenv => b"EXAMPLE_KEY=example_value\n",
        Format::Ini => b"[section]\nexample_key = example_value\n",
        Format::Binary => b"",
    };
    let docs = edit_until_valid(file, format, template)?;
    let sealed = file::encrypt_new(format, docs, meta)?;
    let bytes = format.write_encrypted(&sealed, indent_for(format, &a.input, config.as_ref()))?;
    write_atomic(file, &bytes, 0o644)
}

/// Runs the editor on `before` until the result parses; returns the new documents. An invalid
/// result re-opens the editor with the user's text when there is a terminal to ask on.
fn edit_until_valid(file: &Path, format: Format, before: &[u8]) -> Result<Vec<Node>> {
    let dir = PrivateDir::new()?;
    let name = file
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.0.join(name);
    write_private(&tmp, before)?;
    let words = editor()?;
    loop {
        let status = std::process::Command::new(&words[0])
            .args(&words[1..])
            .arg(&tmp)
            .status()
            .map_err(|e| {
                Error::new(
                    ErrorKind::NoEditorFound,
                    format!("cannot run {}: {e}", words[0]),
                )
            })?;
        if !status.success() {
            // sops: "Could not run editor", exit 201.
            return Err(Error::new(
                ErrorKind::NoEditorFound,
                format!("the editor exited with {status}; nothing was written"),
            ));
        }
        let after = zeroize::Zeroizing::new(std::fs::read(&tmp).map_err(|e| {
            Error::new(
                ErrorKind::CouldNotReadInput,
                format!("cannot read the edited file: {e}"),
            )
        })?);
        if after.as_slice() == before {
            return Err(Error::new(
                ErrorKind::FileNotModified,
                "file has not changed, exiting",
            ));
        }
        let problem = match format.read_plain(&after) {
            Ok(docs) if tollgate_sops::metadata::has_metadata(format, &docs) => {
                Error::new(ErrorKind::Generic, "the edited file contains a `sops` key")
            }
            Ok(docs) if docs.is_empty() => Error::new(
                ErrorKind::NeedAtLeastOneDocument,
                "the edited file is empty",
            ),
            Ok(docs) => return Ok(docs),
            Err(e) => e,
        };
        if !std::io::stdin().is_terminal() {
            return Err(problem.context("the edited file is invalid; nothing was written"));
        }
        output::warn(&format!(
            "the edited file is invalid: {}",
            problem.message()
        ));
        let _ = write!(
            std::io::stderr(),
            "Press Enter to return to the editor, or Ctrl+C to abort. "
        );
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
            return Err(problem.context("the edited file is invalid; nothing was written"));
        }
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).map_err(|e| {
        Error::new(
            ErrorKind::CouldNotWriteOutput,
            format!("cannot create the temporary file: {e}"),
        )
    })?;
    f.write_all(data).map_err(|e| {
        Error::new(
            ErrorKind::CouldNotWriteOutput,
            format!("cannot write the temporary file: {e}"),
        )
    })
}
