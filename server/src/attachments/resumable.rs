//! Resumable uploads (`/api/uploads`).
//!
//! `POST /api/uploads {name, size}` opens a session (size and quota checked up front);
//! `PUT /api/uploads/{id}?offset=N` appends a chunk that must start where the file ends (409
//! with the current `received` otherwise, so a client that lost track resumes from there);
//! `GET` tells how far it is; `POST …/finish` turns the complete file into an attachment;
//! `DELETE` cancels. Sessions live in memory: they survive broken connections and client
//! restarts, not a server restart. At most `MAX_SESSIONS` open per user, each for
//! `attachments.upload_expiry`; expired ones and their files are swept by a background loop.
//!
//! One request at a time per session: `PUT`, `finish` and `DELETE` take the session's lease
//! and a second one meanwhile gets 409 `upload_conflict`. A `PUT`'s writes and a `finish` run
//! in tasks that own the lease, so a client that goes away mid-request cannot leave a write
//! running after the lease is free. `finish` copies the bytes into a new file while hashing
//! them: what is stored is never the session's own file.

use std::{
    collections::HashMap,
    io::{Read, SeekFrom, Write},
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use futures_util::StreamExt;
use parley_protocol::{
    api::{StartUpload, UploadConflict, UploadState},
    Attachment, ErrorBody, ErrorCode,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::Attachments;
use super::{files, shared_sessions, upload};
use crate::error::{Error, Result};

/// Open upload sessions per user.
const MAX_SESSIONS: usize = 8;

struct UploadSession {
    user_id: i64,
    name: String,
    size: u64,
    received: u64,
    temp: PathBuf,
    started: Instant,
    /// A request is using the session (see [`Lease`]).
    busy: bool,
}

/// Every open session, by id.
pub(super) struct Sessions {
    map: Mutex<HashMap<String, UploadSession>>,
    expiry: Duration,
}

impl Sessions {
    pub(super) fn new(expiry: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            expiry,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, UploadSession>> {
        match self.map.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn expired(&self, session: &UploadSession) -> bool {
        session.started.elapsed() >= self.expiry
    }

    /// The user's live session `id`: its size and received bytes.
    fn peek(&self, user_id: i64, id: &str) -> Result<(u64, u64)> {
        match self.lock().get(id) {
            Some(s) if s.user_id == user_id && !self.expired(s) => Ok((s.size, s.received)),
            _ => Err(no_session(id)),
        }
    }

    /// Takes the user's session `id` for one request; 409 `upload_conflict` while another
    /// request holds it.
    fn lease(self: &Arc<Self>, user_id: i64, id: &str) -> Result<Lease> {
        let mut map = self.lock();
        let session = match map.get_mut(id) {
            Some(s) if s.user_id == user_id && s.started.elapsed() < self.expiry => s,
            _ => return Err(no_session(id)),
        };
        if session.busy {
            return Err(Error::new(
                ErrorCode::UploadConflict,
                format!("another request is using upload {id}; send one at a time"),
            ));
        }
        session.busy = true;
        Ok(Lease {
            sessions: Arc::clone(self),
            id: id.to_owned(),
            name: session.name.clone(),
            size: session.size,
            received: session.received,
            temp: session.temp.clone(),
        })
    }

    /// Removes expired sessions that no request holds; their files to delete.
    fn sweep(&self) -> Vec<PathBuf> {
        let mut gone = Vec::new();
        self.lock().retain(|_, s| {
            let keep = s.busy || s.started.elapsed() < self.expiry;
            if !keep {
                gone.push(s.temp.clone());
            }
            keep
        });
        gone
    }
}

/// One request's hold on a session, released when dropped.
struct Lease {
    sessions: Arc<Sessions>,
    id: String,
    name: String,
    size: u64,
    received: u64,
    temp: PathBuf,
}

impl Lease {
    fn set_received(&mut self, received: u64) {
        self.received = received;
        if let Some(s) = self.sessions.lock().get_mut(&self.id) {
            s.received = received;
        }
    }

    /// Ends the session (it is gone for every later request).
    fn end(&self) {
        self.sessions.lock().remove(&self.id);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(s) = self.sessions.lock().get_mut(&self.id) {
            s.busy = false;
        }
    }
}

/// Removes expired sessions and their files until the server shuts down.
pub(crate) async fn expire_sessions(state: Arc<Attachments>, shutdown: CancellationToken) {
    if let Some(shared) = state.shared_sessions.clone() {
        let expiry = state.config.attachments.upload_expiry;
        return shared_sessions::expire(shared, expiry, shutdown).await;
    }
    let every = (state.config.attachments.upload_expiry / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        for path in state.uploads.sessions.sweep() {
            if let Err(err) = tokio::fs::remove_file(&path).await {
                if err.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(%err, path = %path.display(), "removing an expired upload");
                }
            }
        }
    }
}

fn no_session(id: &str) -> Error {
    Error::new(ErrorCode::AttachmentNotFound, format!("no upload {id}"))
}

pub(crate) async fn session_start(
    state: &Attachments,
    user_id: i64,
    body: StartUpload,
) -> Result<(StatusCode, Json<UploadState>)> {
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
    let used = state.store.uploaded_bytes(user_id).await?;
    if used.saturating_add(body.size) > limits.user_quota {
        return Err(Error::new(
            ErrorCode::QuotaExceeded,
            format!("your uploads use {used} of {} bytes", limits.user_quota),
        ));
    }
    if let Some(shared) = &state.shared_sessions {
        let name = super::clean_name(&body.name);
        return shared_sessions::start(state, &**shared, user_id, name, body.size, MAX_SESSIONS)
            .await;
    }
    let sessions = &state.uploads.sessions;
    let too_many = || {
        let open = sessions
            .lock()
            .values()
            .filter(|s| s.user_id == user_id && !sessions.expired(s))
            .count();
        (open >= MAX_SESSIONS).then(|| {
            Error::new(
                ErrorCode::RateLimited,
                format!("at most {MAX_SESSIONS} unfinished uploads; finish or cancel one"),
            )
        })
    };
    if let Some(err) = too_many() {
        return Err(err);
    }
    let id = hex::encode(rand::random::<[u8; 16]>());
    let temp = files::root(state)
        .join("incoming")
        .join(format!("session-{id}"));
    if let Some(dir) = temp.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::internal(format_args!("attachments directory: {e}")))?;
    }
    tokio::fs::File::create(&temp)
        .await
        .map_err(|e| Error::internal(format_args!("temporary file: {e}")))?;
    let session = UploadSession {
        user_id,
        name: super::clean_name(&body.name),
        size: body.size,
        received: 0,
        temp,
        started: Instant::now(),
        busy: false,
    };
    // Counted again with the insert, so requests sent at once cannot pass the limit together.
    let refused = {
        let mut map = sessions.lock();
        let open = map
            .values()
            .filter(|s| s.user_id == user_id && !sessions.expired(s))
            .count();
        if open >= MAX_SESSIONS {
            Some(session.temp)
        } else {
            map.insert(id.clone(), session);
            None
        }
    };
    if let Some(temp) = refused {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(too_many()
            .unwrap_or_else(|| Error::new(ErrorCode::RateLimited, "too many unfinished uploads")));
    }
    Ok((
        StatusCode::CREATED,
        Json(UploadState {
            upload_id: id,
            size: body.size,
            received: 0,
        }),
    ))
}

pub(crate) async fn session_status(
    state: &Attachments,
    user_id: i64,
    id: String,
) -> Result<Json<UploadState>> {
    if let Some(shared) = &state.shared_sessions {
        return shared_sessions::status(state, &**shared, user_id, id).await;
    }
    let (size, received) = state.uploads.sessions.peek(user_id, &id)?;
    Ok(Json(UploadState {
        upload_id: id,
        size,
        received,
    }))
}

/// `PUT /api/uploads/{id}?offset=N`. Every refusal closes the connection after it (see
/// [`super::closing`]): the chunk's body may still be on its way.
pub(crate) async fn session_append(
    state: &Attachments,
    user_id: i64,
    id: String,
    offset: u64,
    body: Body,
) -> Response {
    if let Some(shared) = &state.shared_sessions {
        let shared = Arc::clone(shared);
        return shared_sessions::append(state, shared, user_id, (id, offset), body).await;
    }
    let lease = match state.uploads.sessions.lease(user_id, &id) {
        Ok(lease) => lease,
        Err(err) => return super::closing(err),
    };
    if offset != lease.received {
        let body = UploadConflict {
            error: ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("this upload has {} bytes; send from there", lease.received),
            ),
            state: UploadState {
                upload_id: id,
                size: lease.size,
                received: lease.received,
            },
        };
        return super::closing((StatusCode::CONFLICT, Json(body)));
    }
    match tokio::spawn(append(lease, body)).await {
        Ok((size, Ok(received))) => Json(UploadState {
            upload_id: id,
            size,
            received,
        })
        .into_response(),
        Ok((_, Err(err))) => super::closing(err),
        Err(e) => super::closing(Error::internal(format_args!("upload task: {e}"))),
    }
}

