//! Channel types and access: private channels refuse outsiders for every operation, personal
//! (`user_specific`) channels belong to one user, `max_participants` and `auto_subscribe`.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

#[tokio::test]
async fn private_channels_refuse_outsiders_everywhere() {
    let server = TestServer::start(RELAXED).await;
    let owner_token = server.register("owner").await;
    let outsider_token = server.register("outsider").await;
    let friend_token = server.register("friend").await;
    let mut owner = server.connect(Some(&owner_token)).await;
    owner.ok(json!({"type": "channel_create", "channel": "secret", "channel_type": "private", "presence": true})).await;
    owner
        .ok(json!({"type": "send", "channel": "secret", "text": "the plan", "client_id": "p1"}))
        .await;

    let mut outsider = server.connect(Some(&outsider_token)).await;
    for op in [
        json!({"type": "subscribe", "channel": "secret"}),
        json!({"type": "subscribe", "channel": "secret", "since": 0}),
        json!({"type": "history", "channel": "secret"}),
        json!({"type": "presence_list", "channel": "secret"}),
        json!({"type": "send", "channel": "secret", "text": "hi", "client_id": "x"}),
        json!({"type": "typing", "channel": "secret"}),
        json!({"type": "channel_join", "channel": "secret"}),
        json!({"type": "channel_invite", "channel": "secret", "user": "outsider"}),
    ] {
        outsider.err(op, "forbidden").await;
    }
    let mut anon = server.connect(None).await;
    anon.err(
        json!({"type": "subscribe", "channel": "secret"}),
        "unauthenticated",
    )
    .await;
    // Outsiders do not even see it listed; HTTP refuses the same way.
    let list = outsider.ok(json!({"type": "channel_list"})).await;
    assert!(list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "secret"));
    let (status, body) = server
        .get("/api/channels/secret/messages", Some(&outsider_token))
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!("forbidden")));
    let (status, _) = server
        .post(
            "/api/channels/secret/messages",
            Some(&outsider_token),
            json!({"text": "x", "client_id": "y"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .delete("/api/channels/secret", Some(&outsider_token))
        .await;
    assert_eq!(status, 403);

    // An invitation makes a member who can read and send; leaving takes it away again, and
    // also ends the subscriptions of that user's other sessions.
    owner
        .ok(json!({"type": "channel_invite", "channel": "secret", "user": "friend"}))
        .await;
    let mut friend = server.connect(Some(&friend_token)).await;
    let mut friend2 = server.connect(Some(&friend_token)).await;
    friend
        .ok(json!({"type": "subscribe", "channel": "secret", "since": 0}))
        .await;
    friend2
        .ok(json!({"type": "subscribe", "channel": "secret"}))
        .await;
    let event = friend.event("secret", "message").await;
    assert_eq!(event["message"]["text"], "the plan");
    friend
        .ok(json!({"type": "send", "channel": "secret", "text": "count me in", "client_id": "f1"}))
        .await;
    friend2.event("secret", "message").await;
    friend
        .ok(json!({"type": "channel_leave", "channel": "secret"}))
        .await;
    friend
        .err(json!({"type": "history", "channel": "secret"}), "forbidden")
        .await;
    owner.ok(json!({"type": "send", "channel": "secret", "text": "after you left", "client_id": "p2"})).await;
    assert!(
        friend2
            .none_within(std::time::Duration::from_millis(300), |f| f["kind"]
                == "message")
            .await
    );
    friend2
        .err(
            json!({"type": "subscribe", "channel": "secret"}),
            "forbidden",
        )
        .await;
    // Invitations need membership themselves, and name a real user.
    outsider
        .err(
            json!({"type": "channel_invite", "channel": "secret", "user": "friend"}),
            "forbidden",
        )
        .await;
    owner
        .err(
            json!({"type": "channel_invite", "channel": "secret", "user": "ghost"}),
            "user_not_found",
        )
        .await;
}

#[tokio::test]
async fn personal_channels_and_auto_subscribe() {
    let config = format!(
        "{RELAXED}\n[channels.\"inbox\"]\nuser_specific = true\nauto_subscribe = true\n\
         [channels.\"announcements\"]\nauto_subscribe = true\nauthentication = \"optional\"\n"
    );
    let server = TestServer::start(&config).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let alice = server.connect(Some(&alice_token)).await;
    let subs: Vec<String> = alice.hello["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["channel"].as_str().unwrap().to_owned())
        .collect();
    let alice_id = alice.hello["user"]["id"].as_i64().unwrap();
    assert!(subs.contains(&"announcements".to_owned()), "{subs:?}");
    assert!(subs.contains(&format!("inbox#{alice_id}")), "{subs:?}");

    let mut alice = alice;
    alice
        .ok(json!({"type": "send", "channel": "inbox", "text": "note to self", "client_id": "n1"}))
        .await;
    let event = alice.event(&format!("inbox#{alice_id}"), "message").await;
    assert_eq!(event["message"]["text"], "note to self");

    // Bob's `inbox` is his own; Alice's instance is forbidden to him by its full name.
    let mut bob = server.connect(Some(&bob_token)).await;
    let page = bob.ok(json!({"type": "history", "channel": "inbox"})).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 0);
    bob.err(
        json!({"type": "subscribe", "channel": format!("inbox#{alice_id}")}),
        "forbidden",
    )
    .await;
    bob.err(
        json!({"type": "history", "channel": format!("inbox#{alice_id}")}),
        "forbidden",
    )
    .await;
    bob.err(json!({"type": "send", "channel": format!("inbox#{alice_id}"), "text": "x", "client_id": "b"}), "forbidden").await;
    let mut anon = server.connect(None).await;
    anon.err(
        json!({"type": "history", "channel": "inbox"}),
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn max_participants_and_channel_names() {
    let server = TestServer::start(RELAXED).await;
    let tokens = [
        server.register("a1").await,
        server.register("a2").await,
        server.register("a3").await,
    ];
    let mut a1 = server.connect(Some(&tokens[0])).await;
    a1.ok(json!({"type": "channel_create", "channel": "small", "max_participants": 2}))
        .await;
    a1.err(
        json!({"type": "channel_create", "channel": "small"}),
        "channel_exists",
    )
    .await;
    for bad in ["Bad", "a b", "a::b", "x#1", ""] {
        a1.err(
            json!({"type": "channel_create", "channel": bad}),
            "invalid_channel_name",
        )
        .await;
    }
    let mut a2 = server.connect(Some(&tokens[1])).await;
    a2.ok(json!({"type": "channel_join", "channel": "small"}))
        .await;
    let mut a3 = server.connect(Some(&tokens[2])).await;
    a3.err(
        json!({"type": "channel_join", "channel": "small"}),
        "channel_full",
    )
    .await;
    a2.ok(json!({"type": "channel_leave", "channel": "small"}))
        .await;
    a3.ok(json!({"type": "channel_join", "channel": "small"}))
        .await;
    // Membership changes are durable events in the channel's history.
    let sub = a1
        .ok(json!({"type": "subscribe", "channel": "small", "since": 0}))
        .await;
    assert_eq!(sub["backlog"], 4);
    let kinds: Vec<String> = {
        let mut kinds = Vec::new();
        for _ in 0..4 {
            let f = a1.wait_for(|f| f["type"] == "event").await;
            kinds.push(f["kind"].as_str().unwrap().to_owned());
        }
        kinds
    };
    assert_eq!(
        kinds,
        [
            "member_joined",
            "member_joined",
            "member_left",
            "member_joined"
        ]
    );
}

#[tokio::test]
async fn admins_open_configured_private_channels_and_deletion_is_announced() {
    let config = format!("{RELAXED}\n[channels.\"staff\"]\ntype = \"private\"\n");
    let server = TestServer::start(&config).await;
    let out = server.admin(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some("root password\n"),
    );
    assert!(out.status.success());
    let root_token = String::from_utf8(server.admin(&["token", "create", "root"], None).stdout)
        .unwrap()
        .trim()
        .to_owned();
    let alice_token = server.register("alice").await;
    let mut root = server.connect(Some(&root_token)).await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .err(
            json!({"type": "channel_invite", "channel": "staff", "user": "alice"}),
            "forbidden",
        )
        .await;
    // The admin is not a member (no reading) but may invite, which is how anyone gets in.
    root.err(json!({"type": "history", "channel": "staff"}), "forbidden")
        .await;
    root.ok(json!({"type": "channel_invite", "channel": "staff", "user": "alice"}))
        .await;
    alice
        .ok(json!({"type": "subscribe", "channel": "staff"}))
        .await;
    alice
        .ok(json!({"type": "send", "channel": "staff", "text": "hello staff", "client_id": "s1"}))
        .await;
    alice.event("staff", "message").await;

    // Channel info carries the live head.
    let list = alice.ok(json!({"type": "channel_list"})).await;
    let staff = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "staff")
        .unwrap()
        .clone();
    assert_eq!(staff["head"], 2, "{staff}");

    // A channel made with the admin CLI while the server runs shows up in lists.
    let out = server.admin(&["channel", "create", "ops:cli-made"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = alice.ok(json!({"type": "channel_list"})).await;
    assert!(list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "ops:cli-made"));

    // Workspace admins may delete any channel; subscribers are told.
    let (status, _) = server
        .delete("/api/channels/staff", Some(&alice_token))
        .await;
    assert_eq!(
        status, 403,
        "members who are not channel admins may not delete"
    );
    let (status, _) = server
        .delete("/api/channels/staff", Some(&root_token))
        .await;
    assert_eq!(status, 204);
    let dropped = alice.event("staff", "unsubscribed").await;
    assert_eq!(dropped["reason"], "channel_deleted");
    alice
        .err(
            json!({"type": "history", "channel": "staff"}),
            "channel_not_found",
        )
        .await;
}

/// Joins racing for the last place: exactly as many succeed as there is room for.
#[tokio::test]
async fn concurrent_joins_respect_max_participants() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register("owner").await;
    let mut owner = server.connect(Some(&owner)).await;
    owner
        .ok(json!({"type": "channel_create", "channel": "tiny", "max_participants": 3}))
        .await;
    let mut clients = Vec::new();
    for i in 0..8 {
        let token = server.register(&format!("racer{i}")).await;
        clients.push(server.connect(Some(&token)).await);
    }
    let joins = clients.into_iter().map(|mut c| {
        tokio::spawn(async move {
            c.request(json!({"type": "channel_join", "channel": "tiny"}))
                .await
        })
    });
    let mut joined = 0;
    for join in joins {
        let reply = join.await.unwrap();
        match reply["type"].as_str().unwrap() {
            "reply" => joined += 1,
            _ => assert_eq!(reply["code"], "channel_full", "{reply}"),
        }
    }
    assert_eq!(joined, 2, "3 places, one taken by the creator");
}
