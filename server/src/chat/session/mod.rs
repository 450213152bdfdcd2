//! One WebSocket connection: a reader that handles requests in order, and a writer task that
//! drains the connection's bounded outbound queue, batching frames into one flush, and keeps
//! the ping/pong liveness check. Subscriptions go through the channel hubs (see `hub`).

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::{stream::SplitStream, StreamExt};
use parley_protocol::{
    close_code, decode_request, ErrorBody, ErrorCode, Hello, Limits, Op, Reply, Request,
    ResetReason, ServerFrame, SubscribeResult, PROTOCOL_VERSION,
};
use tokio::{sync::oneshot, time::Instant};
use tracing::Instrument;

use crate::{
    chat::{
        channels::Channel,
        hub::{HubCmd, HubHandle, SubscribeAck},
    },
    error::{Error, Result},
    ratelimit::TokenBucket,
    store::{self, TokenRecord, UserRecord},
    ws::{Batching, ConnControl, Frame, Opened, Outbound, WriterTiming},
    AppState,
};

mod channels;
mod messages;
mod presence;
mod reads;
mod subscriptions;

/// An operation handed to an area's handler that `Session::handle` routes elsewhere (a bug).
fn misrouted(op: &Op) -> Error {
    Error::internal(format_args!(
        "{} reached the wrong request handler",
        op.name()
    ))
}

struct Subscription {
    hub: HubHandle,
    presence: bool,
}

struct Session {
    state: Arc<AppState>,
    control: Arc<ConnControl>,
    out: Outbound,
    user: Option<UserRecord>,
    /// `user` as the hubs keep it: one copy shared by every subscription of the connection.
    user_ref: Option<Arc<parley_protocol::UserRef>>,
    /// A scoped token's scope: every request is checked against it before it is routed.
    scope: Option<Arc<parley_protocol::api::TokenScope>>,
    subs: HashMap<i64, Subscription>,
    send_limit: TokenBucket,
    request_limit: TokenBucket,
    /// Sends queued for storage whose replies have not gone out yet.
    inflight_sends: Arc<tokio::sync::Semaphore>,
    /// Boxed: set by few sessions, and every connection's future would carry its size.
    status: Option<Box<(String, Option<String>)>>,
}

/// Runs one connection to the end. `auth` is the token given at the upgrade, if any.
///
/// Everything that is only needed to set the connection up (the socket before it is split,
/// the writer's future before it is spawned) is used here, outside the returned future: locals
/// of an async body keep their space for the whole life of the future, and this one lives as
/// long as the connection. Measured: 5.8 KiB per connection task before, 1.5 KiB after.
pub fn run(
    state: Arc<AppState>,
    socket: WebSocket,
    auth: Option<TokenRecord>,
    permit: crate::address::ConnectionPermit,
    batching: Option<Batching>,
) -> impl std::future::Future<Output = ()> + Send {
    let mut timing = WriterTiming::from(&state.config);
    timing.batching = batching;
    let batch_ms = batching.map(|b| b.window.as_millis() as u32);
    let Opened {
        control,
        out,
        stream,
        writer,
    } = state.connections.open(
        socket,
        state.config.realtime.outbound_queue,
        timing,
        ("/ws", permit.client()),
    );
    // At debug level only: an enabled span costs every connection ~0.5 KiB for as long as it
    // lives (the subscriber's record of it and its formatted fields; docs/benchmarks.md). The
    // few warnings a session logs name the connection themselves.
    let span = tracing::debug_span!("conn", id = control.id, user = tracing::field::Empty);
    let rl = &state.config.rate_limit;
    let session = Session {
        send_limit: TokenBucket::new(rl.messages_per_second, rl.message_burst),
        request_limit: TokenBucket::new(rl.requests_per_second, rl.request_burst),
        inflight_sends: Arc::new(tokio::sync::Semaphore::new(
            state.config.realtime.max_pending_sends.max(1),
        )),
        state: Arc::clone(&state),
        control,
        out,
        user: None,
        user_ref: None,
        scope: None,
        subs: HashMap::new(),
        status: None,
    };
    let task = session
        .drive(
            stream,
            (auth.map(Box::new), batch_ms),
            writer,
            Box::new(permit),
        )
        .instrument(span);
    // Idle memory per connection is mostly this future and the writer's; keep an eye on it.
    tracing::trace!(
        bytes = std::mem::size_of_val(&task),
        "connection future size"
    );
    state.connections.tracker.track_future(task)
}

