//! Attachments: files uploaded over HTTP, stored once per content (`attachments/<sha256>` under
//! the data directory) with their metadata in SQLite, posted with messages, and downloaded by
//! anyone who can read a channel where one was posted (and its uploader).
//!
//! The type is sniffed from the bytes, never taken from the uploader, and downloads carry
//! headers that stop a browser or the app's webview from running them: `nosniff`, a sandboxing
//! Content-Security-Policy, and `attachment` disposition for everything but raster images.

use std::{path::PathBuf, sync::Arc};

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use futures_util::StreamExt;
use parley_protocol::{Attachment, ErrorCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use std::collections::HashMap;

use crate::{
    error::{Error, Result},
    http::Authed,
    store::{self, UserRecord},
    AppState,
};

/// Most attachments on one message.
pub const MAX_PER_MESSAGE: usize = 10;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/attachments", post(upload))
        .route("/api/attachments/{id}", get(download))
        .route("/api/attachments/{id}/thumbnail", get(thumbnail))
        .route("/api/uploads", post(session_start))
        .route(
            "/api/uploads/{id}",
            get(session_status)
                .put(session_append)
                .delete(session_cancel),
        )
        .route("/api/uploads/{id}/finish", post(session_finish))
}

fn dir(state: &AppState) -> PathBuf {
    state.config.data_dir().join("attachments")
}

fn path_of(state: &AppState, sha: &str) -> PathBuf {
    dir(state).join(&sha[..2]).join(sha)
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

#[derive(serde::Deserialize)]
struct UploadQuery {
    /// The file's name, for display (`?name=report.pdf`).
    name: Option<String>,
}

/// `POST /api/attachments?name=…` with the file as the body.
async fn upload(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> Result<(StatusCode, Json<Attachment>)> {
    let user = authed.user;
    let limits = &state.config.attachments;
    let name: String = query
        .name
        .unwrap_or_else(|| "file".into())
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
        .take(200)
        .collect();
    let name = if name.trim().is_empty() {
        "file".into()
    } else {
        name
    };
    let user_id = user.id;
    let used = state
        .store
        .read(move |conn| store::uploaded_bytes(conn, user_id))
        .await?;
    if used >= limits.user_quota {
        return Err(Error::new(
            ErrorCode::QuotaExceeded,
            format!("your uploads use {used} of {} bytes", limits.user_quota),
        ));
    }
    // Stream to a temporary file, hashing as it comes; stop at the size limit.
    let incoming = dir(&state).join("incoming");
    tokio::fs::create_dir_all(&incoming)
        .await
        .map_err(|e| Error::internal(format_args!("attachments directory: {e}")))?;
    let temp = incoming.join(format!("{}-{}", user.id, rand::random::<u64>()));
    let result = receive(&state, body, &temp).await;
    let (sha, size, head) = match result {
        Ok(done) => done,
        Err(err) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(err);
        }
    };
    let stored = finalize(&state, user_id, name, &temp, (sha, size, head)).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Turns a received file (`temp`, with its hash, size and first KiB) into an attachment: type,
/// dimensions, thumbnail, the row (quota checked inside the write), then the file in place.
/// A refusal leaves nothing behind.
async fn finalize(
    state: &AppState,
    user_id: i64,
    name: String,
    temp: &std::path::Path,
    (sha, size, head): (String, u64, Vec<u8>),
) -> Result<Attachment> {
    let limits = &state.config.attachments;
    let mime = sniff(&head);
    let (width, height) = if mime.starts_with("image/") && mime != "image/svg+xml" {
        match imagesize::blob_size(&head) {
            Ok(size) => (
                u32::try_from(size.width).ok(),
                u32::try_from(size.height).ok(),
            ),
            Err(_) => (None, None),
        }
    } else {
        (None, None)
    };
    // A thumbnail for raster images of a sane size (decoding is bounded by the pixel count).
    let thumb = match (INLINE.contains(&mime.as_str()), width, height) {
        (true, Some(w), Some(h)) if u64::from(w) * u64::from(h) <= MAX_THUMBNAIL_SOURCE_PIXELS => {
            make_thumbnail(state, temp).await
        }
        _ => None,
    };
    // The row first (its write checks the quota again, serialized with other uploads), the file
    // after: a refused upload leaves nothing on disk.
    let quota = limits.user_quota;
    let sha_for_row = sha.clone();
    let stored = state
        .store
        .write(move |tx, _| {
            let attachment = store::insert_attachment(
                tx,
                store::NewAttachment {
                    sha256: &sha_for_row,
                    size,
                    mime: &mime,
                    name: &name,
                    width,
                    height,
                    uploader_id: user_id,
                    quota,
                    thumbnail_sha256: thumb.as_deref(),
                },
            )?;
            Ok((attachment, Vec::new()))
        })
        .await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(err) => {
            let _ = tokio::fs::remove_file(temp).await;
            return Err(err);
        }
    };
    let target = path_of(state, &sha);
    let placed = async {
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        if tokio::fs::metadata(&target).await.is_ok() {
            tokio::fs::remove_file(temp).await // the same content is stored already
        } else {
            tokio::fs::rename(temp, &target).await
        }
    }
    .await;
    if let Err(err) = placed {
        let _ = tokio::fs::remove_file(temp).await;
        let id = stored.id;
        let _ = state
            .store
            .write(move |tx, _| {
                tx.execute("DELETE FROM attachments WHERE id = ?1", [id])?;
                Ok(((), Vec::new()))
            })
            .await;
        return Err(Error::internal(format_args!("storing attachment: {err}")));
    }
    Ok(stored)
}

/// Writes the body to `temp`: its SHA-256, size and first KiB (for sniffing).
async fn receive(
    state: &AppState,
    body: Body,
    temp: &std::path::Path,
) -> Result<(String, u64, Vec<u8>)> {
    let max = state.config.attachments.max_size;
    let mut file = tokio::fs::File::create(temp)
        .await
        .map_err(|e| Error::internal(format_args!("temporary file: {e}")))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut head = Vec::with_capacity(1024);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::new(ErrorCode::InvalidRequest, e.to_string()))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(Error::new(
                ErrorCode::AttachmentTooLarge,
                format!("attachments are at most {max} bytes"),
            ));
        }
        if head.len() < 1024 {
            let take = (1024 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::internal(format_args!("writing attachment: {e}")))?;
    }
    file.flush()
        .await
        .map_err(|e| Error::internal(format_args!("writing attachment: {e}")))?;
    file.sync_all()
        .await
        .map_err(|e| Error::internal(format_args!("writing attachment: {e}")))?;
    if size == 0 {
        return Err(Error::new(ErrorCode::InvalidRequest, "the file is empty"));
    }
    Ok((hex::encode(hasher.finalize()), size, head))
}

