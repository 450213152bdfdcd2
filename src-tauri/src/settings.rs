//! The user's settings (notifications, do-not-disturb, per-channel notifications, theme, status):
//! `settings.json` in the app's config directory.

use crate::{
    error::CmdResult,
    state::AppState,
    types::{AppError, MyStatus, Settings},
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
        check_status(status)?;
    }
    let path = state.paths.settings_file();
    if let Some(dir) = path.parent() {
        parley_client::files::private_dir(dir).map_err(AppError::internal)?;
    }
    let json = serde_json::to_string_pretty(&settings).map_err(AppError::internal)?;
    // In effect before the file says so (what reads the file sees settings already applied);
    // put back when the file cannot be written.
    let before = state
        .settings
        .lock()
        .map(|mut current| std::mem::replace(&mut *current, settings.clone()))
        .ok();
    if let Err(err) = std::fs::write(&path, json) {
        if let (Some(before), Ok(mut current)) = (before, state.settings.lock()) {
            *current = before;
        }
        return Err(AppError::new("storage", err.to_string()));
    }
    Ok(settings)
}

/// The server's limit on a status text, in characters.
const MAX_TEXT: usize = 140;

/// A status the server will take.
pub fn check_status(status: &MyStatus) -> CmdResult<()> {
    if !matches!(status.status.as_str(), "away" | "dnd") {
        return Err(AppError::invalid(
            "a status is away or dnd (no status: active)",
        ));
    }
    if let Some(text) = &status.text {
        if text.chars().count() > MAX_TEXT {
            return Err(AppError::invalid(format!(
                "a status text has at most {MAX_TEXT} characters"
            )));
        }
        if text.chars().any(char::is_control) {
            return Err(AppError::invalid("a status text is one line"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn status(s: &str, text: Option<&str>) -> MyStatus {
        MyStatus {
            status: s.into(),
            text: text.map(str::to_owned),
            until: None,
        }
    }

    #[test]
    fn only_what_the_server_takes_passes() {
        assert!(check_status(&status("away", Some("lunch"))).is_ok());
        assert!(check_status(&status("dnd", None)).is_ok());
        assert!(check_status(&status("online", None)).is_err());
        assert!(check_status(&status("busy", None)).is_err());
        assert!(check_status(&status("away", Some(&"é".repeat(140)))).is_ok());
        let long = check_status(&status("away", Some(&"é".repeat(141)))).unwrap_err();
        assert!(long.message.contains("140"), "{}", long.message);
        assert!(check_status(&status("away", Some("two\nlines"))).is_err());
    }
}
