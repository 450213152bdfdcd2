//! The server's metrics, served as `GET /metrics` in the Prometheus text format (`http/metrics.rs`
//! decides who may read them). docs/metrics.md lists every one; keep the two in step.
//!
//! Cost: every counter and gauge is one atomic word. The hot paths hold handles resolved once
//! here (a label set's counter is looked up when `Metrics` is built, never per event), and the
//! hubs add one count per event fanned out, not one per subscriber. What can be read off the
//! server's own state when scraped (connections by kind, open documents, the store's write
//! queue) is read then, so it costs nothing in between. Only an HTTP request looks a label set
//! up as it goes (its route template, method and status), behind the family's read lock.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::{Registry, Unit},
};

/// The label sets of the families whose values are fixed in this file.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AreaLabel {
    area: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    /// The route template as the router matched it (`/api/channels/{name}`), or `unmatched`.
    route: String,
    status: u16,
}

/// The rate limits, each a label value of `parley_rate_limited_total`.
pub struct RateLimited {
    /// Frames of any kind per connection (`rate_limit.requests_per_second`).
    pub connection_requests: Counter,
    /// Sends per connection (`rate_limit.messages_per_second`).
    pub connection_sends: Counter,
    /// Sends per user (`rate_limit.user_messages_per_second`).
    pub user_sends: Counter,
    /// Read-state changes per user (`rate_limit.user_state_changes_per_second`).
    pub user_state_changes: Counter,
    /// Logins and registrations per user name (`rate_limit.logins_per_second`).
    pub login_name: Counter,
    /// Logins and registrations per client address (`rate_limit.address_logins_per_second`).
    pub login_address: Counter,
    /// Awareness changes per document connection (`documents.awareness_per_second`).
    pub document_awareness: Counter,
}

impl RateLimited {
    /// Every refusal so far, whatever the limit.
    pub fn total(&self) -> u64 {
        [
            &self.connection_requests,
            &self.connection_sends,
            &self.user_sends,
            &self.user_state_changes,
            &self.login_name,
            &self.login_address,
            &self.document_awareness,
        ]
        .iter()
        .map(|c| c.get())
        .sum()
    }
}

/// The send latencies of the current analytics window (from a `send` arriving to its commit),
/// in microseconds: at most [`LatencyWindow::MAX`] kept per window (then every other one is
/// counted only), so a busy minute costs bounded memory.
#[derive(Default)]
pub struct LatencyWindow {
    samples: std::sync::Mutex<(Vec<u32>, u64)>,
}

impl LatencyWindow {
    pub const MAX: usize = 20_000;

    pub fn record(&self, elapsed: Duration) {
        if let Ok(mut guard) = self.samples.lock() {
            let (samples, seen) = &mut *guard;
            *seen += 1;
            if samples.len() < Self::MAX {
                samples.push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
            }
        }
    }

    /// The window's samples (sorted) and how many sends there were; starts a new window.
    pub fn take(&self) -> (Vec<u32>, u64) {
        let Ok(mut guard) = self.samples.lock() else {
            return (Vec::new(), 0);
        };
        let (mut samples, seen) = std::mem::take(&mut *guard);
        samples.sort_unstable();
        (samples, seen)
    }
}

/// Webhook delivery attempts and events not recorded (`parley_webhook_deliveries_total`).
pub struct WebhookCounters {
    /// Answered 2xx.
    pub delivered: Counter,
    /// Failed (another attempt follows, or it was dead-lettered).
    pub failed: Counter,
    /// Out of retries.
    pub dead: Counter,
    /// Not recorded: the endpoint's backlog was full, or too many ephemeral events at once.
    pub dropped: Counter,
}

/// Several nodes (`cluster/`, docs/scaling.md): what travels between them.
pub struct ClusterCounters {
    /// Events other nodes committed, received over Redis.
    pub received: Counter,
    /// Messages for the other nodes not queued (the queue was full): they fill such gaps from
    /// the store.
    pub unsent: Counter,
    /// Runs of events read from the store because pub/sub lost or reordered them.
    pub gap_fills: Counter,
}

