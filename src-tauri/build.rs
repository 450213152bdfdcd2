//! Tauri's build step. Every command the UI may invoke is listed here, so Tauri generates an
//! `allow-<command>` permission for each; `permissions/*.toml` group them by domain and
//! `capabilities/*.json` grant those groups to the main window. A command missing here (or
//! from a capability) is refused at runtime.

fn main() {
    let commands = &[
        "session_status",
        "subscribe_events",
        "host_workspace",
        "join_workspace",
        "register",
        "sign_in",
        "sign_out",
        "leave_workspace",
        "add_person",
        "host_info",
        "host_log",
        "restart_host",
        "create_invite_link",
        "accept_invite",
        "change_password",
        "list_channels",
        "create_channel",
        "join_channel",
        "invite",
        "open_channel",
        "history",
        "send_message",
        "outbox",
        "retry_message",
        "discard_message",
        "edit_message",
        "delete_message",
        "react",
        "typing",
        "mark_read",
        "mute",
        "unmute",
        "presence",
        "open_dm",
        "open_thread",
        "thread_place",
        "search",
        "upload_path",
        "upload_bytes",
        "attachment",
        "list_docs",
        "create_doc",
        "rename_doc",
        "delete_doc",
        "open_doc",
        "doc_update",
        "doc_awareness",
        "close_doc",
        "list_comments",
        "add_comment",
        "edit_comment",
        "delete_comment",
        "resolve_comment",
        "get_settings",
        "set_settings",
    ];
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(err) = tauri_build::try_build(attributes) {
        panic!("tauri build step: {err:#}");
    }
}
