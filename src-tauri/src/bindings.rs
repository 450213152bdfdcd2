//! `ui/src/lib/bindings.ts`: TypeScript declarations of every type the UI receives or sends,
//! generated from the Rust types with ts-rs. This test fails when the checked-in file differs
//! from what the types say; `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-app bindings`
//! rewrites it.

use ts_rs::TS;

use crate::types::*;

/// Every exported type, dependencies included (ts-rs declares each one on its own).
fn declarations() -> Vec<String> {
    use parley_client::{
        ClientEvent, CommentEvent, ConnectionState, OutboxEntry, SearchHit as LocalHit,
    };
    use parley_protocol::*;
    let mut decls = vec![
        AppError::decl(),
        Workspace::decl(),
        KeyringState::decl(),
        SessionStatus::decl(),
        ChannelView::decl(),
        ThreadOpened::decl(),
        ThreadPlace::decl(),
        SearchResults::decl(),
        UploadProgress::decl(),
        AppEvent::decl(),
        HostState::decl(),
        crate::commands::session::HostInfo::decl(),
        crate::commands::people::InviteLinkView::decl(),
        api::UserInfo::decl(),
        api::InviteInfo::decl(),
        api::ResetCode::decl(),
        api::AnalyticsHistory::decl(),
        api::AnalyticsSample::decl(),
        DocPush::decl(),
        parley_client::docs::DocGone::decl(),
        Settings::decl(),
        MyStatus::decl(),
        DesktopInfo::decl(),
        ClientEvent::decl(),
        CommentEvent::decl(),
        ConnectionState::decl(),
        OutboxEntry::decl(),
        LocalHit::decl(),
        UserRef::decl(),
        Message::decl(),
        ThreadSummary::decl(),
        Attachment::decl(),
        ReactionCount::decl(),
        ReactionChange::decl(),
        PresenceEntry::decl(),
        PresenceState::decl(),
        ChannelInfo::decl(),
        ChannelMember::decl(),
        ChannelType::decl(),
        PublishPolicy::decl(),
        Authentication::decl(),
        ReadState::decl(),
        DocInfo::decl(),
        DocRole::decl(),
        Comment::decl(),
        CommentAnchor::decl(),
        VersionInfo::decl(),
        api::DocContent::decl(),
        api::DocRoleEntry::decl(),
        <serde_json::Value as TS>::decl(),
    ];
    // The server's SearchHit and the cache's have the same shape; the UI knows the cache's
    // as `SearchHit` (see SearchResults).
    decls.sort();
    decls.dedup();
    decls
}

fn render() -> String {
    let mut out = String::from(
        "// Generated from the Rust types by `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-app bindings`.\n\
         // Do not edit: change the Rust type and regenerate.\n\
         // 64-bit integers are JSON numbers on the wire, so they are `number` here.\n\n",
    );
    for decl in declarations() {
        let decl = decl.replace("bigint", "number");
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// `ui/src/lib/rules.ts`: the rules for names people type, from `parley_protocol::names`, so
/// the UI checks a name exactly as the server will.
fn render_rules() -> String {
    use parley_protocol::names;
    let json = |v: &str| serde_json::to_string(v).unwrap_or_default();
    format!(
        "// Generated from parley_protocol::names by `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-app bindings`.\n\
         // Do not edit: change the rule in the protocol crate and regenerate.\n\n\
         /** The longest user name. */\n\
         export const USER_NAME_MAX_LENGTH = {};\n\n\
         /** What a user name may be (the whole name must match). */\n\
         export const USER_NAME_PATTERN = new RegExp({});\n\n\
         /** The rule, said for people. */\n\
         export const USER_NAME_RULE = {};\n\n\
         /** The longest document name. */\n\
         export const DOC_NAME_MAX_LENGTH = {};\n\n\
         /** What a document name may be (the whole name must match). */\n\
         export const DOC_NAME_PATTERN = new RegExp({});\n\n\
         /** The rule, said for people. */\n\
         export const DOC_NAME_RULE = {};\n\n\
         /** The longest channel name. */\n\
         export const CHANNEL_NAME_MAX_LENGTH = {};\n\n\
         /** What a new channel's name may be (the whole name must match). */\n\
         export const CHANNEL_NAME_PATTERN = new RegExp({});\n\n\
         /** The rule, said for people. */\n\
         export const CHANNEL_NAME_RULE = {};\n",
        names::USER_NAME_MAX_LEN,
        json(&names::user_name_pattern()),
        json(&names::user_name_rule()),
        names::DOC_NAME_MAX_LEN,
        json(&names::doc_name_pattern()),
        json(&names::doc_name_rule()),
        names::CHANNEL_NAME_MAX_LEN,
        json(&names::channel_name_pattern()),
        json(&names::channel_name_rule()),
    )
}

#[test]
fn bindings_rules_are_current() {
    let path = manifest_dir().join("../ui/src/lib/rules.ts");
    let want = render_rules();
    if std::env::var_os("PARLEY_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &want).expect("write rules.ts");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "ui/src/lib/rules.ts is stale: run PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-app bindings"
    );
}

#[test]
fn bindings_are_current() {
    let path = manifest_dir().join("../ui/src/lib/bindings.ts");
    let want = render();
    if std::env::var_os("PARLEY_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &want).expect("write bindings.ts");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "ui/src/lib/bindings.ts is stale: run PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-app bindings"
    );
}

/// This package's directory: as cargo gives it to the running test, else as it was at build
/// time. (A build reused from a checkout at another path carries that path in `env!`.)
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    )
}
