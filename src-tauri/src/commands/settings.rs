//! Settings commands: notifications, do-not-disturb, per-channel notifications, theme,
//! closing to the tray and starting at login, and the user's status.

use super::AppRef;
use crate::{
    error::CmdResult,
    types::{AppEvent, DesktopInfo, MyStatus, Settings},
};

#[tauri::command]
pub async fn get_settings(state: AppRef<'_>) -> CmdResult<Settings> {
    Ok(state.settings())
}

#[tauri::command]
pub async fn set_settings(
    app: tauri::AppHandle,
    state: AppRef<'_>,
    settings: Settings,
) -> CmdResult<Settings> {
    // The autostart entry first: when it cannot be written, the setting stays as it was.
    if settings.start_at_login != state.settings().start_at_login
        || settings.start_at_login != crate::stay::autostart_enabled()
    {
        crate::stay::set_autostart(settings.start_at_login)?;
    }
    let saved = crate::settings::save(&state, settings)?;
    crate::tray::refresh(&app, &state);
    state.push(AppEvent::Settings {
        settings: saved.clone(),
    });
    Ok(saved)
}

/// What this desktop offers: a tray (closing the window hides it there) and where the
/// autostart entry goes.
#[tauri::command]
pub async fn desktop_info(state: AppRef<'_>) -> CmdResult<DesktopInfo> {
    Ok(DesktopInfo {
        tray: state.tray.load(std::sync::atomic::Ordering::Relaxed),
        autostart_file: crate::stay::autostart_file().map(|f| f.display().to_string()),
    })
}

/// Sets this user's status: `online` (active: none), `away` or `dnd`, with an optional text
/// and expiry (Unix ms). Kept in the settings and applied to the server now when connected,
/// and on every later connection until it is changed or expires.
#[tauri::command]
pub async fn set_my_status(
    state: AppRef<'_>,
    status: String,
    text: Option<String>,
    until: Option<i64>,
) -> CmdResult<Settings> {
    let mut settings = state.settings();
    settings.status = match status.as_str() {
        "online" => None,
        _ => Some(MyStatus {
            status,
            text: text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
            until,
        }),
    };
    let saved = crate::settings::save(&state, settings)?;
    state.push(AppEvent::Settings {
        settings: saved.clone(),
    });
    if let Ok(client) = state.client().await {
        crate::status::apply(state.inner(), &client).await;
    }
    Ok(saved)
}
