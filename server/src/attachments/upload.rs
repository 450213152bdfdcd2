//! One-shot uploads (`POST /api/attachments`), and [`finalize`], where every upload ends: the
//! quota, the type, the dimensions, the thumbnail, then the row and the file in one write.

use std::sync::Arc;

use axum::{
    body::Body,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use futures_util::StreamExt;
use parley_protocol::{Attachment, ErrorCode};
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::Attachments;
use super::{files, images::Thumbnail, INLINE};
use crate::{
    error::{Error, Result},
    store::AttachmentUpload,
};

/// A complete file waiting in `incoming/`: its SHA-256, size and first KiB (for sniffing).
pub(super) struct Received {
    pub sha: String,
    pub size: u64,
    pub head: Vec<u8>,
}

/// `POST /api/attachments?name=…` with the file as the body; `name` is for display.
pub(crate) async fn upload(
    state: Arc<Attachments>,
    user_id: i64,
    name: Option<String>,
    body: Body,
) -> Response {
    match store_upload(state, user_id, name, body).await {
        Ok(stored) => (StatusCode::CREATED, Json(stored)).into_response(),
        // A refusal can come before the body is read to its end (quota, size).
        Err(err) => super::closing(err),
    }
}

async fn store_upload(
    state: Arc<Attachments>,
    user_id: i64,
    name: Option<String>,
    body: Body,
) -> Result<Attachment> {
    let quota = state.config.attachments.user_quota;
    let name = super::clean_name(name.as_deref().unwrap_or("file"));
    let used = state.store.uploaded_bytes(user_id).await?;
    if used >= quota {
        return Err(Error::new(
            ErrorCode::QuotaExceeded,
            format!("your uploads use {used} of {quota} bytes"),
        ));
    }
    // Stream to a temporary file, hashing as it comes; stop at the size limit. The temporary
    // file is removed when `temp` is dropped, also when the client goes away mid-body.
    let (file, temp) = files::temp_file(&files::root(&state)).await?;
    let received = receive(&state, body, tokio::fs::File::from_std(file)).await?;
    // Finishing runs as a task of its own, so a client that leaves now cannot cut it between
    // the file and its row.
    let stored = tokio::spawn(finalize(Arc::clone(&state), user_id, name, temp, received))
        .await
        .map_err(|e| Error::internal(format_args!("storing attachment: {e}")))??;
    Ok(stored)
}

/// Writes the body to `file`: its SHA-256, size and first KiB.
async fn receive(state: &Attachments, body: Body, mut file: tokio::fs::File) -> Result<Received> {
    let max = state.config.attachments.max_size;
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
    Ok(Received {
        sha: hex::encode(hasher.finalize()),
        size,
        head,
    })
}

/// Turns a received file (`temp`, synced) into an attachment. The quota is checked first with
/// the real size (a refusal costs no decoding and leaves nothing), then the type, dimensions
/// and thumbnail; the row (quota checked again inside the write, serialized with other
/// uploads) and the file's move into place happen in one store write. A refusal leaves
/// nothing behind: the temporary files are removed when dropped.
pub(super) async fn finalize(
    state: Arc<Attachments>,
    user_id: i64,
    name: String,
    temp: TempPath,
    received: Received,
) -> Result<Attachment> {
    let Received { sha, size, head } = received;
    let quota = state.config.attachments.user_quota;
    let used = state.store.uploaded_bytes(user_id).await?;
    if used.saturating_add(size) > quota {
        return Err(Error::new(
            ErrorCode::QuotaExceeded,
            format!(
                "this upload ({size} bytes) would pass your quota of {quota} bytes ({used} used)"
            ),
        ));
    }
    let mime = super::sniff(&head);
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
    let thumb = if INLINE.contains(&mime.as_str()) {
        state
            .uploads
            .thumbnails
            .for_upload(&state, &sha, &temp)
            .await
    } else {
        None
    };
    let sealed = temp.to_path_buf();
    tokio::task::spawn_blocking(move || files::seal(&sealed))
        .await
        .map_err(|e| Error::internal(format_args!("storing attachment: {e}")))?
        .map_err(|e| Error::internal(format_args!("storing attachment: {e}")))?;
    let root = files::root(&state);
    let upload = AttachmentUpload {
        sha256: sha.clone(),
        size,
        mime,
        name,
        width,
        height,
        uploader_id: user_id,
        quota,
        thumbnail_sha256: thumb.as_ref().map(|t| t.sha().to_owned()),
    };
    if let Some(contents) = &state.contents {
        // Contents first, then the row: a row never lacks its content, and content no row
        // names (the write failed) is swept later.
        contents.put_content(sha, temp.to_path_buf()).await?;
        if let Some(Thumbnail::New { sha, file }) = &thumb {
            contents
                .put_content(sha.clone(), file.to_path_buf())
                .await?;
        }
        let attachment = state
            .store
            .insert_attachment(upload, Box::new(|| Ok(())))
            .await;
        drop((temp, thumb));
        return attachment;
    }
    // The files go into place after the row is written and before it commits: if the move
    // fails, the write (and the row) is undone.
    let place = Box::new(move || {
        let storing = |e: std::io::Error| Error::internal(format_args!("storing attachment: {e}"));
        files::place(temp, &files::path_of(&root, &sha)).map_err(storing)?;
        if let Some(Thumbnail::New { sha, file }) = thumb {
            files::place(file, &files::path_of(&root, &sha)).map_err(storing)?;
        }
        Ok(())
    });
    state.store.insert_attachment(upload, place).await
}
