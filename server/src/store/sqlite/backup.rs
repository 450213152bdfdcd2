//! The database's part of `parley-server backup` and `restore` (crate::backup): a consistent copy
//! of a live database through SQLite's online backup API, and the checks a copy must pass before
//! it is installed.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use rusqlite::{backup::StepResult, Connection, OpenFlags};

/// The database's file name inside the data directory.
pub const DATABASE: &str = "parley.db";

/// The schema version this server supports and migrates older databases to (SQLite's
/// `user_version` after the last migration); a database above it was written by a newer server.
pub const SCHEMA_VERSION: usize = super::migrations::MIGRATIONS.len();

/// How long a backup waits for a database another process holds locked (a migration, say).
const BUSY_FOR: Duration = Duration::from_secs(60);

/// What a database copy holds that the rest of the backup needs.
pub struct Copied {
    /// SQLite's `user_version`: the migration the database is at.
    pub schema_version: i64,
    /// The content addresses (sha256, hex) of every attachment file and thumbnail it refers to.
    pub contents: Vec<String>,
}

/// Copies the database at `source` into a new database at `dest` (an empty file or none) as one
/// snapshot, beside a running server, and returns what the copy refers to.
///
/// All pages are copied in a single backup step, which reads inside one read transaction: in WAL
/// mode that sees one committed state and never blocks the server's writer. (Copying a few pages
/// per step would start over each time the server commits, which a busy server does constantly.)
/// The copy is then turned into a single self-contained file (rollback journal, not WAL).
pub fn copy_database(source: &Path, dest: &Path) -> rusqlite::Result<Copied> {
    // Read-write (but never created or migrated here): a read-only connection cannot always open
    // a WAL database whose shared-memory file is missing. Nothing is written through it.
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(Duration::from_secs(5))?;
    let mut to = Connection::open(dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
        let started = Instant::now();
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                // Not a wait for the test or the server: SQLite said "locked, try again" (another
                // process holds a lock the step needs, e.g. a migration or WAL recovery).
                StepResult::Busy | StepResult::Locked if started.elapsed() < BUSY_FOR => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                StepResult::Busy | StepResult::Locked => {
                    return Err(failure(
                        rusqlite::ffi::SQLITE_BUSY,
                        format!("the database stayed locked for {BUSY_FOR:?}"),
                    ))
                }
                // StepResult is non-exhaustive; nothing else is documented.
                _ => {}
            }
        }
    }
    drop(from);
    let mode: String = to.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(failure(
            rusqlite::ffi::SQLITE_ERROR,
            format!("the copy stayed in journal mode {mode}"),
        ));
    }
    let schema_version: i64 = to.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let contents = if has_table(&to, "attachments")? {
        let thumbnails = has_column(&to, "attachments", "thumbnail_sha256")?;
        let sql = if thumbnails {
            "SELECT sha256 FROM attachments
             UNION SELECT thumbnail_sha256 FROM attachments WHERE thumbnail_sha256 IS NOT NULL"
        } else {
            "SELECT DISTINCT sha256 FROM attachments"
        };
        let mut stmt = to.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Ok(Copied {
        schema_version,
        contents,
    })
}

/// What SQLite thinks of a database file before it is installed.
pub struct Checked {
    /// `PRAGMA integrity_check`'s findings; empty when it answered `ok`.
    pub problems: Vec<String>,
    pub schema_version: i64,
}

/// Opens the database at `path` read-only and runs `PRAGMA integrity_check` (at most 20 findings
/// are kept) and reads its schema version.
pub fn check_database(path: &Path) -> rusqlite::Result<Checked> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut problems = Vec::new();
    {
        let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let line: String = row.get(0)?;
            if line != "ok" {
                problems.push(line);
            }
        }
    }
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(Checked {
        problems,
        schema_version,
    })
}

fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn failure(code: std::ffi::c_int, message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message))
}
