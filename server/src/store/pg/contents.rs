//! Attachment contents in PostgreSQL (`ContentStore`): `contents` (one row per SHA-256, with
//! its size) and `content_chunks` (the bytes, 1 MiB a row). Written through a pooled
//! connection, never the writer, so chat writes do not wait behind an upload; each content in
//! one transaction, so a reader finds all of it or none.

use std::{io::Read, path::Path};

use postgres::{Client, Transaction};

use super::PgStore;
use crate::{
    error::{Error, Result},
    store::{now_ms, ContentStore, StoreFuture},
};

/// Bytes per `content_chunks` row: what one download step reads.
const CHUNK: usize = 1 << 20;

fn io(err: std::io::Error) -> Error {
    Error::internal(format_args!("attachment content: {err}"))
}

fn put(client: &mut Client, sha256: &str, path: &Path) -> Result<()> {
    let mut tx = client.transaction()?;
    store_file(&mut tx, sha256, path)?;
    tx.commit()?;
    Ok(())
}

/// Stores the file at `path` as content `sha256` in the transaction, unless it is stored.
pub fn store_file(tx: &mut Transaction<'_>, sha256: &str, path: &Path) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    // Another upload of the same content storing it now: this waits for it, then finds it.
    // Content stored already is made young again, so the sweep leaves it to the row about to
    // name it.
    let inserted: bool = tx
        .query_one(
            "INSERT INTO contents (sha256, size, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at
             RETURNING xmax = 0",
            &[&sha256, &(size as i64), &now_ms()],
        )?
        .get(0);
    if !inserted {
        return Ok(());
    }
    let insert = tx.prepare("INSERT INTO content_chunks (sha256, n, data) VALUES ($1, $2, $3)")?;
    let mut buf = vec![0u8; CHUNK];
    let mut n: i32 = 0;
    loop {
        let mut filled = 0;
        while filled < CHUNK {
            match file.read(&mut buf[filled..]).map_err(io)? {
                0 => break,
                read => filled += read,
            }
        }
        if filled == 0 {
            break;
        }
        tx.execute(&insert, &[&sha256, &n, &&buf[..filled]])?;
        n += 1;
        if filled < CHUNK {
            break;
        }
    }
    Ok(())
}

impl ContentStore for PgStore {
    fn put_content(&self, sha256: String, path: std::path::PathBuf) -> StoreFuture<'_, ()> {
        Box::pin(self.read(move |client| put(client, &sha256, &path)))
    }

    fn content_size(&self, sha256: String) -> StoreFuture<'_, Option<u64>> {
        Box::pin(self.read(move |client| {
            Ok(client
                .query_opt("SELECT size FROM contents WHERE sha256 = $1", &[&sha256])?
                .map(|row| row.get::<_, i64>(0).max(0) as u64))
        }))
    }

    fn content_chunk(&self, sha256: String, n: i32) -> StoreFuture<'_, Option<Vec<u8>>> {
        Box::pin(self.read(move |client| {
            Ok(client
                .query_opt(
                    "SELECT data FROM content_chunks WHERE sha256 = $1 AND n = $2",
                    &[&sha256, &n],
                )?
                .map(|row| row.get::<_, Vec<u8>>(0)))
        }))
    }

    fn sweep_contents(&self, before_ms: i64) -> StoreFuture<'_, usize> {
        Box::pin(self.read(move |client| {
            let removed = client.execute(
                "DELETE FROM contents c WHERE c.created_at < $1
                   AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = c.sha256)
                   AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.thumbnail_sha256 = c.sha256)",
                &[&before_ms],
            )?;
            Ok(removed as usize)
        }))
    }
}
