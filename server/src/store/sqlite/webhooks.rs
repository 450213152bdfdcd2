//! Outbound webhooks (SQLite): endpoints, the outbox events are written to by the write that
//! commits them (`enqueue`, called from `events::append_event` while capture is on), and the
//! deliveries made of the outbox (`crate::webhooks`).

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::{
    error::{Error, Result},
    store::{
        now_ms, DeliveryOutcome, DeliveryRow, EndpointBacklog, EndpointRecord, NewDelivery,
        NewEndpoint, OutboxRow, StoreFuture, WebhookStore,
    },
};

/// The schema of this file. Outbox ids are never reused (AUTOINCREMENT): a delivery's
/// `webhook-id` is made of its event's.
pub const MIGRATION: &str = r#"
    CREATE TABLE webhook_endpoints (
        id          INTEGER PRIMARY KEY,
        url         TEXT NOT NULL,
        secret      TEXT NOT NULL,
        events      TEXT NOT NULL,
        channels    TEXT NOT NULL,
        source      TEXT NOT NULL,
        disabled    TEXT,
        last_error  TEXT,
        created_at  INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX webhook_endpoints_config ON webhook_endpoints(url) WHERE source = 'config';
    CREATE TABLE webhook_outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        channel     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        frame       TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id          INTEGER PRIMARY KEY,
        endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
        event_id    INTEGER NOT NULL,
        channel     TEXT NOT NULL,
        body        TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL,
        dead        INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries(endpoint_id, dead, channel, id);
"#;

/// Writes an event to the outbox, in the transaction of the write that commits it.
pub fn enqueue(tx: &Connection, channel: &str, kind: &str, frame: &str, now: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO webhook_outbox (channel, kind, frame, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![channel, kind, frame, now])?;
    Ok(())
}

const ENDPOINT_COLUMNS: &str =
    "id, url, secret, events, channels, source, disabled, last_error, created_at";

fn endpoint(row: &Row<'_>) -> rusqlite::Result<EndpointRecord> {
    let list = |text: String| serde_json::from_str::<Vec<String>>(&text).unwrap_or_default();
    Ok(EndpointRecord {
        id: row.get(0)?,
        url: row.get(1)?,
        secret: row.get(2)?,
        events: list(row.get(3)?),
        channels: list(row.get(4)?),
        source: row.get(5)?,
        disabled: row.get::<_, Option<String>>(6)?.is_some(),
        last_error: row.get(7)?,
        created_at: row.get(8)?,
    })
}

fn insert_endpoint(tx: &Connection, new: &NewEndpoint) -> Result<EndpointRecord> {
    let json = |list: &Vec<String>| serde_json::to_string(list).map_err(Error::internal);
    tx.prepare_cached(
        "INSERT INTO webhook_endpoints (url, secret, events, channels, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        new.url,
        new.secret,
        json(&new.events)?,
        json(&new.channels)?,
        new.source,
        now_ms()
    ])?;
    endpoint_by_id(tx, tx.last_insert_rowid())?
        .ok_or_else(|| Error::internal("inserted endpoint vanished"))
}

fn endpoint_by_id(conn: &Connection, id: i64) -> Result<Option<EndpointRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"
        ))?
        .query_row([id], endpoint)
        .optional()?)
}

pub(super) fn endpoints(conn: &Connection) -> Result<Vec<EndpointRecord>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id"
        ))?
        .query_map([], endpoint)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn sync_config(tx: &Connection, wanted: &[NewEndpoint]) -> Result<()> {
    let present = endpoints(tx)?;
    for old in present.iter().filter(|e| e.source == "config") {
        if !wanted.iter().any(|w| w.url == old.url) {
            tx.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [old.id])?;
        }
    }
    for new in wanted {
        let Some(old) = present
            .iter()
            .find(|e| e.source == "config" && e.url == new.url)
        else {
            insert_endpoint(tx, new)?;
            continue;
        };
        let same =
            old.secret == new.secret && old.events == new.events && old.channels == new.channels;
        if !same {
            // Changed settings: a fresh start for an endpoint its operator just fixed.
            tx.execute(
                "UPDATE webhook_endpoints SET secret = ?2, events = ?3, channels = ?4,
                     disabled = NULL, last_error = NULL
                 WHERE id = ?1",
                params![
                    old.id,
                    new.secret,
                    serde_json::to_string(&new.events).map_err(Error::internal)?,
                    serde_json::to_string(&new.channels).map_err(Error::internal)?
                ],
            )?;
        }
    }
    Ok(())
}

