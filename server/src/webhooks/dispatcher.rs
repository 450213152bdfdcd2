//! The delivery side of webhooks: one loop turns the outbox into deliveries and keeps a sender
//! task per enabled endpoint; each sender posts its endpoint's due deliveries one at a time,
//! oldest first (so each channel's events arrive in order), and records how each attempt
//! ended. See the module comment of `webhooks` for the guarantees.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{body, parse_secret, signature, wants_channel, wants_type};
use crate::{
    config::{Config, WebhookDeliveryConfig},
    error::{Error, Result},
    metrics::Metrics,
    store::{
        now_ms, DeliveryOutcome, DeliveryRow, EndpointRecord, NewDelivery, NewEndpoint,
        WebhookStore,
    },
};

/// Outbox events turned into deliveries per store write.
const FAN_OUT_BATCH: u32 = 256;
/// Deliveries a sender takes per read.
const SEND_BATCH: u32 = 32;
/// Ephemeral events being written to the outbox at once; beyond, they are dropped (counted).
const MAX_EPHEMERAL_IN_FLIGHT: usize = 1024;

/// Delivers the outbox to the endpoints.
pub struct Dispatcher {
    store: Arc<dyn WebhookStore>,
    delivery: WebhookDeliveryConfig,
    http: reqwest::Client,
    wake: Notify,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    /// The enabled endpoints' filters, for ephemeral events (which are written to the outbox
    /// only when some endpoint wants them).
    filters: RwLock<Vec<(Vec<String>, Vec<String>)>>,
    ephemeral_in_flight: Arc<tokio::sync::Semaphore>,
    /// Requests in flight across every endpoint (`webhook_delivery.concurrency`).
    sending: Arc<tokio::sync::Semaphore>,
}

struct Sender {
    endpoint: EndpointRecord,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    Gone,
    Failed(String),
}

