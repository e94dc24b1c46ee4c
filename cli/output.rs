//! Where the binary talks to the user: errors with their hint and sops exit code, and writes
//! to stdout that treat a closed pipe as success.

use std::io::Write;
use std::process::ExitCode;
use tollgate_sops::Error;

/// Prints an error and returns its exit code.
pub(crate) fn report(e: &Error) -> ExitCode {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "tollgate: error: {}", e.message());
    if let Some(h) = e.hint() {
        let _ = writeln!(err, "  hint: {h}");
    }
    ExitCode::from(e.exit_code())
}

/// Prints a warning line.
pub(crate) fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "tollgate: warning: {msg}");
}

/// Writes to stdout; a broken pipe (`| head`) is not an error.
pub(crate) fn stdout(bytes: &[u8]) -> Result<(), Error> {
    stdout_with(|out| out.write_all(bytes))
}

/// Streams to a buffered stdout; a broken pipe (`| head`) is not an error.
pub(crate) fn stdout_with(
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::new(
            tollgate_sops::ErrorKind::CouldNotWriteOutput,
            format!("cannot write to stdout: {e}"),
        )),
    }
}
