//! Attachments: resumable uploads (a file goes to the server in chunks through an upload
//! session, `/api/uploads`, kept in the cache so that a later call, even by another process,
//! resumes it where the server's copy ends) and downloads.

use std::{path::Path, time::Duration};

use parley_protocol::{api, Attachment};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{http::ChunkAnswer, store, Client, Error, Result};

/// Bytes per chunk.
const CHUNK: usize = 512 * 1024;
/// Chunks that fail in a row before the upload gives up.
const MAX_FAILURES: u32 = 8;

impl Client {
    /// Uploads a file, reporting `(bytes sent, total)` as it goes. Resumable: the upload is a
    /// session on the server (`/api/uploads`) sent in chunks; a chunk that fails is retried
    /// from where the server says the file ends, and a session started by an earlier call for
    /// the same file (even by an earlier process: it is kept in the cache) is resumed. Dropping
    /// the future pauses it; `cancel_upload` abandons it. Needs the server (not queued).
    pub async fn upload(
        &self,
        path: &Path,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<Attachment> {
        let key = path.to_string_lossy().into_owned();
        let total = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?
            .len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let api = self.api();
        let (id, mut received) = match self.resumable_session(&key, total).await? {
            Some(session) => session,
            None => {
                let state = api
                    .start_upload(&api::StartUpload { name, size: total })
                    .await?;
                self.remember_upload(&key, Some((&state.upload_id, total)))
                    .await?;
                (state.upload_id, 0)
            }
        };
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let mut failures = 0u32;
        progress(received, total);
        while received < total {
            file.seek(std::io::SeekFrom::Start(received))
                .await
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let mut chunk = vec![0u8; CHUNK.min((total - received) as usize)];
            file.read_exact(&mut chunk)
                .await
                .map_err(|e| Error::Invalid(e.to_string()))?;
            // A 409 either says where the server's copy ends (`Received`) or is
            // `upload_conflict`: another request holds the session, such as a chunk of ours whose
            // connection broke while the server still writes it. That one is retried like a
            // failure (backoff, then an error), never again at once.
            let failure = match api.upload_chunk(&id, received, chunk).await {
                Ok(ChunkAnswer::Received(at)) => {
                    received = at;
                    failures = 0;
                    progress(received, total);
                    continue;
                }
                Ok(ChunkAnswer::UnknownSession) => {
                    self.remember_upload(&key, None).await?;
                    return Err(Error::Http(
                        "the server forgot this upload; start again".into(),
                    ));
                }
                Ok(ChunkAnswer::NotTaken(why)) => why,
                Err(err) => err.to_string(),
            };
            failures += 1;
            if failures > MAX_FAILURES {
                return Err(Error::Http(failure));
            }
            tokio::time::sleep(Duration::from_millis(100 << failures.min(6))).await;
            if let Ok(state) = api.upload_state(&id).await {
                received = state.received;
            }
        }
        let attachment = api.finish_upload(&id).await?;
        self.remember_upload(&key, None).await?;
        Ok(attachment)
    }

    /// An attachment's bytes (`thumbnail`: its 320 px PNG preview).
    pub async fn attachment(&self, id: i64, thumbnail: bool) -> Result<Vec<u8>> {
        self.api().attachment(id, thumbnail).await
    }

    /// Writes an attachment to `path`; the number of bytes.
    pub async fn download(&self, id: i64, path: &std::path::Path) -> Result<u64> {
        self.api().download_attachment(id, false, path).await
    }

    /// Abandons an upload begun for this file (its session on the server and here).
    pub async fn cancel_upload(&self, path: &Path) -> Result<()> {
        let key = path.to_string_lossy().into_owned();
        let k = key.clone();
        if let Some((id, _)) = self
            .inner
            .store
            .run(move |c| store::upload_session(c, &k))
            .await?
        {
            let _ = self.api().cancel_upload(&id).await;
        }
        self.remember_upload(&key, None).await
    }

    /// The session of an earlier attempt at this file, if the server still has it: its id and
    /// how much the server holds.
    async fn resumable_session(&self, key: &str, total: u64) -> Result<Option<(String, u64)>> {
        let k = key.to_owned();
        let earlier = self
            .inner
            .store
            .run(move |c| store::upload_session(c, &k))
            .await?;
        let Some((id, _)) = earlier.filter(|(_, size)| *size == total) else {
            return Ok(None);
        };
        Ok(match self.api().upload_state(&id).await {
            Ok(state) => Some((id, state.received)),
            Err(_) => None,
        })
    }

    /// Keeps (or with None forgets) the upload session of the file at `key`.
    async fn remember_upload(&self, key: &str, session: Option<(&str, u64)>) -> Result<()> {
        let key = key.to_owned();
        let session = session.map(|(id, size)| (id.to_owned(), size));
        self.inner
            .store
            .run(move |c| {
                store::set_upload_session(c, &key, session.as_ref().map(|(i, s)| (i.as_str(), *s)))
            })
            .await
    }
}
