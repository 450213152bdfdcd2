//! What the store hands out and takes in for outbound webhooks (`crate::webhooks`).

/// A webhook endpoint as stored (its secret included: deliveries are signed with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub channels: Vec<String>,
    /// `config` or `api`.
    pub source: String,
    pub disabled: bool,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// A webhook endpoint to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub channels: Vec<String>,
    pub source: String,
}

/// An event waiting in the webhook outbox to be turned into deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Never reused: the deliveries' `webhook-id` is made of it.
    pub id: i64,
    pub channel: String,
    /// Its Standard Webhooks type (`message.created`...).
    pub kind: String,
    /// The event frame as subscribers got it.
    pub frame: String,
    pub created_at: i64,
}

/// A delivery to record: one outbox event for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub endpoint_id: i64,
    pub event_id: i64,
    pub channel: String,
    pub body: String,
}

/// A delivery to attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: i64,
    /// The outbox id of its event (the `webhook-id` is `evt_<event_id>`).
    pub event_id: i64,
    pub channel: String,
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
}

/// How an attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// 2xx: gone from the store.
    Delivered,
    /// Try again at this time (Unix ms).
    Retry { at: i64, error: String },
    /// Out of retries: kept as dead until replayed.
    Dead { error: String },
}

/// Deliveries waiting and dead, per endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointBacklog {
    pub pending: u64,
    pub dead: u64,
}
