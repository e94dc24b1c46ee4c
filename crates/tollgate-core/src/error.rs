//! What can stop a policy command from doing its job, each with what to do about it (the
//! rage/age habit: an error and its remedy). Findings are never errors; a rule that could not
//! judge a resource is an [`crate::engine::EvalError`], reported with the findings.

use crate::config::ConfigError;
use crate::manifest::LoadError;
use std::path::PathBuf;

/// A failure of `check`, `test`, `verify`, `rules`, `rbac` or `netpol` (exit code 2).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `tollgate.yaml` is invalid (the error names its line).
    Config(ConfigError),
    /// Policies that did not load or compile, each naming its file and line.
    Policies(Vec<LoadError>),
    /// No bundled pack has this name.
    UnknownPack(String),
    /// A baseline file that cannot be read or is not a baseline.
    Baseline {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A command-line value that is not valid: the message says which, and what is expected.
    Usage(String),
    /// A query names a workload, namespace, subject or port the manifests do not have (the
    /// message lists the close ones).
    NotFound(String),
    /// An AdmissionReview that cannot be read.
    Review(String),
    /// The paths (named) held no resource at all: empty stdin, or nothing but non-manifests.
    Empty(String),
    /// A report, baseline or answer that could not be written.
    Write {
        /// What was being written (a path, or `stdout`).
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Error {
    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Config(_) => Some("fix the line named, or pass another file with --config"),
            Error::Policies(errors)
                if errors
                    .iter()
                    .all(|e| e.message.starts_with("no policies found")) =>
            {
                Some("check the --policy paths (or `policies:` in tollgate.yaml): each must hold a .rego file or a Kyverno policy")
            }
            Error::Policies(_) => Some(
                "every error above names the file and line; `tollgate verify` runs the Rego tests",
            ),
            Error::UnknownPack(_) => Some("`tollgate rules list` shows the packs and their rules"),
            Error::Baseline { .. } => Some("write one with `tollgate check --write-baseline FILE`"),
            Error::Usage(_) => Some("`tollgate help` and docs/cli.md list every flag"),
            Error::NotFound(_) => None,
            Error::Review(_) => {
                Some("the body must be an admission.k8s.io/v1 AdmissionReview with a request")
            }
            Error::Write { .. } => None,
            Error::Empty(_) => Some(
                "a failed `kustomize build | tollgate check -` reads nothing; pass --allow-empty if empty is fine, --show-skipped lists what was not read",
            ),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Policies(errors) => {
                for e in errors {
                    writeln!(f, "{}: {}", e.file, e.message)?;
                }
                write!(f, "{} policy error(s)", errors.len())
            }
            Error::UnknownPack(name) => write!(f, "unknown pack `{name}`"),
            Error::Baseline { path, reason } => write!(f, "{}: {reason}", path.display()),
            Error::Usage(m) | Error::NotFound(m) | Error::Review(m) => f.write_str(m),
            Error::Write { what, source } => write!(f, "cannot write {what}: {source}"),
            Error::Empty(paths) => write!(f, "no resources read from {paths}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_error_names_what_failed() {
        let e = Error::Policies(vec![LoadError {
            file: "p.rego:3".into(),
            message: "rego_parse_error".into(),
        }]);
        assert_eq!(
            e.to_string(),
            "p.rego:3: rego_parse_error\n1 policy error(s)"
        );
        assert!(e.hint().is_some());
        let w = Error::Write {
            what: "out.sarif".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(w.to_string().starts_with("cannot write out.sarif: "));
        assert!(std::error::Error::source(&w).is_some());
    }
}
