//! The commands the UI invokes, grouped by domain. Each is async and thin: it checks its
//! input, calls parley-client (the app's only road to the server: WebSocket and HTTP alike)
//! and maps errors to `AppError` with a stable code.

pub mod chat;
pub mod docs;
pub mod people;
pub mod session;
pub mod settings;

use std::sync::Arc;

use tauri::State;

pub type AppRef<'a> = State<'a, Arc<crate::state::AppState>>;
