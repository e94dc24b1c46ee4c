//! One error type for the SOPS core, carrying the exit code Go sops uses for the same failure,
//! so scripts written against sops keep working when they call tollgate instead.

use std::fmt;

/// What went wrong, named after sops's own exit codes (`cmd/sops/codes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Anything without a more precise code: no metadata, bad config, key not found.
    Generic,
    /// The input could not be read or parsed.
    CouldNotReadInput,
    /// The output could not be written.
    CouldNotWriteOutput,
    /// The output format cannot hold the data (nested values in dotenv).
    ErrorDumpingTree,
    /// The `.sops.yaml` could not be read.
    ErrorReadingConfig,
    /// A `set` value is malformed.
    InvalidSetFormat,
    /// Flags that contradict each other (two selectors, `-i` with `--output`).
    ConflictingParameters,
    /// The MAC could not be encrypted.
    ErrorEncryptingMac,
    /// The tree could not be encrypted (non-string key, unsupported value).
    ErrorEncryptingTree,
    /// A value could not be decrypted (wrong AAD, malformed `ENC[...]`, tampered ciphertext).
    ErrorDecryptingTree,
    /// The MAC is missing, cannot be decrypted, or does not match.
    MacMismatch,
    /// `--extract` or `set` was given a path that is not `["a"][0]` shaped.
    InvalidTreePath,
    /// The file holds no document.
    NeedAtLeastOneDocument,
    /// No file was given, or it does not exist.
    NoFileSpecified,
    /// No identity could open the data key.
    CouldNotRetrieveKey,
    /// `edit` ended with the file unchanged.
    FileNotModified,
    /// No editor could be started.
    NoEditorFound,
    /// `encrypt` was asked to encrypt a file that is already encrypted.
    FileAlreadyEncrypted,
    /// `--add-*`/`--rm-*` named a file that does not exist.
    CannotChangeKeysOfNonExistentFile,
}

impl ErrorKind {
    /// The process exit code Go sops uses for this failure.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Generic => 1,
            ErrorKind::CouldNotReadInput => 2,
            ErrorKind::CouldNotWriteOutput => 3,
            ErrorKind::ErrorDumpingTree => 4,
            ErrorKind::ErrorReadingConfig => 5,
            ErrorKind::InvalidSetFormat => 7,
            ErrorKind::ConflictingParameters => 8,
            ErrorKind::ErrorEncryptingMac => 21,
            ErrorKind::ErrorEncryptingTree => 23,
            ErrorKind::ErrorDecryptingTree => 25,
            ErrorKind::MacMismatch => 51,
            ErrorKind::InvalidTreePath => 91,
            ErrorKind::NeedAtLeastOneDocument => 92,
            ErrorKind::NoFileSpecified => 100,
            ErrorKind::CouldNotRetrieveKey => 128,
            ErrorKind::FileNotModified => 200,
            ErrorKind::NoEditorFound => 201,
            ErrorKind::FileAlreadyEncrypted => 203,
            ErrorKind::CannotChangeKeysOfNonExistentFile => 49,
        }
    }
}

/// An error of the SOPS core. Its message never contains a secret value or key material.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds what the user can do about it.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with where it happened (a file, a document).
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The same error under another kind: one failure has different sops exit codes in
    /// different commands (invalid YAML is 2 for `encrypt`, 1 for `decrypt`).
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The kind, which fixes the exit code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The sops-compatible exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// The message without the hint.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What the user can do about it, if known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Results of the SOPS core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for an error of `kind` with a formatted message.
macro_rules! err {
    ($kind:ident, $($arg:tt)*) => {
        $crate::error::Error::new($crate::error::ErrorKind::$kind, format!($($arg)*))
    };
}
pub(crate) use err;

/// A YAML reading error under the exit code Go sops gives it: 2 for YAML it cannot read, 23
/// for a mapping key that is not a string (its tree cannot be encrypted).
impl From<tollgate_yaml::Error> for Error {
    fn from(e: tollgate_yaml::Error) -> Self {
        let kind = match e.kind() {
            tollgate_yaml::ErrorKind::NonStringKey => ErrorKind::ErrorEncryptingTree,
            _ => ErrorKind::CouldNotReadInput,
        };
        let out = Error::new(kind, e.message().to_owned());
        match e.hint() {
            Some(h) => out.with_hint(h),
            None => out,
        }
    }
}
