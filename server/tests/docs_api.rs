//! The documents API: access for every document and comment operation, live comments as
//! durable events (resume with `since`), mentions, named versions, rename and delete.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use parley_testkit::{ydoc::DocClient, *};
use serde_json::json;
use yrs::Transact;

/// Every document operation, in order, with what a caller without the needed role gets.
async fn every_operation(server: &TestServer, doc: &str, token: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    let mut record = |what: &str, status: u16| out.push((what.to_owned(), status));
    let base = format!("/api/docs/{doc}");
    record("get", server.get(&base, Some(token)).await.0);
    record(
        "content",
        server.get(&format!("{base}/content"), Some(token)).await.0,
    );
    record(
        "versions",
        server.get(&format!("{base}/versions"), Some(token)).await.0,
    );
    record(
        "version 1",
        server
            .get(&format!("{base}/versions/1"), Some(token))
            .await
            .0,
    );
    record(
        "comments",
        server.get(&format!("{base}/comments"), Some(token)).await.0,
    );
    record(
        "save version",
        server
            .post(
                &format!("{base}/versions"),
                Some(token),
                json!({"name": "x"}),
            )
            .await
            .0,
    );
    record(
        "comment",
        server
            .post(
                &format!("{base}/comments"),
                Some(token),
                json!({"body": "hi", "parent": 1}),
            )
            .await
            .0,
    );
    record(
        "edit comment",
        server
            .patch(
                &format!("{base}/comments/1"),
                Some(token),
                json!({"body": "x"}),
            )
            .await
            .0,
    );
    record(
        "resolve",
        server
            .post(
                &format!("{base}/comments/1/resolve"),
                Some(token),
                json!({}),
            )
            .await
            .0,
    );
    record(
        "reopen",
        server
            .post(&format!("{base}/comments/1/reopen"), Some(token), json!({}))
            .await
            .0,
    );
    record(
        "delete comment",
        server
            .delete(&format!("{base}/comments/1"), Some(token))
            .await
            .0,
    );
    record(
        "rename",
        server
            .patch(&base, Some(token), json!({"title": "mine now"}))
            .await
            .0,
    );
    record(
        "grant",
        server
            .put(
                &format!("{base}/roles/owner"),
                Some(token),
                json!({"role": "viewer"}),
            )
            .await
            .0,
    );
    record("delete", server.delete(&base, Some(token)).await.0);
    out
}

