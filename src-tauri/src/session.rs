//! Attaching to a workspace and signing in: the workspace file, the keyring, the client core,
//! and forwarding the client's events to the UI, notifications and the tray.

use std::{sync::Arc, time::Duration};

use parley_client::{credentials::keyring_only, Client, ClientConfig, ClientEvent, HttpApi};
use parley_protocol::{api, UserRef};
use sha2::{Digest, Sha256};
use tauri::{AppHandle, Manager};

use crate::{
    activity::Route,
    error::CmdResult,
    notify,
    state::{AppState, WorkspaceFile},
    types::{AppError, AppEvent, KeyringState, SessionStatus},
};

pub async fn status(state: &AppState) -> SessionStatus {
    let session = state.session.lock().await;
    let workspace = session.workspace.as_ref();
    SessionStatus {
        workspace: workspace.map(WorkspaceFile::workspace),
        user: session
            .client
            .as_ref()
            .and(workspace.and_then(|w| w.user.clone())),
        keyring: state.keyring_state(),
        connection: session.client.as_ref().map(Client::state),
    }
}

pub async fn push_status(state: &AppState) {
    let status = status(state).await;
    state.push(AppEvent::Session { status });
}

pub fn save_workspace(state: &AppState, file: &WorkspaceFile) -> CmdResult<()> {
    let path = state.paths.workspace_file();
    if let Some(dir) = path.parent() {
        parley_client::files::private_dir(dir).map_err(AppError::internal)?;
    }
    let json = serde_json::to_string_pretty(file).map_err(AppError::internal)?;
    std::fs::write(&path, json).map_err(|e| AppError::new("storage", e.to_string()))
}

pub fn load_workspace(state: &AppState) -> Option<WorkspaceFile> {
    let text = std::fs::read_to_string(state.paths.workspace_file()).ok()?;
    serde_json::from_str(&text).ok()
}

/// `http://host:port` from what a person typed (`host:port`, a trailing slash...).
pub fn normalize_server(input: &str) -> CmdResult<String> {
    let trimmed = input.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(AppError::invalid("enter the server's address"));
    }
    let url = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| AppError::invalid("the address must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains('/') {
        return Err(AppError::invalid(format!(
            "{input:?} is not a server address"
        )));
    }
    Ok(url)
}

/// Checks that a Parley server answers there (`/healthz`).
pub async fn check_server(server: &str) -> CmdResult<()> {
    HttpApi::new(server)?
        .health()
        .await
        .map(drop)
        .map_err(unreachable_as_such)
}

/// How one signs in to a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Login,
    Register,
}

/// Signs in (or registers): the token and the user.
pub async fn authenticate(
    server: &str,
    how: SignIn,
    username: &str,
    password: &str,
) -> CmdResult<(String, UserRef)> {
    if username.trim().is_empty() || password.is_empty() {
        return Err(AppError::invalid("enter a user name and a password"));
    }
    let credentials = api::Credentials {
        name: username.trim().to_owned(),
        password: password.to_owned(),
        display_name: None,
        device: Some("parley-app".into()),
        invite: None,
    };
    let api = HttpApi::new(server)?;
    let session = match how {
        SignIn::Login => api.login(&credentials).await,
        SignIn::Register => api.register(&credentials).await,
    }
    .map_err(unreachable_as_such)?;
    Ok((session.token, session.user))
}

/// Registers with an invite code: a token and the new user.
pub async fn authenticate_with_invite(
    server: &str,
    username: &str,
    password: &str,
    code: &str,
) -> CmdResult<(String, UserRef)> {
    let credentials = api::Credentials {
        name: username.to_owned(),
        password: password.to_owned(),
        display_name: None,
        device: Some("parley-app".into()),
        invite: Some(code.to_owned()),
    };
    let session = HttpApi::new(server)?
        .register(&credentials)
        .await
        .map_err(unreachable_as_such)?;
    Ok((session.token, session.user))
}

/// A server that cannot be reached, said so (`server_unreachable`) on the first-run screens.
fn unreachable_as_such(err: parley_client::Error) -> AppError {
    match err {
        parley_client::Error::Unreachable(message) => AppError::new("server_unreachable", message),
        err => err.into(),
    }
}

