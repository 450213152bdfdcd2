//! The connection task: connect, greet, resubscribe from the cache's resume points, store every
//! event, answer requests; on any failure back off (capped exponential, full jitter) and try
//! again. A generation number per connection keeps answers of a dead connection from being
//! taken for a live one's.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use parley_protocol::{
    rpc::{self, RequestMessage},
    ErrorCode, Event, Reply, Request, ResetReason, ServerFrame, SubscribeResult, PROTOCOL_VERSION,
};
use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message as WsMessage};

use crate::{store, Call, ClientEvent, ConnectionState, Error, Inner, Result};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How a connection attempt ended.
enum Ended {
    /// Connected, then lost: retry soon.
    Lost(String),
    /// Could not connect: back off.
    Failed(String),
    VersionMismatch(String),
    Unauthorized,
    Stopped,
}

pub(crate) async fn run(
    inner: Arc<Inner>,
    mut calls: mpsc::Receiver<Call>,
    mut subscribe: mpsc::UnboundedReceiver<String>,
) {
    let mut stop = inner.stop.subscribe();
    let mut attempt: u32 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        inner.set_state(ConnectionState::Connecting { attempt });
        let ended = session(&inner, &mut calls, &mut subscribe, &mut stop).await;
        let (reason, delay) = match ended {
            Ended::Stopped => break,
            Ended::Lost(reason) => {
                attempt = 0;
                (reason, backoff(&inner, 0))
            }
            Ended::Failed(reason) => {
                attempt = attempt.saturating_add(1);
                (reason, backoff(&inner, attempt))
            }
            Ended::VersionMismatch(message) => {
                inner.set_state(ConnectionState::VersionMismatch { message });
                // The server may be upgraded; look again now and then.
                (String::new(), inner.config.backoff_max * 6)
            }
            Ended::Unauthorized => {
                inner.set_state(ConnectionState::Unauthorized);
                let _ = stop.changed().await;
                break;
            }
        };
        if !reason.is_empty() {
            inner.set_state(ConnectionState::Offline {
                retry_at_ms: crate::now_ms() + delay.as_millis() as i64,
                reason,
            });
        }
        // Requests made while offline fail at once.
        while let Ok(call) = calls.try_recv() {
            let _ = call.reply.send(Err(Error::Offline));
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.changed() => break,
        }
    }
    inner.set_state(ConnectionState::Stopped);
}

/// Full jitter: a random wait between 0 and min(max, min_delay * 2^attempt).
fn backoff(inner: &Inner, attempt: u32) -> Duration {
    let base = inner.config.backoff_min.as_millis() as u64;
    let cap = inner.config.backoff_max.as_millis() as u64;
    let ceiling = base.saturating_mul(1u64 << attempt.min(20)).min(cap).max(1);
    Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
}

impl Inner {
    pub(crate) fn set_state(&self, state: ConnectionState) {
        let changed = *self.state.borrow() != state;
        if changed {
            self.state.send_replace(state.clone());
            self.emit(ClientEvent::Connection { state });
        }
    }
}

use crate::tls::WsConnectError;

async fn connect(inner: &Inner) -> std::result::Result<Ws, Ended> {
    let url = format!("{}/ws?v={PROTOCOL_VERSION}", inner.config.ws_base());
    let mut request = url
        .into_client_request()
        .map_err(|e| Ended::Failed(format!("bad server address: {e}")))?;
    let auth = format!("Bearer {}", inner.config.token)
        .parse()
        .map_err(|_| Ended::Unauthorized)?;
    request.headers_mut().insert("authorization", auth);
    let connecting = crate::tls::connect_ws(&inner.config.server, request);
    match tokio::time::timeout(Duration::from_secs(10), connecting).await {
        Err(_) => Err(Ended::Failed("connect timed out".into())),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(WsConnectError::Http(resp))) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            match status {
                401 => Err(Ended::Unauthorized),
                426 => Err(Ended::VersionMismatch(body)),
                _ => Err(Ended::Failed(format!("HTTP {status} {body}"))),
            }
        }
        Ok(Err(WsConnectError::Certificate(reason) | WsConnectError::Other(reason))) => {
            Err(Ended::Failed(reason))
        }
    }
}

