//! Attachments over HTTP: one-shot uploads (`POST /api/attachments?name=`), resumable upload
//! sessions (`/api/uploads`), and downloads (`GET /api/attachments/{id}[/thumbnail]`, the
//! file's bytes). A finished upload is answered with its [`Attachment`](crate::Attachment).

use serde::{Deserialize, Serialize};

use crate::ErrorBody;

/// The query of `POST /api/attachments` (the body is the file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UploadQuery {
    /// The file's name, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /api/uploads`: opens an upload session for a file of `size` bytes (201 with its
/// [`UploadState`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StartUpload {
    pub name: String,
    pub size: u64,
}

/// Where an upload session stands: the answer to opening it, to `GET /api/uploads/{id}` and to
/// each chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UploadState {
    pub upload_id: String,
    pub size: u64,
    /// The server holds the file's first `received` bytes: the next chunk starts there.
    pub received: u64,
}

/// The query of `PUT /api/uploads/{id}` (the body is the chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UploadOffset {
    /// Where the chunk starts; it must be the session's `received`.
    pub offset: u64,
}

/// A chunk sent from the wrong offset: 409 with the error and where the session stands, so
/// the client sends again from `received`. (A 409 `upload_conflict`, another request holding
/// the session, is a plain [`ErrorBody`].)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UploadConflict {
    #[serde(flatten)]
    pub error: ErrorBody,
    #[serde(flatten)]
    pub state: UploadState,
}
