//! parley-app: Parley's desktop app, a thin Tauri shell over parley-client. The UI (ui/,
//! Svelte) never talks to the server: it invokes the commands in [`commands`] and receives
//! pushes on typed channels. Around them: native notifications ([`notify`]), the token in the
//! OS keyring ([`session`]), the tray ([`tray`]) and hosting a workspace with the bundled
//! server ([`host`]).

pub mod activity;
pub mod chosen;
pub mod commands;
pub mod doc_bridge;
mod engine;
mod error;
pub mod host;
pub mod hosted;
pub mod lan;
pub mod notify;
pub mod session;
pub mod settings;
pub mod sidebar;
pub mod state;
pub mod status;
pub mod stay;
mod tray;
pub mod types;

use std::sync::Arc;

use tauri::{Manager, RunEvent, WindowEvent};

use crate::state::{AppState, Paths};

/// Runs the app (the binary's `main`).
pub fn run() {
    engine::configure_before_start();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARLEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,parley_app=info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let app = match build(tauri::Builder::default()) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("Parley cannot start: {err}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            // Stop the hosted server cleanly (it flushes documents and closes its store).
            let state = app.state::<Arc<AppState>>().inner().clone();
            tauri::async_runtime::block_on(async move {
                session::stop_client(&state).await;
                session::stop_hosted(&state).await;
            });
        }
    });
}

/// SIGTERM (a logout or shutdown ends the session's programs so) and SIGINT quit the app the
/// way closing its window does: the exit handler stops the client and the hosted server
/// cleanly before the process ends, instead of leaving the server running on its own.
async fn quit_on_signal(app: tauri::AppHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot watch for SIGTERM and SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: quitting"),
            _ = int.recv() => tracing::info!("SIGINT: quitting"),
        }
        app.exit(0);
    }
    #[cfg(not(unix))]
    drop(app);
}

/// Closing the window hides it: the setting is on and a tray shows Parley.
fn hides_to_tray(app: &tauri::AppHandle) -> bool {
    app.try_state::<Arc<AppState>>().is_some_and(|state| {
        state.tray.load(std::sync::atomic::Ordering::Relaxed) && state.settings().close_to_tray
    })
}