/// Custom events published (`parley_custom_events_total`), by kind.
pub struct CustomEvents {
    pub durable: Counter,
    pub ephemeral: Counter,
}

/// How a login attempt (`POST /api/login`) ended, each a label value of
/// `parley_login_attempts_total`.
pub struct Logins {
    pub success: Counter,
    /// Wrong user name or password.
    pub invalid_credentials: Counter,
    /// Refused by a login rate limit.
    pub rate_limited: Counter,
    /// Refused because the password-hashing queue was full (`server_busy`).
    pub busy: Counter,
    /// Anything else (a store error).
    pub error: Counter,
}

/// Every metric of one server. Built once in `Server::open` and handed to what counts.
pub struct Metrics {
    registry: Registry,
    /// Set from the connection registry at each scrape.
    connections: Family<KindLabel, Gauge>,
    /// Channel subscriptions held by hubs.
    pub subscriptions: Gauge,
    /// New chat messages committed (idempotent resends not counted).
    pub messages_accepted: Counter,
    /// Custom events published (a repeated `client_id` not counted).
    pub custom_events: CustomEvents,
    /// Requests answered with an error: WebSocket error frames and HTTP 4xx/5xx answers.
    pub errors: Counter,
    /// Send latencies since the last analytics tick (`analytics.rs`).
    pub send_latency: LatencyWindow,
    pub webhooks: WebhookCounters,
    pub cluster: ClusterCounters,
    /// Other nodes heard from lately; set at each scrape.
    cluster_peers: Gauge,
    /// Durable events queued to chat subscribers (or held for one catching up).
    pub deliveries_durable: Counter,
    /// Ephemeral events (typing, presence) queued to chat subscribers.
    pub deliveries_ephemeral: Counter,
    /// Typing and presence events shed for slow chat subscribers.
    pub dropped_chat: Counter,
    /// Awareness and notice frames dropped for full document connection queues.
    pub dropped_documents: Counter,
    pub rate_limited: RateLimited,
    /// Duration of each store batch: from the start of its transaction to its commit.
    pub store_commit: Histogram,
    /// Set from the store at each scrape.
    write_queue: Gauge,
    /// Set from the document actors at each scrape.
    open_documents: Gauge,
    /// Set from the live connections at each scrape.
    websocket_writers_running: Gauge,
    http_requests: Family<HttpLabels, Counter>,
    pub logins: Logins,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("parley");
        let connections = Family::<KindLabel, Gauge>::default();
        for kind in [CHAT, DOCUMENTS] {
            // Both kinds are always present, at 0 when there are none.
            connections.get_or_create(&KindLabel { kind }).set(0);
        }
        registry.register(
            "connections",
            "Open WebSocket connections, by kind (chat: /ws, documents: /docs/{name})",
            connections.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "subscriptions",
            "Channel subscriptions of open chat connections",
            subscriptions.clone(),
        );
        let messages_accepted = Counter::default();
        registry.register(
            "messages_accepted",
            "Chat messages stored (a resend of a stored message is not counted)",
            messages_accepted.clone(),
        );
        let errors = Counter::default();
        registry.register(
            "errors",
            "Requests answered with an error (WebSocket error frames, HTTP 4xx and 5xx)",
            errors.clone(),
        );
        let hooks = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, failed, dead), and events not recorded for an endpoint (dropped)",
            hooks.clone(),
        );
        let hook = |outcome| hooks.get_or_create_owned(&OutcomeLabel { outcome });
        let custom = Family::<KindLabel, Counter>::default();
        registry.register(
            "custom_events",
            "Custom events published (a repeated client_id is not counted), by kind: durable or ephemeral",
            custom.clone(),
        );
        let deliveries = Family::<KindLabel, Counter>::default();
        registry.register(
            "deliveries",
            "Events queued to chat subscribers (one per event and subscriber), by kind: durable (messages and other stored events) or ephemeral (typing, presence)",
            deliveries.clone(),
        );
        let dropped = Family::<AreaLabel, Counter>::default();
        registry.register(
            "ephemeral_dropped",
            "Ephemeral events dropped for slow consumers, by area: chat (typing, presence) or documents (awareness)",
            dropped.clone(),
        );
        let limited = Family::<LimitLabel, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused (or awareness changes dropped) by a rate limit, by limit",
            limited.clone(),
        );
        let store_commit = Histogram::new(commit_buckets());
        registry.register_with_unit(
            "store_commit_duration",
            "Duration of each store write batch, from the start of its transaction to its commit",
            Unit::Seconds,
            store_commit.clone(),
        );
        let write_queue = Gauge::default();
        registry.register(
            "store_write_queue",
            "Writes queued for the store's writer",
            write_queue.clone(),
        );
        let open_documents = Gauge::default();
        registry.register(
            "open_documents",
            "Documents loaded in memory (one actor each)",
            open_documents.clone(),
        );
        let websocket_writers_running = Gauge::default();
        registry.register(
            "websocket_writers_running",
            "WebSocket connections whose writer runs as a task now (the others' writers are parked: nothing written for a second)",
            websocket_writers_running.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status (WebSocket upgrades included)",
            http_requests.clone(),
        );
        let cluster = Family::<KindLabel, Counter>::default();
        registry.register(
            "cluster_messages",
            "Messages between nodes: received (events from other nodes) and unsent (dropped: the queue to Redis was full)",
            cluster.clone(),
        );
        let gap_fills = Counter::default();
        registry.register(
            "cluster_gap_fills",
            "Runs of events read from the store because pub/sub lost or reordered them",
            gap_fills.clone(),
        );
        let cluster_peers = Gauge::default();
        registry.register(
            "cluster_peers",
            "Other nodes heard from within three heartbeats",
            cluster_peers.clone(),
        );
        let logins = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "login_attempts",
            "Login attempts (POST /api/login), by outcome",
            logins.clone(),
        );
        let kind = |kind| deliveries.get_or_create_owned(&KindLabel { kind });
        let area = |area| dropped.get_or_create_owned(&AreaLabel { area });
        let limit = |limit| limited.get_or_create_owned(&LimitLabel { limit });
        let outcome = |outcome| logins.get_or_create_owned(&OutcomeLabel { outcome });
        Self {
            connections,
            subscriptions,
            messages_accepted,
            errors,
            send_latency: LatencyWindow::default(),
            webhooks: WebhookCounters {
                delivered: hook("delivered"),
                failed: hook("failed"),
                dead: hook("dead"),
                dropped: hook("dropped"),
            },
            cluster: ClusterCounters {
                received: cluster.get_or_create_owned(&KindLabel { kind: "received" }),
                unsent: cluster.get_or_create_owned(&KindLabel { kind: "unsent" }),
                gap_fills,
            },
            cluster_peers,
            custom_events: CustomEvents {
                durable: custom.get_or_create_owned(&KindLabel { kind: "durable" }),
                ephemeral: custom.get_or_create_owned(&KindLabel { kind: "ephemeral" }),
            },
            deliveries_durable: kind("durable"),
            deliveries_ephemeral: kind("ephemeral"),
            dropped_chat: area("chat"),
            dropped_documents: area("documents"),
            rate_limited: RateLimited {
                connection_requests: limit("connection_requests"),
                connection_sends: limit("connection_sends"),
                user_sends: limit("user_sends"),
                user_state_changes: limit("user_state_changes"),
                login_name: limit("login_name"),
                login_address: limit("login_address"),
                document_awareness: limit("document_awareness"),
            },
            store_commit,
            write_queue,
            open_documents,
            websocket_writers_running,
            http_requests,
            logins: Logins {
                success: outcome("success"),
                invalid_credentials: outcome("invalid_credentials"),
                rate_limited: outcome("rate_limited"),
                busy: outcome("busy"),
                error: outcome("error"),
            },
            registry,
        }
    }

    /// Counts one answered HTTP request. `route` is the matched route template (`None`: no
    /// route matched), never the request's own path, so the label set stays bounded.
    pub fn http_request(&self, method: &Method, route: Option<&str>, status: StatusCode) {
        let labels = HttpLabels {
            method: method_label(method),
            route: route.unwrap_or("unmatched").to_owned(),
            status: status.as_u16(),
        };
        self.http_requests.get_or_create(&labels).inc();
        if status.as_u16() >= 400 {
            self.errors.inc();
        }
    }

    /// Counts one store batch that took `elapsed`.
    pub fn store_committed(&self, elapsed: Duration) {
        self.store_commit.observe(elapsed.as_secs_f64());
    }

    /// The text exposition of every metric, after setting the gauges read at scrape time.
    pub fn render(&self, now: Snapshot) -> String {
        let kinds = [
            (CHAT, now.chat_connections),
            (DOCUMENTS, now.document_connections),
        ];
        for (kind, count) in kinds {
            self.connections
                .get_or_create(&KindLabel { kind })
                .set(gauge_value(count));
        }
        self.write_queue.set(gauge_value(now.write_queue));
        self.open_documents.set(gauge_value(now.open_documents));
        self.websocket_writers_running
            .set(gauge_value(now.writers_running));
        self.cluster_peers.set(gauge_value(now.cluster_peers));
        let mut text = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            // Writing to a String cannot fail; a metric's encoder could, and then the scrape
            // gets what was written before it.
            tracing::error!(%e, "encoding metrics");
        }
        text
    }
}