impl Session {
    /// The connection's life: greet, read and handle requests, clean up, close.
    ///
    /// A plain fn returning an `async move` block rather than an `async fn`: an async fn keeps
    /// its arguments twice in its state (as arguments and as locals), ~0.3 KiB per connection.
    /// The sign-in record and the permit come boxed: a captured value keeps its room in the
    /// future for the connection's whole life, though the record is used once at the start
    /// (120 bytes, and the permit 48, are 8 each boxed).
    #[allow(clippy::manual_async_fn)] // on purpose, see above
    fn drive(
        mut self,
        mut stream: SplitStream<WebSocket>,
        (auth, batch_ms): (Option<Box<TokenRecord>>, Option<u32>),
        writer: crate::ws::WriterHandle,
        permit: Box<crate::address::ConnectionPermit>,
    ) -> impl std::future::Future<Output = ()> + Send {
        async move {
            Box::pin(self.start(auth, batch_ms)).await;
            let peer_gone = self.read_loop(&mut stream).await;
            if !peer_gone {
                // Closed by us: its writer sends the close frame while the session cleans up.
                writer.wake();
            }
            Box::pin(self.finish()).await;
            let connections = &self.state.connections;
            Box::pin(connections.close(&self.control, stream, writer, peer_gone)).await;
            drop(permit);
            tracing::debug!("connection closed");
        }
    }

