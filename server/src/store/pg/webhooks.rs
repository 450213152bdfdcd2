//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl WebhookStore for PgStore {
    fn set_webhook_capture(&self, _on: bool) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn capture_ephemeral(
        &self,
        _channel: String,
        _kind: String,
        _frame: String,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn webhook_endpoints(&self) -> StoreFuture<'_, Vec<EndpointRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn add_endpoint(&self, _endpoint: NewEndpoint, _max: usize) -> StoreFuture<'_, EndpointRecord> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn remove_endpoint(&self, _id: i64) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn sync_config_endpoints(&self, _endpoints: Vec<NewEndpoint>) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_endpoint_disabled(&self, _id: i64, _disabled: Option<String>) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn outbox(&self, _limit: u32) -> StoreFuture<'_, Vec<OutboxRow>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn record_deliveries(
        &self,
        _deliveries: Vec<NewDelivery>,
        _through: i64,
        _max_per_endpoint: u64,
    ) -> StoreFuture<'_, u64> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn due_deliveries(
        &self,
        _endpoint_id: i64,
        _now: i64,
        _limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryRow>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn next_due(&self, _endpoint_id: i64) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn finish_delivery(&self, _id: i64, _outcome: DeliveryOutcome) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn replay_dead(&self, _endpoint_id: i64) -> StoreFuture<'_, u64> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn webhook_backlog(&self) -> StoreFuture<'_, HashMap<i64, EndpointBacklog>> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

/// Writes an event to the webhook outbox, in the transaction that stores it.
pub fn enqueue(
    _tx: &mut postgres::Transaction<'_>,
    _channel: &str,
    _kind: &str,
    _frame: &str,
    _now: i64,
) -> crate::error::Result<()> {
    Err(super::not_yet())
}
