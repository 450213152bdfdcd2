//! What can go wrong in the client core, with the server's error code when it answered.

use parley_protocol::{ErrorBody, ErrorCode};

use crate::docs;

/// What can go wrong, with the server's error code when it answered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not connected to the server")]
    Offline,
    #[error("the connection closed before the answer came")]
    Disconnected,
    #[error("timed out")]
    Timeout,
    /// The server refused, or would have: a rule it applies (names, limits; in
    /// `parley_protocol`) was checked here first, with the code the server would give.
    #[error("{}: {}", .0.code, .0.message)]
    Server(ErrorBody),
    #[error("local cache: {0}")]
    Storage(String),
    #[error("{0}")]
    Invalid(String),
    /// The server could not be reached over HTTP (no answer at all).
    #[error("{0}")]
    Unreachable(String),
    /// The server answered HTTP in a way that is not Parley's (no error body, a cut stream).
    #[error("{0}")]
    Http(String),
    /// A document replica stopped for good ([`docs::DocGone`]).
    #[error("{}", gone_message(.doc, *.reason))]
    DocGone { doc: String, reason: docs::DocGone },
}

fn gone_message(doc: &str, reason: docs::DocGone) -> String {
    match reason {
        docs::DocGone::Deleted => {
            format!("document {doc} was deleted on the server; its local copy was removed")
        }
        docs::DocGone::Forbidden => format!("you no longer have access to document {doc}"),
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::Storage(err.to_string())
    }
}

impl Error {
    /// The server's error code, when the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server(body) => Some(body.code),
            _ => None,
        }
    }

    /// A refusal by a rule of the server's, checked before asking it.
    pub(crate) fn rule(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Server(ErrorBody::new(code, message))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
