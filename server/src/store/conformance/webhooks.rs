//! Custom events in the durable log, and the webhook outbox and deliveries.

use parley_protocol::ErrorCode;

use super::{code, Harness};

pub async fn custom_events_are_logged_once_per_client_id(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let custom = |client_id: Option<&str>, n: i64| crate::store::CustomEvent {
        channel_id: team.id,
        channel_name: team.name.clone(),
        publisher_id: alice.id,
        client_id: client_id.map(str::to_owned),
        event: parley_protocol::Event::Custom {
            event: "data_update".into(),
            data: serde_json::json!({"n": n}),
            publisher: alice.to_ref(),
        },
    };
    let events = &h.stores.events;
    let first = events.append_custom(custom(Some("c1"), 1)).await.unwrap();
    assert_eq!((first.seq, first.duplicate), (2, false), "after the join");
    let again = events.append_custom(custom(Some("c1"), 2)).await.unwrap();
    assert_eq!(
        (again.seq, again.duplicate),
        (2, true),
        "the first one's seq"
    );
    let other = events.append_custom(custom(None, 3)).await.unwrap();
    assert_eq!((other.seq, other.duplicate), (3, false));
    let log = h.log(team.id).await;
    assert_eq!(log.len(), 3, "{log:?}");
    let (seq, event) = &log[1];
    assert_eq!(*seq, 2);
    assert!(
        matches!(event, parley_protocol::Event::Custom { data, .. } if data["n"] == 1),
        "{event:?}"
    );
    // Retention forgets the client id with its event: the same id publishes anew.
    assert_eq!(events.prune(team.id, None, Some(1)).await.unwrap(), Some(2));
    let later = events.append_custom(custom(Some("c1"), 4)).await.unwrap();
    assert_eq!((later.seq, later.duplicate), (4, false));
}

pub async fn webhook_outbox_deliveries_and_retries(h: &Harness) {
    use crate::store::{DeliveryOutcome, NewDelivery, NewEndpoint};
    let hooks = &h.stores.webhooks;
    let alice = h.user("alice").await;
    let before = h.channel("before", &alice).await;
    h.send(&before, &alice, "not captured").await;
    assert!(hooks.outbox(10).await.unwrap().is_empty(), "capture is off");
    let endpoint = hooks
        .add_endpoint(
            NewEndpoint {
                url: "http://127.0.0.1:9/hook".into(),
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
                events: vec!["*".into()],
                channels: vec![],
                source: "api".into(),
            },
            2,
        )
        .await
        .unwrap();
    hooks.set_webhook_capture(true).await.unwrap();
    let a = h.channel("a", &alice).await; // member.joined
    h.send(&a, &alice, "one").await;
    h.channel("b", &alice).await;
    hooks
        .capture_ephemeral("b".into(), "presence.changed".into(), "{}".into())
        .await
        .unwrap();
    let outbox = hooks.outbox(10).await.unwrap();
    let kinds: Vec<&str> = outbox.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "member.joined",
            "message.created",
            "member.joined",
            "presence.changed"
        ]
    );
    assert!(outbox.windows(2).all(|w| w[0].id < w[1].id));
    let deliveries: Vec<NewDelivery> = outbox
        .iter()
        .map(|r| NewDelivery {
            endpoint_id: endpoint.id,
            event_id: r.id,
            channel: r.channel.clone(),
            body: r.kind.clone(),
        })
        .collect();
    let read: Vec<i64> = outbox.iter().map(|r| r.id).collect();
    // At most 3 kept for the endpoint: the fourth is dropped.
    assert_eq!(
        hooks.record_deliveries(deliveries, read, 3).await.unwrap(),
        1
    );
    assert!(hooks.outbox(10).await.unwrap().is_empty());
    let now = crate::store::now_ms();
    // Per channel only the oldest: a's join (not its message), b's join.
    let due = hooks.due_deliveries(endpoint.id, now, 10).await.unwrap();
    let bodies: Vec<(&str, &str)> = due
        .iter()
        .map(|d| (d.channel.as_str(), d.body.as_str()))
        .collect();
    assert_eq!(bodies, [("a", "member.joined"), ("b", "member.joined")]);
    // A retry later holds its channel back; a dead one does not.
    let retry_at = now + 60_000;
    hooks
        .finish_delivery(
            due[0].id,
            DeliveryOutcome::Retry {
                at: retry_at,
                error: "500".into(),
            },
        )
        .await
        .unwrap();
    hooks
        .finish_delivery(
            due[1].id,
            DeliveryOutcome::Dead {
                error: "gone".into(),
            },
        )
        .await
        .unwrap();
    assert!(hooks
        .due_deliveries(endpoint.id, now, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(hooks.next_due(endpoint.id).await.unwrap(), Some(retry_at));
    let later = hooks
        .due_deliveries(endpoint.id, retry_at, 10)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(
        (later[0].attempts, later[0].body.as_str()),
        (1, "member.joined")
    );
    hooks
        .finish_delivery(later[0].id, DeliveryOutcome::Delivered)
        .await
        .unwrap();
    let backlog = hooks.webhook_backlog().await.unwrap();
    let counts = backlog.get(&endpoint.id).copied().unwrap_or_default();
    assert_eq!(
        (counts.pending, counts.dead),
        (1, 1),
        "a's message waits, b's join is dead"
    );
    assert_eq!(hooks.replay_dead(endpoint.id).await.unwrap(), 1);
    assert_eq!(hooks.webhook_backlog().await.unwrap()[&endpoint.id].dead, 0);
    let listed = hooks.webhook_endpoints().await.unwrap();
    assert_eq!(
        listed[0].last_error, None,
        "a delivery clears the last error"
    );
    // The endpoint limit, and removal with its deliveries.
    let mut second = NewEndpoint {
        url: "http://127.0.0.1:9/other".into(),
        ..NewEndpoint {
            url: String::new(),
            secret: listed[0].secret.clone(),
            events: vec!["*".into()],
            channels: vec![],
            source: "api".into(),
        }
    };
    hooks.add_endpoint(second.clone(), 2).await.unwrap();
    second.url = "http://127.0.0.1:9/third".into();
    assert_eq!(
        code(hooks.add_endpoint(second, 2).await),
        ErrorCode::LimitReached
    );
    assert!(hooks.remove_endpoint(endpoint.id).await.unwrap());
    assert!(!hooks.remove_endpoint(endpoint.id).await.unwrap());
    assert!(!hooks
        .webhook_backlog()
        .await
        .unwrap()
        .contains_key(&endpoint.id));
    assert_eq!(
        code(hooks.replay_dead(endpoint.id).await),
        ErrorCode::WebhookNotFound
    );
}