async fn session(
    inner: &Arc<Inner>,
    calls: &mut mpsc::Receiver<Call>,
    subscribe: &mut mpsc::UnboundedReceiver<String>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Ended {
    let mut ws = match connect(inner).await {
        Ok(ws) => ws,
        Err(ended) => return ended,
    };
    // The greeting.
    let hello = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => serde_json::from_str::<ServerFrame>(&text).ok(),
        _ => None,
    };
    let Some(ServerFrame::Hello(hello)) = hello else {
        return Ended::Failed("no hello from the server".into());
    };
    let Some(user) = hello.user else {
        return Ended::Unauthorized;
    };
    for result in &hello.subscriptions {
        if let Err(err) = apply_subscribed(inner, result).await {
            return Ended::Lost(err.to_string());
        }
    }
    let mut conn = Conn {
        me: user.id,
        next_id: 1,
        pending: HashMap::new(),
        subscribing: HashMap::new(),
        active: Default::default(),
    };
    // Resubscribe everything followed, each from its resume point.
    let channels = match inner.store.run(|c| store::subscribed_channels(c)).await {
        Ok(channels) => channels,
        Err(err) => return Ended::Lost(err.to_string()),
    };
    while subscribe.try_recv().is_ok() {} // all covered below
    for channel in channels {
        if let Err(ended) = conn.subscribe(inner, &mut ws, channel).await {
            return ended;
        }
    }
    inner.set_state(ConnectionState::Online { user });
    inner.outbox_wake.notify_one();
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Close(frame))) => {
                        let reason = frame.map(|f| format!("closed by the server ({} {})", u16::from(f.code), f.reason)).unwrap_or_else(|| "closed by the server".into());
                        return Ended::Lost(reason);
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => return Ended::Lost(err.to_string()),
                    None => return Ended::Lost("connection closed".into()),
                };
                if let Err(err) = conn.frame(inner, &text).await {
                    return Ended::Lost(err.to_string());
                }
            }
            call = calls.recv() => {
                let Some(call) = call else { return Ended::Stopped };
                let id = conn.next_id;
                conn.next_id += 1;
                let frame = match serde_json::to_string(&Request { id, op: call.op }) {
                    Ok(frame) => frame,
                    Err(err) => {
                        let _ = call.reply.send(Err(Error::Invalid(err.to_string())));
                        continue;
                    }
                };
                conn.pending.insert(id, call.reply);
                if let Err(err) = ws.send(WsMessage::text(frame)).await {
                    return Ended::Lost(err.to_string());
                }
            }
            channel = subscribe.recv() => {
                if let Some(channel) = channel {
                    if let Err(ended) = conn.subscribe(inner, &mut ws, channel).await {
                        return ended;
                    }
                }
            }
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return Ended::Stopped;
            }
        }
    }
}

struct Conn {
    /// The signed-in user's id (their own messages are not unread).
    me: i64,
    next_id: u64,
    /// Requests waiting for their answer (dropped with the connection: callers see it).
    pending: HashMap<u64, oneshot::Sender<Result<Reply>>>,
    /// Subscribe requests sent by the connection itself, by request id.
    subscribing: HashMap<u64, String>,
    /// Channels subscribed on this connection.
    active: std::collections::HashSet<String>,
}

impl Conn {
    async fn subscribe(
        &mut self,
        inner: &Inner,
        ws: &mut Ws,
        channel: String,
    ) -> std::result::Result<(), Ended> {
        if self.active.contains(&channel) || self.subscribing.values().any(|c| *c == channel) {
            if self.active.contains(&channel) {
                let name = channel.clone();
                let (_, seq) = inner
                    .store
                    .run(move |c| store::resume_point(c, &name))
                    .await
                    .map_err(|e| Ended::Lost(e.to_string()))?;
                inner.emit(ClientEvent::Synced { channel, seq });
            }
            return Ok(());
        }
        let name = channel.clone();
        let (epoch, since) = inner
            .store
            .run(move |c| store::resume_point(c, &name))
            .await
            .map_err(|e| Ended::Lost(e.to_string()))?;
        let id = self.next_id;
        self.next_id += 1;
        let request = Request {
            id,
            op: rpc::Subscribe {
                channel: channel.clone(),
                since: Some(since),
                epoch,
            }
            .into_op(),
        };
        let text = serde_json::to_string(&request).map_err(|e| Ended::Lost(e.to_string()))?;
        self.subscribing.insert(id, channel);
        ws.send(WsMessage::text(text))
            .await
            .map_err(|e| Ended::Lost(e.to_string()))
    }

