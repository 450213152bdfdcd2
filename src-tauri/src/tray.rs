//! The tray icon: the unread count, quick access to the window and do-not-disturb.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use parley_client::Client;

use tauri::{
    menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem},
    tray::{MouseButton, TrayIconBuilder, TrayIconEvent},
    AppHandle, Manager,
};

use crate::{state::AppState, types::AppEvent};

const TRAY_ID: &str = "parley";

/// The tray menu's do-not-disturb item, kept to show the setting's state.
struct DndItem(CheckMenuItem<tauri::Wry>);

/// The unread total the tray shows (the client's, as of the last `show_unread`).
struct UnreadTotal(AtomicU64);

pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Parley", true, None::<&str>)?;
    let dnd = CheckMenuItem::with_id(app, "dnd", "Do not disturb", true, false, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Parley", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&open, &dnd, &separator, &quit])?;
    app.manage(DndItem(dnd.clone()));
    app.manage(UnreadTotal(AtomicU64::new(0)));
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Parley")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_window(app),
            "dnd" => toggle_dnd(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn toggle_dnd(app: &AppHandle) {
    let Some(state) = app.try_state::<Arc<AppState>>() else {
        return;
    };
    let mut settings = state.settings();
    settings.do_not_disturb = !settings.do_not_disturb;
    if let Ok(saved) = crate::settings::save(&state, settings) {
        refresh(app, &state);
        state.push(AppEvent::Settings { settings: saved });
    }
}

/// Shows the client's unread total: every channel the user is a member of, except the one
/// they are looking at (its messages are read as they come).
pub fn show_unread(app: &AppHandle, state: &AppState, client: &Client) {
    let total: u64 = {
        let attention = state.attention.lock();
        client
            .read_states()
            .iter()
            .filter(|read| {
                attention
                    .as_ref()
                    .map_or(true, |a| !a.looking_at(&read.channel))
            })
            .map(|read| read.unread)
            .sum()
    };
    if let Some(shown) = app.try_state::<UnreadTotal>() {
        shown.0.store(total, Ordering::Relaxed);
    }
    refresh(app, state);
}

/// Shows the unread total and the do-not-disturb state.
pub fn refresh(app: &AppHandle, state: &AppState) {
    let total = app
        .try_state::<UnreadTotal>()
        .map_or(0, |shown| shown.0.load(Ordering::Relaxed));
    let dnd = state.settings().do_not_disturb;
    if let Some(item) = app.try_state::<DndItem>() {
        let _ = item.0.set_checked(dnd);
    }
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let label = if total == 0 {
        None
    } else if total > 99 {
        Some("99+".to_owned())
    } else {
        Some(total.to_string())
    };
    let _ = tray.set_title(label.as_deref());
    let tooltip = match (total, dnd) {
        (0, false) => "Parley".to_owned(),
        (0, true) => "Parley (do not disturb)".to_owned(),
        (n, false) => format!("Parley: {n} unread"),
        (n, true) => format!("Parley: {n} unread (do not disturb)"),
    };
    let _ = tray.set_tooltip(Some(tooltip));
}
