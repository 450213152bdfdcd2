//! `sdk/js/src/protocol.ts`: the wire types of the TypeScript SDK (`@parley/client`),
//! generated from this crate with ts-rs, so the SDK cannot drift from the server. This test
//! fails when the checked-in file differs from what the types say;
//! `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-protocol --features ts --test sdk_bindings`
//! rewrites it. (The workspace test run has the `ts` feature on: the app enables it.)
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use parley_protocol::{api::*, *};
use ts_rs::TS;

/// Every exported type, dependencies included (ts-rs declares each one on its own).
fn declarations() -> Vec<String> {
    let mut decls = vec![
        ServerFrame::decl(),
        Op::decl(),
        Reply::decl(),
        Hello::decl(),
        Limits::decl(),
        EventFrame::decl(),
        Event::decl(),
        Synced::decl(),
        ErrorCode::decl(),
        ErrorBody::decl(),
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
        ChannelSettings::decl(),
        PublishPolicy::decl(),
        Authentication::decl(),
        SubscribeResult::decl(),
        ResetReason::decl(),
        SendResult::decl(),
        PublishResult::decl(),
        HistoryPage::decl(),
        ReadState::decl(),
        SearchHit::decl(),
        DocInfo::decl(),
        DocRole::decl(),
        Comment::decl(),
        CommentAnchor::decl(),
        DocRoleEntry::decl(),
        Credentials::decl(),
        Session::decl(),
    ];
    decls.sort();
    decls.dedup();
    decls
}

fn render() -> String {
    let mut out = String::from(
        "// Generated from the parley-protocol crate by\n\
         // `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-protocol --features ts --test sdk_bindings`.\n\
         // Do not edit: change the Rust type and regenerate.\n\
         // 64-bit integers are JSON numbers on the wire, so they are `number` here.\n\n",
    );
    out.push_str(&format!(
        "/** The protocol version this SDK speaks (`?v=`). */\nexport const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n\n"
    ));
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

/// This package's directory as cargo gives it when the test runs, rather than as it was at
/// build time: a build reused from a checkout at another path carries that path in `env!`.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from)
}

#[test]
fn sdk_bindings_are_current() {
    let path = manifest_dir().join("../sdk/js/src/protocol.ts");
    let want = render();
    if std::env::var_os("PARLEY_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "sdk/js/src/protocol.ts is stale: run PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-protocol --features ts --test sdk_bindings"
    );
}