    async fn frame(&mut self, inner: &Arc<Inner>, text: &str) -> Result<()> {
        let frame: ServerFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(err) => {
                tracing::warn!(%err, "unreadable frame from the server");
                return Ok(());
            }
        };
        match frame {
            ServerFrame::Reply { id, reply } => {
                if let Some(channel) = self.subscribing.remove(&id) {
                    tracing::debug!(channel, "subscribed");
                    let result = rpc::Subscribe::take_reply(reply).map_err(|_| {
                        Error::Invalid(format!(
                            "the server answered the subscription to {channel} with another reply"
                        ))
                    })?;
                    apply_subscribed(inner, &result).await?;
                    self.active.insert(channel);
                } else if let Some(waiting) = self.pending.remove(&id) {
                    let _ = waiting.send(Ok(reply));
                }
            }
            ServerFrame::Error { id, error } => {
                if let Some(id) = id {
                    if let Some(channel) = self.subscribing.remove(&id) {
                        tracing::info!(channel, code = %error.code, "subscription refused");
                        // No longer allowed, or gone: stop following it. Other refusals
                        // (limits, a server error) leave it followed for the next connection.
                        if matches!(
                            error.code,
                            ErrorCode::Forbidden
                                | ErrorCode::ChannelNotFound
                                | ErrorCode::Unauthenticated
                                | ErrorCode::NotMember
                        ) {
                            let name = channel.clone();
                            inner
                                .store
                                .run(move |c| store::set_subscribed(c, &name, false))
                                .await?;
                        }
                        inner.emit(ClientEvent::Unsubscribed {
                            channel,
                            reason: error.code.to_string(),
                        });
                    } else if let Some(reply) = self.pending.remove(&id) {
                        let _ = reply.send(Err(Error::Server(error)));
                    }
                }
            }
            ServerFrame::Event(event) => {
                if matches!(event.event, Event::Unsubscribed { .. }) {
                    self.active.remove(&event.channel);
                }
                crate::incoming::store_event(inner, event, self.me).await?
            }
            ServerFrame::Synced(synced) => {
                let channel = synced.channel.clone();
                let seq = synced.seq;
                inner
                    .store
                    .run(move |c| store::advance_to(c, &channel, seq))
                    .await?;
                inner.emit(ClientEvent::Synced {
                    channel: synced.channel,
                    seq: synced.seq,
                });
            }
            ServerFrame::Hello(_) => {}
        }
        Ok(())
    }
}

/// A subscribe answer: a new epoch drops the cached history.
async fn apply_subscribed(inner: &Inner, result: &SubscribeResult) -> Result<()> {
    let (channel, epoch) = (result.channel.clone(), result.epoch.clone());
    let forced = result.reset == Some(ResetReason::EpochChanged);
    let head = result.head;
    let reset = inner
        .store
        .run(move |c| {
            let changed = store::set_epoch(c, &channel, &epoch)?;
            if forced {
                // The server does not know our history (a new epoch, or one restored from an
                // older backup): drop the cache and go on from its head.
                store::reset_channel(c, &channel, head)?;
            }
            Ok(changed)
        })
        .await?;
    if reset || forced {
        inner.emit(ClientEvent::ChannelReset {
            channel: result.channel.clone(),
        });
    }
    if let Some(presence) = &result.presence {
        let (channel, entries) = (result.channel.clone(), presence.clone());
        let now = crate::now_ms();
        inner
            .store
            .run(move |c| {
                for e in &entries {
                    store::saw_presence(c, &channel, &e.user, &e.status, now)?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(())
}
