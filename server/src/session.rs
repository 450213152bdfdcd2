//! One WebSocket connection: a reader that handles requests in order, and a writer task that
//! drains the connection's bounded outbound queue, batching frames into one flush, and keeps
//! the ping/pong liveness check. Subscriptions go through the channel hubs (see `hub`).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicI64, AtomicU16, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::Duration,
};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::{stream::SplitSink, SinkExt, StreamExt};
use parley_protocol::{
    close_code, decode_request, ErrorBody, ErrorCode, Hello, Limits, Op, Reply, Request,
    ResetReason, ServerFrame, SubscribeResult, Synced, PROTOCOL_VERSION,
};
use tokio::{
    sync::{mpsc, oneshot, OwnedSemaphorePermit},
    time::Instant,
};
use tracing::Instrument;

use crate::{
    channels::Channel,
    error::{Error, Result},
    hub::{HubCmd, HubHandle, SubscribeAck, Subscriber},
    ratelimit::TokenBucket,
    store::{self, TokenRecord, UserRecord},
    AppState, Frame,
};

/// Shared between a connection, its writer and the hubs it is subscribed to: how to ask it to
/// close, and when it was last heard from.
pub struct ConnControl {
    pub id: u64,
    pub(crate) closing: tokio_util::sync::CancellationToken,
    code: AtomicU16,
    reason: OnceLock<&'static str>,
    last_active: AtomicI64,
    last_pong: AtomicI64,
    /// The token this session authenticated with (0 = anonymous).
    token_id: AtomicI64,
    /// Set while the reader handles a request: it is not reading the socket then, so pongs and
    /// activity cannot be seen, and the connection must not be judged idle or dead for it.
    busy: std::sync::atomic::AtomicBool,
    /// Channels whose hub ended this connection's subscription on its own (access revoked,
    /// channel deleted); the session forgets them before handling its next request.
    dropped: Mutex<Vec<i64>>,
}

impl ConnControl {
    pub(crate) fn new(id: u64) -> Self {
        let now = store::now_ms();
        Self {
            id,
            closing: tokio_util::sync::CancellationToken::new(),
            code: AtomicU16::new(0),
            reason: OnceLock::new(),
            last_active: AtomicI64::new(now),
            last_pong: AtomicI64::new(now),
            token_id: AtomicI64::new(0),
            busy: std::sync::atomic::AtomicBool::new(false),
            dropped: Mutex::new(Vec::new()),
        }
    }

    /// Called by a hub that ended this connection's subscription to `channel_id`.
    pub fn note_dropped(&self, channel_id: i64) {
        if let Ok(mut dropped) = self.dropped.lock() {
            dropped.push(channel_id);
        }
    }

    fn take_dropped(&self) -> Vec<i64> {
        self.dropped
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default()
    }

    /// Asks the connection to close with `code`. The first request wins.
    pub fn close_with(&self, code: u16, reason: &'static str) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let _ = self.reason.set(reason);
        }
        self.closing.cancel();
    }

    /// The close code asked for so far (0 = none).
    pub fn close_code(&self) -> u16 {
        self.code.load(Ordering::Acquire)
    }

    /// When the client was last heard from (now, while one of its requests is being handled).
    pub fn last_active(&self) -> i64 {
        if self.busy.load(Ordering::Relaxed) {
            return store::now_ms();
        }
        self.last_active.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        self.last_active.store(store::now_ms(), Ordering::Relaxed);
    }
}

/// Live sessions by id, for closing the sessions of a revoked token.
#[derive(Default)]
pub struct SessionRegistry {
    sessions: Mutex<HashMap<u64, Arc<ConnControl>>>,
}

