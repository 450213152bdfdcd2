//! The types the UI sees: command results and pushes. TypeScript declarations for all of them
//! (and the protocol and client types they contain) are generated into `ui/src/lib/bindings.ts`
//! by the `bindings` test, which also fails when the checked-in file is stale.

use std::collections::BTreeMap;

use parley_client::{ClientEvent, ConnectionState};
use parley_protocol::{ChannelInfo, Message, ThreadSummary, UserRef};
use serde::{Deserialize, Serialize};

#[cfg(test)]
use ts_rs::TS;

/// A refused command. `code` is stable: the server's error codes (`invalid_credentials`,
/// `channel_not_found`, `invalid_emoji`, `attachment_too_large`, ...) plus the app's own
/// (`no_workspace`, `not_signed_in`, `offline`, `timeout`, `server_unreachable`,
/// `host_failed`, `name_taken`, `invalid`, `invalid_doc_name`, `invalid_comment`,
/// `doc_not_open`, `update_too_large`, `storage`, `internal`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(TS))]
pub struct AppError {
    pub code: String,
    pub message: String,
}

/// The workspace this app is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(TS))]
pub struct Workspace {
    /// `http://host:port`.
    pub server: String,
    /// True when this computer hosts it (the bundled server, started by the app).
    pub hosted: bool,
}

/// Where the OS keyring stands: the session token lives there, never in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyringState {
    /// Tokens are stored in the keyring; the next launch signs in by itself.
    Available,
    /// No keyring service answered: the session is kept in memory only (sign in again next
    /// launch). `reason` says what failed.
    Unavailable { reason: String },
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SessionStatus {
    pub workspace: Option<Workspace>,
    /// Signed in as (None: show sign in / register).
    pub user: Option<UserRef>,
    pub keyring: KeyringState,
    /// The connection, when signed in.
    pub connection: Option<ConnectionState>,
}

/// A channel in the sidebar.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ChannelView {
    pub info: ChannelInfo,
    /// Direct message: the other people's names (empty for channels).
    pub dm_with: Vec<String>,
    pub last_read: u64,
    pub unread: u64,
    pub mentions: u64,
    /// Muted until (Unix ms); `i64::MAX` means until unmuted.
    pub muted_until: Option<i64>,
}

/// Where a thread lives: its root message's channel and id.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ThreadPlace {
    pub channel: String,
    pub message_id: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ThreadOpened {
    /// The thread's channel (`thread#<root id>`): history, send and subscribe work on it.
    pub channel: String,
    pub root: Message,
    pub thread: ThreadSummary,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SearchResults {
    /// From the local cache (instant, offline too).
    pub local: Vec<parley_client::SearchHit>,
    /// From the server (what the cache does not hold); empty when offline.
    pub server: Vec<parley_protocol::SearchHit>,
    /// Why the server part is missing, if it is.
    pub server_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct UploadProgress {
    pub sent: u64,
    pub total: u64,
}

/// Pushed on the channel given to `subscribe_events`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppEvent {
    /// Something the client core saw (messages, outbox changes, presence, typing, ...).
    Client { event: ClientEvent },
    /// Signed in or out, workspace changed, keyring state.
    Session { status: SessionStatus },
    /// News in a channel whose messages are not on screen (sent instead of each message, a
    /// moment after they came, or a mention in it): its newest seq and the client's unread and
    /// mention counts now.
    Activity {
        channel: String,
        head: u64,
        unread: u64,
        mentions: u64,
    },
    /// Show this channel (a notification was clicked).
    Navigate {
        channel: String,
        /// A document to open instead (a comment mention's notification).
        #[serde(default)]
        doc: Option<String>,
    },
    /// Settings changed outside the UI (the tray's do-not-disturb).
    Settings { settings: Settings },
    /// The hosted server stopped, is restarting, runs again, or was given up on.
    Host { state: HostState },
}

/// Pushed on the channel given to `open_doc`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DocPush {
    /// A Yjs update from someone else (apply with `Y.applyUpdate`).
    Update { update: Vec<u8> },
    /// Awareness of other clients (apply with y-protocols `applyAwarenessUpdate`).
    Awareness { update: Vec<u8> },
    /// The replica's sync connection came up or went down.
    Connected { connected: bool },
    /// The document was renamed: the replica follows it (by id) under `name`.
    Renamed { name: String },
    /// The replica stopped for good: the document was deleted (its local copy is gone) or
    /// access to it was lost. The editor stops sending.
    Gone {
        reason: parley_client::docs::DocGone,
    },
}

/// The user's preferences, kept in the app's config directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(TS))]
#[serde(default)]
pub struct Settings {
    /// Native notifications at all.
    pub notifications: bool,
    /// Do not disturb: no notifications until turned off.
    pub do_not_disturb: bool,
    /// Per channel: `false` turns its notifications off (mentions included). Muting for a
    /// time is the server's `mute`, shared by all of the user's devices.
    pub channel_notifications: BTreeMap<String, bool>,
    /// `system` (follow the OS), `light` or `dark`.
    pub theme: String,
    /// The status this user set (away, do not disturb, a text): applied to every connection
    /// until changed or until it expires. None: active.
    pub status: Option<MyStatus>,
    /// Closing the window hides it to the tray (when the desktop shows one) instead of
    /// quitting, so notifications keep coming.
    pub close_to_tray: bool,
    /// Start Parley (hidden in the tray) when the user logs in: an XDG autostart entry.
    pub start_at_login: bool,
}

/// What this desktop offers the app (for the settings to say what applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct DesktopInfo {
    /// A tray shows Parley's icon: closing the window can hide it there.
    pub tray: bool,
    /// Where the autostart entry is written (None: no configuration directory).
    pub autostart_file: Option<String>,
}

/// A status the user chose, with an optional text and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(TS))]
pub struct MyStatus {
    /// `away` or `dnd`.
    pub status: String,
    /// At most 140 characters (the server's limit).
    pub text: Option<String>,
    /// Cleared at this instant (Unix ms); None: until changed.
    pub until: Option<i64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            notifications: true,
            do_not_disturb: false,
            channel_notifications: BTreeMap::new(),
            theme: "system".into(),
            status: None,
            close_to_tray: true,
            start_at_login: false,
        }
    }
}

/// How the hosted server is doing, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(test, derive(TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostState {
    /// Serving; `restarts` times restarted since the app started it, the last time because of
    /// `last_exit`.
    Running {
        restarts: u32,
        last_exit: Option<String>,
    },
    /// It stopped unexpectedly; the next start is in `retry_in_ms`.
    Restarting {
        reason: String,
        attempt: u32,
        retry_in_ms: u64,
    },
    /// It stopped too often: not restarted again until the person asks.
    Failed { reason: String },
}
