//! `tollgate sops exec-env` and `exec-file`: run a command with the decrypted values, in its
//! environment or behind a path, so CI jobs never write plaintext to the repository. With the
//! default FIFO the plaintext never touches a disk.
//!
//! The command runs as sops runs it, `/bin/sh -c COMMAND`; its exit status is ours (255 when a
//! signal ended it, as sops reports it).

use super::sops::{indent_for, open, InputArgs};
use crate::output;
use clap::Args;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use tollgate_sops::error::{Error, ErrorKind, Result};
use zeroize::Zeroizing;

/// Flags both commands share.
#[derive(Args)]
pub(crate) struct ExecCommon {
    /// The encrypted file.
    file: Option<PathBuf>,
    /// The command, run with `/bin/sh -c`.
    command: Option<String>,
    /// Run the command as this user (from /etc/passwd; needs root).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Start the command and return at once (deprecated in sops; the plaintext is gone when
    /// tollgate returns).
    #[arg(long)]
    background: bool,
    /// Run even when the MAC does not match.
    #[arg(long)]
    ignore_mac: bool,
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Args)]
pub(crate) struct ExecEnvArgs {
    /// Give the command only the decrypted values (and --user's HOME, USER, LOGNAME), not
    /// tollgate's environment.
    #[arg(long)]
    pristine: bool,
    /// Replace tollgate with the command instead of running it as a child.
    #[arg(long, conflicts_with = "background")]
    same_process: bool,
    #[command(flatten)]
    common: ExecCommon,
}

#[derive(Args)]
pub(crate) struct ExecFileArgs {
    /// Write the plaintext to a 0600 temporary file instead of a FIFO (for commands that
    /// read their input twice or seek in it).
    #[arg(long)]
    no_fifo: bool,
    /// The name of the FIFO or file inside the private temporary directory (default
    /// `tmp-file`).
    #[arg(long, value_name = "NAME")]
    filename: Option<String>,
    #[command(flatten)]
    common: ExecCommon,
}

/// A user to run the command as.
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

impl RunAs {
    /// Looks `name` up in /etc/passwd (sops's static build does the same).
    fn lookup(name: &str) -> Result<RunAs> {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        passwd
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                match f.as_slice() {
                    [n, _, uid, gid, _, home, ..] if *n == name => Some(RunAs {
                        name: name.to_owned(),
                        uid: uid.parse().ok()?,
                        gid: gid.parse().ok()?,
                        home: (*home).to_owned(),
                    }),
                    _ => None,
                }
            })
            .next()
            .ok_or_else(|| Error::new(ErrorKind::Generic, format!("user: unknown user {name}")))
    }

    /// The child runs as the user (std drops the supplementary groups when root spawns it)
    /// with the user's HOME, USER and LOGNAME, as sops sets them.
    fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid).gid(self.gid);
        cmd.env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name);
    }
}

impl ExecCommon {
    /// sops: exactly FILE and COMMAND, else "missing file to decrypt" (exit 1).
    fn file_and_command(&self) -> Result<(&Path, &str)> {
        match (&self.file, &self.command) {
            (Some(f), Some(c)) => Ok((f, c)),
            _ => Err(Error::new(ErrorKind::Generic, "missing file to decrypt")
                .with_hint("give the encrypted file and the command: exec-env FILE 'COMMAND'")),
        }
    }

    fn run_as(&self) -> Result<Option<RunAs>> {
        self.user.as_deref().map(RunAs::lookup).transpose()
    }
}

fn shell(command: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(command);
    c
}

/// Runs `cmd` in the foreground (or starts it with --background) and returns its status.
fn run(mut cmd: Command, background: bool) -> Result<u8> {
    let started = |e: std::io::Error| {
        Error::new(ErrorKind::Generic, format!("cannot start the command: {e}"))
    };
    let mut child = cmd.spawn().map_err(started)?;
    if background {
        output::warn("--background is deprecated in sops; the command keeps running alone");
        return Ok(0);
    }
    let status = child.wait().map_err(started)?;
    // A signal has no code: sops exits 255 then (Go's ExitCode() is -1).
    Ok(status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(255))
}

pub(crate) fn exec_env(a: ExecEnvArgs) -> Result<u8> {
    let (file, command) = a.common.file_and_command()?;
    let run_as = a.common.run_as()?;
    let (opened, _, _) = open(Some(file), &a.common.input, a.common.ignore_mac, false)?;
    let first = opened
        .plain
        .0
        .first()
        .ok_or_else(|| Error::new(ErrorKind::Generic, "the file has no document"))?;
    let vars = tollgate_sops::stores::environment(first).map_err(|e| e.context(file.display()))?;
    let mut cmd = shell(command);
    if a.pristine {
        cmd.env_clear();
    }
    if let Some(u) = &run_as {
        u.apply(&mut cmd);
    }
    for (k, v) in &vars {
        cmd.env(k, v.as_str());
    }
    if a.same_process {
        // Only returns when the exec failed.
        let e = cmd.exec();
        return Err(Error::new(
            ErrorKind::Generic,
            format!("cannot run the command: {e}"),
        ));
    }
    run(cmd, a.common.background)
}

pub(crate) fn exec_file(a: ExecFileArgs) -> Result<u8> {
    let (file, command) = a.common.file_and_command()?;
    let run_as = a.common.run_as()?;
    let name = a.filename.as_deref().unwrap_or("tmp-file");
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::new(
            ErrorKind::Generic,
            "The provided filename is not a local path.",
        )
        .with_hint("give a plain file name with --filename; it is created in a private temporary directory"));
    }
    let (opened, _, out) = open(Some(file), &a.common.input, a.common.ignore_mac, false)?;
    let plain =
        Zeroizing::new(out.write_plain(&opened.plain.0, indent_for(out, &a.common.input, None))?);
    drop(opened);
    let io = |what: &str, e: std::io::Error| {
        Error::new(
            ErrorKind::CouldNotWriteOutput,
            format!("cannot create the {what}: {e}"),
        )
    };
    // A private 0700 directory holds the FIFO or file; dropping it removes both.
    let dir = tempfile::Builder::new()
        .prefix(".sops")
        .tempdir()
        .map_err(|e| io("temporary directory", e))?;
    // A signal that ends tollgate while the command runs must not leave the plaintext behind.
    tollgate_sops::fsio::track_temp(dir.path());
    let path = dir.path().join(name);
    if a.no_fifo {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io("temporary file", e))?;
        f.write_all(&plain).map_err(|e| io("temporary file", e))?;
    } else {
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .map_err(|e| io("FIFO", e.into()))?;
    }
    if let Some(u) = &run_as {
        for p in [dir.path(), path.as_path()] {
            std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid))
                .map_err(|e| io("temporary file", e))?;
        }
    }
    if !a.no_fifo {
        // Opening a FIFO for writing blocks until the command opens it for reading; a command
        // that never reads leaves this thread blocked until tollgate exits.
        let fifo = path.clone();
        std::thread::spawn(move || {
            if let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                let _ = w.write_all(&plain);
            }
        });
    }
    let mut cmd = shell(&command.replace("{}", &path.to_string_lossy()));
    if let Some(u) = &run_as {
        u.apply(&mut cmd);
    }
    let status = run(cmd, a.common.background);
    // Dropping `dir` removes it now.
    tollgate_sops::fsio::untrack_temp(dir.path());
    status
}
