//! Outbound webhooks (PostgreSQL): endpoints, the outbox events are written to by the write
//! that commits them (`enqueue`, called from `events::store_event` while capture is on), and
//! the deliveries made of the outbox (`crate::webhooks`).
//!
//! Several nodes share these tables. Turning the outbox into deliveries claims it: the write
//! deletes the outbox rows it covers and records deliveries only for the rows it deleted
//! itself, so two nodes that read the same rows do not both record them (the second one's
//! delete waits for the first one's commit and finds the rows gone). Limits are counted under
//! a lock on what is counted.

use std::collections::{HashMap, HashSet};

use postgres::{GenericClient, Row, Transaction};

use super::PgStore;
use crate::{
    error::{Error, Result},
    store::{
        now_ms, DeliveryOutcome, DeliveryRow, EndpointBacklog, EndpointRecord, NewDelivery,
        NewEndpoint, OutboxRow, StoreFuture, WebhookStore,
    },
};

/// The advisory lock key that adding an endpoint holds while it counts the endpoints (any
/// constant unique to Parley): two nodes adding at once cannot both pass the limit.
const ENDPOINTS_LOCK: i64 = 0x5041_524c_4559_0001;

/// Writes an event to the outbox, in the transaction of the write that commits it.
pub fn enqueue(
    tx: &mut Transaction<'_>,
    channel: &str,
    kind: &str,
    frame: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO webhook_outbox (channel, kind, frame, created_at) VALUES ($1, $2, $3, $4)",
        &[&channel, &kind, &frame, &now],
    )?;
    Ok(())
}

const ENDPOINT_COLUMNS: &str =
    "id, url, secret, events, channels, source, disabled, last_error, created_at";

fn endpoint(row: &Row) -> EndpointRecord {
    let list = |text: String| serde_json::from_str::<Vec<String>>(&text).unwrap_or_default();
    EndpointRecord {
        id: row.get(0),
        url: row.get(1),
        secret: row.get(2),
        events: list(row.get(3)),
        channels: list(row.get(4)),
        source: row.get(5),
        disabled: row.get::<_, Option<String>>(6).is_some(),
        last_error: row.get(7),
        created_at: row.get(8),
    }
}

fn json(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(Error::internal)
}

/// Inserts an endpoint; None when a config endpoint with this url exists already (another
/// node synced the same configuration first).
fn insert_endpoint(tx: &mut Transaction<'_>, new: &NewEndpoint) -> Result<Option<EndpointRecord>> {
    let row = tx.query_opt(
        &format!(
            "INSERT INTO webhook_endpoints (url, secret, events, channels, source, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
             RETURNING {ENDPOINT_COLUMNS}"
        ),
        &[
            &new.url,
            &new.secret,
            &json(&new.events)?,
            &json(&new.channels)?,
            &new.source,
            &now_ms(),
        ],
    )?;
    Ok(row.as_ref().map(endpoint))
}

fn endpoint_by_id(client: &mut impl GenericClient, id: i64) -> Result<Option<EndpointRecord>> {
    Ok(client
        .query_opt(
            &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(endpoint))
}

pub fn endpoints(client: &mut impl GenericClient) -> Result<Vec<EndpointRecord>> {
    Ok(client
        .query(
            &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id"),
            &[],
        )?
        .iter()
        .map(endpoint)
        .collect())
}

fn sync_config(tx: &mut Transaction<'_>, wanted: &[NewEndpoint]) -> Result<()> {
    let present = endpoints(tx)?;
    for old in present.iter().filter(|e| e.source == "config") {
        if !wanted.iter().any(|w| w.url == old.url) {
            tx.execute("DELETE FROM webhook_endpoints WHERE id = $1", &[&old.id])?;
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
                "UPDATE webhook_endpoints SET secret = $2, events = $3, channels = $4,
                     disabled = NULL, last_error = NULL
                 WHERE id = $1",
                &[
                    &old.id,
                    &new.secret,
                    &json(&new.events)?,
                    &json(&new.channels)?,
                ],
            )?;
        }
    }
    Ok(())
}

fn delivery(row: &Row) -> DeliveryRow {
    DeliveryRow {
        id: row.get(0),
        endpoint_id: row.get(1),
        event_id: row.get(2),
        channel: row.get(3),
        body: row.get(4),
        attempts: row.get::<_, i64>(5).clamp(0, i64::from(u32::MAX)) as u32,
    }
}

