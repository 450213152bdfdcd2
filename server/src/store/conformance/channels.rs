//! Channels, members and the durable log.

use parley_protocol::{ErrorCode, Event};

use super::{code, new_channel, template_instance, Harness};
use crate::store::{
    CreateChannel, EnsureChannel, Join, LogPosition, MemberRole, MessageDelete, NewEvent,
};

pub async fn create_channel_makes_the_creator_admin_with_the_first_event(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    assert_eq!(team.name, "team");
    assert_eq!(team.head_seq, 1, "the record carries its first event's seq");
    let published = h.published();
    assert_eq!(published.len(), 1);
    assert_eq!((published[0].channel_id, published[0].seq), (team.id, 1));
    assert_eq!(
        h.log(team.id).await,
        [(
            1,
            Event::MemberJoined {
                user: alice.to_ref()
            }
        )]
    );
    let directory = h.stores.channels.load_directory().await.unwrap();
    assert!(directory.channels.iter().any(|c| c.id == team.id));
    assert!(directory
        .members
        .iter()
        .any(|m| m.channel_id == team.id && m.user_id == alice.id && m.role == MemberRole::Admin));
    let found = h
        .stores
        .channels
        .channel_by_name("team".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.record.id, team.id);
    assert_eq!(found.record.epoch, team.epoch);
    assert_eq!(found.members, [(alice.id, MemberRole::Admin)]);
    assert_eq!(
        h.stores.events.log_position(team.id).await.unwrap(),
        LogPosition {
            head: 1,
            pruned_through: 0
        }
    );
}

pub async fn create_channel_refuses_a_taken_name(h: &Harness) {
    let alice = h.user("alice").await;
    let first = h.channel("team", &alice).await;
    let again = h
        .stores
        .channels
        .create_channel(CreateChannel {
            channel: new_channel("team"),
            creator: alice.to_ref(),
            read_receipts: false,
            limit: None,
        })
        .await;
    assert_eq!(code(again), ErrorCode::ChannelExists);
    assert_eq!(h.log(first.id).await.len(), 1, "nothing was written");
    assert!(h
        .stores
        .channels
        .channel_by_name("missing".into())
        .await
        .unwrap()
        .is_none());
}

pub async fn create_channel_counts_the_limit_inside_the_write(h: &Harness) {
    let alice = h.user("alice").await;
    let create = |name: &str| CreateChannel {
        channel: new_channel(name),
        creator: alice.to_ref(),
        read_receipts: false,
        limit: Some(1),
    };
    let channels = &h.stores.channels;
    let (a, b) = tokio::join!(
        channels.create_channel(create("one")),
        channels.create_channel(create("two"))
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one of two concurrent creates passes the limit"
    );
    let refused = if a.is_ok() { b } else { a };
    assert_eq!(code(refused), ErrorCode::LimitReached);
    // Direct messages are counted apart, and a user's threads and personal channels not at all.
    channels.create_channel(create("dm:1-2")).await.unwrap();
    assert_eq!(
        code(channels.create_channel(create("dm:1-3")).await),
        ErrorCode::LimitReached
    );
    h.personal(&alice).await;
    let unlimited = CreateChannel {
        limit: None,
        ..create("three")
    };
    channels.create_channel(unlimited).await.unwrap();
}

pub async fn ensure_channel_finds_or_creates(h: &Harness) {
    let alice = h.user("alice").await;
    let first = h.personal(&alice).await;
    let again = h.personal(&alice).await;
    assert_eq!(first.id, again.id);
    assert_eq!(first.owner_id, Some(alice.id));
    assert!(first.template_id.is_some());
    assert_eq!(first.head_seq, 0, "ensuring a channel writes no event");
    assert!(h.published().is_empty());
    let names = h.stores.channels.channel_names().await.unwrap();
    assert!(names.contains(&"@me".to_owned()));
    assert!(
        !names.contains(&first.name),
        "personal instances are not listed"
    );
}

