//! `parley-server migrate-to-postgres`: copies a SQLite data directory's database into an
//! empty PostgreSQL database (docs/scaling.md, "Upgrading from a single SQLite node").
//!
//! Every row keeps its id, so seqs, epochs and ids clients hold stay valid: a client resumes on
//! the PostgreSQL server exactly where it left the SQLite one. The copy is one transaction (all
//! or nothing), table by table in the order their foreign keys need; each value is converted to
//! the PostgreSQL column's type (SQLite's integer flags to booleans). Identity sequences then
//! continue after the highest id copied. The search index is rebuilt by the server afterwards
//! (`search_state` starts at 0). Attachment files stay where they are, in the data directory.

use std::path::Path;

use postgres::types::ToSql;
use rusqlite::types::Value;

use super::{schema, Target};
use crate::error::{Error, Result};

/// Tables in the order their rows can be inserted. `channels.doc_id` points forward to `docs`
/// (which points back at `channels`): it is copied as NULL and set once `docs` is in.
const TABLES: &[&str] = &[
    "users",
    "tokens",
    "channels",
    "members",
    "channel_options",
    "messages",
    "events",
    "message_edits",
    "reactions",
    "read_state",
    "mentions",
    "threads",
    "attachments",
    "message_attachments",
    "docs",
    "doc_roles",
    "doc_updates",
    "doc_snapshots",
    "doc_versions",
    "comments",
    "comment_mentions",
    "comment_events",
    "invites",
    "invite_uses",
    "reset_codes",
    "avatars",
    "published",
    "webhook_endpoints",
    "webhook_outbox",
    "webhook_deliveries",
];

/// Rows copied per table, in copy order, and the attachment files copied into the database.
pub struct Migrated {
    pub tables: Vec<(&'static str, u64)>,
    /// Contents copied into `contents` (files and thumbnails), and those whose file was missing.
    pub contents: (u64, u64),
}

/// Copies the database of the data directory `dir` into the PostgreSQL database at `url`,
/// which must hold no Parley data yet. Blocking. The caller holds the data directory's lock.
pub fn migrate(dir: &Path, url: &str) -> Result<Migrated> {
    let source = crate::store::sqlite::open_admin(dir, None)?;
    let target = Target::parse(url)?;
    let mut client = target.connect()?;
    schema::run(&mut client, None)?;
    let mut tx = client.transaction()?;
    for table in ["users", "channels", "messages", "docs"] {
        let count: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        if count > 0 {
            return Err(Error::new(
                parley_protocol::ErrorCode::InvalidRequest,
                format!("the PostgreSQL database already holds Parley data ({count} {table}); migrate into an empty one"),
            ));
        }
    }
    let mut tables = Vec::new();
    for table in TABLES {
        tables.push((*table, copy_table(&source, &mut tx, table)?));
        if *table == "docs" {
            set_doc_ids(&source, &mut tx)?;
        }
    }
    let contents = copy_contents(&mut tx, &dir.join("attachments"))?;
    for table in TABLES {
        let has_identity: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_name = $1 AND column_name = 'id' AND is_identity = 'YES')",
                &[table],
            )?
            .get(0);
        if has_identity {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                            (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                ),
                &[],
            )?;
        }
    }
    tx.execute("UPDATE search_state SET indexed_through = 0", &[])?;
    tx.commit()?;
    Ok(Migrated { tables, contents })
}

/// Copies the attachment files the copied rows name (contents and thumbnails) into
/// `contents`, where the server reads them unless `attachments.dir` is set. A missing file is
/// counted, not fatal: the server answers its downloads 404 as it did.
fn copy_contents(tx: &mut postgres::Transaction<'_>, files: &Path) -> Result<(u64, u64)> {
    let rows = tx.query(
        "SELECT sha256 FROM attachments
         UNION SELECT thumbnail_sha256 FROM attachments WHERE thumbnail_sha256 IS NOT NULL",
        &[],
    )?;
    let (mut copied, mut missing) = (0, 0);
    for row in rows {
        let sha: String = row.get(0);
        let path = files.join(sha.get(..2).unwrap_or("00")).join(&sha);
        if path.is_file() {
            super::contents::store_file(tx, &sha, &path)?;
            copied += 1;
        } else {
            missing += 1;
        }
    }
    Ok((copied, missing))
}

