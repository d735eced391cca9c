//! The error type at the edge, and the exit codes it maps to.

use crate::spec::{LoadError, SpecErrors};

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for a runtime failure.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code for bad usage or a bad spec.
pub const EXIT_USAGE: u8 = 2;
/// Exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid (exit 2).
    #[error(transparent)]
    Spec(#[from] SpecErrors),
    /// Bad usage, e.g. an unknown service name (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A Docker operation failed (exit 1).
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// A service's image could not be made: its pull, host build or image build failed (exit 1). The running
    /// container, if any, was left as it was.
    #[error("{source}")]
    Build {
        /// The service whose image it is.
        service: String,
        /// What failed.
        source: Box<Error>,
    },
    /// A service was not started because a dependency of it failed to come up (exit 1).
    #[error("{service}: not started because its dependency {dependency} failed")]
    DependencyFailed {
        /// The service not started.
        service: String,
        /// The dependency that failed.
        dependency: String,
    },
    /// Anything else at run time (exit 1).
    #[error("{0}")]
    Runtime(String),
    /// Ctrl-C (exit 130).
    #[error("interrupted")]
    Interrupted,
}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Invalid(s) => Error::Spec(s),
            other => Error::Usage(other.to_string()),
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Spec(_) | Error::Usage(_) => EXIT_USAGE,
            Error::Engine(_)
            | Error::Runtime(_)
            | Error::Build { .. }
            | Error::DependencyFailed { .. } => EXIT_RUNTIME,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
