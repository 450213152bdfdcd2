//! The raw reference: a minimal tokio-tungstenite broadcast server with no authentication and
//! no persistence. Frames are routed by channel and each event is serialized once and shared by
//! every subscriber, with the same bounded-queue, batch-then-flush writer Parley uses. It is
//! the benchmark's stand-in for the physical limit of fan-out on this machine.
//!
//! Wire: `{"sub":"NAME"}` subscribes; `{"pub":"NAME","text":"..."}` publishes
//! `{"type":"event","channel":"NAME","text":"..."}` to every subscriber of NAME.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_tungstenite::tungstenite::{protocol::WebSocketConfig, Message, Utf8Bytes};

type Routes = Arc<Mutex<HashMap<String, Vec<mpsc::Sender<Utf8Bytes>>>>>;

/// A reference server in its own process (`parley-bench serve-reference`), so it competes for
/// the machine exactly as parley-server does and its CPU time can be read the same way.
pub struct ReferenceProcess {
    child: std::process::Child,
    pub addr: String,
}

impl ReferenceProcess {
    pub async fn start() -> Result<Self> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("serve-reference")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        })
        .await??;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| anyhow::anyhow!("unexpected {line:?}"))?
            .to_owned();
        Ok(Self { child, addr })
    }

    pub fn cpu_time(&self) -> Result<std::time::Duration> {
        crate::target::cpu_time_of(self.child.id())
    }
}

impl Drop for ReferenceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the reference server in this process until killed (the `serve-reference` command).
pub async fn serve_forever() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    let routes: Routes = Arc::default();
    {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                // The same socket buffer sizes as parley-server's defaults.
                let config = WebSocketConfig::default()
                    .read_buffer_size(1024)
                    .write_buffer_size(16 * 1024);
                let Ok(ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
                else {
                    return;
                };
                serve(ws, routes).await;
            });
        }
    }
}

async fn serve(ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, routes: Routes) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(1024);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.feed(Message::Text(frame)).await.is_err() {
                return;
            }
            while let Ok(frame) = rx.try_recv() {
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(channel) = value["sub"].as_str() {
            if let Ok(mut routes) = routes.lock() {
                routes
                    .entry(channel.to_owned())
                    .or_default()
                    .push(tx.clone());
            }
        } else if let (Some(channel), Some(body)) = (value["pub"].as_str(), value["text"].as_str())
        {
            let frame = serde_json::json!({"type": "event", "channel": channel, "text": body});
            let frame = Utf8Bytes::from(frame.to_string());
            if let Ok(mut routes) = routes.lock() {
                if let Some(subscribers) = routes.get_mut(channel) {
                    // Like Parley: a full queue drops the subscriber rather than blocking.
                    subscribers.retain(|s| s.try_send(frame.clone()).is_ok());
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