/// Writes a chunk at the session's `received` and records how far it got (what reached the
/// file counts, even from a chunk that broke off). Owns the lease until the file is closed.
async fn append(mut lease: Lease, body: Body) -> (u64, Result<u64>) {
    let size = lease.size;
    let start = lease.received;
    let mut file = match tokio::fs::OpenOptions::new()
        .write(true)
        .open(&lease.temp)
        .await
    {
        Ok(file) => file,
        Err(e) => return (size, Err(Error::internal(format_args!("upload file: {e}")))),
    };
    // Positioned, not appending: whatever lies past `received` was never counted.
    let positioned = async {
        file.set_len(start).await?;
        file.seek(SeekFrom::Start(start)).await
    }
    .await;
    if let Err(e) = positioned {
        return (size, Err(Error::internal(format_args!("upload file: {e}"))));
    }
    let mut stream = body.into_data_stream();
    let mut now = start;
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
    if let Err(e) = file.flush().await {
        failed.get_or_insert(Error::internal(format_args!("upload file: {e}")));
    }
    let _ = file.sync_data().await;
    // A write that failed part way may have left part of a chunk: keep only what was counted.
    let kept = match file.metadata().await {
        Ok(meta) => meta.len().min(now),
        Err(_) => start,
    };
    let _ = file.set_len(kept).await;
    drop(file);
    lease.set_received(kept);
    match failed {
        Some(err) => (size, Err(err)),
        None => (size, Ok(kept)),
    }
}