impl Dispatcher {
    /// Applies the configured endpoints, starts capturing events if any endpoint exists, and
    /// starts delivering. Stops when `shutdown` is cancelled (what is left is sent after the
    /// next start).
    pub async fn start(
        store: Arc<dyn WebhookStore>,
        config: &Config,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>> {
        let declared = config
            .webhooks
            .iter()
            .map(|w| NewEndpoint {
                url: w.url.clone(),
                secret: w.secret.clone(),
                events: w.events.clone(),
                channels: w.channels.clone(),
                source: "config".into(),
            })
            .collect();
        store.sync_config_endpoints(declared).await?;
        let dispatcher = Arc::new(Self {
            store,
            delivery: config.webhook_delivery.clone(),
            http: http_client(&config.webhook_delivery)?,
            wake: Notify::new(),
            shutdown,
            metrics,
            filters: RwLock::new(Vec::new()),
            ephemeral_in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_EPHEMERAL_IN_FLIGHT)),
            sending: Arc::new(tokio::sync::Semaphore::new(
                config.webhook_delivery.concurrency,
            )),
        });
        // Capture is on before the server serves: no event of this run is missed.
        let endpoints = dispatcher.store.webhook_endpoints().await?;
        dispatcher
            .store
            .set_webhook_capture(!endpoints.is_empty())
            .await?;
        tokio::spawn(Arc::clone(&dispatcher).run(!endpoints.is_empty()));
        Ok(dispatcher)
    }

    /// Something changed (an endpoint, a replay): look again now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// An ephemeral event (presence, an ephemeral custom event): written to the outbox when
    /// some endpoint wants its type in its channel. Never waits; dropped (counted) when too
    /// many are being written.
    pub fn ephemeral(&self, channel: &str, kind: &str, frame: String) {
        if !self.wants(channel, kind) {
            return;
        }
        let Ok(permit) = Arc::clone(&self.ephemeral_in_flight).try_acquire_owned() else {
            self.metrics.webhooks.dropped.inc();
            return;
        };
        let store = Arc::clone(&self.store);
        let (channel, kind) = (channel.to_owned(), kind.to_owned());
        tokio::spawn(async move {
            if let Err(err) = store.capture_ephemeral(channel, kind, frame).await {
                tracing::warn!(%err, "an ephemeral event was not written to the webhook outbox");
            }
            drop(permit);
        });
    }

    /// Whether some enabled endpoint wants events of type `kind` in `channel`.
    pub fn wants(&self, channel: &str, kind: &str) -> bool {
        self.filters.read().is_ok_and(|filters| {
            filters.iter().any(|(events, channels)| {
                wants_type(events, kind) && wants_channel(channels, channel)
            })
        })
    }

    async fn run(self: Arc<Self>, mut capturing: bool) {
        let mut senders: HashMap<i64, Sender> = HashMap::new();
        loop {
            match self.round(&mut senders, &mut capturing).await {
                Ok(()) => {}
                Err(err) => tracing::warn!(%err, "webhook dispatcher round failed"),
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.delivery.poll_interval) => {}
                () = self.shutdown.cancelled() => break,
            }
        }
        for sender in senders.into_values() {
            sender.task.abort();
        }
    }

    /// Reloads the endpoints (the admin CLI changes them beside a running server), keeps one
    /// sender per enabled endpoint, and turns the outbox into deliveries.
    async fn round(
        self: &Arc<Self>,
        senders: &mut HashMap<i64, Sender>,
        capturing: &mut bool,
    ) -> Result<()> {
        let endpoints = self.store.webhook_endpoints().await?;
        if *capturing == endpoints.is_empty() {
            *capturing = !endpoints.is_empty();
            self.store.set_webhook_capture(*capturing).await?;
        }
        let enabled: Vec<EndpointRecord> = endpoints.into_iter().filter(|e| !e.disabled).collect();
        if let Ok(mut filters) = self.filters.write() {
            *filters = enabled
                .iter()
                .map(|e| (e.events.clone(), e.channels.clone()))
                .collect();
        }
        senders.retain(|id, sender| {
            let current = enabled.iter().find(|e| e.id == *id);
            // Restarted only when what it sends changes (not for a new last_error).
            let same = |e: &&EndpointRecord| {
                e.url == sender.endpoint.url
                    && e.secret == sender.endpoint.secret
                    && e.events == sender.endpoint.events
                    && e.channels == sender.endpoint.channels
            };
            let keep = current.is_some_and(|e| same(&e)) && !sender.task.is_finished();
            if !keep {
                sender.task.abort();
            }
            keep
        });
        // With several nodes, one delivers (the outbox is shared): the others only capture.
        if !self.store.lead_deliveries().await? {
            for (_, sender) in senders.drain() {
                sender.task.abort();
            }
            return Ok(());
        }
        for endpoint in &enabled {
            senders.entry(endpoint.id).or_insert_with(|| {
                let wake = Arc::new(Notify::new());
                let task =
                    tokio::spawn(Arc::clone(self).send_loop(endpoint.clone(), Arc::clone(&wake)));
                Sender {
                    endpoint: endpoint.clone(),
                    wake,
                    task,
                }
            });
        }
        loop {
            let rows = self.store.outbox(FAN_OUT_BATCH).await?;
            if rows.is_empty() {
                return Ok(());
            }
            let read: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let mut deliveries = Vec::new();
            for row in &rows {
                let targets: Vec<&EndpointRecord> = enabled
                    .iter()
                    .filter(|e| {
                        wants_type(&e.events, &row.kind) && wants_channel(&e.channels, &row.channel)
                    })
                    .collect();
                if targets.is_empty() {
                    continue;
                }
                let timestamp = rfc3339(row.created_at);
                let body = body(&row.kind, &timestamp, &row.frame)?;
                for endpoint in targets {
                    deliveries.push(NewDelivery {
                        endpoint_id: endpoint.id,
                        event_id: row.id,
                        channel: row.channel.clone(),
                        body: body.clone(),
                    });
                }
            }
            let woken: Vec<i64> = deliveries.iter().map(|d| d.endpoint_id).collect();
            let dropped = self
                .store
                .record_deliveries(deliveries, read, self.delivery.max_pending_per_endpoint)
                .await?;
            if dropped > 0 {
                self.metrics.webhooks.dropped.inc_by(dropped);
                tracing::warn!(
                    dropped,
                    "webhook deliveries not recorded: an endpoint holds \
                     webhook_delivery.max_pending_per_endpoint already"
                );
            }
            for id in woken {
                if let Some(sender) = senders.get(&id) {
                    sender.wake.notify_one();
                }
            }
        }
    }

    /// Posts one endpoint's due deliveries, one at a time, until the endpoint is gone.
    async fn send_loop(self: Arc<Self>, endpoint: EndpointRecord, wake: Arc<Notify>) {
        let key = match parse_secret(&endpoint.secret) {
            Ok(key) => key,
            Err(err) => {
                tracing::error!(url = %endpoint.url, err = %err.0.message, "webhook endpoint has an unusable secret");
                return;
            }
        };
        loop {
            let due = match self
                .store
                .due_deliveries(endpoint.id, now_ms(), SEND_BATCH)
                .await
            {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(%err, "reading webhook deliveries failed");
                    Vec::new()
                }
            };
            if due.is_empty() {
                let next = self.store.next_due(endpoint.id).await.ok().flatten();
                let poll = self.delivery.poll_interval;
                // Never a busy loop: at least a few milliseconds between looks.
                let wait = next
                    .map_or(poll, |at| {
                        Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(poll)
                    })
                    .max(Duration::from_millis(10));
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                    () = self.shutdown.cancelled() => return,
                }
                continue;
            }
            for delivery in due {
                let Ok(permit) = Arc::clone(&self.sending).acquire_owned().await else {
                    return;
                };
                let attempt = self.attempt(&endpoint, &key, &delivery).await;
                drop(permit);
                let outcome = match attempt {
                    Attempt::Delivered => {
                        self.metrics.webhooks.delivered.inc();
                        DeliveryOutcome::Delivered
                    }
                    Attempt::Gone => {
                        self.metrics.webhooks.failed.inc();
                        tracing::warn!(url = %endpoint.url, "webhook endpoint answered 410 Gone: disabled");
                        let reason = format!("{} answered 410 Gone: disabled", endpoint.url);
                        if let Err(err) = self
                            .store
                            .set_endpoint_disabled(endpoint.id, Some(reason))
                            .await
                        {
                            tracing::warn!(%err, "disabling a webhook endpoint failed");
                        }
                        self.wake();
                        return;
                    }
                    Attempt::Failed(error) => {
                        self.metrics.webhooks.failed.inc();
                        match retry_wait(&self.delivery.retry_schedule, delivery.attempts) {
                            Some(wait) => DeliveryOutcome::Retry {
                                at: now_ms().saturating_add(wait.as_millis() as i64),
                                error,
                            },
                            None => {
                                self.metrics.webhooks.dead.inc();
                                tracing::warn!(url = %endpoint.url, %error, "webhook delivery dead-lettered");
                                DeliveryOutcome::Dead { error }
                            }
                        }
                    }
                };
                if let Err(err) = self.store.finish_delivery(delivery.id, outcome).await {
                    tracing::warn!(%err, "recording a webhook delivery failed");
                }
            }
        }
    }

    async fn attempt(
        &self,
        endpoint: &EndpointRecord,
        key: &[u8],
        delivery: &DeliveryRow,
    ) -> Attempt {
        let id = format!("evt_{}", delivery.event_id);
        let timestamp = now_ms() / 1000;
        let request = self
            .http
            .post(&endpoint.url)
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(key, &id, timestamp, &delivery.body),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(delivery.body.clone());
        match request.send().await {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) if response.status() == reqwest::StatusCode::GONE => Attempt::Gone,
            Ok(response) => {
                Attempt::Failed(format!("{} answered {}", endpoint.url, response.status()))
            }
            Err(err) => Attempt::Failed(format!("{}: {}", endpoint.url, describe(&err))),
        }
    }
}

