//! Outbound webhooks in memory, with the SQLite store's semantics (`sqlite/webhooks.rs`).

use std::collections::{BTreeMap, HashMap};

use super::MemoryStore;
use crate::{
    error::Error,
    store::{
        now_ms, DeliveryOutcome, DeliveryRow, EndpointBacklog, EndpointRecord, NewDelivery,
        NewEndpoint, OutboxRow, StoreFuture, WebhookStore,
    },
};

#[derive(Default)]
pub struct Webhooks {
    pub capture: bool,
    endpoints: BTreeMap<i64, EndpointRecord>,
    outbox: BTreeMap<i64, OutboxRow>,
    deliveries: BTreeMap<i64, Delivery>,
    next_endpoint: i64,
    next_event: i64,
    next_delivery: i64,
}

struct Delivery {
    row: DeliveryRow,
    next_at: i64,
    dead: bool,
}

impl Webhooks {
    pub fn enqueue(&mut self, channel: &str, kind: &str, frame: &str, now: i64) {
        self.next_event += 1;
        let id = self.next_event;
        self.outbox.insert(
            id,
            OutboxRow {
                id,
                channel: channel.to_owned(),
                kind: kind.to_owned(),
                frame: frame.to_owned(),
                created_at: now,
            },
        );
    }

    fn insert(&mut self, new: &NewEndpoint) -> EndpointRecord {
        self.next_endpoint += 1;
        let record = EndpointRecord {
            id: self.next_endpoint,
            url: new.url.clone(),
            secret: new.secret.clone(),
            events: new.events.clone(),
            channels: new.channels.clone(),
            source: new.source.clone(),
            disabled: false,
            last_error: None,
            created_at: now_ms(),
        };
        self.endpoints.insert(record.id, record.clone());
        record
    }

    fn remove(&mut self, id: i64) -> bool {
        self.deliveries.retain(|_, d| d.row.endpoint_id != id);
        self.endpoints.remove(&id).is_some()
    }
}

fn not_found(id: i64) -> Error {
    Error::new(
        parley_protocol::ErrorCode::WebhookNotFound,
        format!("no webhook endpoint {id}"),
    )
}