/// `GET /api/attachments/{id}`: for its uploader and anyone who can read a channel where it
/// was posted. Others get 404 (not 403: no hint that it exists).
async fn download(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Response> {
    let attachment = check_access(&state, &authed.user, id).await?;
    let file = tokio::fs::File::open(path_of(&state, &attachment.sha256))
        .await
        .map_err(|e| Error::internal(format_args!("attachment file: {e}")))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
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

impl AppState {
    /// Checks that every id is an attachment this user uploaded.
    pub(crate) async fn own_attachments(&self, user: &UserRecord, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_PER_MESSAGE {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("at most {MAX_PER_MESSAGE} attachments per message"),
            ));
        }
        let (wanted, user_id) = (ids.to_vec(), user.id);
        self.store
            .read(move |conn| {
                for id in &wanted {
                    match store::attachment(conn, *id)? {
                        Some((_, uploader)) if uploader == user_id => {}
                        _ => {
                            return Err(Error::new(
                                ErrorCode::AttachmentNotFound,
                                format!("no attachment {id} of yours"),
                            ))
                        }
                    }
                }
                Ok(wanted)
            })
            .await
    }
}

/// Images larger than this (in pixels) get no thumbnail: decoding them costs too much memory.
const MAX_THUMBNAIL_SOURCE_PIXELS: u64 = 40_000_000;
/// Longer side of a thumbnail.
const THUMBNAIL_SIZE: u32 = 320;

/// Decodes the image at `path` off the async workers, scales it to fit `THUMBNAIL_SIZE`, stores
/// the PNG content-addressed; its hash. Undecodable images simply get none.
async fn make_thumbnail(state: &AppState, path: &std::path::Path) -> Option<String> {
    let path = path.to_owned();
    let made = tokio::task::spawn_blocking(move || -> Option<(String, Vec<u8>)> {
        let mut reader = image::ImageReader::open(&path)
            .ok()?
            .with_guessed_format()
            .ok()?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(512 * 1024 * 1024);
        reader.limits(limits);
        let img = reader.decode().ok()?;
        let thumb = img.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE);
        let mut png = std::io::Cursor::new(Vec::new());
        thumb.write_to(&mut png, image::ImageFormat::Png).ok()?;
        let png = png.into_inner();
        Some((hex::encode(Sha256::digest(&png)), png))
    })
    .await
    .ok()??;
    let (sha, png) = made;
    let target = path_of(state, &sha);
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.ok()?;
    }
    if tokio::fs::metadata(&target).await.is_err() {
        tokio::fs::write(&target, &png).await.ok()?;
    }
    Some(sha)
}

