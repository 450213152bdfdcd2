//! Attachments: files uploaded over HTTP, stored once per content (`attachments/<sha256>` under
//! the data directory) with their metadata in SQLite, posted with messages, and downloaded by
//! anyone who can read a channel where one was posted (and its uploader).
//!
//! The type is sniffed from the bytes, never taken from the uploader, and downloads carry
//! headers that stop a browser or the app's webview from running them: `nosniff`, a sandboxing
//! Content-Security-Policy, and `attachment` disposition for everything but raster images.
//!
//! Parts: `upload` (one-shot uploads and the path every upload ends in), `resumable` (upload
//! sessions), `images` (thumbnails within a memory budget), `files` (the content-addressed
//! files on disk and the start-up sweep). This file holds type sniffing and downloads. The
//! routes and their extractors are in `http::attachments`: the handlers here take the user and
//! the request's parts as plain values.

mod avatars;
mod files;
mod images;
mod resumable;
mod shared_sessions;
mod upload;

use std::sync::Arc;

use axum::{
    body::Body,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use parley_protocol::{Attachment, ErrorCode};

use crate::{
    chat::channels::Directory,
    error::{Error, Result},
    store::{
        AttachmentAccess, AttachmentStore, ContentStore, StoredAttachment, UploadSessionStore,
        UserRecord,
    },
    Config,
};

pub(crate) use avatars::too_large as avatar_too_large;
pub(crate) use files::sweep_at_start;
pub(crate) use resumable::{
    expire_sessions, session_append, session_cancel, session_finish, session_start, session_status,
};
pub(crate) use upload::upload;

/// The attachments service: what uploads, downloads and the upkeep share.
pub struct Attachments {
    store: Arc<dyn AttachmentStore>,
    /// Contents kept in the database (PostgreSQL without `attachments.dir`); None: files.
    contents: Option<Arc<dyn ContentStore>>,
    /// Upload sessions kept in the database (PostgreSQL); None: in this node's memory.
    shared_sessions: Option<Arc<dyn UploadSessionStore>>,
    config: Arc<Config>,
    /// Who may read the channels an attachment was posted in.
    directory: Arc<Directory>,
    uploads: Uploads,
}

/// Open upload sessions and the thumbnail decoder's permits.
struct Uploads {
    sessions: Arc<resumable::Sessions>,
    thumbnails: images::Thumbnailer,
}

impl Attachments {
    pub fn new(
        store: Arc<dyn AttachmentStore>,
        config: Arc<Config>,
        directory: Arc<Directory>,
    ) -> Self {
        let uploads = Uploads {
            sessions: Arc::new(resumable::Sessions::new(config.attachments.upload_expiry)),
            thumbnails: images::Thumbnailer::new(&config.attachments),
        };
        Self {
            store,
            contents: None,
            shared_sessions: None,
            config,
            directory,
            uploads,
        }
    }

    /// Keeps contents in the database instead of files.
    pub fn with_contents(mut self, contents: Option<Arc<dyn ContentStore>>) -> Self {
        self.contents = contents;
        self
    }

    /// Keeps upload sessions in the database instead of this node's memory.
    pub fn with_upload_sessions(mut self, sessions: Option<Arc<dyn UploadSessionStore>>) -> Self {
        self.shared_sessions = sessions;
        self
    }
}

/// Raster images a browser may show inline (never SVG: it can carry script).
const INLINE: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The type of `bytes` (the file's start), from its content only.
pub fn sniff(bytes: &[u8]) -> String {
    if let Some(kind) = infer::get(bytes) {
        return kind.mime_type().to_owned();
    }
    let text = std::str::from_utf8(bytes).is_ok()
        || std::str::from_utf8(&bytes[..bytes.len().saturating_sub(3)]).is_ok();
    if text {
        let lower = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
        if lower.contains("<svg") {
            return "image/svg+xml".into();
        }
        if lower.contains("<html") || lower.contains("<!doctype html") || lower.contains("<script")
        {
            return "text/html".into();
        }
        return "text/plain".into();
    }
    "application/octet-stream".into()
}

/// A file name for display: no control characters or path separators, at most 200 characters,
/// `file` when nothing is left.
fn clean_name(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
        .take(200)
        .collect();
    if name.trim().is_empty() {
        "file".into()
    } else {
        name
    }
}

/// A response to a request whose body may not have been read to its end (a refusal before or
/// part way through an upload): the connection is closed after it, and the response says so.
/// Unread bytes make the connection unusable for another request, and a client that reused it
/// would see its next request fail.
fn closing(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The stored content as a response body: a file streamed from `attachments/`, or the
/// database's chunks one after the other. Content that is gone (a file deleted behind the
/// server's back, or lost with a disk) answers 404 like an unknown attachment, and is logged
/// for the operator.
async fn stored_body(state: &Attachments, id: i64, sha: &str) -> Result<Body> {
    let missing = || {
        tracing::warn!(
            attachment = id,
            sha256 = sha,
            "attachment content is missing"
        );
        Error::new(
            ErrorCode::AttachmentNotFound,
            format!("the file of attachment {id} is missing on the server"),
        )
    };
    if let Some(contents) = &state.contents {
        if contents.content_size(sha.to_owned()).await?.is_none() {
            return Err(missing());
        }
        let (contents, sha) = (Arc::clone(contents), sha.to_owned());
        let chunks = futures_util::stream::unfold(Some(0i32), move |next| {
            let (contents, sha) = (Arc::clone(&contents), sha.clone());
            async move {
                let n = next?;
                match contents.content_chunk(sha, n).await {
                    Ok(Some(bytes)) => Some((Ok(axum::body::Bytes::from(bytes)), Some(n + 1))),
                    Ok(None) => None,
                    // Ends the body early: the client sees fewer bytes than Content-Length.
                    Err(err) => Some((Err(std::io::Error::other(err.to_string())), None)),
                }
            }
        });
        return Ok(Body::from_stream(chunks));
    }
    match tokio::fs::File::open(files::path_of(&files::root(state), sha)).await {
        Ok(file) => Ok(Body::from_stream(tokio_util::io::ReaderStream::new(file))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(missing()),
        Err(err) => Err(Error::internal(format_args!("attachment file: {err}"))),
    }
}

/// `GET /api/attachments/{id}`: for its uploader and anyone who can read a channel where it
/// was posted. Others get 404 (not 403: no hint that it exists).
pub(crate) async fn download(state: &Attachments, user: &UserRecord, id: i64) -> Result<Response> {
    let attachment = check_access(state, user, id).await?;
    let body = stored_body(state, id, &attachment.sha256).await?;
    let inline = INLINE.contains(&attachment.mime.as_str());
    let mime = if inline {
        attachment.mime.clone()
    } else {
        // Never a type a browser would render or run.
        "application/octet-stream".to_owned()
    };
    let safe_name: String = attachment
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "{}; filename=\"{safe_name}\"",
        if inline { "inline" } else { "attachment" }
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    let set = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
    headers.insert(header::CONTENT_TYPE, set(&mime));
    headers.insert(header::CONTENT_LENGTH, set(&attachment.size.to_string()));
    headers.insert(header::CONTENT_DISPOSITION, set(&disposition));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(response)
}

/// `GET /api/attachments/{id}/thumbnail`: the same access as the file.
pub(crate) async fn thumbnail(state: &Attachments, user: &UserRecord, id: i64) -> Result<Response> {
    check_access(state, user, id).await?;
    let sha = state.store.thumbnail_of(id).await?.ok_or_else(|| {
        Error::new(
            ErrorCode::AttachmentNotFound,
            format!("no thumbnail for {id}"),
        )
    })?;
    let body = stored_body(state, id, &sha).await?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// The attachment, if this user may download it (404 otherwise, with no hint it exists).
async fn check_access(state: &Attachments, user: &UserRecord, id: i64) -> Result<Attachment> {
    let not_found = || Error::new(ErrorCode::AttachmentNotFound, format!("no attachment {id}"));
    let AttachmentAccess {
        stored: StoredAttachment {
            attachment,
            uploader_id,
        },
        channels,
    } = state
        .store
        .attachment_access(id)
        .await?
        .ok_or_else(not_found)?;
    let allowed = uploader_id == user.id
        || channels.iter().any(|c| {
            state
                .directory
                .by_id(*c)
                .is_some_and(|ch| ch.check_read(Some(user)).is_ok())
        });
    if allowed {
        Ok(attachment)
    } else {
        Err(not_found())
    }
}