/// The wait before the next attempt, after `attempts` failed ones, with up to 20% jitter;
/// None when the schedule is used up.
fn retry_wait(schedule: &[Duration], attempts: u32) -> Option<Duration> {
    let base = *schedule.get(attempts as usize)?;
    let jitter = rand::random::<f64>() * 0.2;
    Some(base.mul_f64(1.0 + jitter))
}

/// A reqwest error with its causes (a timeout, a refused connection, a certificate).
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn rfc3339(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

/// The client deliveries go out with: the system's certificates, the configured timeout, no
/// redirects (a delivery goes where the admin said, nowhere else).
fn http_client(delivery: &WebhookDeliveryConfig) -> Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(Error::internal)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(delivery.timeout)
        .connect_timeout(delivery.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Parley-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_with_jitter() {
        let schedule = [Duration::from_secs(5), Duration::from_secs(30)];
        for _ in 0..100 {
            let first = retry_wait(&schedule, 0).expect("a first retry");
            assert!(first >= Duration::from_secs(5) && first <= Duration::from_secs(6));
            let second = retry_wait(&schedule, 1).expect("a second retry");
            assert!(second >= Duration::from_secs(30) && second <= Duration::from_secs(36));
        }
        assert_eq!(retry_wait(&schedule, 2), None, "then dead");
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(1_795_827_600_000), "2026-11-28T01:00:00.000Z");
    }
}