/// `GET /api/attachments/{id}/thumbnail`: the same access as the file.
async fn thumbnail(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Response> {
    check_access(&state, &authed.user, id).await?;
    let sha = state
        .store
        .read(move |conn| store::thumbnail_of(conn, id))
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::AttachmentNotFound,
                format!("no thumbnail for {id}"),
            )
        })?;
    let bytes = tokio::fs::read(path_of(&state, &sha))
        .await
        .map_err(|e| Error::internal(format_args!("thumbnail file: {e}")))?;
    let mut response = bytes.into_response();
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
async fn check_access(state: &AppState, user: &UserRecord, id: i64) -> Result<Attachment> {
    let (attachment, channels) = state
        .store
        .read(move |conn| {
            let found = store::attachment(conn, id)?;
            let channels = store::attachment_channels(conn, id)?;
            Ok((found, channels))
        })
        .await?;
    let not_found = || Error::new(ErrorCode::AttachmentNotFound, format!("no attachment {id}"));
    let (attachment, uploader) = attachment.ok_or_else(not_found)?;
    let allowed = uploader == user.id
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

// ---- resumable uploads -------------------------------------------------------------------
//
// `POST /api/uploads {name, size}` opens a session (size and quota checked up front);
// `PUT /api/uploads/{id}?offset=N` appends a chunk that must start where the file ends (409
// with the current `received` otherwise, so a client that lost track resumes from there);
// `GET` tells how far it is; `POST …/finish` turns the complete file into an attachment;
// `DELETE` cancels. Sessions live in memory: they survive broken connections and client
// restarts, not a server restart. At most `MAX_SESSIONS` open per user, each for a day.

/// Open upload sessions per user.
const MAX_SESSIONS: usize = 8;
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

pub struct UploadSession {
    user_id: i64,
    name: String,
    size: u64,
    received: u64,
    temp: PathBuf,
    started: std::time::Instant,
}

/// Every open session, by id.
#[derive(Default)]
pub struct Uploads(std::sync::Mutex<HashMap<String, UploadSession>>);

impl Uploads {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, UploadSession>) -> T) -> T {
        let mut map = match self.0.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.retain(|_, s| {
            let alive = s.started.elapsed() < SESSION_TTL;
            if !alive {
                let _ = std::fs::remove_file(&s.temp);
            }
            alive
        });
        f(&mut map)
    }
}

#[derive(serde::Deserialize)]
struct StartSession {
    name: String,
    size: u64,
}

#[derive(serde::Serialize)]
struct SessionState {
    upload_id: String,
    size: u64,
    received: u64,
}

fn no_session(id: &str) -> Error {
    Error::new(ErrorCode::AttachmentNotFound, format!("no upload {id}"))
}

async fn session_start(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    crate::http::ApiJson(body): crate::http::ApiJson<StartSession>,
) -> Result<(StatusCode, Json<SessionState>)> {
    let limits = &state.config.attachments;
    if body.size == 0 {
        return Err(Error::new(ErrorCode::InvalidRequest, "the file is empty"));
    }
    if body.size > limits.max_size {
        return Err(Error::new(
            ErrorCode::AttachmentTooLarge,
            format!("attachments are at most {} bytes", limits.max_size),
        ));
    }
    let user_id = authed.user.id;
    let used = state
        .store
        .read(move |conn| store::uploaded_bytes(conn, user_id))
        .await?;
    if used.saturating_add(body.size) > limits.user_quota {
        return Err(Error::new(
            ErrorCode::QuotaExceeded,
            format!("your uploads use {used} of {} bytes", limits.user_quota),
        ));
    }
    let incoming = dir(&state).join("incoming");
    tokio::fs::create_dir_all(&incoming)
        .await
        .map_err(|e| Error::internal(format_args!("attachments directory: {e}")))?;
    let id = hex::encode(rand::random::<[u8; 16]>());
    let temp = incoming.join(format!("session-{id}"));
    tokio::fs::File::create(&temp)
        .await
        .map_err(|e| Error::internal(format_args!("temporary file: {e}")))?;
    let name: String = body
        .name
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
        .take(200)
        .collect();
    let session = UploadSession {
        user_id,
        name: if name.trim().is_empty() {
            "file".into()
        } else {
            name
        },
        size: body.size,
        received: 0,
        temp,
        started: std::time::Instant::now(),
    };
    let opened = state.uploads.with(|map| {
        if map.values().filter(|s| s.user_id == user_id).count() >= MAX_SESSIONS {
            return Err(Error::new(
                ErrorCode::RateLimited,
                format!("at most {MAX_SESSIONS} unfinished uploads; finish or cancel one"),
            ));
        }
        map.insert(id.clone(), session);
        Ok(())
    });
    opened?;
    Ok((
        StatusCode::CREATED,
        Json(SessionState {
            upload_id: id,
            size: body.size,
            received: 0,
        }),
    ))
}

