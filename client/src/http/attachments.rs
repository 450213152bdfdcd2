//! `/api/attachments` and `/api/uploads`: downloads, and the upload sessions a resumable upload
//! is made of (the resuming itself is [`Client::upload`](crate::Client::upload)'s).

use std::{path::Path, time::Duration};

use futures_util::StreamExt;
use parley_protocol::{api, Attachment};
use reqwest::{Method, StatusCode};
use tokio::io::AsyncWriteExt;

use super::{is_not_found, refusal, HttpApi};
use crate::{Error, Result};

/// Downloads may be large and slow.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// What the server said to a chunk of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkAnswer {
    /// The server holds the file's first `n` bytes: the next chunk starts there (also the
    /// answer to a chunk sent from the wrong place).
    Received(u64),
    /// The server does not know the session (it expired, or was finished or cancelled).
    UnknownSession,
    /// Not taken now (another request holds the session, a server error...): why, with the
    /// HTTP status. Try again later.
    NotTaken(String),
}

impl HttpApi {
    /// An attachment's bytes (`thumbnail`: its 320 px PNG preview).
    pub async fn attachment(&self, id: i64, thumbnail: bool) -> Result<Vec<u8>> {
        let response = self
            .send(self.download(id, thumbnail)?.timeout(DOWNLOAD_TIMEOUT))
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        Ok(bytes.to_vec())
    }

    /// Writes an attachment (or its thumbnail) to `path` as it arrives; the number of bytes.
    /// A download cut short leaves no file behind.
    pub async fn download_attachment(&self, id: i64, thumbnail: bool, path: &Path) -> Result<u64> {
        let response = self.send(self.download(id, thumbnail)?).await?;
        let written = async {
            let mut file = tokio::fs::File::create(path)
                .await
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
            let mut stream = response.bytes_stream();
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Error::Unreachable(e.to_string()))?;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
                written += chunk.len() as u64;
            }
            file.flush()
                .await
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
            Ok(written)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(path).await;
        }
        written
    }

    fn download(&self, id: i64, thumbnail: bool) -> Result<reqwest::RequestBuilder> {
        let id = id.to_string();
        let mut path = vec!["api", "attachments", &id];
        if thumbnail {
            path.push("thumbnail");
        }
        self.call(Method::GET, &path)
    }

    /// Opens an upload session for a file of `size` bytes.
    pub async fn start_upload(&self, start: &api::StartUpload) -> Result<api::UploadState> {
        self.send_json(Method::POST, &["api", "uploads"], start)
            .await
    }

    /// Where an upload session stands.
    pub async fn upload_state(&self, id: &str) -> Result<api::UploadState> {
        self.json(self.call(Method::GET, &["api", "uploads", id])?)
            .await
    }

    /// Sends the chunk of the file that starts at `offset`.
    pub async fn upload_chunk(&self, id: &str, offset: u64, chunk: Vec<u8>) -> Result<ChunkAnswer> {
        let response = self
            .call(Method::PUT, &["api", "uploads", id])?
            .query(&api::UploadOffset { offset })
            .body(chunk)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if is_not_found(status) {
            return Ok(ChunkAnswer::UnknownSession);
        }
        if status.is_success() {
            let state: api::UploadState = super::read_json(response).await?;
            return Ok(ChunkAnswer::Received(state.received));
        }
        if status == StatusCode::CONFLICT {
            // Sent from the wrong place (the answer says where the file ends), or
            // `upload_conflict`: another request holds the session.
            let bytes = response.bytes().await.unwrap_or_default();
            if let Ok(conflict) = serde_json::from_slice::<api::UploadConflict>(&bytes) {
                return Ok(ChunkAnswer::Received(conflict.state.received));
            }
            let message = serde_json::from_slice::<parley_protocol::ErrorBody>(&bytes)
                .map(|body| body.message)
                .unwrap_or_else(|_| "no position".into());
            return Ok(ChunkAnswer::NotTaken(format!("HTTP {status}: {message}")));
        }
        Ok(ChunkAnswer::NotTaken(match refusal(response).await {
            Error::Server(body) => format!("HTTP {status}: {}", body.message),
            _ => format!("HTTP {status}"),
        }))
    }

    /// Abandons an upload session (the server drops what it received).
    pub async fn cancel_upload(&self, id: &str) -> Result<()> {
        self.no_content(self.call(Method::DELETE, &["api", "uploads", id])?)
            .await
    }

    /// Ends a complete upload: the attachment, ready to post with a message.
    pub async fn finish_upload(&self, id: &str) -> Result<Attachment> {
        self.json(
            self.call(Method::POST, &["api", "uploads", id, "finish"])?
                .json(&serde_json::json!({})),
        )
        .await
    }
}
