//! `channel_members`: a channel's members and roles, paged in user id order, to whoever may read
//! the channel; never to outsiders of a private channel or to anonymous sessions.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::{json, Value};

fn names(result: &Value) -> Vec<(String, String)> {
    result["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["name"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn members_are_listed_with_roles_page_by_page() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register("owner").await;
    let mut tokens = Vec::new();
    for n in 0..5 {
        tokens.push(server.register(&format!("member{n}")).await);
    }
    let mut ws = server.connect(Some(&owner)).await;
    ws.ok(json!({"type": "channel_create", "channel": "crew"}))
        .await;
    for token in &tokens {
        let mut member = server.connect(Some(token)).await;
        member
            .ok(json!({"type": "channel_join", "channel": "crew"}))
            .await;
    }

    // Pages of two, in user id order (registration order here), owner first as its admin.
    let mut seen = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let mut op = json!({"type": "channel_members", "channel": "crew", "limit": 2});
        if let Some(a) = after {
            op["after"] = json!(a);
        }
        let page = ws.ok(op).await;
        assert_eq!(page["channel"], "crew");
        let members = page["members"].as_array().unwrap();
        assert!(members.len() <= 2, "{page}");
        after = members.last().map(|m| m["user"]["id"].as_i64().unwrap());
        seen.extend(names(&page));
        if page["has_more"] != true {
            break;
        }
    }
    let want: Vec<(String, String)> = std::iter::once(("owner".to_owned(), "admin".to_owned()))
        .chain((0..5).map(|n| (format!("member{n}"), "member".to_owned())))
        .collect();
    assert_eq!(seen, want);

    // The default page holds them all; a limit past the cap is clamped, not refused.
    let all = ws
        .ok(json!({"type": "channel_members", "channel": "crew", "limit": 100000}))
        .await;
    assert_eq!(names(&all).len(), 6);
    assert_eq!(all["has_more"], false);
    let least = ws
        .ok(json!({"type": "channel_members", "channel": "crew", "limit": 0}))
        .await;
    assert_eq!(
        names(&least).len(),
        1,
        "a limit of 0 is clamped to 1: {least}"
    );
    assert_eq!(least["has_more"], true);

    // A member who leaves is no longer listed.
    let mut leaver = server.connect(Some(&tokens[0])).await;
    leaver
        .ok(json!({"type": "channel_leave", "channel": "crew"}))
        .await;
    let after_leave = ws
        .ok(json!({"type": "channel_members", "channel": "crew"}))
        .await;
    assert!(!names(&after_leave).iter().any(|(n, _)| n == "member0"));
    ws.err(
        json!({"type": "channel_members", "channel": "nope"}),
        "channel_not_found",
    )
    .await;
}

#[tokio::test]
async fn private_members_are_for_members_and_anonymous_sessions_see_none() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register("owner").await;
    let outsider = server.register("outsider").await;
    let mut ws = server.connect(Some(&owner)).await;
    ws.ok(json!({"type": "channel_create", "channel": "secret", "channel_type": "private"}))
        .await;
    let listed = ws
        .ok(json!({"type": "channel_members", "channel": "secret"}))
        .await;
    assert_eq!(
        names(&listed),
        vec![("owner".to_owned(), "admin".to_owned())]
    );

    let mut other = server.connect(Some(&outsider)).await;
    other
        .err(
            json!({"type": "channel_members", "channel": "secret"}),
            "forbidden",
        )
        .await;
    let mut anonymous = server.connect(None).await;
    anonymous
        .err(
            json!({"type": "channel_members", "channel": "secret"}),
            "unauthenticated",
        )
        .await;

    // A thread has no members of its own.
    let sent = ws
        .ok(json!({"type": "send", "channel": "secret", "text": "root", "client_id": "r"}))
        .await;
    let thread = ws
        .ok(json!({"type": "thread_open", "channel": "secret", "message_id": sent["message"]["id"]}))
        .await;
    ws.err(
        json!({"type": "channel_members", "channel": thread["thread"]["channel"]}),
        "forbidden",
    )
    .await;
}
