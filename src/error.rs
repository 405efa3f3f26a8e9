//! One error type for the whole crate, with stable codes that reach JS unchanged.

use std::fmt;

/// A stable, machine-readable error category. The string form (see [`ErrorCode::as_str`]) is
/// part of the public API: JS callers switch on `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorCode {
    /// The caller passed something malformed; the message names the field.
    InvalidInput,
    /// A referenced record (span, task, policy) does not exist.
    NotFound,
    /// A record with the same id already exists.
    Duplicate,
    /// The storage quota of the origin is exhausted.
    QuotaExceeded,
    /// Opening the database is blocked by another connection that does not close.
    Blocked,
    /// The stored database has a newer schema than this code understands.
    VersionError,
    /// Storage is not available in this environment (no IndexedDB, private mode, ...).
    Unavailable,
    /// A storage operation failed or its transaction aborted.
    Storage,
    /// The instance was closed; open a new one.
    Closed,
    /// A user-supplied callback (custom reward function) failed.
    Callback,
    /// A bug: an invariant of lightprompt itself did not hold.
    Internal,
    /// A remote service (an Agent Lightning store) could not be reached.
    Unreachable,
    /// A remote service refused a request; the message names the status and its body.
    Refused,
    /// A remote service is not a version lightprompt can talk to.
    UnsupportedVersion,
    /// The caller aborted the operation (an `AbortSignal`).
    Aborted,
}

impl ErrorCode {
    /// The stable string form used as `error.code` in JS.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "InvalidInput",
            ErrorCode::NotFound => "NotFound",
            ErrorCode::Duplicate => "Duplicate",
            ErrorCode::QuotaExceeded => "QuotaExceeded",
            ErrorCode::Blocked => "Blocked",
            ErrorCode::VersionError => "VersionError",
            ErrorCode::Unavailable => "Unavailable",
            ErrorCode::Storage => "Storage",
            ErrorCode::Closed => "Closed",
            ErrorCode::Callback => "Callback",
            ErrorCode::Internal => "Internal",
            ErrorCode::Unreachable => "Unreachable",
            ErrorCode::Refused => "Refused",
            ErrorCode::UnsupportedVersion => "UnsupportedVersion",
            ErrorCode::Aborted => "Aborted",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with a stable [`ErrorCode`], a human message, and (for input errors) the path of
/// the offending field, e.g. `options.aspectRatio`.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// The input field at fault (`prompt`, `options.stylize`, `reward`, ...), when there is one.
    pub field: Option<String>,
    /// A sentence for humans; it names the field when there is one.
    pub message: String,
}

impl Error {
    /// A bad-input error on `field`; the message is prefixed with the field name.
    pub fn invalid(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let field = field.into();
        Error {
            code: ErrorCode::InvalidInput,
            message: format!("{field}: {message}"),
            field: Some(field),
        }
    }

    /// A missing record.
    pub fn not_found(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let field = field.into();
        Error {
            code: ErrorCode::NotFound,
            message: format!("{field}: {message}"),
            field: Some(field),
        }
    }

    /// An error of any code without a specific field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            field: None,
            message: message.into(),
        }
    }

    /// The same error, naming `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// A storage failure.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Storage, message)
    }

    /// A broken internal invariant (a bug in lightprompt, never the caller's fault).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