/// The app on a given builder (tests can pass a mock runtime's builder).
pub fn build(builder: tauri::Builder<tauri::Wry>) -> tauri::Result<tauri::App<tauri::Wry>> {
    builder
        // One copy per desktop session (first, before anything starts): a second launch hands
        // over to the running app, which comes forward, and exits. Two copies would run two
        // hosted servers on the same data and two clients on the same cache.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tracing::info!("started again: showing the window");
            tray::show_window(app);
        }))
        // Links in messages open in the system's browser (capabilities/links.json: http,
        // https and mailto only).
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let handle = app.handle().clone();
            let paths = Paths {
                config: app.path().app_config_dir()?,
                data: app.path().app_data_dir()?,
            };
            // The app's files (caches of private conversations, a hosted workspace's whole
            // data) are its user's alone: owner-only directories, tightened if they exist.
            for dir in [&paths.config, &paths.data] {
                if let Err(err) = parley_client::files::private_dir(dir) {
                    tracing::warn!(dir = %dir.display(), %err, "cannot make the directory private");
                }
            }
            let settings = settings::load(&paths.settings_file());
            app.manage(Arc::new(AppState::new(paths, settings)));
            match tray::create(&handle) {
                Ok(()) => {
                    let host = stay::tray_host_present();
                    if !host {
                        tracing::info!("no tray host on this desktop: closing the window quits");
                    }
                    if let Some(state) = app.try_state::<Arc<AppState>>() {
                        state.tray.store(host, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                // No tray (some desktops): the app works without it.
                Err(err) => tracing::warn!(%err, "no tray icon"),
            }
            if let Some(window) = app.get_webview_window("main") {
                let h = handle.clone();
                // Started at login: stay in the tray until asked for.
                let hidden = std::env::args().any(|a| a == stay::HIDDEN_ARG);
                if hidden && hides_to_tray(&handle) {
                    let _ = window.hide();
                }
                let w = window.clone();
                window.on_window_event(move |event| match event {
                    // Closing hides the window to the tray, where notifications lead back.
                    WindowEvent::CloseRequested { api, .. } if hides_to_tray(&h) => {
                        api.prevent_close();
                        let _ = w.hide();
                    }
                    WindowEvent::Focused(focused) => {
                        if let Some(state) = h.try_state::<Arc<AppState>>() {
                            if let Ok(mut attention) = state.attention.lock() {
                                attention.window_focused = *focused;
                            }
                        }
                    }
                    // The window system's word for what the user dropped (upload_path reads
                    // only these).
                    WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) => {
                        if let Some(state) = h.try_state::<Arc<AppState>>() {
                            if let Ok(mut chosen) = state.chosen.lock() {
                                chosen.chose(paths, std::time::Instant::now());
                            }
                        }
                    }
                    _ => {}
                });
            }
            tauri::async_runtime::spawn(quit_on_signal(handle.clone()));
            tauri::async_runtime::spawn(session::restore(handle));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::session::session_status,
            commands::session::subscribe_events,
            commands::session::host_workspace,
            commands::session::join_workspace,
            commands::session::register,
            commands::session::sign_in,
            commands::session::sign_out,
            commands::session::leave_workspace,
            commands::session::add_person,
            commands::session::host_info,
            commands::session::host_log,
            commands::session::restart_host,
            commands::people::create_invite_link,
            commands::people::list_invites,
            commands::people::revoke_invite,
            commands::people::set_display_name,
            commands::people::set_avatar,
            commands::people::remove_avatar,
            commands::people::avatar,
            commands::people::people,
            commands::people::dashboard,
            commands::people::set_user_disabled,
            commands::people::delete_user,
            commands::people::reset_code,
            commands::session::accept_invite,
            commands::session::change_password,
            commands::session::reset_password,
            commands::chat::list_channels,
            commands::chat::create_channel,
            commands::chat::join_channel,
            commands::chat::leave_channel,
            commands::chat::delete_channel,
            commands::chat::set_channel_topic,
            commands::chat::channel_members,
            commands::chat::invite,
            commands::chat::open_channel,
            commands::chat::history,
            commands::chat::send_message,
            commands::chat::outbox,
            commands::chat::retry_message,
            commands::chat::discard_message,
            commands::chat::edit_message,
            commands::chat::delete_message,
            commands::chat::react,
            commands::chat::typing,
            commands::chat::mark_read,
            commands::chat::mute,
            commands::chat::unmute,
            commands::chat::presence,
            commands::chat::open_dm,
            commands::chat::open_thread,
            commands::chat::thread_place,
            commands::chat::search,
            commands::chat::upload_path,
            commands::chat::upload_bytes,
            commands::chat::attachment,
            commands::docs::list_docs,
            commands::docs::create_doc,
            commands::docs::rename_doc,
            commands::docs::delete_doc,
            commands::docs::open_doc,
            commands::docs::doc_update,
            commands::docs::doc_awareness,
            commands::docs::close_doc,
            commands::docs::list_comments,
            commands::docs::add_comment,
            commands::docs::edit_comment,
            commands::docs::delete_comment,
            commands::docs::resolve_comment,
            commands::docs::doc_versions,
            commands::docs::save_doc_version,
            commands::docs::doc_version,
            commands::docs::doc_roles,
            commands::docs::set_doc_role,
            commands::settings::get_settings,
            commands::settings::set_settings,
            commands::settings::set_my_status,
            commands::settings::desktop_info,
        ])
        .build(tauri::generate_context!())
}

#[cfg(test)]
mod acl_check;
#[cfg(test)]
mod bindings;
