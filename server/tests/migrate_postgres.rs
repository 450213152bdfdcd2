//! `parley-server migrate-to-postgres`: a workspace used on SQLite moves into PostgreSQL (the
//! test kit's, from Debian's package) and carries on there: the same accounts and passwords,
//! the same history under the same seqs and epoch (a client resumes without a reset), new ids
//! after the old ones. A second run into the filled database is refused.
#![allow(clippy::unwrap_used)]

use parley_testkit::{postgres::Postgres, *};
use serde_json::json;

#[tokio::test]
async fn a_sqlite_workspace_moves_into_postgres_and_clients_resume_there() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let mut old = TestServer::builder()
        .config(RELAXED)
        .sqlite()
        .start_process()
        .await;
    let alice_token = old.register("alice").await;
    let mut alice = old.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "team", "topic": "the plan"}))
        .await;
    for i in 0..10 {
        alice
            .ok(json!({"type": "send", "channel": "team", "text": format!("m{i}"), "client_id": format!("c{i}")}))
            .await;
    }
    let sub = alice
        .ok(json!({"type": "subscribe", "channel": "team"}))
        .await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let head = sub["head"].as_u64().unwrap();
    drop(alice);
    // An attachment: its file moves into the database with the rows.
    let file = b"an attachment made on SQLite\n".repeat(1000);
    let uploaded: serde_json::Value = old
        .http()
        .post(format!("{}/api/attachments?name=old.txt", old.url()))
        .bearer_auth(&alice_token)
        .body(file.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attachment = uploaded["id"].as_i64().unwrap();
    assert!(old.stop().await.success());

    let out = old.admin(&["migrate-to-postgres", "--to", &pg.url()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(report.contains("messages: 10 rows"), "{report}");
    assert!(report.contains("with 1 attachment files"), "{report}");

    let new = TestServer::builder()
        .config(RELAXED)
        .postgres(&pg.url())
        .start()
        .await;
    // The password hash came along.
    let token = new.login("alice", PASSWORD).await;
    let downloaded = new
        .http()
        .get(format!("{}/api/attachments/{attachment}", new.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status().as_u16(), 200);
    assert!(
        downloaded.bytes().await.unwrap().to_vec() == file,
        "the file came along"
    );
    let mut alice = new.connect(Some(&token)).await;
    // A client that had seen seq 5 resumes: same epoch, no reset, the rest in order.
    let resumed = alice
        .ok(json!({"type": "subscribe", "channel": "team", "since": 5, "epoch": epoch}))
        .await;
    assert!(resumed["reset"].is_null(), "{resumed}");
    assert_eq!(resumed["head"].as_u64().unwrap(), head);
    for expected in 6..=head {
        let frame = alice
            .wait_for(|f| f["type"] == "event" && f["seq"].is_u64())
            .await;
        assert_eq!(seq_of(&frame), expected);
    }
    // New writes continue after the old ones: seqs and ids.
    let sent = alice
        .ok(json!({"type": "send", "channel": "team", "text": "on postgres", "client_id": "pg1"}))
        .await;
    assert_eq!(sent["message"]["seq"].as_u64().unwrap(), head + 1);
    assert!(sent["message"]["id"].as_i64().unwrap() > 10);
    // A resend of a message sent on SQLite is still recognised.
    let again = alice
        .ok(json!({"type": "send", "channel": "team", "text": "m3", "client_id": "c3"}))
        .await;
    assert_eq!(again["duplicate"], true);
    let bob = new.register("bob").await;
    assert!(!bob.is_empty());
    let list = alice.ok(json!({"type": "channel_list"})).await;
    let team = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "team")
        .unwrap()
        .clone();
    assert_eq!(team["topic"], "the plan", "{list}");

    // Into a database that holds a workspace already: refused, nothing changed.
    let out = old.admin(&["migrate-to-postgres", "--to", &pg.url()], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds Parley data"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