impl WebhookStore for PgStore {
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
                "UPDATE webhook_endpoints SET disabled = $2, last_error = COALESCE($2, last_error)
                 WHERE id = $1",
                &[&id, &disabled],
            )?;
            Ok(((), Vec::new()))
        }))
    }

    fn outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxRow>> {
        Box::pin(self.read(move |client| {
            let rows = client.query(
                "SELECT id, channel, kind, frame, created_at FROM webhook_outbox
                 ORDER BY id LIMIT $1",
                &[&i64::from(limit)],
            )?;
            Ok(rows
                .iter()
                .map(|r| OutboxRow {
                    id: r.get(0),
                    channel: r.get(1),
                    kind: r.get(2),
                    frame: r.get(3),
                    created_at: r.get(4),
                })
                .collect())
        }))
    }

    fn record_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        read: Vec<i64>,
        max_per_endpoint: u64,
    ) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |tx, _| {
            Ok((
                record(tx, &deliveries, &read, max_per_endpoint)?,
                Vec::new(),
            ))
        }))
    }

    fn due_deliveries(
        &self,
        endpoint_id: i64,
        now: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryRow>> {
        Box::pin(self.read(move |client| {
            let rows = client.query(
                "SELECT d.id, d.endpoint_id, d.event_id, d.channel, d.body, d.attempts
                   FROM webhook_deliveries d
                   JOIN (SELECT channel, min(id) AS first FROM webhook_deliveries
                          WHERE endpoint_id = $1 AND NOT dead GROUP BY channel) f
                     ON d.id = f.first
                  WHERE d.next_at <= $2
                  ORDER BY d.id LIMIT $3",
                &[&endpoint_id, &now, &i64::from(limit)],
            )?;
            Ok(rows.iter().map(delivery).collect())
        }))
    }

    fn next_due(&self, endpoint_id: i64) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |client| {
            Ok(client
                .query_one(
                    "SELECT min(d.next_at) FROM webhook_deliveries d
                       JOIN (SELECT min(id) AS first FROM webhook_deliveries
                              WHERE endpoint_id = $1 AND NOT dead GROUP BY channel) f
                         ON d.id = f.first",
                    &[&endpoint_id],
                )?
                .get(0))
        }))
    }

    fn finish_delivery(&self, id: i64, outcome: DeliveryOutcome) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, _| {
            finish(tx, id, outcome)?;
            Ok(((), Vec::new()))
        }))
    }

    fn replay_dead(&self, endpoint_id: i64) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |tx, _| Ok((replay(tx, endpoint_id)?, Vec::new()))))
    }

    fn lead_deliveries(&self) -> StoreFuture<'_, bool> {
        Box::pin(self.lead())
    }

    fn webhook_backlog(&self) -> StoreFuture<'_, HashMap<i64, EndpointBacklog>> {
        Box::pin(self.read(backlog))
    }
}

