//! Document replicas: edits made offline on two clients converge after reconnecting, survive a
//! client restart (they are in the cache), and a comment written offline arrives once.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use parley_client::{Client, ClientConfig};
use serde_json::json;

fn client(server: &TestServer, token: &str, cache: &std::path::Path) -> Client {
    let mut config = ClientConfig::new(&server.url(), token, cache.to_owned());
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(300);
    Client::start(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_converge_and_offline_comments_arrive() {
    let mut server = TestServer::start_process(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let a = client(&server, &alice, &dir.path().join("a.db"));
    let b = client(&server, &bob, &dir.path().join("b.db"));
    let da = a.open_doc("plan").await.unwrap();
    da.append_text("content", "shared start.").await.unwrap();
    da.flush(TIMEOUT).await.unwrap();
    let db = b.open_doc("plan").await.unwrap();
    db.flush(TIMEOUT).await.unwrap();
    assert_eq!(db.text("content"), "shared start.");

    // The server goes away; both edit.
    server.kill().await;
    da.append_text("content", " alice offline.").await.unwrap();
    db.insert_text("content", 0, "bob offline. ").await.unwrap();
    let anchor_start = {
        use yrs::{Assoc, IndexedSequence, Transact};
        let text = da.doc().get_or_insert_text("content");
        let txn = da.doc().transact();
        let pos = text.sticky_index(&txn, 0, Assoc::After).unwrap();
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            yrs::updates::encoder::Encode::encode_v1(&pos),
        )
    };
    let entry = a
        .comment(
            "plan",
            parley_protocol::api::NewComment {
                body: "written offline".into(),
                anchor: Some(parley_protocol::CommentAnchor {
                    start: anchor_start.clone(),
                    end: anchor_start.clone(),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(entry.state, "pending");

    // Alice's process restarts while offline: her edit is in the cache.
    drop(da);
    a.shutdown();
    drop(a);
    let a = client(&server, &alice, &dir.path().join("a.db"));
    let da = a.open_doc("plan").await.unwrap();
    assert_eq!(da.text("content"), "shared start. alice offline.");

    server.start_again().await;
    da.flush(TIMEOUT).await.unwrap();
    db.flush(TIMEOUT).await.unwrap();
    da.flush(TIMEOUT).await.unwrap();
    let expected = "bob offline. shared start. alice offline.";
    assert_eq!(da.text("content"), expected);
    assert_eq!(db.text("content"), expected);
    let (_, content) = server.get("/api/docs/plan/content", Some(&alice)).await;
    assert_eq!(content["text"]["content"], expected);

    assert!(a.flushed(TIMEOUT).await.unwrap());
    let (_, comments) = server.get("/api/docs/plan/comments", Some(&bob)).await;
    let comments = comments["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0]["body"], "written offline");
    assert_eq!(comments[0]["author"]["name"], "alice");
    let cached = a.cached_comments("plan").await.unwrap();
    assert_eq!(cached.len(), 1);
    // Resending the same comment (a lost answer) returns the original, adds nothing.
    let (status, again) = server
        .post(
            "/api/docs/plan/comments",
            Some(&alice),
            json!({"body": "written offline", "client_id": entry.client_id,
                   "anchor": {"start": anchor_start, "end": anchor_start}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], comments[0]["id"]);
    let (_, comments) = server.get("/api/docs/plan/comments", Some(&bob)).await;
    assert_eq!(comments["comments"].as_array().unwrap().len(), 1);
}

/// Alice's private channel `secret` and its document `plan`.
async fn private_plan(server: &TestServer, alice: &str) {
    let (status, body) = server
        .post(
            "/api/channels",
            Some(alice),
            json!({"channel": "secret", "channel_type": "private"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post(
            "/api/docs",
            Some(alice),
            json!({"name": "plan", "channel": "secret"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The reused-name leak: Alice writes in `plan` of her private channel, `plan` is deleted,
/// Mallory creates a workspace document `plan`, and Alice's replica reconnects. It must not
/// upload the private text into Mallory's document: the replica is bound to the deleted
/// document's id, the server refuses it under the name that now belongs to another document,
/// the command fails saying so, and the replica's cached state is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_documents_replica_never_reaches_a_new_document_of_its_name() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let mallory = server.register("mallory").await;
    private_plan(&server, &alice).await;
    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = parley(
        home.path(),
        &[
            "login",
            &server.url(),
            "--user",
            "alice",
            "--password-stdin",
        ],
        Some("correct horse\n"),
    )
    .await;
    assert!(ok, "{out} {err}");
    let secret = "the private plan: acquire Initech";
    let (ok, out, err) = parley(home.path(), &["doc", "append", "plan", secret], None).await;
    assert!(ok && out.contains("appended to plan"), "{out} {err}");

    // Deleted by a manager of the channel's document, then taken by Mallory.
    let status = reqwest::Client::new()
        .delete(format!("{}/api/docs/plan", server.url()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let (status, body) = server
        .post("/api/docs", Some(&mallory), json!({"name": "plan"}))
        .await;
    assert_eq!(status, 201, "{body}");

    let (ok, out, err) = parley(home.path(), &["doc", "cat", "plan"], None).await;
    assert!(!ok, "cat of a deleted document succeeded: {out}");
    assert!(err.contains("plan was deleted"), "{err}");
    assert!(!out.contains(secret), "{out}");
    let (status, content) = server.get("/api/docs/plan/content", Some(&mallory)).await;
    assert_eq!(status, 200, "{content}");
    assert!(
        !content.to_string().contains("Initech"),
        "the private text reached Mallory's document: {content}"
    );
    // The replica's copy is gone: opening `plan` again is Mallory's (empty) document.
    let (ok, out, err) = parley(home.path(), &["doc", "cat", "plan"], None).await;
    assert!(ok, "{out} {err}");
    assert!(!out.contains("Initech"), "{out}");
    let (_, content) = server.get("/api/docs/plan/content", Some(&mallory)).await;
    assert!(!content.to_string().contains("Initech"), "{content}");
}

/// With no attacker: once the server no longer remembers that `plan` was deleted (after the
/// 10-minute block, here after a restart, which forgets it), a replica of the deleted document
/// must not recreate it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_documents_replica_does_not_recreate_it() {
    let mut server = TestServer::start_process(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("a.db");
    let a = client(&server, &alice, &cache);
    let replica = a.open_doc("plan").await.unwrap();
    replica.append_text("content", "draft").await.unwrap();
    replica.flush(TIMEOUT).await.unwrap();
    let id = replica
        .doc_id()
        .expect("the replica learnt its document's id");
    drop(replica);
    a.shutdown();
    drop(a);

    let status = reqwest::Client::new()
        .delete(format!("{}/api/docs/plan", server.url()))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403, "bob is no manager of plan");
    let status = reqwest::Client::new()
        .delete(format!("{}/api/docs/plan", server.url()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    server.kill().await;
    server.start_again().await;

    let a = client(&server, &alice, &cache);
    let replica = a.open_doc("plan").await.unwrap();
    assert_eq!(replica.doc_id(), Some(id));
    let err = replica.flush(TIMEOUT).await.unwrap_err();
    assert!(
        matches!(
            err,
            parley_client::Error::DocGone {
                reason: parley_client::docs::DocGone::Deleted,
                ..
            }
        ),
        "{err}"
    );
    assert!(replica.edit(|_| {}).await.is_err(), "edits after the end");
    let (status, body) = server.get("/api/docs/plan", Some(&alice)).await;
    assert_eq!(status, 404, "the document was recreated: {body}");
    // Its cached state went with it.
    drop(replica);
    // (Opening the name again is a new replica: it may create a new, empty `plan`.)
    let again = a.open_doc("plan").await.unwrap();
    assert_eq!(again.text("content"), "");
    assert_ne!(again.doc_id(), Some(id));
    drop(again);
    a.shutdown();
}

/// An open replica whose document is deleted (close 4005) stops at once; one whose document is
/// renamed follows it to its new name, by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_replica_stops_on_delete_and_follows_a_rename() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let a = client(&server, &alice, &dir.path().join("a.db"));
    let plan = a.open_doc("plan").await.unwrap();
    plan.append_text("content", "first").await.unwrap();
    plan.flush(TIMEOUT).await.unwrap();
    let mut events = plan.events();

    let (status, body) = patch(
        &server,
        "/api/docs/plan",
        &alice,
        json!({"name": "roadmap"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let renamed = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Ok(parley_client::docs::ReplicaEvent::Renamed(name)) = events.recv().await {
                return name;
            }
        }
    })
    .await
    .expect("the replica followed the rename");
    assert_eq!(renamed, "roadmap");
    assert_eq!(plan.name(), "roadmap");
    plan.append_text("content", " second").await.unwrap();
    plan.flush(TIMEOUT).await.unwrap();
    let (_, content) = server.get("/api/docs/roadmap/content", Some(&alice)).await;
    assert_eq!(content["text"]["content"], "first second");

    let status = reqwest::Client::new()
        .delete(format!("{}/api/docs/roadmap", server.url()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let gone = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Ok(parley_client::docs::ReplicaEvent::Gone(reason)) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("the replica stopped");
    assert_eq!(gone, parley_client::docs::DocGone::Deleted);
    assert!(plan.append_text("content", " third").await.is_err());
    a.shutdown();
}

async fn patch(
    server: &TestServer,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .patch(format!("{}{path}", server.url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// The token goes in the upgrade's `Authorization` header, never in the `/docs` URL (which
/// proxies and servers log): a recording proxy sees every request line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_upgrade_carries_the_token_in_a_header() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let proxy = Proxy::start(server.port()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = ClientConfig::new(&proxy.url(), &alice, dir.path().join("a.db"));
    config.backoff_min = Duration::from_millis(20);
    let a = Client::start(config).unwrap();
    let plan = a.open_doc("plan").await.unwrap();
    plan.append_text("content", "x").await.unwrap();
    plan.flush(TIMEOUT).await.unwrap();
    let heads = proxy.heads();
    let docs: Vec<&String> = heads
        .iter()
        .filter(|h| h.starts_with("GET /docs/"))
        .collect();
    assert!(!docs.is_empty(), "{heads:?}");
    for head in docs {
        let request_line = head.lines().next().unwrap_or_default();
        assert!(
            !request_line.contains(&alice),
            "the token is in the URL: {request_line}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("authorization: bearer {alice}")),
            "{head}"
        );
    }
    a.shutdown();
}

/// A comment queued (offline) for a document that is deleted meanwhile, and whose name another
/// user then takes, must not be posted to that other document: the outbox checks the name
/// still belongs to the document the replica knows, and fails the comment otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_queued_for_a_deleted_document_never_lands_on_its_successor() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let mallory = server.register("mallory").await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("a.db");
    let a = client(&server, &alice, &cache);
    let plan = a.open_doc("plan").await.unwrap();
    plan.append_text("content", "ours").await.unwrap();
    plan.flush(TIMEOUT).await.unwrap();
    drop(plan);
    a.shutdown();
    drop(a);

    // Offline (nothing listens at this address), a comment is queued for `plan`.
    let mut offline = ClientConfig::new(
        &format!("http://127.0.0.1:{}", free_port()),
        &alice,
        cache.clone(),
    );
    offline.backoff_min = Duration::from_millis(20);
    let a = Client::start(offline).unwrap();
    let entry = a
        .comment(
            "plan",
            parley_protocol::api::NewComment {
                body: "private remark".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(entry.state, "pending");
    a.shutdown();
    drop(a);

    let status = reqwest::Client::new()
        .delete(format!("{}/api/docs/plan", server.url()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let (status, body) = server
        .post("/api/docs", Some(&mallory), json!({"name": "plan"}))
        .await;
    assert_eq!(status, 201, "{body}");

    let a = client(&server, &alice, &cache);
    a.wait_online(TIMEOUT).await.unwrap();
    let deadline = std::time::Instant::now() + TIMEOUT;
    let failed = loop {
        let outbox = a.outbox().await.unwrap();
        if let Some(e) = outbox.iter().find(|e| e.local_id == entry.local_id) {
            if e.state == "failed" {
                break e.clone();
            }
        } else {
            panic!("the comment was sent");
        }
        assert!(std::time::Instant::now() < deadline, "{outbox:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.error_code.as_deref(), Some("doc_not_found"));
    let (_, comments) = server.get("/api/docs/plan/comments", Some(&mallory)).await;
    assert_eq!(comments["comments"], json!([]), "{comments}");
    a.shutdown();
}

/// Access lost while a replica is open (its user leaves the document's private channel): the
/// server closes it with 4007, the replica reconnects once, is refused (403) and stops for
/// good; it does not retry forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stops_when_access_is_lost() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    private_plan(&server, &alice).await;
    let dir = tempfile::tempdir().unwrap();
    let a = client(&server, &alice, &dir.path().join("a.db"));
    let b = client(&server, &bob, &dir.path().join("b.db"));
    a.wait_online(TIMEOUT).await.unwrap();
    a.request(parley_protocol::rpc::Invite {
        channel: "secret".into(),
        user: "bob".into(),
    })
    .await
    .unwrap();
    b.wait_online(TIMEOUT).await.unwrap();
    let plan = b.open_doc("plan").await.unwrap();
    plan.flush(TIMEOUT).await.unwrap();
    let mut events = plan.events();
    b.request(parley_protocol::rpc::LeaveChannel {
        channel: "secret".into(),
    })
    .await
    .unwrap();
    let gone = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Ok(parley_client::docs::ReplicaEvent::Gone(reason)) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("the replica stopped");
    assert_eq!(gone, parley_client::docs::DocGone::Forbidden);
    let err = plan.flush(TIMEOUT).await.unwrap_err();
    assert!(err.to_string().contains("no longer have access"), "{err}");
    a.shutdown();
    b.shutdown();
}