pub async fn configure_channel_applies_settings_to_personal_instances(h: &Harness) {
    let alice = h.user("alice").await;
    let mut inbox = new_channel("inbox");
    inbox.user_specific = true;
    inbox.topic = Some("first".into());
    let template = h
        .stores
        .channels
        .configure_channel(inbox.clone())
        .await
        .unwrap();
    let instance = h
        .stores
        .channels
        .ensure_channel(EnsureChannel {
            channel: template_instance(&template, &alice),
            created_by: Some(alice.id),
            owner: Some((alice.id, template.id)),
        })
        .await
        .unwrap();
    inbox.message_history = Some(5);
    inbox.presence = true;
    inbox.topic = None;
    inbox.kind = parley_protocol::ChannelType::Presence;
    let updated = h.stores.channels.configure_channel(inbox).await.unwrap();
    assert_eq!(
        updated.id, template.id,
        "configuring again updates the channel"
    );
    assert_eq!(updated.message_history, Some(5));
    assert_eq!(updated.kind, parley_protocol::ChannelType::Presence);
    assert_eq!(
        updated.topic.as_deref(),
        Some("first"),
        "no topic keeps the topic"
    );
    let instance = h
        .stores
        .channels
        .channel_by_name(instance.name)
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(instance.message_history, Some(5));
    assert!(instance.presence);
    assert_eq!(
        instance.kind,
        parley_protocol::ChannelType::Private,
        "an instance keeps its own kind"
    );
    assert_eq!(instance.max_participants, Some(1));
}

pub async fn members_join_and_leave_once(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let join = Join {
        channel_id: team.id,
        channel_name: team.name.clone(),
        user: bob.to_ref(),
        max_participants: None,
    };
    let channels = &h.stores.channels;
    assert!(channels.add_member(join.clone()).await.unwrap());
    assert!(!channels.add_member(join).await.unwrap());
    let found = channels
        .channel_by_name("team".into())
        .await
        .unwrap()
        .unwrap();
    assert!(found.members.contains(&(bob.id, MemberRole::Member)));
    assert!(channels
        .remove_member(team.id, team.name.clone(), bob.to_ref())
        .await
        .unwrap());
    assert!(!channels
        .remove_member(team.id, team.name.clone(), bob.to_ref())
        .await
        .unwrap());
    assert_eq!(
        h.log(team.id).await,
        [
            (
                1,
                Event::MemberJoined {
                    user: alice.to_ref()
                }
            ),
            (2, Event::MemberJoined { user: bob.to_ref() }),
            (3, Event::MemberLeft { user: bob.to_ref() }),
        ]
    );
}

pub async fn set_topic_stores_it_with_its_event(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let channels = &h.stores.channels;
    let record = channels
        .set_topic(
            team.id,
            team.name.clone(),
            Some("ship it".into()),
            alice.to_ref(),
        )
        .await
        .unwrap();
    assert_eq!(record.topic.as_deref(), Some("ship it"));
    assert_eq!(record.head_seq, 2, "the record carries the event's seq");
    let cleared = channels
        .set_topic(team.id, team.name.clone(), None, alice.to_ref())
        .await
        .unwrap();
    assert_eq!(cleared.topic, None);
    let found = channels.channel_by_id(team.id).await.unwrap().unwrap();
    assert_eq!(found.record.topic, None);
    assert_eq!(
        h.log(team.id).await[1..],
        [
            (
                2,
                Event::ChannelUpdated {
                    topic: Some("ship it".into()),
                    by: alice.to_ref()
                }
            ),
            (
                3,
                Event::ChannelUpdated {
                    topic: None,
                    by: alice.to_ref()
                }
            ),
        ]
    );
    channels.delete_channel(team.id).await.unwrap();
    let gone = channels
        .set_topic(
            team.id,
            team.name.clone(),
            Some("late".into()),
            alice.to_ref(),
        )
        .await;
    assert_eq!(code(gone), ErrorCode::ChannelNotFound);
}

pub async fn add_member_refuses_a_full_channel(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let mut joins = Vec::new();
    for name in ["bob", "carol", "dave"] {
        let user = h.user(name).await;
        joins.push(h.stores.channels.add_member(Join {
            channel_id: team.id,
            channel_name: team.name.clone(),
            user: user.to_ref(),
            max_participants: Some(2),
        }));
    }
    let results = futures_util::future::join_all(joins).await;
    let passed = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(passed, 1, "one place was left: {results:?}");
    for refused in results.into_iter().filter(Result::is_err) {
        assert_eq!(code(refused), ErrorCode::ChannelFull);
    }
}

