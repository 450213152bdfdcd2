//! Presence and ephemeral events across nodes (`ephemeral.rs`): what this node's subscribers
//! cause goes to the relay; what other nodes report is delivered here, per user across nodes.
#![allow(clippy::unwrap_used)]

use super::tests::{caught_up, config, drain, subscribe, user};
use super::*;

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl EphemeralRelay for Recorder {
    fn ephemeral(&self, _channel_id: i64, frame: &str) {
        self.0.lock().unwrap().push(frame.to_owned());
    }
    fn hub_started(&self, channel_id: i64) {
        self.0.lock().unwrap().push(format!("started {channel_id}"));
    }
}

fn presence(state: &str, id: i64, name: &str) -> String {
    format!(
        r#"{{"type":"event","channel":"c","kind":"presence","state":"{state}","user":{{"id":{id},"name":"{name}"}},"status":"online"}}"#
    )
}

async fn flush(hub: &HubHandle) {
    let (reply, done) = tokio::sync::oneshot::channel();
    hub.send(HubCmd::Flush { reply }).await.unwrap();
    done.await.unwrap();
}

fn kinds(frames: &[String]) -> Vec<String> {
    frames
        .iter()
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(f).unwrap();
            format!(
                "{} {}",
                v["state"].as_str().unwrap_or(""),
                v["user"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn presence_is_per_user_across_nodes() {
    let hubs = Hubs::new(config(), Arc::default());
    let relay = Arc::new(Recorder::default());
    hubs.set_relay(relay.clone());
    let hub = hubs.hub(1, "c", true, 0);
    assert_eq!(
        relay.0.lock().unwrap().as_slice(),
        ["started 1"],
        "the others are asked"
    );
    let (mut rx, _c, _) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    caught_up(&hub, 7).await;
    assert_eq!(
        kinds(&relay.0.lock().unwrap()[1..]),
        ["joined alice"],
        "told to the others"
    );

    // Bob is present through node 9, then also through node 8: one join.
    hub.send(HubCmd::Remote {
        node: 9,
        frame: presence("joined", 2, "bob"),
    })
    .await
    .unwrap();
    hub.send(HubCmd::Remote {
        node: 8,
        frame: presence("joined", 2, "bob"),
    })
    .await
    .unwrap();
    // Alice opens a session on node 9 too: she is present here already, nothing to tell.
    hub.send(HubCmd::Remote {
        node: 9,
        frame: presence("joined", 1, "alice"),
    })
    .await
    .unwrap();
    flush(&hub).await;
    assert_eq!(kinds(&drain(&mut rx)), ["joined bob"]);
    let (reply, list) = tokio::sync::oneshot::channel();
    hub.send(HubCmd::PresenceList { reply }).await.unwrap();
    let list = list.await.unwrap();
    let names: Vec<(&str, u32)> = list
        .iter()
        .map(|e| (e.user.name.as_str(), e.sessions))
        .collect();
    assert_eq!(names, [("alice", 2), ("bob", 2)]);

    // Node 9 goes: bob stays (node 8), alice stays (here).
    hub.send(HubCmd::NodeGone { node: 9 }).await.unwrap();
    flush(&hub).await;
    assert!(drain(&mut rx).is_empty());
    // Bob leaves node 8: gone everywhere.
    hub.send(HubCmd::Remote {
        node: 8,
        frame: presence("left", 2, "bob"),
    })
    .await
    .unwrap();
    flush(&hub).await;
    assert_eq!(kinds(&drain(&mut rx)), ["left bob"]);

    // Another node asks who is here: alice is announced (to the relay only).
    relay.0.lock().unwrap().clear();
    hub.send(HubCmd::AnnouncePresence).await.unwrap();
    flush(&hub).await;
    assert_eq!(kinds(&relay.0.lock().unwrap()), ["joined alice"]);
    assert!(drain(&mut rx).is_empty());
}

#[tokio::test]
async fn other_ephemeral_events_pass_through_and_local_ones_go_out() {
    let hubs = Hubs::new(config(), Arc::default());
    let relay = Arc::new(Recorder::default());
    hubs.set_relay(relay.clone());
    let hub = hubs.hub(1, "c", false, 0);
    let (mut rx, _c, _) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    caught_up(&hub, 7).await;
    let typing = r#"{"type":"event","channel":"c","kind":"typing","user":{"id":2,"name":"bob"},"typing":true,"expires_in_ms":5000}"#;
    hub.send(HubCmd::Remote {
        node: 9,
        frame: typing.into(),
    })
    .await
    .unwrap();
    // Garbage from a peer is ignored.
    hub.send(HubCmd::Remote {
        node: 9,
        frame: "not json".into(),
    })
    .await
    .unwrap();
    flush(&hub).await;
    assert_eq!(drain(&mut rx), [typing]);
    relay.0.lock().unwrap().clear();
    let (_bob_rx, _b, _) = subscribe(&hub, 8, user(2, "bob"), 64).await;
    hub.send(HubCmd::Typing { conn_id: 8 }).await.unwrap();
    flush(&hub).await;
    let sent = relay.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains(r#""kind":"typing""#), "{sent:?}");
}
