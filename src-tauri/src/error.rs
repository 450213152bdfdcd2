//! The one error every command returns: a stable `code` and a message for people.

use crate::types::AppError;

pub type CmdResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_signed_in() -> Self {
        Self::new("not_signed_in", "sign in first")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid", message)
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new("internal", message.to_string())
    }
}

impl From<parley_client::Error> for AppError {
    fn from(err: parley_client::Error) -> Self {
        use parley_client::Error as E;
        let code = match &err {
            E::Server(body) => {
                return Self::new(&code_name(body.code), body.message.clone());
            }
            E::Offline | E::Disconnected => "offline",
            E::Timeout => "timeout",
            E::Storage(_) => "storage",
            E::Invalid(_) => "invalid",
            E::Unreachable(_) => "offline",
            E::Http(_) => "server_unreachable",
            E::Certificate(_) => "untrusted_certificate",
            E::DocGone { reason, .. } => match reason {
                parley_client::docs::DocGone::Deleted => "doc_not_found",
                parley_client::docs::DocGone::Forbidden => "forbidden",
            },
        };
        Self::new(code, err.to_string())
    }
}

/// The wire name of a protocol error code (`channel_not_found`, ...).
pub fn code_name(code: parley_protocol::ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "internal".into())
}