#[tokio::test]
async fn access_is_checked_for_every_document_and_comment_operation() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register("owner").await;
    let member = server.register("member").await;
    let outsider = server.register("outsider").await;
    let viewer = server.register("viewer").await;
    let commenter = server.register("commenter").await;
    let mut ws = server.connect(Some(&owner)).await;
    ws.ok(json!({"type": "channel_create", "channel": "team", "channel_type": "private"}))
        .await;
    ws.ok(json!({"type": "channel_invite", "channel": "team", "user": "member"}))
        .await;
    ws.ok(json!({"type": "channel_invite", "channel": "team", "user": "viewer"}))
        .await;
    ws.ok(json!({"type": "channel_invite", "channel": "team", "user": "commenter"}))
        .await;
    let (status, doc) = server
        .post(
            "/api/docs",
            Some(&owner),
            json!({"name": "spec", "title": "The spec", "channel": "team"}),
        )
        .await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["channel"], "team");
    assert_eq!(doc["created_by"]["name"], "owner");
    assert_eq!(doc["role"], "editor");
    for (user, role) in [("viewer", "viewer"), ("commenter", "commenter")] {
        let (status, body) = server
            .put(
                &format!("/api/docs/spec/roles/{user}"),
                Some(&owner),
                json!({"role": role}),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let mut editor = DocClient::connect(&server.addr(), "spec", &owner).await;
    editor.insert(0, "requirements").await;
    editor.sync().await;
    let (status, comment) = server
        .post(
            "/api/docs/spec/comments",
            Some(&owner),
            json!({"body": "first", "anchor": editor.anchor(0, 4), "quote": "requ"}),
        )
        .await;
    assert_eq!(status, 201, "{comment}");
    assert_eq!(comment["id"], 1);
    let (status, _) = server
        .post(
            "/api/docs/spec/versions",
            Some(&owner),
            json!({"name": "v1"}),
        )
        .await;
    assert_eq!(status, 201);

    // Outsiders of the channel: refused everywhere, and the document is not listed.
    for (what, status) in every_operation(&server, "spec", &outsider).await {
        assert_eq!(status, 403, "outsider: {what}");
    }
    let (_, list) = server.get("/api/docs", Some(&outsider)).await;
    assert!(list["docs"].as_array().unwrap().is_empty(), "{list}");
    let mut refused = DocClient::new();
    let err = refused
        .open(&server.addr(), "spec", &outsider)
        .await
        .unwrap_err();
    assert_eq!(err.0, 403);
    // Without a token, or with a bad one: 401.
    let mut anon = DocClient::new();
    assert_eq!(
        anon.open(&server.addr(), "spec", "").await.unwrap_err().0,
        401
    );
    assert_eq!(
        anon.open(&server.addr(), "spec", "pl_bad")
            .await
            .unwrap_err()
            .0,
        401
    );
    assert_eq!(server.get("/api/docs/spec", None).await.0, 401);

    // Viewers read everything and change nothing.
    let expected_viewer = [
        ("get", 200),
        ("content", 200),
        ("versions", 200),
        ("version 1", 200),
        ("comments", 200),
        ("save version", 403),
        ("comment", 403),
        ("edit comment", 403),
        ("resolve", 403),
        ("reopen", 403),
        ("delete comment", 403),
        ("rename", 403),
        ("grant", 403),
        ("delete", 403),
    ];
    let got = every_operation(&server, "spec", &viewer).await;
    for ((what, status), (want_what, want)) in got.iter().zip(expected_viewer) {
        assert_eq!((what.as_str(), *status), (want_what, want), "viewer");
    }
    // Their updates over the socket are refused with the protocol's auth message.
    let mut v = DocClient::connect(&server.addr(), "spec", &viewer).await;
    v.insert(0, "vandalism ").await;
    v.sync().await;
    assert_eq!(v.denials.len(), 1, "{:?}", v.denials);
    let (_, content) = server.get("/api/docs/spec/content", Some(&owner)).await;
    assert_eq!(content["text"]["content"], "requirements");

    // Commenters comment (and reply, resolve) but edit no content and no one else's comment.
    let (status, reply) = server
        .post(
            "/api/docs/spec/comments",
            Some(&commenter),
            json!({"body": "a reply", "parent": 1}),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let (status, _) = server
        .patch(
            "/api/docs/spec/comments/1",
            Some(&commenter),
            json!({"body": "edited"}),
        )
        .await;
    assert_eq!(status, 403, "a commenter edits someone else's comment");
    assert_eq!(
        server
            .delete("/api/docs/spec/comments/1", Some(&commenter))
            .await
            .0,
        403
    );
    let (status, _) = server
        .post(
            "/api/docs/spec/comments/1/resolve",
            Some(&commenter),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        server
            .post(
                "/api/docs/spec/versions",
                Some(&commenter),
                json!({"name": "c"})
            )
            .await
            .0,
        403
    );
    let mut c = DocClient::connect(&server.addr(), "spec", &commenter).await;
    c.insert(0, "x").await;
    c.sync().await;
    assert_eq!(c.denials.len(), 1);

    // Members without a grant get the default role (editor): they edit content.
    let mut m = DocClient::connect(&server.addr(), "spec", &member).await;
    m.insert(12, "!").await;
    m.sync().await;
    assert!(m.denials.is_empty());
    // But only the creator, channel admins and workspace admins manage the document.
    assert_eq!(
        server
            .patch("/api/docs/spec", Some(&member), json!({"title": "x"}))
            .await
            .0,
        403
    );
    assert_eq!(server.delete("/api/docs/spec", Some(&member)).await.0, 403);

    // The comments channel follows the document's channel and takes no messages.
    let comments_channel = doc["comments_channel"].as_str().unwrap().to_owned();
    let mut out_ws = server.connect(Some(&outsider)).await;
    out_ws
        .err(
            json!({"type": "subscribe", "channel": comments_channel}),
            "forbidden",
        )
        .await;
    let mut member_ws = server.connect(Some(&member)).await;
    member_ws
        .ok(json!({"type": "subscribe", "channel": comments_channel, "since": 0}))
        .await;
    member_ws
        .err(
            json!({"type": "send", "channel": comments_channel, "text": "x", "client_id": "c1"}),
            "forbidden",
        )
        .await;
    member_ws
        .err(
            json!({"type": "channel_join", "channel": comments_channel}),
            "forbidden",
        )
        .await;
    let (_, channels) = server.get("/api/channels", Some(&member)).await;
    assert!(!channels.to_string().contains("doc#"), "{channels}");

    // A role change takes effect on open connections: they close (4007) and reconnect under
    // the new role.
    let (status, _) = server
        .put(
            "/api/docs/spec/roles/viewer",
            Some(&owner),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(v.close_code().await, Some(4007));
    v.reconnect(&server.addr(), "spec", &viewer).await;
    v.insert(0, "now allowed: ").await;
    v.sync().await;
    assert_eq!(v.denials.len(), 1, "no new denial");
    let (_, content) = server.get("/api/docs/spec/content", Some(&owner)).await;
    assert!(content["text"]["content"]
        .as_str()
        .unwrap()
        .starts_with("now allowed: "));

    // Leaving the channel ends access to its documents, open connections included.
    member_ws
        .ok(json!({"type": "channel_leave", "channel": "team"}))
        .await;
    assert_eq!(m.close_code().await, Some(4007));
    assert_eq!(
        m.open(&server.addr(), "spec", &member).await.unwrap_err().0,
        403
    );
    assert_eq!(
        server.get("/api/docs/spec/content", Some(&member)).await.0,
        403
    );
}

#[tokio::test]
async fn workspace_document_creation_can_be_limited_to_admins() {
    let server =
        TestServer::start(&(RELAXED.to_owned() + "[documents]\ncreate = \"admins\"\n")).await;
    let user = server.register(&unique("u")).await;
    let (status, body) = server
        .post("/api/docs", Some(&user), json!({"name": "mine"}))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    // Connecting to a new name does not create it either.
    let mut client = DocClient::new();
    assert_eq!(
        client
            .open(&server.addr(), "mine", &user)
            .await
            .unwrap_err()
            .0,
        403
    );
    let (status, body) = server
        .post("/api/docs", Some(&user), json!({"name": "bad/name"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_doc_name"))
    );
    let (status, body) = server.get("/api/docs/nothing", Some(&user)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("doc_not_found"))
    );
    let mut client = DocClient::new();
    assert_eq!(
        client
            .open(&server.addr(), "bad%20name", &user)
            .await
            .unwrap_err()
            .0,
        400
    );
}

#[tokio::test]
async fn comments_are_durable_events_that_resume_with_since() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let mut editor = DocClient::connect(&server.addr(), "paper", &alice).await;
    editor.insert(0, "The quick brown fox").await;
    editor.sync().await;
    let (_, info) = server.get("/api/docs/paper", Some(&alice)).await;
    let channel = info["comments_channel"].as_str().unwrap().to_owned();
    let mut watcher = server.connect(Some(&bob)).await;
    watcher
        .ok(json!({"type": "subscribe", "channel": channel, "since": 0}))
        .await;

    // A comment on "quick", mentioning bob.
    let a = editor.anchor(4, 9);
    let (status, comment) = server
        .post(
            "/api/docs/paper/comments",
            Some(&alice),
            json!({"body": "faster? @bob", "anchor": a, "quote": "quick"}),
        )
        .await;
    assert_eq!(status, 201, "{comment}");
    assert_eq!(comment["mentions"][0]["name"], "bob");
    assert_eq!(comment["anchor"], a);
    let event = watcher.event(&channel, "comment_created").await;
    assert_eq!(event["comment"]["body"], "faster? @bob");
    let id = comment["id"].as_i64().unwrap();

    // Others edit in front of the anchor: it still resolves to the same text.
    let mut other = DocClient::connect(&server.addr(), "paper", &bob).await;
    other.insert(0, "Lo! ").await;
    other.sync().await;
    let start = base64::engine::general_purpose::STANDARD
        .decode(a["start"].as_str().unwrap())
        .unwrap();
    let pos = <yrs::StickyIndex as yrs::updates::decoder::Decode>::decode_v1(&start).unwrap();
    let txn = other.doc.transact();
    assert_eq!(pos.get_offset(&txn).unwrap().index, 8);
    drop(txn);

    // Reply, edit, resolve, reopen, delete: each a durable event with the next seq.
    let (status, reply) = server
        .post(
            "/api/docs/paper/comments",
            Some(&bob),
            json!({"body": "agreed", "parent": id}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(reply["parent"], id);
    let (status, body) = server
        .post(
            "/api/docs/paper/comments",
            Some(&bob),
            json!({"body": "nested", "parent": reply["id"]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_comment"))
    );
    let (status, edited) = server
        .patch(
            &format!("/api/docs/paper/comments/{id}"),
            Some(&alice),
            json!({"body": "quicker"}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(edited["edited_at"].is_string());
    assert!(edited["mentions"].as_array().unwrap().is_empty());
    let (_, resolved) = server
        .post(
            &format!("/api/docs/paper/comments/{id}/resolve"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(resolved["resolved"], true);
    assert_eq!(resolved["resolved_by"]["name"], "bob");
    let (_, reopened) = server
        .post(
            &format!("/api/docs/paper/comments/{id}/reopen"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(reopened["resolved"], false);
    let kinds: Vec<String> = {
        let mut kinds = Vec::new();
        for _ in 0..4 {
            let frame = watcher
                .wait_for(|f| f["type"] == "event" && f["channel"] == channel.as_str())
                .await;
            kinds.push(frame["kind"].as_str().unwrap().to_owned());
        }
        kinds
    };
    assert_eq!(
        kinds,
        [
            "comment_created",
            "comment_edited",
            "comment_resolved",
            "comment_resolved"
        ]
    );

    // Bad comments get clear errors.
    for (body, code) in [
        (json!({"body": "  ", "anchor": a}), "invalid_comment"),
        (json!({"body": "no anchor"}), "invalid_comment"),
        (
            json!({"body": "x", "anchor": {"start": "!!", "end": "AA=="}}),
            "invalid_comment",
        ),
        (json!({"body": "x", "parent": 999}), "comment_not_found"),
        (
            json!({"body": "x".repeat(10_001), "anchor": a}),
            "invalid_comment",
        ),
    ] {
        let (status, err) = server
            .post("/api/docs/paper/comments", Some(&bob), body)
            .await;
        assert_eq!(err["code"], code, "{status} {err}");
    }

    // A client that missed events resumes from its last seq and gets exactly those.
    let (_, before) = server.get("/api/docs/paper/comments", Some(&bob)).await;
    assert_eq!(before["comments"].as_array().unwrap().len(), 2);
    assert_eq!(
        server
            .delete(&format!("/api/docs/paper/comments/{id}"), Some(&bob))
            .await
            .0,
        403
    );
    assert_eq!(
        server
            .delete(&format!("/api/docs/paper/comments/{id}"), Some(&alice))
            .await
            .0,
        204
    );
    let mut late = server.connect(Some(&bob)).await;
    let sub = late
        .ok(json!({"type": "subscribe", "channel": channel, "since": 3}))
        .await;
    assert!(sub.is_object());
    let mut seqs = Vec::new();
    let mut kinds = Vec::new();
    loop {
        let frame = late.recv().await;
        if frame["type"] == "synced" {
            break;
        }
        seqs.push(seq_of(&frame));
        kinds.push(frame["kind"].as_str().unwrap().to_owned());
    }
    assert_eq!(seqs, [4, 5, 6]);
    assert_eq!(
        kinds,
        ["comment_resolved", "comment_resolved", "comment_deleted"]
    );
    let (_, after) = server.get("/api/docs/paper/comments", Some(&bob)).await;
    assert!(
        after["comments"].as_array().unwrap().is_empty(),
        "replies go with it"
    );
}

#[tokio::test]
async fn named_versions_rename_and_delete() {
    let server = TestServer::start(&(RELAXED.to_owned() + "[documents]\nmax_versions = 2\n")).await;
    let token = server.register(&unique("u")).await;
    let mut a = DocClient::connect(&server.addr(), "draft", &token).await;
    a.insert(0, "first draft").await;
    a.sync().await;
    let (status, v1) = server
        .post(
            "/api/docs/draft/versions",
            Some(&token),
            json!({"name": "Draft 1"}),
        )
        .await;
    assert_eq!(status, 201, "{v1}");
    a.remove(0, 5).await;
    a.insert(0, "second").await;
    a.sync().await;
    let (_, v2) = server
        .post(
            "/api/docs/draft/versions",
            Some(&token),
            json!({"name": "Draft 2"}),
        )
        .await;
    let (_, list) = server.get("/api/docs/draft/versions", Some(&token)).await;
    let names: Vec<&str> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Draft 1", "Draft 2"]);
    let (_, old) = server
        .get(
            &format!("/api/docs/draft/versions/{}", v1["id"]),
            Some(&token),
        )
        .await;
    assert_eq!(old["text"]["content"], "first draft");
    assert_eq!(old["version"]["name"], "Draft 1");
    let (_, new) = server
        .get(
            &format!("/api/docs/draft/versions/{}", v2["id"]),
            Some(&token),
        )
        .await;
    assert_eq!(new["text"]["content"], "second draft");
    let (status, body) = server
        .get("/api/docs/draft/versions/999", Some(&token))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("version_not_found"))
    );
    let (status, _) = server
        .post(
            "/api/docs/draft/versions",
            Some(&token),
            json!({"name": " "}),
        )
        .await;
    assert_eq!(status, 400);

    // Rename: the new name serves the same document; the old one is free.
    let (status, renamed) = server
        .patch(
            "/api/docs/draft",
            Some(&token),
            json!({"name": "final", "title": "Final"}),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["title"], "Final");
    let mut b = DocClient::connect(&server.addr(), "final", &token).await;
    b.wait_text("second draft").await;
    assert_eq!(server.get("/api/docs/draft", Some(&token)).await.0, 404);
    let (status, body) = server
        .post("/api/docs", Some(&token), json!({"name": "final"}))
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("doc_exists")));

    // Delete: connected clients are closed with 4005, and everything is gone.
    assert_eq!(server.delete("/api/docs/final", Some(&token)).await.0, 204);
    assert_eq!(b.close_code().await, Some(4005));
    assert_eq!(
        b.open(&server.addr(), "final", &token).await.unwrap_err().0,
        404
    );
    assert_eq!(
        server.get("/api/docs/final/content", Some(&token)).await.0,
        404
    );
    assert_eq!(
        server.get("/api/docs/final/versions", Some(&token)).await.0,
        404
    );
}

#[tokio::test]
async fn deleting_a_channel_deletes_its_documents() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let mut ws = server.connect(Some(&token)).await;
    ws.ok(json!({"type": "channel_create", "channel": "proj"}))
        .await;
    let (status, _) = server
        .post(
            "/api/docs",
            Some(&token),
            json!({"name": "proj-notes", "channel": "proj"}),
        )
        .await;
    assert_eq!(status, 201);
    let mut client = DocClient::connect(&server.addr(), "proj-notes", &token).await;
    client.insert(0, "x").await;
    client.sync().await;
    assert_eq!(
        server.delete("/api/channels/proj", Some(&token)).await.0,
        204
    );
    assert_eq!(client.close_code().await, Some(4005));
    assert_eq!(
        server.get("/api/docs/proj-notes", Some(&token)).await.0,
        404
    );
    let (_, list) = server.get("/api/docs", Some(&token)).await;
    assert!(list["docs"].as_array().unwrap().is_empty());
}