fn cache_path(state: &AppState, server: &str, user: &str) -> std::path::PathBuf {
    let digest = Sha256::digest(format!("{server}\n{user}").as_bytes());
    state
        .paths
        .cache_dir()
        .join(format!("{}.sqlite", &hex::encode(digest)[..16]))
}

/// Keeps the token in the keyring; when no keyring service answers, keeps it in memory only
/// and says so (never a file).
pub fn remember_token(state: &AppState, server: &str, user: &str, token: &str) {
    let result = if std::env::var_os("PARLEY_NO_KEYRING").is_some() {
        Err("the keyring is turned off (PARLEY_NO_KEYRING)".to_owned())
    } else {
        keyring_only::save(server, user, token)
    };
    let new = match result {
        Ok(()) => KeyringState::Available,
        Err(reason) => {
            tracing::warn!(%reason, "no keyring: the session stays in memory only");
            KeyringState::Unavailable { reason }
        }
    };
    if let Ok(mut k) = state.keyring.lock() {
        *k = new;
    }
}

pub fn stored_token(state: &AppState, server: &str, user: &str) -> Option<String> {
    if std::env::var_os("PARLEY_NO_KEYRING").is_some() {
        if let Ok(mut k) = state.keyring.lock() {
            *k = KeyringState::Unavailable {
                reason: "the keyring is turned off (PARLEY_NO_KEYRING)".into(),
            };
        }
        return None;
    }
    match keyring_only::load(server, user) {
        Ok(token) => token,
        Err(reason) => {
            if let Ok(mut k) = state.keyring.lock() {
                *k = KeyringState::Unavailable { reason };
            }
            None
        }
    }
}

/// SQLite's page cache for the app's local cache: 2 MiB (the client's default is 8). The UI
/// reads a page of 50 messages at a time and the OS page cache holds the database file, so
/// a bigger cache buys the app nothing but resident memory after a large sync.
pub const CACHE_MEMORY_KIB: u32 = 2 * 1024;

/// Starts the client core for a signed-in user and wires its events.
pub async fn start_client(
    app: &AppHandle,
    state: &Arc<AppState>,
    server: &str,
    token: &str,
    user: &UserRef,
) -> CmdResult<()> {
    parley_client::files::private_dir(&state.paths.cache_dir()).map_err(AppError::internal)?;
    let mut config = ClientConfig::new(server, token, cache_path(state, server, &user.name));
    config.cache_memory_kib = CACHE_MEMORY_KIB;
    let client = Client::start(config)?;
    if let Ok(mut attention) = state.attention.lock() {
        attention.reset();
    }
    let forwarder = tokio::spawn(forward(
        app.clone(),
        Arc::clone(state),
        client.clone(),
        user.name.clone(),
    ));
    {
        let mut session = state.session.lock().await;
        if let Some(old) = session.client.take() {
            old.shutdown();
        }
        if let Some(old) = session.forwarder.take() {
            old.abort();
        }
        session.client = Some(client.clone());
        session.forwarder = Some(forwarder);
    }
    // The first connection attempt's outcome (up to 5 s): the status the command returns is
    // then not older than the connection events the UI has already received.
    let mut changes = client.state_changes();
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        changes.wait_for(|s| !matches!(s, parley_client::ConnectionState::Connecting { .. })),
    )
    .await;
    // Mentions and read positions arrive on the personal channel; follow it and every
    // channel the user is in, so messages arrive (and notify) wherever the UI is.
    let follow = client.clone();
    let follow_state = Arc::clone(state);
    tokio::spawn(async move {
        let _ = follow.subscribe("@me").await;
        if follow.wait_online(Duration::from_secs(30)).await.is_ok() {
            let _ = crate::sidebar::refresh_channels(&follow_state, &follow).await;
        }
    });
    Ok(())
}

/// How long news of channels not on screen is gathered before the UI gets their summary.
const ACTIVITY_EVERY: Duration = Duration::from_millis(250);