fn delivery(row: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: row.get(0)?,
        endpoint_id: row.get(1)?,
        event_id: row.get(2)?,
        channel: row.get(3)?,
        body: row.get(4)?,
        attempts: row.get(5)?,
    })
}

impl WebhookStore for SqliteStore {
    fn set_webhook_capture(&self, on: bool) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |_, state| {
            state.webhooks = on;
            Ok(((), Vec::new()))
        }))
    }

    fn capture_ephemeral(
        &self,
        channel: String,
        kind: String,
        frame: String,
    ) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, state| {
            if state.webhooks {
                enqueue(tx, &channel, &kind, &frame, now_ms())?;
            }
            Ok(((), Vec::new()))
        }))
    }

    fn webhook_endpoints(&self) -> StoreFuture<'_, Vec<EndpointRecord>> {
        Box::pin(self.read(endpoints))
    }

    fn add_endpoint(&self, new: NewEndpoint, max: usize) -> StoreFuture<'_, EndpointRecord> {
        Box::pin(self.write(move |tx, _| Ok((add(tx, &new, max)?, Vec::new()))))
    }

    fn remove_endpoint(&self, id: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| Ok((remove(tx, id)?, Vec::new()))))
    }

    fn sync_config_endpoints(&self, wanted: Vec<NewEndpoint>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, _| {
            sync_config(tx, &wanted)?;
            Ok(((), Vec::new()))
        }))
    }

    fn set_endpoint_disabled(&self, id: i64, disabled: Option<String>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, _| {
            tx.execute(
                "UPDATE webhook_endpoints SET disabled = ?2, last_error = COALESCE(?2, last_error)
                 WHERE id = ?1",
                params![id, disabled],
            )?;
            Ok(((), Vec::new()))
        }))
    }

    fn outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxRow>> {
        Box::pin(self.read(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT id, channel, kind, frame, created_at FROM webhook_outbox
                     ORDER BY id LIMIT ?1",
                )?
                .query_map([limit], |r| {
                    Ok(OutboxRow {
                        id: r.get(0)?,
                        channel: r.get(1)?,
                        kind: r.get(2)?,
                        frame: r.get(3)?,
                        created_at: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        }))
    }

    fn record_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        read: Vec<i64>,
        max_per_endpoint: u64,
    ) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |tx, _| {
            let now = now_ms();
            let mut held: HashMap<i64, u64> = HashMap::new();
            let mut dropped = 0;
            for d in &deliveries {
                let count = match held.get(&d.endpoint_id) {
                    Some(n) => *n,
                    None => tx
                        .prepare_cached(
                            "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ?1",
                        )?
                        .query_row([d.endpoint_id], |r| r.get::<_, i64>(0))?
                        as u64,
                };
                if count >= max_per_endpoint {
                    dropped += 1;
                    held.insert(d.endpoint_id, count);
                    continue;
                }
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO webhook_deliveries (endpoint_id, event_id, channel, body, next_at)
                         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS
                             (SELECT 1 FROM webhook_endpoints WHERE id = ?1)",
                    )?
                    .execute(params![d.endpoint_id, d.event_id, d.channel, d.body, now])?;
                held.insert(d.endpoint_id, count + inserted as u64);
            }
            let mut delete = tx.prepare_cached("DELETE FROM webhook_outbox WHERE id = ?1")?;
            for id in &read {
                delete.execute([id])?;
            }
            Ok((dropped, Vec::new()))
        }))
    }

    fn due_deliveries(
        &self,
        endpoint_id: i64,
        now: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryRow>> {
        Box::pin(self.read(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT d.id, d.endpoint_id, d.event_id, d.channel, d.body, d.attempts
                       FROM webhook_deliveries d
                       JOIN (SELECT channel, min(id) AS first FROM webhook_deliveries
                              WHERE endpoint_id = ?1 AND dead = 0 GROUP BY channel) f
                         ON d.id = f.first
                      WHERE d.next_at <= ?2
                      ORDER BY d.id LIMIT ?3",
                )?
                .query_map(params![endpoint_id, now, limit], delivery)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        }))
    }

    fn next_due(&self, endpoint_id: i64) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT min(d.next_at) FROM webhook_deliveries d
                       JOIN (SELECT min(id) AS first FROM webhook_deliveries
                              WHERE endpoint_id = ?1 AND dead = 0 GROUP BY channel) f
                         ON d.id = f.first",
                )?
                .query_row([endpoint_id], |r| r.get(0))?)
        }))
    }

    fn finish_delivery(&self, id: i64, outcome: DeliveryOutcome) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, _| {
            let set_error = |error: &str| {
                tx.execute(
                    "UPDATE webhook_endpoints SET last_error = ?2
                     WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = ?1)",
                    params![id, error],
                )
            };
            match outcome {
                DeliveryOutcome::Delivered => {
                    tx.execute(
                        "UPDATE webhook_endpoints SET last_error = NULL
                         WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = ?1)
                           AND disabled IS NULL",
                        [id],
                    )?;
                    tx.execute("DELETE FROM webhook_deliveries WHERE id = ?1", [id])?;
                }
                DeliveryOutcome::Retry { at, error } => {
                    set_error(&error)?;
                    tx.execute(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?2
                         WHERE id = ?1",
                        params![id, at],
                    )?;
                }
                DeliveryOutcome::Dead { error } => {
                    set_error(&error)?;
                    tx.execute(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, dead = 1
                         WHERE id = ?1",
                        [id],
                    )?;
                }
            }
            Ok(((), Vec::new()))
        }))
    }

    fn replay_dead(&self, endpoint_id: i64) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |tx, _| Ok((replay(tx, endpoint_id)?, Vec::new()))))
    }

    fn lead_deliveries(&self) -> StoreFuture<'_, bool> {
        // Only one node ever uses this store.
        Box::pin(async { Ok(true) })
    }

    fn webhook_backlog(&self) -> StoreFuture<'_, HashMap<i64, EndpointBacklog>> {
        Box::pin(self.read(backlog))
    }
}

