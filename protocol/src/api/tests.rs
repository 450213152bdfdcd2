//! Snapshot tests: the exact JSON of each API body, as the server has always written and read
//! it, so a rename is caught here and not by a client in the field.

use serde_json::json;

use super::*;
use crate::tests::user as alice;
use crate::{ChannelType, CommentAnchor, DocRole, ErrorBody, ErrorCode, VersionInfo};

#[test]
fn credentials_and_session() {
    let login = Credentials {
        name: "alice".into(),
        password: "correct horse".into(),
        display_name: None,
        device: Some("parley-cli".into()),
        invite: None,
    };
    assert_eq!(
        serde_json::to_value(&login).expect("json"),
        json!({"name": "alice", "password": "correct horse", "device": "parley-cli"})
    );
    let register: Credentials =
        serde_json::from_value(json!({"name": "bob", "password": "pw", "display_name": "Bob"}))
            .expect("register body");
    assert_eq!(register.display_name.as_deref(), Some("Bob"));
    assert_eq!(register.device, None);
    let session = Session {
        token: "t0k".into(),
        user: alice(),
    };
    assert_eq!(
        serde_json::to_value(&session).expect("json"),
        json!({"token": "t0k", "user": {"id": 1, "name": "alice", "display_name": null, "avatar": null}})
    );
}

#[test]
fn health() {
    let ok: Health = serde_json::from_value(json!({"status": "ok", "connections": 3})).expect("ok");
    assert_eq!(ok.connections, Some(3));
    let down: Health =
        serde_json::from_value(json!({"status": "database unavailable"})).expect("down");
    assert_eq!(
        serde_json::to_value(&down).expect("json"),
        json!({"status": "database unavailable"})
    );
}

#[test]
fn channel_bodies() {
    let create: CreateChannel = serde_json::from_value(
        json!({"channel": "team:general", "channel_type": "private", "topic": "hi"}),
    )
    .expect("create");
    assert_eq!(create.settings.kind, Some(ChannelType::Private));
    assert_eq!(
        serde_json::to_value(&create).expect("json"),
        json!({"channel": "team:general", "channel_type": "private", "topic": "hi"})
    );
    assert_eq!(
        serde_json::to_value(ChannelList { channels: vec![] }).expect("json"),
        json!({"channels": []})
    );
    let post = PostMessage {
        text: "hi".into(),
        client_id: "c1".into(),
    };
    assert_eq!(
        serde_json::to_value(&post).expect("json"),
        json!({"text": "hi", "client_id": "c1"})
    );
    assert_eq!(
        serde_json::to_value(HistoryQuery {
            before: Some(9),
            limit: None
        })
        .expect("json"),
        json!({"before": 9})
    );
}

#[test]
fn doc_bodies() {
    // What the desktop app has always sent: absent fields as null.
    let create: CreateDoc =
        serde_json::from_value(json!({"name": "plan", "title": null, "channel": null}))
            .expect("create");
    assert_eq!(create.name, "plan");
    assert_eq!(
        serde_json::to_value(CreateDoc {
            name: "plan".into(),
            title: Some("Plan".into()),
            channel: None,
            default_role: Some(DocRole::Commenter),
        })
        .expect("json"),
        json!({"name": "plan", "title": "Plan", "default_role": "commenter"})
    );
    assert!(serde_json::from_value::<CreateDoc>(json!({"name": "a", "owner": 1})).is_err());
    let rename: DocChanges =
        serde_json::from_value(json!({"name": null, "title": "New"})).expect("changes");
    assert_eq!((rename.name, rename.title.as_deref()), (None, Some("New")));
    assert_eq!(
        serde_json::to_value(RoleGrant {
            role: DocRole::Editor
        })
        .expect("json"),
        json!({"role": "editor"})
    );
    assert_eq!(
        serde_json::to_value(SaveVersion { name: "v1".into() }).expect("json"),
        json!({"name": "v1"})
    );
    assert_eq!(
        serde_json::to_value(EditComment { body: "x".into() }).expect("json"),
        json!({"body": "x"})
    );
}

#[test]
fn comment_bodies() {
    let sent = json!({
        "body": "why?",
        "anchor": {"start": "AQ==", "end": "Ag=="},
        "quote": null,
        "parent": null,
        "client_id": "c9",
    });
    let comment: NewComment = serde_json::from_value(sent).expect("comment");
    assert_eq!(
        comment.anchor,
        Some(CommentAnchor {
            start: "AQ==".into(),
            end: "Ag==".into()
        })
    );
    assert_eq!(
        serde_json::to_value(&comment).expect("json"),
        json!({"body": "why?", "anchor": {"start": "AQ==", "end": "Ag=="}, "client_id": "c9"})
    );
    assert_eq!(
        serde_json::to_value(CommentList { comments: vec![] }).expect("json"),
        json!({"comments": []})
    );
}

#[test]
fn doc_content() {
    let version = VersionInfo {
        id: 4,
        doc: "plan".into(),
        name: "v1".into(),
        created_by: None,
        created_at: "2026-11-28T09:00:00.000Z".into(),
        size: 12,
    };
    let wire = json!({
        "doc": "plan",
        "version": {"id": 4, "doc": "plan", "name": "v1", "created_by": null,
                    "created_at": "2026-11-28T09:00:00.000Z", "size": 12},
        "update": "AAA=",
        "text": {"content": "hello", "prosemirror": "<paragraph></paragraph>"},
        "truncated": false,
    });
    let content: DocContent = serde_json::from_value(wire.clone()).expect("content");
    assert_eq!(content.version, Some(version));
    assert_eq!(content.text["content"], "hello");
    assert_eq!(serde_json::to_value(&content).expect("json"), wire);
    let current =
        json!({"doc": "plan", "version": null, "update": "", "text": {}, "truncated": true});
    let content: DocContent = serde_json::from_value(current.clone()).expect("current");
    assert_eq!(serde_json::to_value(&content).expect("json"), current);
    assert_eq!(
        serde_json::to_value(DocList { docs: vec![] }).expect("json"),
        json!({"docs": []})
    );
    assert_eq!(
        serde_json::to_value(VersionList { versions: vec![] }).expect("json"),
        json!({"versions": []})
    );
}

#[test]
fn upload_bodies() {
    assert_eq!(
        serde_json::to_value(StartUpload {
            name: "a.pdf".into(),
            size: 10
        })
        .expect("json"),
        json!({"name": "a.pdf", "size": 10})
    );
    let state = UploadState {
        upload_id: "u1".into(),
        size: 10,
        received: 4,
    };
    assert_eq!(
        serde_json::to_value(&state).expect("json"),
        json!({"upload_id": "u1", "size": 10, "received": 4})
    );
    assert_eq!(
        serde_json::to_value(UploadOffset { offset: 4 }).expect("json"),
        json!({"offset": 4})
    );
    assert_eq!(
        serde_json::to_value(UploadQuery {
            name: Some("a b.txt".into())
        })
        .expect("json"),
        json!({"name": "a b.txt"})
    );
    let conflict = UploadConflict {
        error: ErrorBody::new(
            ErrorCode::InvalidRequest,
            "this upload has 4 bytes; send from there",
        ),
        state,
    };
    let wire = json!({
        "code": "invalid_request",
        "message": "this upload has 4 bytes; send from there",
        "upload_id": "u1",
        "size": 10,
        "received": 4,
    });
    assert_eq!(serde_json::to_value(&conflict).expect("json"), wire);
    assert_eq!(
        serde_json::from_value::<UploadConflict>(wire).expect("conflict"),
        conflict
    );
}