/// Records the deliveries made of the outbox rows `read` and takes those rows out of it.
/// Returns how many deliveries were dropped because their endpoint holds `max_per_endpoint`.
fn record(
    tx: &mut Transaction<'_>,
    deliveries: &[NewDelivery],
    read: &[i64],
    max_per_endpoint: u64,
) -> Result<u64> {
    // The claim: only the outbox rows this write deletes are turned into deliveries. Another
    // node that read them too waits here for our commit, then finds them gone.
    let claimed: HashSet<i64> = tx
        .query(
            "DELETE FROM webhook_outbox WHERE id = ANY($1) RETURNING id",
            &[&read],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut ids: Vec<i64> = deliveries.iter().map(|d| d.endpoint_id).collect();
    ids.sort_unstable();
    ids.dedup();
    // The endpoints' rows are locked (in id order) before their deliveries are counted, so
    // that writers on several nodes cannot both pass the cap; an endpoint removed meanwhile
    // is not locked, and gets nothing.
    let live: HashSet<i64> = tx
        .query(
            "SELECT id FROM webhook_endpoints WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            &[&ids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut held: HashMap<i64, u64> = ids.iter().map(|id| (*id, 0)).collect();
    for row in tx.query(
        "SELECT endpoint_id, count(*) FROM webhook_deliveries WHERE endpoint_id = ANY($1)
         GROUP BY endpoint_id",
        &[&ids],
    )? {
        held.insert(row.get(0), row.get::<_, i64>(1).max(0) as u64);
    }
    let now = now_ms();
    let mut dropped = 0;
    for d in deliveries {
        if !claimed.contains(&d.event_id) {
            continue;
        }
        let count = held.entry(d.endpoint_id).or_default();
        if *count >= max_per_endpoint {
            dropped += 1;
            continue;
        }
        if live.contains(&d.endpoint_id) {
            tx.execute(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, channel, body, next_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&d.endpoint_id, &d.event_id, &d.channel, &d.body, &now],
            )?;
            *count += 1;
        }
    }
    Ok(dropped)
}

fn finish(tx: &mut Transaction<'_>, id: i64, outcome: DeliveryOutcome) -> Result<()> {
    fn set_error(tx: &mut Transaction<'_>, id: i64, error: &str) -> Result<()> {
        tx.execute(
            "UPDATE webhook_endpoints SET last_error = $2
             WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = $1)",
            &[&id, &error],
        )?;
        Ok(())
    }
    match outcome {
        DeliveryOutcome::Delivered => {
            tx.execute(
                "UPDATE webhook_endpoints SET last_error = NULL
                 WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = $1)
                   AND disabled IS NULL",
                &[&id],
            )?;
            tx.execute("DELETE FROM webhook_deliveries WHERE id = $1", &[&id])?;
        }
        DeliveryOutcome::Retry { at, error } => {
            set_error(tx, id, &error)?;
            tx.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = $2
                 WHERE id = $1",
                &[&id, &at],
            )?;
        }
        DeliveryOutcome::Dead { error } => {
            set_error(tx, id, &error)?;
            tx.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, dead = TRUE
                 WHERE id = $1",
                &[&id],
            )?;
        }
    }
    Ok(())
}

pub fn add(tx: &mut Transaction<'_>, new: &NewEndpoint, max: usize) -> Result<EndpointRecord> {
    // Counted under a lock every adder takes: two nodes adding at once cannot both pass.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ENDPOINTS_LOCK])?;
    let count: i64 = tx
        .query_one("SELECT count(*) FROM webhook_endpoints", &[])?
        .get(0);
    if count.max(0) as usize >= max {
        return Err(Error::new(
            parley_protocol::ErrorCode::LimitReached,
            format!(
                "a workspace has at most {max} webhook endpoints (webhook_delivery.max_endpoints)"
            ),
        ));
    }
    insert_endpoint(tx, new)?.ok_or_else(|| {
        Error::internal(format_args!(
            "a configured webhook endpoint has the url {}",
            new.url
        ))
    })
}

pub fn remove(tx: &mut Transaction<'_>, id: i64) -> Result<bool> {
    tx.execute(
        "DELETE FROM webhook_deliveries WHERE endpoint_id = $1",
        &[&id],
    )?;
    Ok(tx.execute("DELETE FROM webhook_endpoints WHERE id = $1", &[&id])? > 0)
}

pub fn replay(tx: &mut Transaction<'_>, endpoint_id: i64) -> Result<u64> {
    if endpoint_by_id(tx, endpoint_id)?.is_none() {
        return Err(Error::new(
            parley_protocol::ErrorCode::WebhookNotFound,
            format!("no webhook endpoint {endpoint_id}"),
        ));
    }
    tx.execute(
        "UPDATE webhook_endpoints SET disabled = NULL WHERE id = $1",
        &[&endpoint_id],
    )?;
    let n = tx.execute(
        "UPDATE webhook_deliveries SET dead = FALSE, attempts = 0, next_at = $2
         WHERE endpoint_id = $1 AND dead",
        &[&endpoint_id, &now_ms()],
    )?;
    Ok(n)
}

pub fn backlog(client: &mut impl GenericClient) -> Result<HashMap<i64, EndpointBacklog>> {
    let mut backlog: HashMap<i64, EndpointBacklog> = HashMap::new();
    let rows = client.query(
        "SELECT endpoint_id, dead, count(*) FROM webhook_deliveries GROUP BY endpoint_id, dead",
        &[],
    )?;
    for row in rows {
        let entry = backlog.entry(row.get::<_, i64>(0)).or_default();
        let n = row.get::<_, i64>(2).max(0) as u64;
        if row.get::<_, bool>(1) {
            entry.dead = n;
        } else {
            entry.pending = n;
        }
    }
    Ok(backlog)
}
