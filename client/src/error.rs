//! What can go wrong in the client core, with the server's error code when it answered.

use parley_protocol::{ErrorBody, ErrorCode};

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
    /// The server's certificate did not verify (unknown issuer, wrong name, expired...): the
    /// message names the server and the reason. Never retried over plain HTTP.
    #[error("{0}")]
    Certificate(String),
    /// The server answered HTTP in a way that is not Parley's (no error body, a cut stream).
    #[error("{0}")]
    Http(String),
    /// A document replica stopped for good ([`DocGone`]).
    #[error("{}", gone_message(.doc, *.reason))]
    DocGone { doc: String, reason: DocGone },
}

/// Why a document replica stopped for good (`crate::docs::ReplicaEvent::Gone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DocGone {
    /// The document was deleted on the server. Its cached state was dropped, and the comments
    /// still queued for it failed: nothing of it can reach another document of that name.
    Deleted,
    /// The server refused the user access to the document (403).
    Forbidden,
}

fn gone_message(doc: &str, reason: DocGone) -> String {
    match reason {
        DocGone::Deleted => {
            format!("document {doc} was deleted on the server; its local copy was removed")
        }
        DocGone::Forbidden => format!("you no longer have access to document {doc}"),
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