/// Columns PostgreSQL has and SQLite has not, left to their defaults: `docs.claim` (one
/// process writes a SQLite directory; its claims live in memory).
const POSTGRES_ONLY: [(&str, &str); 1] = [("docs", "claim")];

/// The PostgreSQL columns of a table, with their types (`bigint`, `boolean`, `bytea`, `text`,
/// `integer`; `tsvector` columns have no SQLite counterpart and are left out, as are
/// [`POSTGRES_ONLY`] ones).
fn columns(tx: &mut postgres::Transaction<'_>, table: &str) -> Result<Vec<(String, String)>> {
    Ok(tx
        .query(
            "SELECT column_name, data_type FROM information_schema.columns
              WHERE table_name = $1 AND data_type <> 'tsvector' ORDER BY ordinal_position",
            &[&table],
        )?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(name, _)| !POSTGRES_ONLY.contains(&(table, name.as_str())))
        .collect())
}

fn copy_table(
    source: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
) -> Result<u64> {
    let columns = columns(tx, table)?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let list = names.join(", ");
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = tx.prepare(&format!(
        "INSERT INTO {table} ({list}) VALUES ({})",
        placeholders.join(", ")
    ))?;
    let order = if names.contains(&"id") {
        " ORDER BY id"
    } else {
        ""
    };
    let mut select = source.prepare(&format!("SELECT {list} FROM {table}{order}"))?;
    let mut rows = select.query([])?;
    let mut copied = 0u64;
    while let Some(row) = rows.next()? {
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len());
        for (i, (name, kind)) in columns.iter().enumerate() {
            let value: Value = row.get(i)?;
            let value = if table == "channels" && name == "doc_id" {
                Value::Null
            } else {
                value
            };
            values.push(
                convert(value, kind)
                    .map_err(|e| Error::internal(format_args!("{table}.{name}: {e}")))?,
            );
        }
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        tx.execute(&insert, &params)?;
        copied += 1;
    }
    Ok(copied)
}

fn set_doc_ids(source: &rusqlite::Connection, tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let mut select = source.prepare("SELECT id, doc_id FROM channels WHERE doc_id IS NOT NULL")?;
    let pairs = select
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (channel, doc) in pairs {
        tx.execute(
            "UPDATE channels SET doc_id = $2 WHERE id = $1",
            &[&channel, &doc],
        )?;
    }
    Ok(())
}

/// A SQLite value as the PostgreSQL column type wants it.
fn convert(value: Value, kind: &str) -> std::result::Result<Box<dyn ToSql + Sync>, String> {
    Ok(match (kind, value) {
        ("bigint", Value::Null) => Box::new(None::<i64>),
        ("bigint", Value::Integer(n)) => Box::new(n),
        ("integer", Value::Null) => Box::new(None::<i32>),
        ("integer", Value::Integer(n)) => {
            Box::new(i32::try_from(n).map_err(|_| format!("{n} does not fit"))?)
        }
        ("boolean", Value::Null) => Box::new(None::<bool>),
        ("boolean", Value::Integer(n)) => Box::new(n != 0),
        ("bytea", Value::Null) => Box::new(None::<Vec<u8>>),
        ("bytea", Value::Blob(bytes)) => Box::new(bytes),
        ("bytea", Value::Text(text)) => Box::new(text.into_bytes()),
        ("text", Value::Null) => Box::new(None::<String>),
        ("text", Value::Text(text)) => Box::new(text),
        ("text", Value::Integer(n)) => Box::new(n.to_string()),
        ("text", Value::Real(x)) => Box::new(x.to_string()),
        (kind, value) => return Err(format!("cannot store {value:?} as {kind}")),
    })
}