pub(crate) async fn session_cancel(
    state: &Attachments,
    user_id: i64,
    id: String,
) -> Result<StatusCode> {
    if let Some(shared) = &state.shared_sessions {
        return shared_sessions::cancel(state, &**shared, user_id, id).await;
    }
    let lease = state.uploads.sessions.lease(user_id, &id)?;
    lease.end();
    let _ = tokio::fs::remove_file(&lease.temp).await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn session_finish(
    state: Arc<Attachments>,
    user_id: i64,
    id: String,
) -> Result<(StatusCode, Json<Attachment>)> {
    if let Some(shared) = state.shared_sessions.clone() {
        return shared_sessions::finish(state, shared, user_id, id).await;
    }
    let lease = state.uploads.sessions.lease(user_id, &id)?;
    if lease.received != lease.size {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!("the upload has {} of {} bytes", lease.received, lease.size),
        ));
    }
    let task = async move {
        let (copy, temp) = files::temp_file(&files::root(&state)).await?;
        let (source, size) = (lease.temp.clone(), lease.size);
        let copied = tokio::task::spawn_blocking(move || copy_hashing(&source, copy, size))
            .await
            .map_err(|e| Error::internal(format_args!("hashing upload: {e}")))?;
        // The session ends here whatever the outcome; its own file is not needed any more.
        lease.end();
        let _ = tokio::fs::remove_file(&lease.temp).await;
        let name = lease.name.clone();
        drop(lease);
        let received = copied.map_err(|e| Error::internal(format_args!("hashing upload: {e}")))?;
        upload::finalize(state, user_id, name, temp, received).await
    };
    let stored = tokio::spawn(task)
        .await
        .map_err(|e| Error::internal(format_args!("finishing upload: {e}")))??;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Copies the first `size` bytes of `source` into `copy` (synced), hashing them.
fn copy_hashing(
    source: &std::path::Path,
    mut copy: std::fs::File,
    size: u64,
) -> std::io::Result<upload::Received> {
    let mut input = std::fs::File::open(source)?.take(size);
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if head.len() < 1024 {
            let take = (1024 - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
        copy.write_all(&buf[..n])?;
        copied += n as u64;
    }
    if copied != size {
        return Err(std::io::Error::other(format!(
            "the upload's file has {copied} of {size} bytes"
        )));
    }
    copy.sync_all()?;
    Ok(upload::Received {
        sha: hex::encode(hasher.finalize()),
        size,
        head,
    })
}
