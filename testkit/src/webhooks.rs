//! A webhook receiver on a free loopback port: it answers every delivery 200 and keeps what
//! arrived (the `webhook-id` header and the JSON body), in order.

use std::sync::{Arc, Mutex};

use axum::{extract::State, http::HeaderMap, routing::post, Router};
use serde_json::Value;

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

pub struct WebhookSink {
    /// The URL to configure as the webhook's endpoint.
    pub url: String,
    seen: Seen,
    server: tokio::task::JoinHandle<()>,
}

impl WebhookSink {
    pub async fn start() -> Self {
        async fn record(
            State(seen): State<Seen>,
            headers: HeaderMap,
            body: String,
        ) -> &'static str {
            let id = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            seen.lock().unwrap().push((id, body));
            "ok"
        }
        let seen: Seen = Arc::default();
        let app = Router::new()
            .route("/hook", post(record))
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, seen, server }
    }

    /// Every delivery so far: its `webhook-id` and body.
    pub fn deliveries(&self) -> Vec<(String, Value)> {
        self.seen.lock().unwrap().clone()
    }

    /// The `webhook-id` of every delivery so far.
    pub fn ids(&self) -> Vec<String> {
        self.deliveries().into_iter().map(|(id, _)| id).collect()
    }

    /// Waits (up to `within`) until `count` deliveries arrived.
    pub async fn wait_for(&self, count: usize, within: std::time::Duration) {
        tokio::time::timeout(within, async {
            while self.seen.lock().unwrap().len() < count {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{count} webhook deliveries expected, {} arrived",
                self.seen.lock().unwrap().len()
            )
        });
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}
