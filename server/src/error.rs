//! The server's one error type. Everything that can fail inside a request ends up here, and
//! every boundary (WebSocket reply, HTTP response) turns it into the wire `ErrorBody` with a
//! stable code. Internal details (SQL errors) are logged, not sent.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use parley_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, Clone)]
pub struct Error(pub ErrorBody);

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        tracing::error!(%context, "internal error");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "sign in first (send `auth` or use a bearer token)",
        )
    }

    pub fn http_status(&self) -> StatusCode {
        match self.0.code {
            ErrorCode::InvalidJson
            | ErrorCode::InvalidRequest
            | ErrorCode::UnknownType
            | ErrorCode::InvalidChannelName
            | ErrorCode::MessageEmpty
            | ErrorCode::MessageTooLong
            | ErrorCode::InvalidClientId
            | ErrorCode::InvalidUser
            | ErrorCode::NotSubscribed
            | ErrorCode::AlreadyAuthenticated
            | ErrorCode::InvalidDocName
            | ErrorCode::InvalidComment
            | ErrorCode::InvalidEmoji
            | ErrorCode::QueryTooBroad
            | ErrorCode::InvalidImage
            | ErrorCode::InvalidEvent
            | ErrorCode::InvalidWebhook => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden
            | ErrorCode::NotMember
            | ErrorCode::RegistrationClosed
            | ErrorCode::OriginNotAllowed
            | ErrorCode::LimitReached
            | ErrorCode::HostNotAllowed
            | ErrorCode::TokenScope
            | ErrorCode::InvalidInvite
            | ErrorCode::AccountDisabled
            | ErrorCode::InvalidResetCode
            | ErrorCode::CsrfRejected => StatusCode::FORBIDDEN,
            ErrorCode::ChannelNotFound
            | ErrorCode::WebhookNotFound
            | ErrorCode::AnalyticsDisabled
            | ErrorCode::UserNotFound
            | ErrorCode::DocNotFound
            | ErrorCode::CommentNotFound
            | ErrorCode::VersionNotFound
            | ErrorCode::MessageNotFound
            | ErrorCode::AttachmentNotFound
            | ErrorCode::TokenNotFound
            | ErrorCode::WebNotBuilt => StatusCode::NOT_FOUND,
            ErrorCode::AttachmentTooLarge | ErrorCode::EventTooLarge | ErrorCode::QuotaExceeded => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ErrorCode::ChannelExists
            | ErrorCode::UserExists
            | ErrorCode::ChannelFull
            | ErrorCode::DocExists
            | ErrorCode::UploadConflict => StatusCode::CONFLICT,
            ErrorCode::ChannelLimit | ErrorCode::RateLimited | ErrorCode::TooManyConnections => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ErrorCode::ServerBusy | ErrorCode::ShuttingDown | ErrorCode::RealtimeDisabled => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::VersionMismatch => StatusCode::UPGRADE_REQUIRED,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ErrorBody> for Error {
    fn from(body: ErrorBody) -> Self {
        Self(body)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.http_status();
        let mut response = (status, Json(self.0.clone())).into_response();
        if let Some(ms) = self.0.retry_after_ms {
            let secs = ms.div_ceil(1000).max(1);
            if let Ok(value) = secs.to_string().parse() {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        response
    }
}
