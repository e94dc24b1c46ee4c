//! What the query commands (`rbac`, `netpol`) share: loading the manifests, the two output
//! formats, and the rule that an answer over manifests that did not all load exits 2.

use crate::output;
use std::path::PathBuf;
use tollgate_core::config::Config;
use tollgate_core::engine::EvalError;
use tollgate_core::manifest::{load_paths, Inventory};
use tollgate_core::Error;

/// A command-line value that is not valid (exit 2).
pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Maps a failed write (of a report, a baseline, stdout) to the policy commands' error.
pub(crate) fn written(what: &str) -> impl FnOnce(tollgate_sops::Error) -> Error + '_ {
    move |e| Error::Write {
        what: what.to_owned(),
        source: std::io::Error::other(e.message().to_owned()),
    }
}

/// `--format` of a query.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryFormat {
    Human,
    Json,
}

impl QueryFormat {
    pub(crate) fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "human" => Ok(QueryFormat::Human),
            "json" => Ok(QueryFormat::Json),
            other => Err(usage(format!(
                "unknown format `{other}`: use human or json"
            ))),
        }
    }
}

/// The manifests under `paths`, with the configuration's excludes. Files that could not be
/// read are named on stderr at once (a query that then fails still shows why).
pub(crate) fn load(paths: &[PathBuf], config: &Config) -> Inventory {
    let inventory = load_paths(paths, &config.exclude);
    for e in &inventory.errors {
        output::warn(&format!("{}: {}", e.file, e.message));
    }
    inventory
}

/// An answer in both forms, and what could not be read.
pub(crate) struct Answer {
    pub(crate) json: serde_json::Value,
    pub(crate) human: String,
    /// Files that did not load (already reported by [`load`]).
    pub(crate) unread: usize,
    /// Objects the model could not use.
    pub(crate) errors: Vec<EvalError>,
}

impl Answer {
    /// Prints the answer; each error goes to stderr and makes the exit code 2, because the
    /// answer may be missing what those files hold.
    pub(crate) fn print(&self, format: QueryFormat) -> Result<u8, Error> {
        for e in &self.errors {
            output::warn(&format!("{}: {}", e.file, e.message));
        }
        match format {
            QueryFormat::Human => {
                output::stdout(self.human.as_bytes()).map_err(written("stdout"))?
            }
            QueryFormat::Json => {
                let mut text = serde_json::to_string_pretty(&self.json)
                    .map_err(|e| usage(format!("cannot render JSON: {e}")))?;
                text.push('\n');
                output::stdout(text.as_bytes()).map_err(written("stdout"))?;
            }
        }
        if self.errors.is_empty() && self.unread == 0 {
            Ok(0)
        } else {
            output::warn("some manifests could not be read: the answer may be incomplete");
            Ok(2)
        }
    }
}