impl WebhookStore for MemoryStore {
    fn set_webhook_capture(&self, on: bool) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            state.webhooks.capture = on;
            Ok(((), Vec::new()))
        }))
    }

    fn capture_ephemeral(
        &self,
        channel: String,
        kind: String,
        frame: String,
    ) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            if state.webhooks.capture {
                state.webhooks.enqueue(&channel, &kind, &frame, now_ms());
            }
            Ok(((), Vec::new()))
        }))
    }

    fn webhook_endpoints(&self) -> StoreFuture<'_, Vec<EndpointRecord>> {
        let found = self.read(|state| Ok(state.webhooks.endpoints.values().cloned().collect()));
        Box::pin(async move { found })
    }

    fn add_endpoint(&self, new: NewEndpoint, max: usize) -> StoreFuture<'_, EndpointRecord> {
        Box::pin(self.write(move |state| {
            if state.webhooks.endpoints.len() >= max {
                return Err(Error::new(
                    parley_protocol::ErrorCode::LimitReached,
                    format!("a workspace has at most {max} webhook endpoints (webhook_delivery.max_endpoints)"),
                ));
            }
            Ok((state.webhooks.insert(&new), Vec::new()))
        }))
    }

    fn remove_endpoint(&self, id: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| Ok((state.webhooks.remove(id), Vec::new()))))
    }

    fn sync_config_endpoints(&self, wanted: Vec<NewEndpoint>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            let hooks = &mut state.webhooks;
            let stale: Vec<i64> = hooks
                .endpoints
                .values()
                .filter(|e| e.source == "config" && !wanted.iter().any(|w| w.url == e.url))
                .map(|e| e.id)
                .collect();
            for id in stale {
                hooks.remove(id);
            }
            for new in &wanted {
                let found = hooks
                    .endpoints
                    .values_mut()
                    .find(|e| e.source == "config" && e.url == new.url);
                match found {
                    Some(old) => {
                        let same = old.secret == new.secret
                            && old.events == new.events
                            && old.channels == new.channels;
                        if !same {
                            old.secret.clone_from(&new.secret);
                            old.events.clone_from(&new.events);
                            old.channels.clone_from(&new.channels);
                            old.disabled = false;
                            old.last_error = None;
                        }
                    }
                    None => {
                        hooks.insert(new);
                    }
                }
            }
            Ok(((), Vec::new()))
        }))
    }

    fn set_endpoint_disabled(&self, id: i64, disabled: Option<String>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            if let Some(endpoint) = state.webhooks.endpoints.get_mut(&id) {
                endpoint.disabled = disabled.is_some();
                if disabled.is_some() {
                    endpoint.last_error = disabled;
                }
            }
            Ok(((), Vec::new()))
        }))
    }

    fn outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxRow>> {
        let found = self.read(|state| {
            Ok(state
                .webhooks
                .outbox
                .values()
                .take(limit as usize)
                .cloned()
                .collect())
        });
        Box::pin(async move { found })
    }

    fn record_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        read: Vec<i64>,
        max_per_endpoint: u64,
    ) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |state| {
            let hooks = &mut state.webhooks;
            let now = now_ms();
            let mut dropped = 0;
            for d in deliveries {
                if !hooks.endpoints.contains_key(&d.endpoint_id) {
                    continue;
                }
                let held = hooks
                    .deliveries
                    .values()
                    .filter(|x| x.row.endpoint_id == d.endpoint_id)
                    .count() as u64;
                if held >= max_per_endpoint {
                    dropped += 1;
                    continue;
                }
                hooks.next_delivery += 1;
                let id = hooks.next_delivery;
                let row = DeliveryRow {
                    id,
                    endpoint_id: d.endpoint_id,
                    event_id: d.event_id,
                    channel: d.channel,
                    body: d.body,
                    attempts: 0,
                };
                hooks.deliveries.insert(
                    id,
                    Delivery {
                        row,
                        next_at: now,
                        dead: false,
                    },
                );
            }
            for id in &read {
                hooks.outbox.remove(id);
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
        let found = self.read(|state| {
            let mut first: BTreeMap<&str, &Delivery> = BTreeMap::new();
            for d in state.webhooks.deliveries.values() {
                if d.row.endpoint_id == endpoint_id && !d.dead {
                    first.entry(d.row.channel.as_str()).or_insert(d);
                }
            }
            let mut due: Vec<DeliveryRow> = first
                .into_values()
                .filter(|d| d.next_at <= now)
                .map(|d| d.row.clone())
                .collect();
            due.sort_by_key(|d| d.id);
            due.truncate(limit as usize);
            Ok(due)
        });
        Box::pin(async move { found })
    }

    fn next_due(&self, endpoint_id: i64) -> StoreFuture<'_, Option<i64>> {
        let found = self.read(|state| {
            let mut first: BTreeMap<&str, i64> = BTreeMap::new();
            for d in state.webhooks.deliveries.values() {
                if d.row.endpoint_id == endpoint_id && !d.dead {
                    first.entry(d.row.channel.as_str()).or_insert(d.next_at);
                }
            }
            Ok(first.into_values().min())
        });
        Box::pin(async move { found })
    }

    fn finish_delivery(&self, id: i64, outcome: DeliveryOutcome) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            let hooks = &mut state.webhooks;
            let endpoint = hooks.deliveries.get(&id).map(|d| d.row.endpoint_id);
            let error = match &outcome {
                DeliveryOutcome::Delivered => None,
                DeliveryOutcome::Retry { error, .. } | DeliveryOutcome::Dead { error } => {
                    Some(error.clone())
                }
            };
            if let (Some(endpoint), Some(error)) = (endpoint, error) {
                if let Some(e) = hooks.endpoints.get_mut(&endpoint) {
                    e.last_error = Some(error);
                }
            }
            match outcome {
                DeliveryOutcome::Delivered => {
                    if let Some(e) = endpoint.and_then(|e| hooks.endpoints.get_mut(&e)) {
                        if !e.disabled {
                            e.last_error = None;
                        }
                    }
                    hooks.deliveries.remove(&id);
                }
                DeliveryOutcome::Retry { at, .. } => {
                    if let Some(d) = hooks.deliveries.get_mut(&id) {
                        d.row.attempts += 1;
                        d.next_at = at;
                    }
                }
                DeliveryOutcome::Dead { .. } => {
                    if let Some(d) = hooks.deliveries.get_mut(&id) {
                        d.row.attempts += 1;
                        d.dead = true;
                    }
                }
            }
            Ok(((), Vec::new()))
        }))
    }

    fn replay_dead(&self, endpoint_id: i64) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |state| {
            let hooks = &mut state.webhooks;
            let endpoint = hooks
                .endpoints
                .get_mut(&endpoint_id)
                .ok_or_else(|| not_found(endpoint_id))?;
            endpoint.disabled = false;
            let now = now_ms();
            let mut n = 0;
            for d in hooks.deliveries.values_mut() {
                if d.row.endpoint_id == endpoint_id && d.dead {
                    d.dead = false;
                    d.row.attempts = 0;
                    d.next_at = now;
                    n += 1;
                }
            }
            Ok((n, Vec::new()))
        }))
    }

    fn lead_deliveries(&self) -> StoreFuture<'_, bool> {
        // Only one node ever uses this store.
        Box::pin(async { Ok(true) })
    }

    fn webhook_backlog(&self) -> StoreFuture<'_, HashMap<i64, EndpointBacklog>> {
        let found = self.read(|state| {
            let mut backlog: HashMap<i64, EndpointBacklog> = HashMap::new();
            for d in state.webhooks.deliveries.values() {
                let entry = backlog.entry(d.row.endpoint_id).or_default();
                if d.dead {
                    entry.dead += 1;
                } else {
                    entry.pending += 1;
                }
            }
            Ok(backlog)
        });
        Box::pin(async move { found })
    }
}