pub async fn seqs_are_per_channel_in_commit_order(h: &Harness) {
    let alice = h.user("alice").await;
    let a = h.channel("a", &alice).await;
    let b = h.channel("b", &alice).await;
    h.published();
    for i in 0..3 {
        for channel in [&a, &b] {
            let seq = h
                .stores
                .events
                .append_event(NewEvent {
                    channel_id: channel.id,
                    channel_name: channel.name.clone(),
                    event: Event::MemberLeft {
                        user: alice.to_ref(),
                    },
                    author_id: Some(alice.id),
                })
                .await
                .unwrap();
            assert_eq!(seq, 2 + i);
        }
    }
    let published: Vec<(i64, u64)> = h
        .published()
        .iter()
        .map(|p| (p.channel_id, p.seq))
        .collect();
    assert_eq!(
        published,
        [
            (a.id, 2),
            (b.id, 2),
            (a.id, 3),
            (b.id, 3),
            (a.id, 4),
            (b.id, 4)
        ]
    );
    assert_eq!(h.stores.events.log_position(b.id).await.unwrap().head, 4);
}

pub async fn concurrent_appends_get_distinct_seqs(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    h.published();
    let appends = (0..40).map(|_| {
        h.stores.events.append_event(NewEvent {
            channel_id: team.id,
            channel_name: team.name.clone(),
            event: Event::MemberJoined {
                user: alice.to_ref(),
            },
            author_id: None,
        })
    });
    let mut seqs: Vec<u64> = futures_util::future::join_all(appends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (2..42).collect::<Vec<u64>>());
    let published: Vec<u64> = h.published().iter().map(|p| p.seq).collect();
    assert_eq!(
        published,
        (2..42).collect::<Vec<u64>>(),
        "published in seq order"
    );
}

pub async fn events_page_and_count(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    for i in 0..9 {
        h.send(&team, &alice, &format!("m{i}")).await;
    }
    let events = &h.stores.events;
    let page = events.events_between(team.id, 2, 8, 3).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(events.count_events_between(team.id, 2, 8).await.unwrap(), 6);
    assert_eq!(
        events.count_events_between(team.id, 10, 10).await.unwrap(),
        0
    );
    assert!(events
        .events_between(team.id, 10, 12, 5)
        .await
        .unwrap()
        .is_empty());
    let published = h.published();
    let last = published.last().unwrap();
    let stored = events
        .events_between(team.id, last.seq - 1, last.seq, 1)
        .await
        .unwrap();
    assert_eq!(
        stored[0].frame.as_str(),
        last.frame.as_str(),
        "a resume replays the bytes subscribers got"
    );
}

pub async fn prune_by_count_and_by_age(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let mut sent = Vec::new();
    for i in 0..9 {
        sent.push(h.send(&team, &alice, &format!("m{i}")).await);
    }
    let events = &h.stores.events;
    // 10 events (the join and 9 messages); keeping 4 removes through seq 6.
    assert_eq!(events.prune(team.id, None, Some(4)).await.unwrap(), Some(6));
    assert_eq!(events.prune(team.id, None, Some(4)).await.unwrap(), None);
    assert_eq!(events.prune(team.id, None, Some(0)).await.unwrap(), None);
    let position = events.log_position(team.id).await.unwrap();
    assert_eq!((position.head, position.pruned_through), (10, 6));
    let left: Vec<u64> = h.log(team.id).await.iter().map(|(s, _)| *s).collect();
    assert_eq!(left, [7, 8, 9, 10]);
    let history = h.stores.messages.history(team.id, None, 50).await.unwrap();
    let seqs: Vec<u64> = history.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [10, 9, 8, 7], "the messages go with their events");
    // A pruned message is gone: it can no longer be deleted.
    let gone = h
        .stores
        .messages
        .delete_message(MessageDelete {
            channel_id: team.id,
            message_id: sent[0].id,
            by: alice.to_ref(),
            as_manager: true,
        })
        .await;
    assert_eq!(code(gone), ErrorCode::MessageNotFound);
    let future = crate::store::now_ms() + 60_000;
    assert_eq!(
        events.prune(team.id, Some(future), None).await.unwrap(),
        Some(10)
    );
    assert!(h.log(team.id).await.is_empty());
    assert_eq!(
        events.log_position(team.id).await.unwrap(),
        LogPosition {
            head: 10,
            pruned_through: 10
        }
    );
    let next = h.send(&team, &alice, "after").await;
    assert_eq!(next.seq, 11, "retention never gives a seq again");
}

