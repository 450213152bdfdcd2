//! The user's settings (notifications, do-not-disturb, per-channel notifications, theme):
//! `settings.json` in the app's config directory.

use crate::{
    error::CmdResult,
    state::AppState,
    types::{AppError, Settings},
};

/// The settings saved in `path` (the defaults when there are none, or they cannot be read).
pub fn load(path: &std::path::Path) -> Settings {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Checks and saves `settings`, and makes them the app's (the caller refreshes the tray).
pub fn save(state: &AppState, settings: Settings) -> CmdResult<Settings> {
    if !matches!(settings.theme.as_str(), "system" | "light" | "dark") {
        return Err(AppError::invalid("theme is system, light or dark"));
    }
    if let Some(status) = &settings.status {
        crate::status::check(status)?;
    }
    let path = state.paths.settings_file();
    if let Some(dir) = path.parent() {
        parley_client::files::private_dir(dir).map_err(AppError::internal)?;
    }
    let json = serde_json::to_string_pretty(&settings).map_err(AppError::internal)?;
    std::fs::write(&path, json).map_err(|e| AppError::new("storage", e.to_string()))?;
    if let Ok(mut current) = state.settings.lock() {
        *current = settings.clone();
    }
    Ok(settings)
}