/// The client's events: to the UI, to notifications, to the tray's unread count.
async fn forward(app: AppHandle, state: Arc<AppState>, client: Client, me: String) {
    let mut events = client.events();
    // What happened before this receiver existed (the first connection is quick) is state,
    // not history: send the current connection state once.
    state.push(AppEvent::Client {
        event: ClientEvent::Connection {
            state: client.state(),
        },
    });
    // When the gathered channel summaries go out (None: nothing gathered).
    let mut flush_at: Option<tokio::time::Instant> = None;
    loop {
        let received = match flush_at {
            Some(at) => tokio::select! {
                received = events.recv() => Some(received),
                () = tokio::time::sleep_until(at) => None,
            },
            None => Some(events.recv().await),
        };
        let Some(received) = received else {
            flush_at = None;
            push_activity(&app, &state, &client);
            continue;
        };
        let event = match received {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                // The UI re-reads the session; what it shows of the missed events is brought
                // back by its next channel or history load.
                tracing::warn!(n, "the UI fell behind the client's events");
                push_status(&state).await;
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        match &event {
            ClientEvent::Connection { state: conn } => {
                if matches!(conn, parley_client::ConnectionState::Online { .. }) {
                    let again = client.clone();
                    let st = Arc::clone(&state);
                    tokio::spawn(async move {
                        // The server holds a status per connection: this one gets the user's.
                        crate::status::apply(&st, &again).await;
                        let _ = crate::sidebar::refresh_channels(&st, &again).await;
                    });
                }
            }
            // The client keeps read state; the tray shows its new total.
            ClientEvent::Read { .. } => crate::tray::show_unread(&app, &state, &client),
            _ => {}
        }
        let route = state
            .attention
            .lock()
            .map(|mut a| a.route(&event))
            .unwrap_or(Route::Push);
        if let Some(notice) = notice_for(&state, &client, &event, &me) {
            match &event {
                ClientEvent::CommentMention {
                    doc, comment_id, ..
                } => show_with_comment(&app, &state, &client, notice, doc, *comment_id),
                _ => notify::show(&app, &state, notice),
            }
        }
        if matches!(
            event,
            ClientEvent::Message { .. } | ClientEvent::Mention { .. }
        ) {
            // Summaries and the tray's count follow a moment later (once for a whole burst).
            flush_at.get_or_insert_with(|| tokio::time::Instant::now() + ACTIVITY_EVERY);
        }
        if route == Route::Push {
            state.push(AppEvent::Client { event });
        }
    }
}

/// A comment mention's notice shows the comment's text, read from the document (with the
/// document's access rules) when the notice is shown; without it if that fails or takes long.
fn show_with_comment(
    app: &AppHandle,
    state: &Arc<AppState>,
    client: &Client,
    mut notice: notify::Notice,
    doc: &str,
    comment_id: i64,
) {
    let (app, state, client, doc) = (
        app.clone(),
        Arc::clone(state),
        client.clone(),
        doc.to_owned(),
    );
    tokio::spawn(async move {
        let read = tokio::time::timeout(Duration::from_secs(5), client.comments(&doc)).await;
        if let Ok(Ok(comments)) = read {
            match comments.iter().find(|c| c.id == comment_id) {
                Some(comment) => notice.body = notify::excerpt(&comment.body),
                None => return, // deleted since: nothing to tell
            }
        }
        notify::show(&app, &state, notice);
    });
}

/// The notification an event deserves, if any.
fn notice_for(
    state: &AppState,
    client: &Client,
    event: &ClientEvent,
    me: &str,
) -> Option<notify::Notice> {
    let settings = state.settings();
    let attention = state.attention.lock().ok()?;
    let now = now_ms();
    let muted = |channel: &str| {
        client
            .read_state(channel)
            .and_then(|read| read.muted_until)
            .is_some_and(|until| until > now)
    };
    notify::decide(
        event,
        &notify::Context {
            me,
            settings: &settings,
            window_focused: attention.window_focused,
            open_channel: attention.open_channel.as_deref(),
            muted: &muted,
            now_ms: now,
        },
    )
}

/// Sends the gathered summaries of channels not on screen (with the client's unread counts),
/// and the tray's new total.
fn push_activity(app: &AppHandle, state: &AppState, client: &Client) {
    let activity = state
        .attention
        .lock()
        .map(|mut a| a.take_activity())
        .unwrap_or_default();
    for a in activity {
        let read = client.read_state(&a.channel);
        state.push(AppEvent::Activity {
            channel: a.channel,
            head: a.head,
            unread: read.as_ref().map_or(0, |r| r.unread),
            mentions: read.as_ref().map_or(0, |r| r.mentions),
        });
    }
    crate::tray::show_unread(app, state, client);
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Stops the client (the cache stays) and closes open documents.
pub async fn stop_client(state: &AppState) {
    state.docs.lock().await.clear();
    let mut session = state.session.lock().await;
    if let Some(client) = session.client.take() {
        client.shutdown();
    }
    if let Some(forwarder) = session.forwarder.take() {
        forwarder.abort();
    }
}

/// At launch: start the hosted server if this computer hosts the workspace, and sign in with
/// the keyring's token.
pub async fn restore(app: AppHandle) {
    let state: Arc<AppState> = app.state::<Arc<AppState>>().inner().clone();
    let Some(mut file) = load_workspace(&state) else {
        state.restored.send_replace(true);
        return;
    };
    if file.hosted {
        match start_hosted(&state, &mut file).await {
            Ok(()) => {
                let _ = save_workspace(&state, &file);
            }
            Err(err) => tracing::error!(?err, "cannot start the hosted workspace"),
        }
    }
    if let (false, Some(fingerprint)) = (file.hosted, &file.fingerprint) {
        // Joined with an invite link: its certificate is trusted by its pinned fingerprint.
        if let Err(err) = parley_client::tls::pin(&file.server, fingerprint) {
            tracing::error!(?err, "cannot pin the workspace's certificate");
        }
    }
    let user = file.user.clone();
    let server = file.server.clone();
    state.session.lock().await.workspace = Some(file);
    if let Some(user) = user {
        match stored_token(&state, &server, &user.name) {
            Some(token) => {
                if let Err(err) = start_client(&app, &state, &server, &token, &user).await {
                    tracing::error!(?err, "cannot start the client");
                }
            }
            None => {
                // Nothing in the keyring (or no keyring): sign in again.
                if let Some(w) = state.session.lock().await.workspace.as_mut() {
                    w.user = None;
                }
            }
        }
    }
    state.restored.send_replace(true);
    push_status(&state).await;
}

/// Starts the hosted server of `file` (on its port, or a new one if that is taken), open to
/// the LAN when `file.lan`; its state changes reach the UI as [`AppEvent::Host`].
pub async fn start_hosted(state: &Arc<AppState>, file: &mut WorkspaceFile) -> CmdResult<()> {
    let mut host = state.host.lock().await;
    if host.is_some() {
        return Ok(());
    }
    // A server of an earlier run still on this data holds the workspace's port: stop it first.
    crate::host::stop_stale_servers(&state.paths.server_data()).await;
    let any = if file.lan {
        std::net::Ipv4Addr::UNSPECIFIED
    } else {
        std::net::Ipv4Addr::LOCALHOST
    };
    let port = match file.port {
        Some(port) if std::net::TcpListener::bind((any, port)).is_ok() => port,
        _ => crate::host::free_port()?,
    };
    let weak = Arc::downgrade(state);
    let on_state: crate::hosted::OnHostState = Arc::new(move |host_state| {
        if let Some(state) = weak.upgrade() {
            state.push(AppEvent::Host { state: host_state });
        }
    });
    let server =
        crate::hosted::HostedServer::start(&state.paths.server_data(), port, file.lan, on_state)
            .await?;
    file.port = Some(port);
    file.server = server.url();
    file.fingerprint = server.fingerprint();
    *host = Some(server);
    Ok(())
}

/// Stops the hosted server, if this app runs one.
pub async fn stop_hosted(state: &AppState) {
    if let Some(server) = state.host.lock().await.take() {
        server.stop().await;
    }
}
