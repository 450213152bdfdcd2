//! `channel_update`: a channel's members set or clear its topic; everyone following it gets a
//! durable `channel_updated` event (replayed on resume); outsiders, anonymous sessions and
//! channels without a topic of their own are refused with stable codes.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

#[tokio::test]
async fn members_set_and_clear_the_topic_and_followers_see_it_live_and_on_resume() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register("owner").await;
    let member = server.register("member").await;
    let mut ws = server.connect(Some(&owner)).await;
    ws.ok(json!({"type": "channel_create", "channel": "crew", "topic": "launch day"}))
        .await;
    let mut other = server.connect(Some(&member)).await;
    other
        .ok(json!({"type": "channel_join", "channel": "crew"}))
        .await;
    let sub = other
        .ok(json!({"type": "subscribe", "channel": "crew"}))
        .await;
    let head = sub["head"].as_u64().unwrap();

    // A member (not the admin) sets it; the answer is the channel as it is now.
    let reply = other
        .ok(json!({"type": "channel_update", "channel": "crew", "topic": "  ship it  "}))
        .await;
    assert_eq!(reply["channel"]["name"], "crew");
    assert_eq!(reply["channel"]["topic"], "ship it", "trimmed: {reply}");
    let event = other.event("crew", "channel_updated").await;
    assert_eq!(event["topic"], "ship it");
    assert_eq!(event["by"]["name"], "member");
    assert!(seq_of(&event) > head, "durable: {event}");

    // Listed with the new topic, to every member.
    let list = ws.ok(json!({"type": "channel_list"})).await;
    let crew = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "crew")
        .unwrap()
        .clone();
    assert_eq!(crew["topic"], "ship it");

    // Blank clears it; the event says null.
    ws.ok(json!({"type": "subscribe", "channel": "crew"})).await;
    let cleared = ws
        .ok(json!({"type": "channel_update", "channel": "crew", "topic": "   "}))
        .await;
    assert!(cleared["channel"]["topic"].is_null(), "{cleared}");
    let event = ws.event("crew", "channel_updated").await;
    assert!(event["topic"].is_null(), "{event}");
    assert_eq!(event["by"]["name"], "owner");
    // The same topic again changes nothing and stores no event.
    let again = ws
        .ok(json!({"type": "channel_update", "channel": "crew", "topic": ""}))
        .await;
    assert!(again["channel"]["topic"].is_null());

    // A session that was away resumes and gets both changes, in order.
    let mut late = server.connect(Some(&member)).await;
    late.send(
        json!({"type": "subscribe", "channel": "crew", "since": head, "epoch": sub["epoch"]}),
    )
    .await;
    let first = late.event("crew", "channel_updated").await;
    assert_eq!(first["topic"], "ship it");
    let second = late.event("crew", "channel_updated").await;
    assert!(second["topic"].is_null());
    assert!(seq_of(&second) > seq_of(&first));
    assert!(
        late.none_within(std::time::Duration::from_millis(300), |f| {
            f["kind"] == "channel_updated"
        })
        .await,
        "the unchanged topic stored no third event"
    );
}

#[tokio::test]
async fn topics_are_refused_to_outsiders_and_where_there_is_none_to_set() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register("owner").await;
    let outsider = server.register("outsider").await;
    server.register("friend").await;
    let mut ws = server.connect(Some(&owner)).await;
    ws.ok(json!({"type": "channel_create", "channel": "open"}))
        .await;
    ws.ok(json!({"type": "channel_create", "channel": "secret", "channel_type": "private"}))
        .await;
    let mut out = server.connect(Some(&outsider)).await;
    out.err(
        json!({"type": "channel_update", "channel": "open", "topic": "mine now"}),
        "not_member",
    )
    .await;
    out.err(
        json!({"type": "channel_update", "channel": "secret", "topic": "hello"}),
        "forbidden",
    )
    .await;
    let mut anonymous = server.connect(None).await;
    anonymous
        .err(
            json!({"type": "channel_update", "channel": "open", "topic": "x"}),
            "unauthenticated",
        )
        .await;
    out.err(
        json!({"type": "channel_update", "channel": "nope", "topic": "x"}),
        "channel_not_found",
    )
    .await;

    // Too long, or with control characters: refused before anything is stored.
    ws.err(
        json!({"type": "channel_update", "channel": "open", "topic": "x".repeat(501)}),
        "invalid_request",
    )
    .await;
    ws.ok(json!({"type": "channel_update", "channel": "open", "topic": "é".repeat(500)}))
        .await;
    ws.err(
        json!({"type": "channel_update", "channel": "open", "topic": "bell\u{7}"}),
        "invalid_request",
    )
    .await;
    ws.ok(json!({"type": "channel_update", "channel": "open", "topic": "two\nlines"}))
        .await;

    // Direct messages are titled by their people; threads and @me have no topic of their own.
    let dm = ws.ok(json!({"type": "dm_open", "users": ["friend"]})).await;
    ws.err(
        json!({"type": "channel_update", "channel": dm["channel"]["name"], "topic": "x"}),
        "forbidden",
    )
    .await;
    let sent = ws
        .ok(json!({"type": "send", "channel": "open", "text": "root", "client_id": "r"}))
        .await;
    let thread = ws
        .ok(json!({"type": "thread_open", "channel": "open", "message_id": sent["message"]["id"]}))
        .await;
    ws.err(
        json!({"type": "channel_update", "channel": thread["thread"]["channel"], "topic": "x"}),
        "forbidden",
    )
    .await;
    ws.err(
        json!({"type": "channel_update", "channel": "@me", "topic": "x"}),
        "forbidden",
    )
    .await;
}