impl SessionRegistry {
    fn add(&self, control: Arc<ConnControl>) {
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(control.id, control);
        }
    }
    fn remove(&self, id: u64) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(&id);
        }
    }
    /// Token ids in use by live sessions.
    pub fn token_ids(&self) -> Vec<i64> {
        let Ok(s) = self.sessions.lock() else {
            return Vec::new();
        };
        let mut ids: Vec<i64> = s
            .values()
            .map(|c| c.token_id.load(Ordering::Relaxed))
            .filter(|id| *id > 0)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
    pub fn len(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AppState {
    /// Closes every live session that authenticated with one of these tokens.
    pub fn close_sessions_of_tokens(&self, token_ids: &[i64]) {
        let Ok(sessions) = self.sessions.sessions.lock() else {
            return;
        };
        for control in sessions.values() {
            if token_ids.contains(&control.token_id.load(Ordering::Relaxed)) {
                control.close_with(close_code::TOKEN_REVOKED, "token revoked");
            }
        }
    }
}

struct Subscription {
    hub: HubHandle,
    presence: bool,
}

struct Session {
    state: Arc<AppState>,
    control: Arc<ConnControl>,
    out: mpsc::Sender<Frame>,
    user: Option<UserRecord>,
    subs: HashMap<i64, Subscription>,
    send_limit: TokenBucket,
    request_limit: TokenBucket,
    /// Sends queued for storage whose replies have not gone out yet.
    inflight_sends: Arc<tokio::sync::Semaphore>,
    status: Option<(String, Option<String>)>,
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
    permit: OwnedSemaphorePermit,
) -> impl std::future::Future<Output = ()> + Send {
    let id = state.next_connection_id();
    let span = tracing::info_span!("conn", id, user = tracing::field::Empty);
    let control = Arc::new(ConnControl::new(id));
    state.sessions.add(Arc::clone(&control));
    let (sink, stream) = socket.split();
    let (out, out_rx) = mpsc::channel(state.config.realtime.outbound_queue);
    // Not instrumented: this future is polled once per delivery, and entering a span on every
    // poll was measurable in fan-out profiles. It logs nothing on its hot path.
    let writer = tokio::spawn(write_loop(
        sink,
        out_rx,
        Arc::clone(&control),
        WriterTiming::from(&state.config),
    ));
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
        subs: HashMap::new(),
        status: None,
    };
    let task = session.drive(stream, auth, writer, permit).instrument(span);
    // Idle memory per connection is mostly this future and the writer's; keep an eye on it.
    tracing::trace!(
        bytes = std::mem::size_of_val(&task),
        "connection future size"
    );
    state.tracker.track_future(task)
}

impl Session {
    /// The connection's life: greet, read and handle requests, clean up, close.
    ///
    /// A plain fn returning an `async move` block rather than an `async fn`: an async fn keeps
    /// its arguments twice in its state (as arguments and as locals), ~0.3 KiB per connection.
    #[allow(clippy::manual_async_fn)] // on purpose, see above
    fn drive(
        mut self,
        mut stream: futures_util::stream::SplitStream<WebSocket>,
        auth: Option<TokenRecord>,
        writer: tokio::task::JoinHandle<()>,
        permit: OwnedSemaphorePermit,
    ) -> impl std::future::Future<Output = ()> + Send {
        async move {
            Box::pin(self.start(auth)).await;
            let peer_gone = self.read_loop(&mut stream).await;
            Box::pin(self.finish()).await;
            if !peer_gone {
                // We are closing: wait (bounded) for the client's close reply, reading and
                // dropping whatever it still sends, so it sees our close frame before the
                // socket goes.
                let drain = async {
                    while let Some(Ok(message)) = stream.next().await {
                        if matches!(message, WsMessage::Close(_)) {
                            break;
                        }
                    }
                };
                let _ = Box::pin(tokio::time::timeout(CLOSE_GRACE, drain)).await;
            }
            let _ = writer.await;
            self.state.sessions.remove(self.control.id);
            drop(permit);
            tracing::debug!("connection closed");
        }
    }

    async fn start(&mut self, auth: Option<TokenRecord>) {
        let mut subscriptions = Vec::new();
        if let Some(record) = auth {
            subscriptions = self.sign_in(record).await;
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
        });
        self.push_frame(&hello).await;
        self.release(subscriptions).await;
    }

    /// Marks the session as `record`'s and subscribes it to its auto-subscribe channels. The
    /// returned subscriptions hold live events until `release` (after the reply is queued).
    async fn sign_in(&mut self, record: TokenRecord) -> Vec<(SubscribeResult, HubHandle)> {
        tracing::Span::current().record("user", record.user.name.as_str());
        self.control.token_id.store(record.id, Ordering::Relaxed);
        // Subscriptions made anonymously now belong to the user (presence, typing).
        for sub in self.subs.values() {
            let cmd = HubCmd::SetUser {
                conn_id: self.control.id,
                user: record.user.to_ref(),
            };
            let _ = sub.hub.send(cmd).await;
        }
        self.user = Some(record.user);
        let mut subscribed = Vec::new();
        let auto: Vec<String> = self
            .state
            .directory
            .all()
            .into_iter()
            .filter(|c| c.record.auto_subscribe && c.record.owner_id.is_none())
            .map(|c| c.record.name.clone())
            .collect();
        for name in auto {
            let Ok(channel) = self.state.channel(&name, self.user.as_ref()).await else {
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
                Err(err) => tracing::warn!(%err, channel = name, "auto-subscribe failed"),
            }
        }
        subscribed
    }

    async fn release(&mut self, subscriptions: Vec<(SubscribeResult, HubHandle)>) {
        for (_, hub) in subscriptions {
            self.go_live(&hub).await;
        }
    }

    /// Reads and handles frames until the connection ends. True when the peer ended it (close
    /// frame or EOF); false when we are closing it.
    async fn read_loop(
        &mut self,
        stream: &mut futures_util::stream::SplitStream<WebSocket>,
    ) -> bool {
        let handshake = self.state.config.realtime.handshake_timeout;
        let first_deadline = Instant::now() + handshake;
        // Sessions authenticated at the upgrade may legitimately only listen (auto_subscribe);
        // an anonymous connection must say something within the handshake timeout.
        let mut got_frame = self.user.is_some();
        loop {
            let next = tokio::select! {
                biased;
                () = self.control.closing.cancelled() => return false,
                () = self.state.shutdown.cancelled() => {
                    // Let sends that are committing get their replies out first (bounded).
                    let all = u32::try_from(self.state.config.realtime.max_pending_sends.max(1))
                        .unwrap_or(u32::MAX);
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        self.inflight_sends.acquire_many(all),
                    )
                    .await;
                    self.control.close_with(1001, "server shutting down");
                    return false;
                }
                () = tokio::time::sleep_until(first_deadline), if !got_frame => {
                    // Nothing at all from the client: a connection held open without a word.
                    self.control.close_with(close_code::HANDSHAKE_TIMEOUT, "no frame before handshake timeout");
                    return false;
                }
                next = stream.next() => next,
            };
            let message = match next {
                None => return true,
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    self.close_for_read_error(err);
                    return false;
                }
            };
            got_frame = true;
            self.control.touch();
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

    fn close_for_read_error(&self, err: axum::Error) {
        let inner = err.into_inner();
        match inner.downcast_ref::<tungstenite::Error>() {
            Some(tungstenite::Error::Capacity(_)) => {
                self.control
                    .close_with(1009, "frame larger than max_frame_size");
            }
            Some(tungstenite::Error::Utf8(_)) => {
                self.control
                    .close_with(1007, "text frame is not valid UTF-8");
            }
            Some(tungstenite::Error::Protocol(_)) => {
                self.control.close_with(1002, "protocol error");
            }
            _ => {
                tracing::debug!(error = %inner, "read failed");
                self.control.close_with(1011, "read failed");
            }
        }
    }

    async fn handle_text(&mut self, text: &str) {
        for channel_id in self.control.take_dropped() {
            self.subs.remove(&channel_id);
        }
        if let Err(ms) = self.request_limit.take() {
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

    /// Runs one request. `Ok(None)` means the handler queued its reply itself (subscribe).
    async fn handle(&mut self, request: Request) -> Result<Option<Reply>> {
        let state = Arc::clone(&self.state);
        let reply = match request.op {
            Op::Auth { token } => {
                if self.user.is_some() {
                    return Err(Error::new(
                        ErrorCode::AlreadyAuthenticated,
                        "this session is signed in already",
                    ));
                }
                let record = state.authenticate(&token).await?;
                let user = record.user.to_ref();
                let subscriptions = self.sign_in(record).await;
                let reply = Reply::Auth {
                    user,
                    subscriptions: subscriptions.iter().map(|(r, _)| r.clone()).collect(),
                };
                self.push_frame(&ServerFrame::Reply {
                    id: request.id,
                    reply,
                })
                .await;
                self.release(subscriptions).await;
                return Ok(None);
            }
            Op::Ping => Reply::Ping {
                server_time: store::now_ms(),
            },
            Op::ChannelList => Reply::ChannelList {
                channels: state.visible_channels(self.user.as_ref()).await?,
            },
            Op::ChannelCreate { channel, settings } => {
                let channel = state
                    .create_channel(self.user()?, &channel, settings)
                    .await?;
                Reply::ChannelCreate {
                    channel: state.channel_info(&channel, self.user.as_ref()),
                }
            }
            Op::ChannelJoin { channel } => {
                let channel = state.join_channel(self.user()?, &channel).await?;
                Reply::ChannelJoin {
                    channel: state.channel_info(&channel, self.user.as_ref()),
                }
            }
            Op::ChannelLeave { channel } => {
                let channel = state.leave_channel(self.user()?, &channel).await?;
                self.unsubscribe(channel.record.id).await;
                Reply::ChannelLeave {
                    channel: channel.record.name.clone(),
                }
            }
            Op::ChannelInvite { channel, user } => {
                let (channel, invitee) = state.invite(self.user()?, &channel, &user).await?;
                Reply::ChannelInvite {
                    channel: channel.record.name.clone(),
                    user: invitee.to_ref(),
                }
            }
            Op::Subscribe {
                channel,
                since,
                epoch,
            } => {
                self.subscribe(request.id, &channel, since, epoch).await?;
                return Ok(None);
            }
            Op::Unsubscribe { channel } => {
                let found = state.channel(&channel, self.user.as_ref()).await?;
                if !self.unsubscribe(found.record.id).await {
                    return Err(Error::new(
                        ErrorCode::NotSubscribed,
                        format!("not subscribed to {channel:?}"),
                    ));
                }
                Reply::Unsubscribe {
                    channel: found.record.name.clone(),
                }
            }
            Op::Send {
                channel,
                text,
                client_id,
            } => {
                let user = self.user()?.clone();
                self.send_limit
                    .take()
                    .map_err(|ms| Error(ErrorBody::rate_limited(ms)))?;
                // Sends are pipelined: the message is queued for storage in order, and its
                // reply goes out when it commits while this connection reads on. A bounded
                // number may be in flight; beyond that the reader waits (back-pressure).
                let permit = Arc::clone(&self.inflight_sends)
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::internal("send permits closed"))?;
                let committed = state
                    .submit_message(&user, &channel, &text, &client_id)
                    .await?;
                let (out, control, id) = (self.out.clone(), Arc::clone(&self.control), request.id);
                tokio::spawn(async move {
                    let frame = match committed.await {
                        Ok(result) => ServerFrame::Reply {
                            id,
                            reply: Reply::Send(result),
                        },
                        Err(err) => ServerFrame::Error {
                            id: Some(id),
                            error: err.0,
                        },
                    };
                    push_serialized(&out, &control, &frame).await;
                    drop(permit);
                });
                return Ok(None);
            }
            Op::History {
                channel,
                before,
                limit,
            } => Reply::History(
                state
                    .history(self.user.as_ref(), &channel, before, limit)
                    .await?,
            ),
            Op::PresenceList { channel } => {
                let channel = state.channel(&channel, self.user.as_ref()).await?;
                channel.check_read(self.user.as_ref())?;
                let presence = self.presence_of(&channel).await?;
                Reply::PresenceList {
                    channel: channel.record.name.clone(),
                    presence,
                }
            }
            Op::Typing { channel } => {
                self.user()?;
                let channel = state.channel(&channel, self.user.as_ref()).await?;
                channel.check_send(self.user()?)?;
                let Some(sub) = self.subs.get(&channel.record.id) else {
                    return Err(Error::new(
                        ErrorCode::NotSubscribed,
                        "subscribe to the channel before typing in it",
                    ));
                };
                let _ = sub
                    .hub
                    .send(HubCmd::Typing {
                        conn_id: self.control.id,
                    })
                    .await;
                Reply::Typing {
                    channel: channel.record.name.clone(),
                }
            }
            Op::SetStatus { status, text } => {
                let user_id = self.user()?.id;
                if !matches!(status.as_str(), "online" | "away" | "dnd") {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        "status is one of online, away, dnd",
                    ));
                }
                if text.as_ref().is_some_and(|t| t.chars().count() > 140) {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        "status text is at most 140 characters",
                    ));
                }
                for sub in self.subs.values().filter(|s| s.presence) {
                    let cmd = HubCmd::SetStatus {
                        user_id,
                        status: status.clone(),
                        text: text.clone(),
                    };
                    let _ = sub.hub.send(cmd).await;
                }
                self.status = Some((status.clone(), text));
                Reply::SetStatus { status }
            }
        };
        Ok(Some(reply))
    }

    fn at_channel_limit(&self, channel: &Channel) -> bool {
        !self.subs.contains_key(&channel.record.id)
            && self.subs.len() >= self.state.config.realtime.channel_limit as usize
    }

    /// Registers this connection with the channel's hub (live events are held until `CaughtUp`).
    async fn register(&mut self, channel: &Arc<Channel>) -> Result<(HubHandle, SubscribeAck)> {
        let id = channel.record.id;
        let (stored_head, pruned_through) = self
            .state
            .store
            .read(move |conn| {
                Ok((
                    store::channel_head(conn, id)?,
                    store::channel_pruned_through(conn, id)?,
                ))
            })
            .await?;
        let hub = self.state.hubs.hub(
            id,
            &channel.record.name,
            channel.presence_enabled(),
            stored_head,
        );
        let (reply, ack) = oneshot::channel();
        let sub = Subscriber {
            conn_id: self.control.id,
            user: self.user.as_ref().map(UserRecord::to_ref),
            tx: self.out.clone(),
            control: Arc::clone(&self.control),
        };
        hub.send(HubCmd::Subscribe { sub, reply })
            .await
            .map_err(|_| Error::internal("channel hub stopped"))?;
        let mut ack = ack
            .await
            .map_err(|_| Error::internal("channel hub stopped"))?;
        ack.pruned_through = pruned_through;
        ack.stored_head = stored_head;
        self.subs.insert(
            id,
            Subscription {
                hub: hub.clone(),
                presence: channel.presence_enabled(),
            },
        );
        if let (Some((status, text)), true) = (&self.status, channel.presence_enabled()) {
            if let Some(user) = &self.user {
                let cmd = HubCmd::SetStatus {
                    user_id: user.id,
                    status: status.clone(),
                    text: text.clone(),
                };
                let _ = hub.send(cmd).await;
            }
        }
        Ok((hub, ack))
    }

    /// Subscribe: reply, then the backlog after `since`, then `synced`, then live events.
    async fn subscribe(
        &mut self,
        request_id: u64,
        name: &str,
        since: Option<u64>,
        epoch: Option<String>,
    ) -> Result<()> {
        let channel = self.state.channel(name, self.user.as_ref()).await?;
        channel.check_read(self.user.as_ref())?;
        if self.at_channel_limit(&channel) {
            return Err(Error::new(
                ErrorCode::ChannelLimit,
                format!(
                    "at most {} subscriptions per connection",
                    self.state.config.realtime.channel_limit
                ),
            ));
        }
        let (hub, ack) = self.register(&channel).await?;
        let id = channel.record.id;
        // Access again, now that the hub holds the subscription: a leave (or kick) that
        // committed meanwhile has either been seen here, or its removal of this user's
        // subscriptions is queued in the hub behind ours.
        if let Err(err) = channel.check_read(self.user.as_ref()) {
            self.unsubscribe(id).await;
            return Err(err);
        }
        let head = ack.head;
        let pruned = ack.pruned_through;
        let (after, reset) = match since {
            None => (head, None),
            Some(_) if epoch.as_deref().is_some_and(|e| e != channel.record.epoch) => {
                (head, Some(ResetReason::EpochChanged))
            }
            // Ahead of everything stored: this history is not the one the client saw. (A
            // `since` taken from `history` may be ahead of the hub by events not yet handed
            // to it, so compare with the stored head.)
            Some(since) if since > head.max(ack.stored_head) => {
                (head, Some(ResetReason::EpochChanged))
            }
            Some(since) if since > head => (head, None),
            Some(since) if since < pruned => (pruned, Some(ResetReason::HistoryTruncated)),
            Some(since) => (since, None),
        };
        let backlog = if after < head {
            let counted = self
                .state
                .store
                .read(move |conn| store::count_events_between(conn, id, after, head))
                .await;
            match counted {
                Ok(n) => n,
                Err(err) => {
                    // Registered but not answered: undo, so the hub does not hold events for a
                    // subscription that never started.
                    self.unsubscribe(id).await;
                    return Err(err);
                }
            }
        } else {
            0
        };
        let result = subscribe_result(&channel, &ack, backlog, reset);
        self.push_frame(&ServerFrame::Reply {
            id: request_id,
            reply: Reply::Subscribe(result),
        })
        .await;

        let mut cursor = after;
        while cursor < head {
            let page = self
                .state
                .store
                .read(move |conn| store::events_between(conn, id, cursor, head, BACKLOG_PAGE))
                .await;
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    // The reply is out and part of the backlog may be too: the honest answer
                    // is a resync, after which the client resumes from what it has.
                    tracing::warn!(%err, "backlog read failed");
                    self.control
                        .close_with(close_code::RESYNC, "backlog read failed");
                    return Ok(());
                }
            };
            // Retention may have removed events since the count: never skip silently.
            if page.first().is_some_and(|e| e.seq != cursor + 1) || page.is_empty() {
                tracing::debug!(channel = %channel.record.name, "backlog changed under a resume");
                self.control
                    .close_with(close_code::RESYNC, "history changed while resuming");
                return Ok(());
            }
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            for event in page {
                if !self.push(event.frame).await {
                    return Ok(());
                }
            }
        }
        let synced = ServerFrame::Synced(Synced {
            channel: channel.record.name.clone(),
            epoch: channel.record.epoch.clone(),
            seq: head,
        });
        self.push_frame(&synced).await;
        self.go_live(&hub).await;
        Ok(())
    }

    /// Queues the live events the hub held during catch-up, until it holds none and switches
    /// this subscription to live delivery.
    async fn go_live(&self, hub: &HubHandle) {
        loop {
            let (reply, held) = oneshot::channel();
            let cmd = HubCmd::CaughtUp {
                conn_id: self.control.id,
                reply,
            };
            if hub.send(cmd).await.is_err() {
                return;
            }
            let Ok(held) = held.await else { return };
            if held.is_empty() {
                return;
            }
            for frame in held {
                if !self.push(frame).await {
                    return;
                }
            }
        }
    }

    async fn unsubscribe(&mut self, channel_id: i64) -> bool {
        match self.subs.remove(&channel_id) {
            Some(sub) => {
                let _ = sub
                    .hub
                    .send(HubCmd::Unsubscribe {
                        conn_id: self.control.id,
                    })
                    .await;
                true
            }
            None => false,
        }
    }

    async fn presence_of(&self, channel: &Channel) -> Result<Vec<parley_protocol::PresenceEntry>> {
        if !channel.presence_enabled() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "presence is not enabled in this channel",
            ));
        }
        let Some(hub) = self.state.hubs.existing(channel.record.id) else {
            return Ok(Vec::new());
        };
        let (reply, rx) = oneshot::channel();
        if hub.send(HubCmd::PresenceList { reply }).await.is_err() {
            return Ok(Vec::new());
        }
        Ok(rx.await.unwrap_or_default())
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
        self.push_frame(&ServerFrame::Error { id, error }).await;
    }

    /// Queues a frame for this connection, waiting for room (these are its own replies). False
    /// when the connection is closing.
    async fn push(&self, frame: Frame) -> bool {
        push_to(&self.out, &self.control, frame).await
    }
}

