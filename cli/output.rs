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

/// Prints an error of a policy command and its hint; policy errors one per file (regorus's
/// messages span several lines, with the source excerpt).
pub(crate) fn report_policy(e: &tollgate_core::Error) {
    let mut err = std::io::stderr().lock();
    match e {
        tollgate_core::Error::Policies(errors) => {
            for p in errors {
                let _ = writeln!(err, "tollgate: error: {}: {}", p.file, p.message);
            }
            let _ = writeln!(err, "tollgate: error: {} policy error(s)", errors.len());
        }
        _ => {
            let _ = writeln!(err, "tollgate: error: {e}");
        }
    }
    if let Some(h) = e.hint() {
        let _ = writeln!(err, "  hint: {h}");
    }
}

/// Prints an error line (for errors reported one by one before an exit code).
pub(crate) fn error(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "tollgate: error: {msg}");
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

/// On SIGINT, SIGTERM or SIGHUP, removes the temp files and private directories in flight
/// (an in-place `decrypt -i` or `edit` holds plaintext there), then exits as the signal would
/// (128 + its number). Without it a Ctrl+C mid-write left `.<name>.tollgate-*.tmp` behind.
pub(crate) fn remove_temp_files_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            tollgate_sops::fsio::remove_temp_files_in_flight();
            std::process::exit(128 + sig);
        }
    });
}