pub async fn delete_channel_takes_everything_under_it(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let root = h.send(&team, &alice, "root").await;
    let thread = h
        .stores
        .threads
        .open_thread(team.id, root.id, alice.id)
        .await
        .unwrap()
        .channel;
    let (doc, comments) = h
        .stores
        .documents
        .create_document(crate::store::NewDocument {
            name: "plan".into(),
            title: None,
            channel_id: Some(team.id),
            default_role: parley_protocol::DocRole::Editor,
            created_by: alice.id,
            limit: None,
        })
        .await
        .unwrap();
    h.stores.channels.delete_channel(team.id).await.unwrap();
    for name in [&team.name, &thread.name, &comments.name] {
        let found = h
            .stores
            .channels
            .channel_by_name(name.clone())
            .await
            .unwrap();
        assert!(found.is_none(), "{name} should be gone");
    }
    let docs = h.stores.documents.load_documents().await.unwrap();
    assert!(docs.iter().all(|(d, _)| d.id != doc.id));
    assert_eq!(
        code(h.stores.events.log_position(team.id).await),
        ErrorCode::ChannelNotFound
    );
    let directory = h.stores.channels.load_directory().await.unwrap();
    assert!(directory.members.iter().all(|m| m.channel_id != team.id));
    // The name is free again, with a new history.
    let again = h.channel("team", &alice).await;
    assert_ne!(again.id, team.id, "a channel's id is never given again");
    assert_ne!(again.epoch, team.epoch);
    assert_eq!(again.head_seq, 1);

    // A template takes its personal instances with it.
    let personal = h.personal(&alice).await;
    let template = personal.template_id.unwrap();
    h.stores.channels.delete_channel(template).await.unwrap();
    let found = h
        .stores
        .channels
        .channel_by_name(personal.name.clone())
        .await
        .unwrap();
    assert!(found.is_none());
}

pub async fn a_missing_channel_has_no_log(h: &Harness) {
    assert_eq!(
        code(h.stores.events.log_position(12345).await),
        ErrorCode::ChannelNotFound
    );
    let alice = h.user("alice").await;
    let append = h
        .stores
        .events
        .append_event(NewEvent {
            channel_id: 12345,
            channel_name: "nowhere".into(),
            event: Event::MemberJoined {
                user: alice.to_ref(),
            },
            author_id: None,
        })
        .await;
    assert!(append.is_err());
    assert!(h.published().is_empty());
}

pub async fn channels_and_memberships_are_found_on_demand(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let other = h.channel("other", &bob).await;
    let channels = &h.stores.channels;
    channels
        .add_member(Join {
            channel_id: team.id,
            channel_name: team.name.clone(),
            user: bob.to_ref(),
            max_participants: None,
        })
        .await
        .unwrap();
    let found = channels.channel_by_id(team.id).await.unwrap().unwrap();
    assert_eq!(found.record.name, "team");
    let mut members = found.members;
    members.sort_by_key(|(user, _)| *user);
    assert_eq!(
        members,
        [(alice.id, MemberRole::Admin), (bob.id, MemberRole::Member)]
    );
    assert!(channels.channel_by_id(999).await.unwrap().is_none());
    assert_eq!(
        channels.member_role(team.id, bob.id).await.unwrap(),
        Some(MemberRole::Member)
    );
    assert_eq!(
        channels.member_role(other.id, alice.id).await.unwrap(),
        None
    );
    let mut of_bob: Vec<(i64, MemberRole)> = channels
        .memberships_of(bob.id)
        .await
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m.user_id, bob.id);
            (m.channel_id, m.role)
        })
        .collect();
    of_bob.sort_by_key(|(channel, _)| *channel);
    assert_eq!(
        of_bob,
        [(team.id, MemberRole::Member), (other.id, MemberRole::Admin)]
    );
    channels
        .remove_member(team.id, team.name.clone(), bob.to_ref())
        .await
        .unwrap();
    assert_eq!(channels.member_role(team.id, bob.id).await.unwrap(), None);
}