async fn push_to(out: &mpsc::Sender<Frame>, control: &ConnControl, frame: Frame) -> bool {
    tokio::select! {
        biased;
        () = control.closing.cancelled() => false,
        sent = out.send(frame) => sent.is_ok(),
    }
}

async fn push_serialized(out: &mpsc::Sender<Frame>, control: &ConnControl, frame: &ServerFrame) {
    match serde_json::to_string(frame) {
        Ok(text) => {
            push_to(out, control, Frame::from(text)).await;
        }
        Err(err) => tracing::error!(%err, "cannot serialize a frame"),
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

/// How long a closing connection waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Backlog events read from the database per query while resuming.
const BACKLOG_PAGE: u32 = 500;

struct WriterTiming {
    ping_interval: Duration,
    pong_timeout: Duration,
}

impl From<&Arc<crate::Config>> for WriterTiming {
    fn from(config: &Arc<crate::Config>) -> Self {
        Self {
            ping_interval: config.websocket.ping_interval,
            pong_timeout: config.websocket.pong_timeout,
        }
    }
}

/// Frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 256;

async fn write_loop(
    mut sink: SplitSink<WebSocket, WsMessage>,
    mut rx: mpsc::Receiver<Frame>,
    control: Arc<ConnControl>,
    timing: WriterTiming,
) {
    let mut ping =
        tokio::time::interval_at(Instant::now() + timing.ping_interval, timing.ping_interval);
    let mut pong_deadline: Option<(Instant, i64)> = None;
    // One cancellation future for the whole loop: making a new one per frame registers and
    // deregisters a waiter each time, which showed up in fan-out profiles.
    let token = control.closing.clone();
    let closing = token.cancelled();
    tokio::pin!(closing);
    // A frame taken from the queue but not written when a close came: on shutdown it is
    // delivered first, so the drain below leaves no gap.
    let mut unsent: Option<Frame> = None;
    'outer: loop {
        // Queued frames first: the close signal is checked when there is nothing to write, or
        // when the socket makes a write wait (a stuck reader is closed from there).
        tokio::select! {
            biased;
            frame = rx.recv() => {
                let Some(mut frame) = frame else { break };
                // Under constant traffic the queue never empties: look at the close signal
                // once per batch too (cheap enough here, unlike per frame).
                if token.is_cancelled() {
                    unsent = Some(frame);
                    break;
                }
                // A peer that stops reading (zero window) must not hold a write forever: a
                // batch that cannot be written within pong_timeout closes the connection.
                let stall = tokio::time::sleep(timing.pong_timeout);
                tokio::pin!(stall);
                // Write everything already queued (up to a bound), then flush once.
                let mut written = 0;
                loop {
                    // Feeding usually completes at once (it buffers); the close signal is only
                    // looked at when the socket makes us wait.
                    let fed = tokio::select! {
                        biased;
                        fed = sink.feed(frame.message()) => fed,
                        () = &mut closing => {
                            unsent = Some(frame);
                            break 'outer;
                        }
                        () = &mut stall => {
                            control.close_with(close_code::PONG_TIMEOUT, "writes stalled");
                            break 'outer;
                        }
                    };
                    if fed.is_err() {
                        control.close_with(1011, "write failed");
                        return;
                    }
                    written += 1;
                    if written >= MAX_FRAMES_PER_FLUSH {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(next) => frame = next,
                        Err(_) => break,
                    }
                }
                let flushed = tokio::select! {
                    biased;
                    flushed = sink.flush() => flushed,
                    () = &mut closing => break,
                    () = &mut stall => {
                        control.close_with(close_code::PONG_TIMEOUT, "writes stalled");
                        break;
                    }
                };
                if flushed.is_err() {
                    control.close_with(1011, "write failed");
                    return;
                }
            }
            _ = ping.tick() => {
                let sent_at = store::now_ms();
                let ping = sink.send(WsMessage::Ping(Default::default()));
                match tokio::time::timeout(timing.pong_timeout, ping).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => {
                        control.close_with(1011, "write failed");
                        return;
                    }
                    Err(_) => {
                        control.close_with(close_code::PONG_TIMEOUT, "writes stalled");
                        break;
                    }
                }
                if pong_deadline.is_none() {
                    pong_deadline = Some((Instant::now() + timing.pong_timeout, sent_at));
                }
            }
            () = &mut closing => break,
            () = async { if let Some((at, _)) = pong_deadline { tokio::time::sleep_until(at).await } }, if pong_deadline.is_some() => {
                let sent_at = pong_deadline.map_or(0, |(_, s)| s);
                // Any frame read since the ping proves the peer alive (its pong may be queued
                // behind requests it sent), and a reader busy with a long request (a big
                // backlog) cannot have read the pong yet: only silence closes.
                let heard = control.last_pong.load(Ordering::Relaxed)
                    .max(control.last_active.load(Ordering::Relaxed));
                if heard < sent_at && !control.busy.load(Ordering::Relaxed) {
                    control.close_with(close_code::PONG_TIMEOUT, "no pong within pong_timeout");
                    break;
                }
                pong_deadline = None;
            }
        }
    }
    let code = control.code.load(Ordering::Acquire);
    let reason = control.reason.get().copied().unwrap_or("");
    let finish = async {
        if code == 1001 {
            // Server shutdown: deliver everything already queued before saying goodbye.
            if let Some(frame) = unsent.take() {
                if sink.feed(frame.message()).await.is_err() {
                    return;
                }
            }
            while let Ok(frame) = rx.try_recv() {
                if sink.feed(frame.message()).await.is_err() {
                    return;
                }
            }
        }
        let close = CloseFrame {
            code: if code == 0 { 1000 } else { code },
            reason: reason.into(),
        };
        let _ = sink.send(WsMessage::Close(Some(close))).await;
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), finish).await;
}
