//! Edits, deletes and reactions: durable events, access, and a delete removes the content from
//! storage, from replayed history and from what resuming clients receive.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

#[tokio::test]
async fn edits_deletes_and_reactions() {
    // SQLite: the test reads the database file for deleted content.
    let server = TestServer::builder().config(RELAXED).sqlite().start().await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let carol_token = server.register("carol").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    let mut bob = server.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "channel_join", "channel": "team"}))
        .await;
    bob.ok(json!({"type": "subscribe", "channel": "team"}))
        .await;
    let sent = alice
        .ok(json!({"type": "send", "channel": "team", "text": "the secret plan", "client_id": "m1"}))
        .await;
    let id = sent["message"]["id"].as_i64().unwrap();
    let seq = sent["message"]["seq"].as_u64().unwrap();
    bob.event("team", "message").await;

    // Only the author edits.
    bob.err(
        json!({"type": "message_edit", "channel": "team", "message_id": id, "text": "mine"}),
        "forbidden",
    )
    .await;
    let edited = alice
        .ok(json!({"type": "message_edit", "channel": "team", "message_id": id, "text": "the new plan"}))
        .await;
    assert_eq!(edited["message"]["text"], "the new plan");
    assert!(edited["message"]["edited_at"].is_string());
    let event = bob.event("team", "message_edited").await;
    assert_eq!(event["message"]["text"], "the new plan");
    alice
        .err(
            json!({"type": "message_edit", "channel": "team", "message_id": id, "text": " "}),
            "message_empty",
        )
        .await;
    alice
        .err(
            json!({"type": "message_edit", "channel": "team", "message_id": 9999, "text": "x"}),
            "message_not_found",
        )
        .await;

    // Reactions: members only, idempotent, counted, with who reacted.
    let mut carol = server.connect(Some(&carol_token)).await;
    carol
        .err(
            json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}),
            "not_member",
        )
        .await;
    let r = bob
        .ok(json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    assert_eq!(r["count"], 1);
    let again = bob
        .ok(json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    assert_eq!(again["count"], 1, "adding twice changes nothing");
    alice
        .ok(json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    let reaction = bob.event("team", "reaction").await;
    assert_eq!(reaction["reaction"]["emoji"], "👍");
    bob.err(
        json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "a b"}),
        "invalid_emoji",
    )
    .await;
    let (_, page) = server
        .get("/api/channels/team/messages", Some(&bob_token))
        .await;
    let reactions = &page["messages"][0]["reactions"];
    assert_eq!(reactions[0]["emoji"], "👍");
    assert_eq!(reactions[0]["count"], 2);
    let removed = bob
        .ok(json!({"type": "reaction_remove", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    assert_eq!(removed["count"], 1);
    assert_eq!(removed["added"], false);

    // Delete: not by another member; by the author. The content is gone everywhere.
    bob.err(
        json!({"type": "message_delete", "channel": "team", "message_id": id}),
        "forbidden",
    )
    .await;
    alice
        .ok(json!({"type": "message_delete", "channel": "team", "message_id": id}))
        .await;
    let deleted = bob.event("team", "message_deleted").await;
    assert_eq!(deleted["message_id"], id);
    assert_eq!(deleted["message_seq"], seq);
    alice
        .err(
            json!({"type": "message_delete", "channel": "team", "message_id": id}),
            "message_not_found",
        )
        .await;
    let (_, page) = server
        .get("/api/channels/team/messages", Some(&bob_token))
        .await;
    assert_eq!(page["messages"][0]["deleted"], true);
    assert_eq!(page["messages"][0]["text"], "");
    assert!(page["messages"][0].get("mentions").is_none());
    // A client resuming from before the message replays no trace of its text.
    let mut late = server.connect(Some(&bob_token)).await;
    late.ok(json!({"type": "subscribe", "channel": "team", "since": 0}))
        .await;
    let mut replayed = String::new();
    loop {
        let frame = late.recv().await;
        if frame["type"] == "synced" {
            break;
        }
        replayed.push_str(&frame.to_string());
    }
    assert!(
        !replayed.contains("plan"),
        "deleted text replayed: {replayed}"
    );
    assert!(replayed.contains("message_deleted"));
    // Nor is it anywhere in the database.
    drop(late);
    let db = rusqlite::Connection::open(server.data_dir().join("parley.db")).unwrap();
    let hits: i64 = db
        .query_row(
            "SELECT (SELECT count(*) FROM messages WHERE text LIKE '%plan%')
                  + (SELECT count(*) FROM events WHERE frame LIKE '%plan%')
                  + (SELECT count(*) FROM message_edits)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 0, "deleted content still stored");

    // Channel admins delete others' messages.
    let sent = bob
        .ok(json!({"type": "send", "channel": "team", "text": "off topic", "client_id": "b1"}))
        .await;
    let bob_msg = sent["message"]["id"].as_i64().unwrap();
    alice
        .ok(json!({"type": "message_delete", "channel": "team", "message_id": bob_msg}))
        .await;
}

#[tokio::test]
async fn search_sees_only_readable_current_messages() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "open"}))
        .await;
    alice
        .ok(json!({"type": "channel_create", "channel": "secret", "channel_type": "private"}))
        .await;
    for (channel, text, id) in [
        ("open", "the quarterly roadmap is ready", "s1"),
        ("secret", "the secret roadmap for the acquisition", "s2"),
        ("open", "lunch at noon", "s3"),
    ] {
        alice
            .ok(json!({"type": "send", "channel": channel, "text": text, "client_id": id}))
            .await;
    }
    let mut bob = server.connect(Some(&bob_token)).await;
    let found = bob.ok(json!({"type": "search", "query": "roadmap"})).await;
    let hits = found["hits"].as_array().unwrap();
    assert_eq!(
        hits.len(),
        1,
        "bob must not see the private channel: {found}"
    );
    assert_eq!(hits[0]["message"]["channel"], "open");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("[roadmap]"));
    bob.err(
        json!({"type": "search", "query": "roadmap", "channel": "secret"}),
        "forbidden",
    )
    .await;
    let found = alice.ok(json!({"type": "search", "query": "road"})).await;
    assert_eq!(
        found["hits"].as_array().unwrap().len(),
        2,
        "prefix of the last word"
    );
    let found = alice
        .ok(json!({"type": "search", "query": "roadmap", "channel": "secret", "author": "alice"}))
        .await;
    assert_eq!(found["hits"].as_array().unwrap().len(), 1);
    let found = alice
        .ok(json!({"type": "search", "query": "roadmap", "author": "bob"}))
        .await;
    assert!(found["hits"].as_array().unwrap().is_empty());
    // Edits are searchable under the new text only; deletes are gone.
    let open_hit = alice.ok(json!({"type": "search", "query": "lunch"})).await;
    let id = open_hit["hits"][0]["message"]["id"].as_i64().unwrap();
    alice
        .ok(json!({"type": "message_edit", "channel": "open", "message_id": id, "text": "dinner at eight"}))
        .await;
    assert!(
        alice.ok(json!({"type": "search", "query": "lunch"})).await["hits"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        alice.ok(json!({"type": "search", "query": "dinner"})).await["hits"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    alice
        .ok(json!({"type": "message_delete", "channel": "open", "message_id": id}))
        .await;
    assert!(
        alice.ok(json!({"type": "search", "query": "dinner"})).await["hits"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Syntax characters are plain text, never an error.
    alice
        .ok(json!({"type": "search", "query": "\"NEAR( * OR -"}))
        .await;
}

#[tokio::test]
async fn direct_messages_are_one_channel_per_set_of_people() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let carol_token = server.register("carol").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    let mut bob = server.connect(Some(&bob_token)).await;
    let mut carol = server.connect(Some(&carol_token)).await;
    let first = alice.ok(json!({"type": "dm_open", "users": ["bob"]})).await;
    let name = first["channel"]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("dm:"), "{name}");
    assert_eq!(first["channel"]["channel_type"], "private");
    // Its topic names its people (clients title it with it) and it has presence.
    assert_eq!(first["channel"]["topic"], "alice, bob");
    assert_eq!(first["channel"]["presence"], true);
    // The same pair, from either side, any number of times: the same channel.
    let again = bob
        .ok(json!({"type": "dm_open", "users": ["alice", "alice"]}))
        .await;
    assert_eq!(again["channel"]["name"], name.as_str());
    bob.ok(json!({"type": "send", "channel": name, "text": "psst", "client_id": "d1"}))
        .await;
    // Outsiders see nothing; nobody can be added; the name cannot be taken by hand.
    carol
        .err(json!({"type": "history", "channel": name}), "forbidden")
        .await;
    alice
        .err(
            json!({"type": "channel_invite", "channel": name, "user": "carol"}),
            "forbidden",
        )
        .await;
    carol
        .err(
            json!({"type": "channel_create", "channel": "dm:99-100"}),
            "invalid_channel_name",
        )
        .await;
    // A group is another channel; nobody alone; unknown users are refused.
    let group = carol
        .ok(json!({"type": "dm_open", "users": ["alice", "bob"]}))
        .await;
    assert_ne!(group["channel"]["name"], name.as_str());
    carol
        .err(json!({"type": "dm_open", "users": []}), "invalid_request")
        .await;
    carol
        .err(
            json!({"type": "dm_open", "users": ["nobody"]}),
            "user_not_found",
        )
        .await;
    let (_, list) = server.get("/api/channels", Some(&alice_token)).await;
    assert!(list.to_string().contains(&name));
}

#[tokio::test]
async fn read_state_mentions_and_mutes() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    alice
        .ok(json!({"type": "channel_create", "channel": "random"}))
        .await;
    let mut bob_phone = server.connect(Some(&bob_token)).await;
    bob_phone
        .ok(json!({"type": "channel_join", "channel": "team"}))
        .await;
    bob_phone
        .ok(json!({"type": "channel_join", "channel": "random"}))
        .await;
    // Bob's laptop follows only his personal channel, not the channels themselves.
    let mut bob_laptop = server.connect(Some(&bob_token)).await;
    bob_laptop
        .ok(json!({"type": "subscribe", "channel": "@me"}))
        .await;

    for (i, text) in [
        "hello all",
        "@bob can you look?",
        "@channel standup now",
        "bye",
    ]
    .iter()
    .enumerate()
    {
        alice
            .ok(json!({"type": "send", "channel": "team", "text": text, "client_id": format!("t{i}")}))
            .await;
    }
    // Mentions reach bob where he listens, though he is not subscribed to the channel.
    let first = bob_laptop.wait_for(|f| f["kind"] == "mention").await;
    assert_eq!(first["message"]["text"], "@bob can you look?");
    assert_eq!(first["muted"], false);
    let second = bob_laptop.wait_for(|f| f["kind"] == "mention").await;
    assert_eq!(second["message"]["text"], "@channel standup now");
    let unread = bob_phone.ok(json!({"type": "unread"})).await;
    let team = unread["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "team")
        .unwrap()
        .clone();
    assert_eq!(
        (team["unread"].as_u64(), team["mentions"].as_u64()),
        (Some(4), Some(2)),
        "{team}"
    );

    // Reading on the phone (up to the @bob message) moves the position for the laptop too.
    let upto = first["message"]["seq"].as_u64().unwrap();
    let read = bob_phone
        .ok(json!({"type": "mark_read", "channel": "team", "seq": upto}))
        .await;
    assert_eq!(
        (read["unread"].as_u64(), read["mentions"].as_u64()),
        (Some(2), Some(1))
    );
    let synced = bob_laptop.wait_for(|f| f["kind"] == "read").await;
    assert_eq!(synced["read"]["channel"], "team");
    assert_eq!(synced["read"]["last_read"].as_u64(), Some(upto));
    // Never backwards.
    let read = bob_phone
        .ok(json!({"type": "mark_read", "channel": "team", "seq": 1}))
        .await;
    assert_eq!(read["last_read"].as_u64(), Some(upto));

    // Muted: mentions still counted and delivered, flagged muted; unread still counted.
    let muted = bob_phone
        .ok(json!({"type": "mute", "channel": "random"}))
        .await;
    assert_eq!(muted["muted_until"].as_i64(), Some(i64::MAX));
    alice
        .ok(json!({"type": "send", "channel": "random", "text": "@bob fyi", "client_id": "r1"}))
        .await;
    let mention = bob_laptop.wait_for(|f| f["kind"] == "mention").await;
    assert_eq!(mention["muted"], true);
    let unread = bob_phone.ok(json!({"type": "unread"})).await;
    let random = unread["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "random")
        .unwrap()
        .clone();
    assert_eq!(
        (random["unread"].as_u64(), random["mentions"].as_u64()),
        (Some(1), Some(1))
    );
    bob_phone
        .err(
            json!({"type": "mute", "channel": "random", "until": 1}),
            "invalid_request",
        )
        .await;
    let unmuted = bob_phone
        .ok(json!({"type": "unmute", "channel": "random"}))
        .await;
    assert!(unmuted.get("muted_until").is_none(), "{unmuted}");
    // The personal channel is nobody else's.
    let mut alice2 = server.connect(Some(&alice_token)).await;
    let mine = alice2
        .ok(json!({"type": "subscribe", "channel": "@me", "since": 0}))
        .await;
    assert_ne!(mine["channel"], "@me#2");
}

#[tokio::test]
async fn threads_have_their_own_resumable_stream_and_a_summary() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let eve_token = server.register("eve").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "team", "channel_type": "private"}))
        .await;
    alice
        .ok(json!({"type": "channel_invite", "channel": "team", "user": "bob"}))
        .await;
    alice
        .ok(json!({"type": "subscribe", "channel": "team"}))
        .await;
    let root = alice
        .ok(json!({"type": "send", "channel": "team", "text": "release on friday?", "client_id": "r"}))
        .await;
    let root_id = root["message"]["id"].as_i64().unwrap();
    let mut bob = server.connect(Some(&bob_token)).await;
    let opened = bob
        .ok(json!({"type": "thread_open", "channel": "team", "message_id": root_id}))
        .await;
    let thread = opened["thread"]["channel"].as_str().unwrap().to_owned();
    assert_eq!(thread, format!("thread#{root_id}"));
    assert_eq!(opened["thread"]["reply_count"], 0);
    bob.ok(json!({"type": "subscribe", "channel": thread}))
        .await;
    for (i, text) in ["yes", "after the freeze"].iter().enumerate() {
        bob.ok(
            json!({"type": "send", "channel": thread, "text": text, "client_id": format!("b{i}")}),
        )
        .await;
    }
    alice
        .ok(json!({"type": "send", "channel": thread, "text": "ok", "client_id": "a1"}))
        .await;
    // The parent channel hears the summary change; history carries it on the root.
    let mut last = json!(null);
    for _ in 0..3 {
        last = alice.event("team", "thread_updated").await;
    }
    assert_eq!(last["thread"]["reply_count"], 3);
    let (_, page) = server
        .get("/api/channels/team/messages", Some(&alice_token))
        .await;
    let root_in_history = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == root_id)
        .unwrap()
        .clone();
    assert_eq!(root_in_history["thread"]["reply_count"], 3);
    assert_eq!(
        root_in_history["thread"]["participants"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Replies stay out of the channel's own history.
    assert!(!page.to_string().contains("after the freeze"));
    // Resume the thread like a channel.
    let mut again = server.connect(Some(&bob_token)).await;
    again
        .ok(json!({"type": "subscribe", "channel": thread, "since": 1}))
        .await;
    let mut texts = Vec::new();
    loop {
        let frame = again.recv().await;
        if frame["type"] == "synced" {
            break;
        }
        texts.push(
            frame["message"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(texts, ["after the freeze", "ok"]);
    // Outsiders of the private channel cannot read or write the thread; no threads in threads;
    // the thread's channel is not listed and cannot be joined or deleted on its own.
    let mut eve = server.connect(Some(&eve_token)).await;
    eve.err(json!({"type": "subscribe", "channel": thread}), "forbidden")
        .await;
    eve.err(
        json!({"type": "send", "channel": thread, "text": "hi", "client_id": "e"}),
        "forbidden",
    )
    .await;
    eve.err(
        json!({"type": "thread_open", "channel": "team", "message_id": root_id}),
        "forbidden",
    )
    .await;
    let reply_id = bob.ok(json!({"type": "history", "channel": thread})).await["messages"][0]["id"]
        .as_i64()
        .unwrap();
    bob.err(
        json!({"type": "thread_open", "channel": thread, "message_id": reply_id}),
        "invalid_request",
    )
    .await;
    bob.err(
        json!({"type": "channel_join", "channel": thread}),
        "forbidden",
    )
    .await;
    assert_eq!(
        server
            .delete(
                &format!("/api/channels/{}", thread.replace('#', "%23")),
                Some(&alice_token)
            )
            .await
            .0,
        403
    );
    let (_, list) = server.get("/api/channels", Some(&alice_token)).await;
    assert!(!list.to_string().contains("thread#"), "{list}");
}

#[tokio::test]
async fn deleting_a_mentioning_message_redacts_the_mention_and_threads_mention_parents() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    let mut bob = server.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "channel_join", "channel": "team"}))
        .await;
    let sent = alice
        .ok(json!({"type": "send", "channel": "team", "text": "@bob the password is hunter2", "client_id": "x"}))
        .await;
    let id = sent["message"]["id"].as_i64().unwrap();
    alice
        .ok(json!({"type": "message_delete", "channel": "team", "message_id": id}))
        .await;
    // Bob's personal channel replays the mention without its text.
    bob.ok(json!({"type": "subscribe", "channel": "@me", "since": 0}))
        .await;
    let mut replay = String::new();
    loop {
        let frame = bob.recv().await;
        if frame["type"] == "synced" {
            break;
        }
        replay.push_str(&frame.to_string());
    }
    assert!(replay.contains("mention"), "{replay}");
    assert!(
        !replay.contains("hunter2"),
        "deleted text kept in @me: {replay}"
    );

    // @channel in a thread notifies the parent channel's members.
    let root = alice
        .ok(json!({"type": "send", "channel": "team", "text": "root", "client_id": "r"}))
        .await;
    let root_id = root["message"]["id"].as_i64().unwrap();
    let thread = alice
        .ok(json!({"type": "thread_open", "channel": "team", "message_id": root_id}))
        .await["thread"]["channel"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .ok(json!({"type": "send", "channel": thread, "text": "@channel look", "client_id": "t"}))
        .await;
    let mention = bob
        .wait_for(|f| f["kind"] == "mention" && f["message"]["text"] == "@channel look")
        .await;
    assert_eq!(mention["message"]["channel"], thread.as_str());

    // Leaving a DM and opening it again brings you back.
    let dm = bob.ok(json!({"type": "dm_open", "users": ["alice"]})).await["channel"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    bob.ok(json!({"type": "channel_leave", "channel": dm}))
        .await;
    bob.err(json!({"type": "history", "channel": dm}), "forbidden")
        .await;
    let back = bob.ok(json!({"type": "dm_open", "users": ["alice"]})).await;
    assert_eq!(back["channel"]["name"], dm.as_str());
    assert_eq!(back["channel"]["member"], true);
    bob.ok(json!({"type": "history", "channel": dm})).await;
}

#[tokio::test]
async fn read_receipts_only_where_enabled() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "receipts", "read_receipts": true}))
        .await;
    alice
        .ok(json!({"type": "channel_create", "channel": "quiet"}))
        .await;
    let mut bob = server.connect(Some(&bob_token)).await;
    for channel in ["receipts", "quiet"] {
        alice
            .ok(json!({"type": "subscribe", "channel": channel}))
            .await;
        bob.ok(json!({"type": "channel_join", "channel": channel}))
            .await;
        let sent = alice
            .ok(json!({"type": "send", "channel": channel, "text": "read me", "client_id": channel}))
            .await;
        let seq = sent["message"]["seq"].as_u64().unwrap();
        bob.ok(json!({"type": "mark_read", "channel": channel, "seq": seq}))
            .await;
    }
    let receipt = alice.event("receipts", "read_receipt").await;
    assert_eq!(receipt["user"]["name"], "bob");
    assert!(
        alice
            .none_within(std::time::Duration::from_millis(300), |f| f["kind"]
                == "read_receipt"
                && f["channel"] == "quiet")
            .await
    );
}

#[tokio::test]
async fn dm_size_and_search_result_limits_are_configurable() {
    let server = TestServer::start(
        &(RELAXED.to_owned() + "[realtime]\nmax_dm_members = 3\nmax_search_results = 2\n"),
    )
    .await;
    let token = server.register("alice").await;
    for name in ["bob", "carol", "dave"] {
        server.register(name).await;
    }
    let mut alice = server.connect(Some(&token)).await;
    alice
        .ok(json!({"type": "dm_open", "users": ["bob", "carol"]}))
        .await;
    alice
        .err(
            json!({"type": "dm_open", "users": ["bob", "carol", "dave"]}),
            "invalid_request",
        )
        .await;
    alice
        .ok(json!({"type": "channel_create", "channel": "notes"}))
        .await;
    for i in 0..5 {
        alice
            .ok(json!({"type": "send", "channel": "notes", "text": format!("apple {i}"), "client_id": format!("n{i}")}))
            .await;
    }
    let found = alice
        .ok(json!({"type": "search", "query": "apple", "limit": 50}))
        .await;
    assert_eq!(found["hits"].as_array().unwrap().len(), 2);
}
