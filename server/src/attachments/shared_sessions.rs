//! Resumable uploads whose sessions live in the database (`UploadSessionStore`, PostgreSQL),
//! so that a session opened through one node continues through any other: the same protocol
//! as `resumable.rs` (one request at a time per session, 409 with the state for a chunk that
//! does not start where the upload ends, what reached the server counts even from a chunk that
//! broke off), with the bytes stored as parts of at most 1 MiB and the request's hold on the
//! session kept in its row, renewed with every part and lapsing if its node dies.

use std::{io::Write, sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use futures_util::StreamExt;
use parley_protocol::{
    api::{UploadConflict, UploadState},
    Attachment, ErrorBody, ErrorCode,
};
use sha2::{Digest, Sha256};

use super::{files, upload, Attachments};
use crate::{
    error::{Error, Result},
    store::{now_ms, NewUploadSession, UploadSessionRow, UploadSessionStore},
};

/// How long a request holds a session without storing a part (its node may have died).
const HOLD_MS: i64 = 120_000;
/// Bytes stored per part.
const PART: usize = 1 << 20;

fn live_after(state: &Attachments) -> i64 {
    now_ms() - state.config.attachments.upload_expiry.as_millis() as i64
}

fn upload_state(session: &UploadSessionRow) -> UploadState {
    UploadState {
        upload_id: session.id.clone(),
        size: session.size,
        received: session.received,
    }
}

pub(super) async fn start(
    state: &Attachments,
    sessions: &dyn UploadSessionStore,
    user_id: i64,
    name: String,
    size: u64,
    max_open: usize,
) -> Result<(StatusCode, Json<UploadState>)> {
    let id = hex::encode(rand::random::<[u8; 16]>());
    sessions
        .open_session(
            NewUploadSession {
                id: id.clone(),
                user_id,
                name,
                size,
                live_after_ms: live_after(state),
            },
            max_open,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadState {
            upload_id: id,
            size,
            received: 0,
        }),
    ))
}

pub(super) async fn status(
    state: &Attachments,
    sessions: &dyn UploadSessionStore,
    user_id: i64,
    id: String,
) -> Result<Json<UploadState>> {
    let session = sessions
        .upload_session(user_id, id.clone(), live_after(state))
        .await?
        .ok_or_else(|| Error::new(ErrorCode::AttachmentNotFound, format!("no upload {id}")))?;
    Ok(Json(upload_state(&session)))
}

/// `PUT /api/uploads/{id}?offset=N`; every refusal closes the connection after it.
pub(super) async fn append(
    state: &Attachments,
    sessions: Arc<dyn UploadSessionStore>,
    user_id: i64,
    (id, offset): (String, u64),
    body: Body,
) -> Response {
    let session = match sessions
        .lease_session(user_id, id.clone(), live_after(state), HOLD_MS)
        .await
    {
        Ok(session) => session,
        Err(err) => return super::closing(err),
    };
    if offset != session.received {
        let _ = sessions.release_session(id).await;
        let body = UploadConflict {
            error: ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!(
                    "this upload has {} bytes; send from there",
                    session.received
                ),
            ),
            state: upload_state(&session),
        };
        return super::closing((StatusCode::CONFLICT, Json(body)));
    }
    // A task of its own: the hold ends with the writes, even if the client goes away.
    let size = session.size;
    let task = tokio::spawn(async move {
        let outcome = store_parts(&*sessions, &session, body).await;
        let _ = sessions.release_session(session.id.clone()).await;
        outcome
    });
    match task.await {
        Ok((received, None)) => Json(UploadState {
            upload_id: id,
            size,
            received,
        })
        .into_response(),
        Ok((_, Some(err))) => super::closing(err),
        Err(e) => super::closing(Error::internal(format_args!("upload task: {e}"))),
    }
}