    async fn start(&mut self, auth: Option<Box<TokenRecord>>, batch_ms: Option<u32>) {
        let mut subscriptions = Vec::new();
        if let Some(record) = auth {
            subscriptions = self.sign_in(*record).await;
        }
        let config = &self.state.config;
        let hello = ServerFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            session_id: format!("{:x}", self.control.id),
            user: self.user.as_ref().map(UserRecord::to_ref),
            ping_interval_ms: config.websocket.ping_interval.as_millis() as u64,
            limits: Limits {
                max_frame_size: config.websocket.max_frame_size,
                max_message_length: config.realtime.max_message_length,
                channel_limit: config.realtime.channel_limit,
                typing_ttl_ms: config.realtime.typing_ttl.as_millis() as u64,
            },
            subscriptions: subscriptions.iter().map(|(r, _)| r.clone()).collect(),
            batch_ms,
        });
        self.push_frame(&hello).await;
        self.release(subscriptions).await;
    }

    /// Marks the session as `record`'s and subscribes it to its auto-subscribe channels. The
    /// returned subscriptions hold live events until `release` (after the reply is queued).
    async fn sign_in(&mut self, record: TokenRecord) -> Vec<(SubscribeResult, HubHandle)> {
        tracing::Span::current().record("user", record.user.name.as_str());
        self.control.token_id.store(record.id, Ordering::Relaxed);
        self.control
            .user_id
            .store(record.user.id, Ordering::Relaxed);
        self.set_user(record.user);
        // Subscriptions made anonymously now belong to the user (presence, typing).
        if let Some(user) = &self.user_ref {
            for sub in self.subs.values() {
                let cmd = HubCmd::SetUser {
                    conn_id: self.control.id,
                    user: Arc::clone(user),
                };
                let _ = sub.hub.send(cmd).await;
            }
        }
        self.scope = record.scope;
        let mut subscribed = Vec::new();
        let auto: Vec<String> = self
            .state
            .chat
            .directory
            .all()
            .into_iter()
            .filter(|c| c.record.auto_subscribe && c.record.owner_id.is_none())
            .filter(|c| {
                let need = crate::scope::Need::Op(
                    parley_protocol::api::ScopeOp::Read,
                    c.record.name.clone(),
                );
                crate::scope::check(self.scope.as_deref(), &need).is_ok()
            })
            .map(|c| c.record.name.clone())
            .collect();
        for name in auto {
            let Ok(channel) = self.state.chat.channel(&name, self.user.as_ref()).await else {
                continue;
            };
            // Already subscribed (anonymously, before signing in): `SetUser` above kept it.
            if self.subs.contains_key(&channel.record.id)
                || channel.check_read(self.user.as_ref()).is_err()
                || self.at_channel_limit(&channel)
            {
                continue;
            }
            match self.register(&channel).await {
                Ok((hub, ack)) => {
                    let result = subscribe_result(&channel, &ack, 0, None);
                    subscribed.push((result, hub));
                }
                Err(err) => tracing::warn!(
                    %err,
                    conn = self.control.id,
                    channel = name,
                    "auto-subscribe failed"
                ),
            }
        }
        subscribed
    }

    fn set_user(&mut self, user: UserRecord) {
        self.user_ref = Some(Arc::new(user.to_ref()));
        self.user = Some(user);
    }

    /// Waits until every subscribed hub has handled what was queued to it before now.
    async fn flush_hubs(&self) {
        for sub in self.subs.values() {
            let (reply, done) = oneshot::channel();
            if sub.hub.send(HubCmd::Flush { reply }).await.is_ok() {
                let _ = done.await;
            }
        }
    }

    async fn release(&mut self, subscriptions: Vec<(SubscribeResult, HubHandle)>) {
        for (_, hub) in subscriptions {
            self.go_live(&hub).await;
        }
    }

    /// The first frame of an anonymous connection, within the handshake timeout; None when
    /// the connection is closing instead.
    async fn first_frame(
        &mut self,
        stream: &mut SplitStream<WebSocket>,
    ) -> Option<Option<std::result::Result<WsMessage, axum::Error>>> {
        let deadline = Instant::now() + self.state.config.realtime.handshake_timeout;
        tokio::select! {
            biased;
            () = self.control.closing.cancelled() => None,
            () = self.state.connections.shutdown.cancelled() => {
                self.drain_for_shutdown().await;
                None
            }
            () = tokio::time::sleep_until(deadline) => {
                // Nothing at all from the client: a connection held open without a word.
                self.control.close_with(close_code::HANDSHAKE_TIMEOUT, "no frame before handshake timeout");
                None
            }
            next = stream.next() => Some(next),
        }
    }

    /// The server is stopping: lets sends that are committing get their replies out, then each
    /// subscribed hub hand over what was committed before now (bounded), and closes with 1001.
    async fn drain_for_shutdown(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let all =
            u32::try_from(self.state.config.realtime.max_pending_sends.max(1)).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout_at(deadline, self.inflight_sends.acquire_many(all)).await;
        // Other sessions' sends, read before the stop and still committing, are acknowledged
        // to their senders: their events must reach this connection before its 1001.
        let _ = tokio::time::timeout_at(deadline, self.state.stores.control.barrier()).await;
        let _ = tokio::time::timeout_at(deadline, self.flush_hubs()).await;
        self.control.close_with(1001, "server shutting down");
    }

    /// Reads and handles frames until the connection ends. True when the peer ended it (close
    /// frame or EOF); false when we are closing it.
    ///
    /// This future lives as long as the connection: what only the first frame or the stop
    /// needs (the handshake deadline's timer, the shutdown's waits) is in boxed futures of
    /// their own, so it does not take room in every idle connection.
    async fn read_loop(&mut self, stream: &mut SplitStream<WebSocket>) -> bool {
        // Sessions authenticated at the upgrade may legitimately only listen (auto_subscribe);
        // an anonymous connection must say something within the handshake timeout.
        let mut first = self.user.is_none();
        loop {
            let next = if first {
                first = false;
                match Box::pin(self.first_frame(stream)).await {
                    Some(next) => next,
                    None => return false,
                }
            } else {
                tokio::select! {
                    biased;
                    () = self.control.closing.cancelled() => return false,
                    () = self.state.connections.shutdown.cancelled() => {
                        Box::pin(self.drain_for_shutdown()).await;
                        return false;
                    }
                    next = stream.next() => next,
                }
            };
            let message = match self.control.received(next) {
                Ok(message) => message,
                Err(peer_gone) => return peer_gone,
            };
            match message {
                // Boxed for the same reason as `handle`: idle connections should not carry the
                // state of request handling.
                WsMessage::Text(text) => {
                    self.control.busy.store(true, Ordering::Relaxed);
                    Box::pin(self.handle_text(text.as_str())).await;
                    self.control.busy.store(false, Ordering::Relaxed);
                    self.control.touch();
                }
                WsMessage::Binary(_) => {
                    let err = ErrorBody::new(
                        ErrorCode::InvalidRequest,
                        "binary frames are not accepted; send JSON text",
                    );
                    // Boxed: rare, and its state would otherwise size every idle connection.
                    Box::pin(self.push_error(None, err)).await;
                }
                WsMessage::Pong(_) => {
                    self.control
                        .last_pong
                        .store(store::now_ms(), Ordering::Relaxed);
                }
                WsMessage::Ping(_) => {}
                WsMessage::Close(_) => return true,
            }
        }
    }

    async fn handle_text(&mut self, text: &str) {
        for channel_id in self.control.take_dropped() {
            self.subs.remove(&channel_id);
        }
        if let Some(now) = self.control.take_profile() {
            if self.user.as_ref().is_some_and(|u| u.id == now.id) {
                self.set_user(now);
            }
        }
        if let Err(ms) = self.request_limit.take() {
            self.state.metrics.rate_limited.connection_requests.inc();
            // Every frame counts, decodable or not; the id is recovered when possible.
            let id = decode_request(text).map_or_else(|e| e.request_id, |r| Some(r.id));
            self.push_error(id, ErrorBody::rate_limited(ms)).await;
            return;
        }
        let request = match decode_request(text) {
            Ok(request) => request,
            Err(err) => {
                let id = err.request_id;
                self.push_error(id, err).await;
                return;
            }
        };
        let id = request.id;
        let op_name = request.op.name();
        // Boxed: the handler future is large (every operation's state) and only exists while a
        // request runs, so idle connections do not carry it.
        match Box::pin(self.handle(request)).await {
            Ok(Some(reply)) => self.push_frame(&ServerFrame::Reply { id, reply }).await,
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(op = op_name, code = %err.code(), "request failed");
                self.push_error(Some(id), err.0).await;
            }
        }
    }

    fn user(&self) -> Result<&UserRecord> {
        self.user.as_ref().ok_or_else(Error::unauthenticated)
    }

    /// Runs one request. `Ok(None)` means the handler queued its reply itself (subscribe,
    /// send). This match is the table of which area's handler answers which operation.
    async fn handle(&mut self, request: Request) -> Result<Option<Reply>> {
        let Request { id, op } = request;
        // The one check of a scoped token on this surface, before any handler runs.
        crate::scope::check(self.scope.as_deref(), &crate::scope::for_op(&op))?;
        let reply = match op {
            Op::Auth { token } => return self.auth(id, token).await,
            Op::Ping => Reply::Ping {
                server_time: store::now_ms(),
            },
            op @ (Op::ChannelList
            | Op::ChannelCreate { .. }
            | Op::ChannelJoin { .. }
            | Op::ChannelLeave { .. }
            | Op::ChannelInvite { .. }
            | Op::ChannelMembers { .. }
            | Op::ChannelUpdate { .. }
            | Op::DmOpen { .. }
            | Op::Subscribe { .. }
            | Op::Unsubscribe { .. }) => return self.channel_request(id, op).await,
            op @ (Op::Send { .. }
            | Op::History { .. }
            | Op::MessageEdit { .. }
            | Op::MessageDelete { .. }
            | Op::ReactionAdd { .. }
            | Op::ReactionRemove { .. }
            | Op::ThreadOpen { .. }
            | Op::Search { .. }
            | Op::Publish { .. }) => return self.message_request(id, op).await,
            op @ (Op::MarkRead { .. } | Op::Mute { .. } | Op::Unmute { .. } | Op::Unread) => {
                self.read_state_request(op).await?
            }
            op @ (Op::PresenceList { .. } | Op::Typing { .. } | Op::SetStatus { .. }) => {
                self.presence_request(op).await?
            }
        };
        Ok(Some(reply))
    }

    /// `auth`: signs the session in once, and subscribes it where the user auto-subscribes.
    async fn auth(&mut self, id: u64, token: String) -> Result<Option<Reply>> {
        if self.user.is_some() {
            return Err(Error::new(
                ErrorCode::AlreadyAuthenticated,
                "this session is signed in already",
            ));
        }
        let record = self.state.accounts.authenticate(&token).await?;
        let user = record.user.to_ref();
        let subscriptions = self.sign_in(record).await;
        let reply = Reply::Auth {
            user,
            subscriptions: subscriptions.iter().map(|(r, _)| r.clone()).collect(),
        };
        self.push_frame(&ServerFrame::Reply { id, reply }).await;
        self.release(subscriptions).await;
        Ok(None)
    }

    async fn finish(&mut self) {
        let ids: Vec<i64> = self.subs.keys().copied().collect();
        for id in ids {
            self.unsubscribe(id).await;
        }
        self.control.close_with(1000, "");
    }

    async fn push_frame(&self, frame: &ServerFrame) {
        push_serialized(&self.out, &self.control, frame).await;
    }

    async fn push_error(&self, id: Option<u64>, error: ErrorBody) {
        self.state.metrics.errors.inc();
        self.push_frame(&ServerFrame::Error { id, error }).await;
    }

    /// Queues a frame for this connection, waiting for room (these are its own replies). False
    /// when the connection is closing.
    async fn push(&self, frame: Frame) -> bool {
        push_to(&self.out, &self.control, frame).await
    }
}

async fn push_to(out: &Outbound, control: &ConnControl, frame: Frame) -> bool {
    tokio::select! {
        biased;
        () = control.closing.cancelled() => false,
        sent = out.send(frame) => sent.is_ok(),
    }
}

async fn push_serialized(out: &Outbound, control: &ConnControl, frame: &ServerFrame) {
    match serde_json::to_string(frame) {
        Ok(text) => {
            push_to(out, control, Frame::from(text)).await;
        }
        Err(err) => tracing::error!(%err, conn = control.id, "cannot serialize a frame"),
    }
}

fn subscribe_result(
    channel: &Channel,
    ack: &SubscribeAck,
    backlog: u64,
    reset: Option<ResetReason>,
) -> SubscribeResult {
    SubscribeResult {
        channel: channel.record.name.clone(),
        epoch: channel.record.epoch.clone(),
        head: ack.head,
        oldest_seq: ack.pruned_through + 1,
        backlog,
        reset,
        presence: ack.presence.clone(),
    }
}

/// Backlog events read from the database per query while resuming.
const BACKLOG_PAGE: u32 = 500;
