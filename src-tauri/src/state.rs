//! What the app holds while it runs: the workspace it is attached to, the signed-in client,
//! the UI's push channel, settings, which channel is on screen, open document replicas and the
//! hosted server.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use parley_client::Client;
use parley_protocol::UserRef;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;

pub use crate::activity::Attention;
use crate::{
    hosted::HostedServer,
    types::{AppEvent, KeyringState, Settings, Workspace},
};

/// `workspace.json` in the app's config directory: where to connect and as whom. Never the
/// token (that is in the OS keyring, or in memory only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkspaceFile {
    pub server: String,
    pub hosted: bool,
    /// The hosted server's port (kept so the cache and other devices keep finding it).
    #[serde(default)]
    pub port: Option<u16>,
    /// Signed in as (None after signing out).
    #[serde(default)]
    pub user: Option<UserRef>,
    /// Hosted: open to the local network (TLS on all interfaces) rather than loopback only.
    #[serde(default)]
    pub lan: bool,
    /// The server's pinned certificate: the hosted one's, or the one an invite link named.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

impl WorkspaceFile {
    pub fn workspace(&self) -> Workspace {
        Workspace {
            server: self.server.clone(),
            hosted: self.hosted,
        }
    }
}

#[derive(Default)]
pub struct Session {
    pub workspace: Option<WorkspaceFile>,
    pub client: Option<Client>,
    /// Forwards the client's events to the UI, notifications and the tray.
    pub forwarder: Option<tokio::task::JoinHandle<()>>,
}

pub struct Paths {
    pub config: PathBuf,
    pub data: PathBuf,
}

impl Paths {
    pub fn workspace_file(&self) -> PathBuf {
        self.config.join("workspace.json")
    }

    pub fn settings_file(&self) -> PathBuf {
        self.config.join("settings.json")
    }

    pub fn server_data(&self) -> PathBuf {
        self.data.join("server")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.data.join("cache")
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.data.join("uploads")
    }
}

pub struct AppState {
    pub paths: Paths,
    pub session: tokio::sync::Mutex<Session>,
    pub keyring: Mutex<KeyringState>,
    pub ui: Mutex<Option<Channel<AppEvent>>>,
    pub settings: Mutex<Settings>,
    pub attention: Mutex<Attention>,
    pub host: tokio::sync::Mutex<Option<HostedServer>>,
    pub docs: tokio::sync::Mutex<HashMap<String, crate::doc_bridge::OpenDoc>>,
    /// Notifications waiting for a click (bounded).
    pub pending_notifications: Arc<std::sync::atomic::AtomicUsize>,
    /// True once the launch-time restore (hosted server, keyring sign-in) is done.
    pub restored: tokio::sync::watch::Sender<bool>,
    /// Files dropped on the window: the only paths `upload_path` reads.
    pub chosen: Mutex<crate::chosen::ChosenPaths>,
    /// A tray icon is shown and the desktop has a tray host to show it (`stay`).
    pub tray: std::sync::atomic::AtomicBool,
}

impl AppState {
    pub fn new(paths: Paths, settings: Settings) -> Self {
        Self {
            paths,
            session: tokio::sync::Mutex::new(Session::default()),
            keyring: Mutex::new(KeyringState::Available),
            ui: Mutex::new(None),
            settings: Mutex::new(settings),
            attention: Mutex::new(Attention::default()),
            host: tokio::sync::Mutex::new(None),
            docs: tokio::sync::Mutex::new(HashMap::new()),
            pending_notifications: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            restored: tokio::sync::watch::channel(false).0,
            chosen: Mutex::new(crate::chosen::ChosenPaths::default()),
            tray: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Pushes to the UI (dropped when no UI listens yet: it reads the state when it starts).
    pub fn push(&self, event: AppEvent) {
        let channel = self.ui.lock().ok().and_then(|c| c.clone());
        if let Some(channel) = channel {
            let _ = channel.send(event);
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn keyring_state(&self) -> KeyringState {
        self.keyring
            .lock()
            .map(|k| k.clone())
            .unwrap_or(KeyringState::Available)
    }

    pub async fn client(&self) -> Result<Client, crate::types::AppError> {
        self.session
            .lock()
            .await
            .client
            .clone()
            .ok_or_else(crate::types::AppError::not_signed_in)
    }
}