/// Stores the body as parts from the session's `received` on: how far the upload got, and
/// what stopped it early.
async fn store_parts(
    sessions: &dyn UploadSessionStore,
    session: &UploadSessionRow,
    body: Body,
) -> (u64, Option<Error>) {
    let mut received = session.received;
    let mut part: Vec<u8> = Vec::with_capacity(PART);
    let mut stream = body.into_data_stream();
    let mut failed = None;
    loop {
        // When the client pauses, what it sent so far is stored: progress shows, and counts
        // should the request break off.
        let next = match tokio::time::timeout(Duration::ZERO, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                if !part.is_empty() {
                    let data = std::mem::take(&mut part);
                    match sessions
                        .append_part(session.id.clone(), received, data, HOLD_MS)
                        .await
                    {
                        Ok(now) => received = now,
                        Err(err) => return (received, Some(err)),
                    }
                }
                stream.next().await
            }
        };
        let ended = match &next {
            None => true,
            Some(Err(_)) => {
                failed = Some(Error::new(ErrorCode::InvalidRequest, "the chunk broke off"));
                true
            }
            Some(Ok(chunk)) => {
                if received + (part.len() + chunk.len()) as u64 > session.size {
                    failed = Some(Error::new(
                        ErrorCode::AttachmentTooLarge,
                        format!("more bytes than the {} announced", session.size),
                    ));
                    true
                } else {
                    part.extend_from_slice(chunk);
                    false
                }
            }
        };
        // What arrived counts, even from a chunk that broke off or ran over.
        while part.len() >= PART || (ended && !part.is_empty()) {
            let rest = part.split_off(part.len().min(PART));
            let data = std::mem::replace(&mut part, rest);
            match sessions
                .append_part(session.id.clone(), received, data, HOLD_MS)
                .await
            {
                Ok(now) => received = now,
                Err(err) => return (received, Some(err)),
            }
        }
        if ended {
            return (received, failed);
        }
    }
}

pub(super) async fn cancel(
    state: &Attachments,
    sessions: &dyn UploadSessionStore,
    user_id: i64,
    id: String,
) -> Result<StatusCode> {
    sessions
        .lease_session(user_id, id.clone(), live_after(state), HOLD_MS)
        .await?;
    sessions.end_session(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn finish(
    state: Arc<Attachments>,
    sessions: Arc<dyn UploadSessionStore>,
    user_id: i64,
    id: String,
) -> Result<(StatusCode, Json<Attachment>)> {
    let session = sessions
        .lease_session(user_id, id.clone(), live_after(&state), HOLD_MS)
        .await?;
    if session.received != session.size {
        let _ = sessions.release_session(id).await;
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "the upload has {} of {} bytes",
                session.received, session.size
            ),
        ));
    }
    let task = async move {
        let (file, temp) = files::temp_file(&files::root(&state)).await?;
        let copied = copy_parts(&*sessions, &session, file).await;
        // The session ends here whatever the outcome.
        let _ = sessions.end_session(session.id.clone()).await;
        let received = copied?;
        upload::finalize(state, user_id, session.name, temp, received).await
    };
    let stored = tokio::spawn(task)
        .await
        .map_err(|e| Error::internal(format_args!("finishing upload: {e}")))??;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Writes the session's parts, in order, into `file` (synced), hashing them.
async fn copy_parts(
    sessions: &dyn UploadSessionStore,
    session: &UploadSessionRow,
    file: std::fs::File,
) -> Result<upload::Received> {
    let io = |e: std::io::Error| Error::internal(format_args!("upload file: {e}"));
    let mut file = Some(file);
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(1024);
    let mut at = 0u64;
    while at < session.size {
        let (start, data) = sessions
            .session_part(session.id.clone(), at)
            .await?
            .filter(|(start, _)| *start == at)
            .ok_or_else(|| {
                Error::internal(format_args!("upload {} lacks bytes at {at}", session.id))
            })?;
        if head.len() < 1024 {
            let take = (1024 - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
        }
        hasher.update(&data);
        at = start + data.len() as u64;
        let mut out = file.take().ok_or_else(|| Error::internal("upload file"))?;
        file = Some(
            tokio::task::spawn_blocking(move || out.write_all(&data).map(|()| out))
                .await
                .map_err(|e| Error::internal(format_args!("upload file: {e}")))?
                .map_err(io)?,
        );
    }
    if let Some(out) = file {
        tokio::task::spawn_blocking(move || out.sync_all())
            .await
            .map_err(|e| Error::internal(format_args!("upload file: {e}")))?
            .map_err(io)?;
    }
    Ok(upload::Received {
        sha: hex::encode(hasher.finalize()),
        size: session.size,
        head,
    })
}

/// Removes expired sessions (with their parts) every quarter of the expiry.
pub(super) async fn expire(
    sessions: Arc<dyn UploadSessionStore>,
    expiry: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let every = (expiry / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let before = now_ms() - expiry.as_millis() as i64;
        if let Err(err) = sessions.sweep_sessions(before).await {
            tracing::warn!(%err, "removing expired uploads");
        }
    }
}