fn own_session(state: &AppState, user: &UserRecord, id: &str) -> Result<(u64, u64, PathBuf)> {
    state.uploads.with(|map| match map.get(id) {
        Some(s) if s.user_id == user.id => Ok((s.size, s.received, s.temp.clone())),
        _ => Err(no_session(id)),
    })
}

async fn session_status(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<SessionState>> {
    let (size, received, _) = own_session(&state, &authed.user, &id)?;
    Ok(Json(SessionState {
        upload_id: id,
        size,
        received,
    }))
}

#[derive(serde::Deserialize)]
struct Offset {
    offset: u64,
}

async fn session_append(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    Path(id): Path<String>,
    Query(at): Query<Offset>,
    body: Body,
) -> Result<Response> {
    let (size, received, temp) = own_session(&state, &authed.user, &id)?;
    if at.offset != received {
        let body = serde_json::json!({
            "code": "invalid_request",
            "message": format!("this upload has {received} bytes; send from there"),
            "upload_id": id,
            "size": size,
            "received": received,
        });
        return Ok((StatusCode::CONFLICT, Json(body)).into_response());
    }
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&temp)
        .await
        .map_err(|e| Error::internal(format_args!("upload file: {e}")))?;
    let mut stream = body.into_data_stream();
    let mut now = received;
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            failed = Some(Error::new(ErrorCode::InvalidRequest, "the chunk broke off"));
            break;
        };
        if now + chunk.len() as u64 > size {
            failed = Some(Error::new(
                ErrorCode::AttachmentTooLarge,
                format!("more bytes than the {size} announced"),
            ));
            break;
        }
        if let Err(e) = file.write_all(&chunk).await {
            failed = Some(Error::internal(format_args!("upload file: {e}")));
            break;
        }
        now += chunk.len() as u64;
    }
    let _ = file.flush().await;
    let _ = file.sync_all().await;
    drop(file);
    // What reached the file counts, even from a chunk that broke off: resume from there.
    let kept = tokio::fs::metadata(&temp)
        .await
        .map(|m| m.len())
        .unwrap_or(received);
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(&temp)
        .and_then(|f| f.set_len(kept.min(now)));
    let kept = kept.min(now);
    state.uploads.with(|map| {
        if let Some(s) = map.get_mut(&id) {
            s.received = kept;
        }
    });
    if let Some(err) = failed {
        return Err(err);
    }
    Ok(Json(SessionState {
        upload_id: id,
        size,
        received: kept,
    })
    .into_response())
}

async fn session_cancel(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let (_, _, temp) = own_session(&state, &authed.user, &id)?;
    state.uploads.with(|map| map.remove(&id));
    let _ = tokio::fs::remove_file(&temp).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn session_finish(
    State(state): State<Arc<AppState>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Attachment>)> {
    let (size, received, temp) = own_session(&state, &authed.user, &id)?;
    if received != size {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!("the upload has {received} of {size} bytes"),
        ));
    }
    let session = state
        .uploads
        .with(|map| map.remove(&id))
        .ok_or_else(|| no_session(&id))?;
    let hashed_path = temp.clone();
    let (sha, head) = tokio::task::spawn_blocking(move || -> std::io::Result<(String, Vec<u8>)> {
        use std::io::Read;
        let mut file = std::fs::File::open(&hashed_path)?;
        let mut hasher = Sha256::new();
        let mut head = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if head.len() < 1024 {
                let take = (1024 - head.len()).min(n);
                head.extend_from_slice(&buf[..take]);
            }
            hasher.update(&buf[..n]);
        }
        Ok((hex::encode(hasher.finalize()), head))
    })
    .await
    .map_err(|e| Error::internal(format_args!("hashing upload: {e}")))?
    .map_err(|e| Error::internal(format_args!("hashing upload: {e}")))?;
    let stored = finalize(
        &state,
        authed.user.id,
        session.name,
        &temp,
        (sha, size, head),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}