pub(super) fn add(tx: &Connection, new: &NewEndpoint, max: usize) -> Result<EndpointRecord> {
    let count: i64 = tx.query_row("SELECT count(*) FROM webhook_endpoints", [], |r| r.get(0))?;
    if count as usize >= max {
        return Err(Error::new(
            parley_protocol::ErrorCode::LimitReached,
            format!(
                "a workspace has at most {max} webhook endpoints (webhook_delivery.max_endpoints)"
            ),
        ));
    }
    insert_endpoint(tx, new)
}

pub(super) fn remove(tx: &Connection, id: i64) -> Result<bool> {
    tx.execute(
        "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1",
        [id],
    )?;
    Ok(tx.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])? > 0)
}

pub(super) fn replay(tx: &Connection, endpoint_id: i64) -> Result<u64> {
    if endpoint_by_id(tx, endpoint_id)?.is_none() {
        return Err(Error::new(
            parley_protocol::ErrorCode::WebhookNotFound,
            format!("no webhook endpoint {endpoint_id}"),
        ));
    }
    tx.execute(
        "UPDATE webhook_endpoints SET disabled = NULL WHERE id = ?1",
        [endpoint_id],
    )?;
    let n = tx.execute(
        "UPDATE webhook_deliveries SET dead = 0, attempts = 0, next_at = ?2
         WHERE endpoint_id = ?1 AND dead = 1",
        params![endpoint_id, now_ms()],
    )?;
    Ok(n as u64)
}

pub(super) fn backlog(conn: &Connection) -> Result<HashMap<i64, EndpointBacklog>> {
    let mut backlog: HashMap<i64, EndpointBacklog> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT endpoint_id, dead, count(*) FROM webhook_deliveries GROUP BY endpoint_id, dead",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (endpoint, dead, n) = row?;
        let entry = backlog.entry(endpoint).or_default();
        if dead {
            entry.dead = n as u64;
        } else {
            entry.pending = n as u64;
        }
    }
    Ok(backlog)
}