/// The kinds of WebSocket connection: `/ws` and `/docs/{name}`.
const CHAT: &str = "chat";
const DOCUMENTS: &str = "documents";

/// The values read from the server's state when `/metrics` is scraped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    pub chat_connections: usize,
    pub document_connections: usize,
    pub write_queue: usize,
    pub open_documents: usize,
    /// Live connections whose writer is not parked.
    pub writers_running: usize,
    /// Other nodes heard from (0 for a node alone).
    pub cluster_peers: usize,
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// 100 µs to ~6.6 s, doubling: a batch of a few writes commits in well under a millisecond, a
/// stalled disk takes seconds.
fn commit_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 17)
}

/// The request method as a label: the standard methods by name, any other (a client may send
/// any token as a method) as `other`, so the label set stays bounded.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(m, _)| m == method)
        .map_or("other", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_prefixed_and_typed() {
        let metrics = Metrics::new();
        metrics.messages_accepted.inc();
        metrics.http_request(&Method::GET, Some("/api/me"), StatusCode::OK);
        metrics.http_request(
            &Method::from_bytes(b"BREW").expect("a method token"),
            None,
            StatusCode::NOT_FOUND,
        );
        metrics.store_committed(Duration::from_millis(3));
        let text = metrics.render(Snapshot {
            chat_connections: 2,
            ..Snapshot::default()
        });
        for line in text.lines() {
            let name = line
                .strip_prefix("# TYPE ")
                .or_else(|| line.strip_prefix("# HELP "))
                .unwrap_or(line);
            assert!(name.starts_with("parley_"), "unprefixed: {line}");
        }
        for expected in [
            "# TYPE parley_connections gauge",
            "parley_connections{kind=\"chat\"} 2",
            "parley_connections{kind=\"documents\"} 0",
            "# TYPE parley_messages_accepted_total counter",
            "parley_messages_accepted_total 1",
            "# TYPE parley_store_commit_duration_seconds histogram",
            "parley_store_commit_duration_seconds_count 1",
            "parley_http_requests_total{method=\"GET\",route=\"/api/me\",status=\"200\"} 1",
            "parley_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1",
            "parley_login_attempts_total{outcome=\"success\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == expected),
                "missing {expected:?} in\n{text}"
            );
        }
    }
}
