//! The status the user chose (away or do not disturb, an optional text, an optional expiry):
//! kept in the settings, so it survives restarts; applied with `set_status` to every
//! connection the client makes (the server holds a status per connection); cleared when it
//! expires, on time while the app runs and at the next connection otherwise.

use std::sync::Arc;

use parley_client::Client;
use parley_protocol::rpc;

use crate::{
    state::AppState,
    types::{AppEvent, MyStatus},
};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The status in force now: the chosen one unless it expired (then none, and the settings
/// forget it).
fn current(state: &AppState) -> Option<MyStatus> {
    let settings = state.settings();
    let status = settings.status.clone()?;
    if status.until.is_some_and(|until| until <= now_ms()) {
        clear_if(state, &status);
        return None;
    }
    Some(status)
}

/// Forgets `expired` if it is still the chosen status, and tells the UI.
fn clear_if(state: &AppState, expired: &MyStatus) {
    let mut settings = state.settings();
    if settings.status.as_ref() != Some(expired) {
        return;
    }
    settings.status = None;
    match crate::settings::save(state, settings) {
        Ok(saved) => state.push(AppEvent::Settings { settings: saved }),
        Err(err) => tracing::warn!(code = %err.code, "cannot clear an expired status"),
    }
}

/// Tells the server the status in force (active when none) on the client's connection, and
/// arranges for an expiry to clear it.
pub async fn apply(state: &Arc<AppState>, client: &Client) {
    let status = current(state);
    let (name, text) = match &status {
        Some(s) => (
            s.status.clone(),
            s.text.clone().filter(|t| !t.trim().is_empty()),
        ),
        None => ("online".to_owned(), None),
    };
    if let Err(err) = client.request(rpc::SetStatus { status: name, text }).await {
        // Offline: the next connection applies it.
        tracing::debug!(%err, "status not applied now");
    }
    if let Some(status) = status {
        expire_later(Arc::clone(state), client.clone(), status);
    }
}

/// When `status` has an expiry: clears it then (if it is still the chosen one) and tells the
/// server the user is active again.
fn expire_later(state: Arc<AppState>, client: Client, status: MyStatus) {
    let Some(until) = status.until else {
        return;
    };
    tauri::async_runtime::spawn(async move {
        let wait = (until - now_ms()).max(0) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        if state.settings().status.as_ref() == Some(&status) {
            clear_if(&state, &status);
            apply(&state, &client).await;
        }
    });
}
