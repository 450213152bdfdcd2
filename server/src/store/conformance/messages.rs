//! Sends, edits, deletes, history, threads and reactions.

use parley_protocol::{ErrorCode, Event};

use super::{code, next_client_id, notice, post, Harness};
use crate::store::{Join, MessageDelete, MessageEdit, ReactionUpdate, ThreadReply};

pub async fn a_send_commits_the_message_and_its_event(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    h.published();
    let outcome = h.post(post(&team, &alice, "hello", "c-1")).await;
    assert!(!outcome.duplicate);
    let message = outcome.message;
    assert_eq!(
        (
            message.seq,
            message.text.as_str(),
            message.client_id.as_str()
        ),
        (2, "hello", "c-1")
    );
    assert_eq!(message.channel, "team");
    assert_eq!(message.author, alice.to_ref());
    let published = h.published();
    assert_eq!(published.len(), 1, "published before the send was answered");
    assert_eq!(published[0].author_id, Some(alice.id));
    assert_eq!(
        super::event_of(&published[0].frame),
        (
            2,
            Event::Message {
                message: message.clone()
            }
        )
    );
    let history = h.stores.messages.history(team.id, None, 10).await.unwrap();
    assert_eq!(history.messages, [message]);
    assert!(!history.has_more);
}

pub async fn sends_are_idempotent_per_author_and_client_id(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let first = h.post(post(&team, &alice, "once", "same")).await;
    h.published();
    let again = h.post(post(&team, &alice, "twice?", "same")).await;
    assert!(again.duplicate);
    assert_eq!(again.message.id, first.message.id);
    assert_eq!(again.message.text, "once", "the original comes back");
    assert!(h.published().is_empty(), "a repeat writes nothing");
    let other = h.post(post(&team, &bob, "mine", "same")).await;
    assert!(!other.duplicate, "client ids are per author");
    assert_eq!(other.message.seq, 3);
}

pub async fn queued_sends_commit_in_queue_order(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let mut committed = Vec::new();
    for i in 0..50 {
        let post = post(&team, &alice, &format!("m{i}"), &next_client_id());
        committed.push(h.stores.messages.submit_message(post).await.unwrap());
    }
    let mut seqs = Vec::new();
    for done in committed {
        seqs.push(done.await.unwrap().message.seq);
    }
    assert_eq!(seqs, (2..52).collect::<Vec<u64>>());
}

pub async fn a_send_notifies_mentioned_users(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let team = h.channel("team", &alice).await;
    let (bob_me, carol_me) = (h.personal(&bob).await, h.personal(&carol).await);
    h.published();
    let mut send = post(&team, &alice, "@bob @carol look", "m1");
    send.mentions = vec![
        notice(&bob, &bob_me, false),
        notice(&carol, &carol_me, true),
    ];
    let message = h.post(send).await.message;
    let mut mentioned = message.mentions.clone();
    mentioned.sort_unstable();
    assert_eq!(mentioned, [bob.id, carol.id]);
    let published = h.published();
    assert_eq!(
        published.iter().map(|p| p.channel_id).collect::<Vec<_>>(),
        [team.id, bob_me.id, carol_me.id],
        "the message first, then each notice, in one commit"
    );
    let (seq, event) = super::event_of(&published[2].frame);
    assert_eq!(seq, 1);
    match event {
        Event::Mention { message: m, muted } => {
            assert!(muted);
            assert_eq!(m.id, message.id);
        }
        other => panic!("expected a mention, got {other:?}"),
    }
    let counts = h.stores.reads.read_counts(bob.id, team.id).await.unwrap();
    assert_eq!((counts.unread, counts.mentions), (1, 1));
    let history = h.stores.messages.history(team.id, None, 1).await.unwrap();
    let mut listed = history.messages[0].mentions.clone();
    listed.sort_unstable();
    assert_eq!(listed, [bob.id, carol.id]);
}

pub async fn a_send_links_attachments(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let file = h
        .stores
        .attachments
        .insert_attachment(
            super::attachments::upload(&alice, "a1", 10),
            Box::new(|| Ok(())),
        )
        .await
        .unwrap();
    let mut send = post(&team, &alice, "see file", "m1");
    send.attachments = vec![file.id];
    let message = h.post(send).await.message;
    assert_eq!(message.attachments, std::slice::from_ref(&file));
    let history = h.stores.messages.history(team.id, None, 1).await.unwrap();
    assert_eq!(history.messages[0].attachments, std::slice::from_ref(&file));
    let access = h
        .stores
        .attachments
        .attachment_access(file.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.channels, [team.id]);
    assert_eq!(access.stored.uploader_id, alice.id);
}

pub async fn thread_replies_update_the_summary(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let root = h.send(&team, &alice, "root").await;
    let opened = h
        .stores
        .threads
        .open_thread(team.id, root.id, bob.id)
        .await
        .unwrap();
    assert_eq!(opened.root.id, root.id);
    assert_eq!(opened.channel.name, format!("thread#{}", root.id));
    assert_eq!(opened.channel.parent_id, Some(team.id));
    assert_eq!(opened.channel.thread_root, Some(root.id));
    assert_eq!(opened.summary.reply_count, 0);
    let again = h
        .stores
        .threads
        .open_thread(team.id, root.id, alice.id)
        .await
        .unwrap();
    assert_eq!(
        again.channel.id, opened.channel.id,
        "one thread per message"
    );
    h.published();
    let thread = opened.channel;
    for (author, text) in [(&bob, "one"), (&alice, "two"), (&bob, "three")] {
        let mut reply = post(&thread, author, text, &next_client_id());
        reply.thread = Some(ThreadReply {
            root_id: root.id,
            parent_id: team.id,
            parent_name: team.name.clone(),
        });
        h.post(reply).await;
    }
    let published = h.published();
    let on_team: Vec<_> = published
        .iter()
        .filter(|p| p.channel_id == team.id)
        .collect();
    assert_eq!(on_team.len(), 3);
    match super::event_of(&on_team[2].frame).1 {
        Event::ThreadUpdated { thread: summary } => {
            assert_eq!(summary.reply_count, 3);
            assert_eq!(summary.participants, [bob.id, alice.id]);
            assert_eq!(summary.channel, thread.name);
            assert!(summary.last_reply_at.is_some());
        }
        other => panic!("expected thread_updated, got {other:?}"),
    }
    let history = h.stores.messages.history(team.id, None, 10).await.unwrap();
    let listed = history.messages.iter().find(|m| m.id == root.id).unwrap();
    assert_eq!(listed.thread.as_ref().unwrap().reply_count, 3);
    let replies = h
        .stores
        .messages
        .history(thread.id, None, 10)
        .await
        .unwrap();
    assert_eq!(replies.messages.len(), 3);
}

pub async fn open_thread_needs_a_live_root(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let other = h.channel("other", &alice).await;
    let threads = &h.stores.threads;
    assert_eq!(
        code(threads.open_thread(team.id, 999, alice.id).await),
        ErrorCode::MessageNotFound
    );
    let root = h.send(&team, &alice, "root").await;
    assert_eq!(
        code(threads.open_thread(other.id, root.id, alice.id).await),
        ErrorCode::MessageNotFound,
        "the root must be in the channel"
    );
    h.stores
        .messages
        .delete_message(MessageDelete {
            channel_id: team.id,
            message_id: root.id,
            by: alice.to_ref(),
            as_manager: false,
        })
        .await
        .unwrap();
    assert_eq!(
        code(threads.open_thread(team.id, root.id, alice.id).await),
        ErrorCode::MessageNotFound
    );
}

pub async fn an_edit_takes_the_old_text_out_of_stored_frames(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let bob_me = h.personal(&bob).await;
    let mut send = post(&team, &alice, "first @bob", "m1");
    send.mentions = vec![notice(&bob, &bob_me, false)];
    let message = h.post(send).await.message;
    let edit = |text: &str| MessageEdit {
        channel_id: team.id,
        message_id: message.id,
        text: text.to_owned(),
        editor: alice.id,
    };
    let edited = h
        .stores
        .messages
        .edit_message(edit("second @bob"))
        .await
        .unwrap();
    assert_eq!(edited.text, "second @bob");
    assert!(edited.edited_at.is_some());
    assert_eq!(edited.seq, message.seq, "an edit keeps the message's place");
    let log = h.log(team.id).await;
    let texts: Vec<(&str, String)> = log
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Message { message } => Some(("message", message.text.clone())),
            Event::MessageEdited { message } => Some(("edited", message.text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [("message", String::new()), ("edited", "second @bob".into())]
    );
    h.stores.messages.edit_message(edit("third")).await.unwrap();
    let texts: Vec<String> = h
        .log(team.id)
        .await
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Message { message } => Some(message.text),
            Event::MessageEdited { message } => Some(message.text),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["", "", "third"], "only the last frame carries text");
    match &h.log(bob_me.id).await[0].1 {
        Event::Mention { message: m, .. } => {
            assert_eq!(m.text, "third", "the notice carries the text as it is now");
            assert!(m.edited_at.is_some());
        }
        other => panic!("expected a mention, got {other:?}"),
    }
    let history = h.stores.messages.history(team.id, None, 1).await.unwrap();
    assert_eq!(history.messages[0].text, "third");
}

pub async fn only_the_author_edits(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let message = h.send(&team, &alice, "mine").await;
    let edit = |editor: i64, message_id: i64| MessageEdit {
        channel_id: team.id,
        message_id,
        text: "changed".into(),
        editor,
    };
    let messages = &h.stores.messages;
    assert_eq!(
        code(messages.edit_message(edit(bob.id, message.id)).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(messages.edit_message(edit(alice.id, 999)).await),
        ErrorCode::MessageNotFound
    );
    assert_eq!(h.log(team.id).await.len(), 2, "refused edits write nothing");
}

pub async fn a_delete_removes_the_content_everywhere(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let bob_me = h.personal(&bob).await;
    let file = h
        .stores
        .attachments
        .insert_attachment(
            super::attachments::upload(&alice, "a1", 10),
            Box::new(|| Ok(())),
        )
        .await
        .unwrap();
    let mut send = post(&team, &alice, "secret @bob", "m1");
    send.mentions = vec![notice(&bob, &bob_me, false)];
    send.attachments = vec![file.id];
    let message = h.post(send).await.message;
    h.stores
        .reactions
        .react(ReactionUpdate {
            channel_id: team.id,
            message_id: message.id,
            user: bob.to_ref(),
            emoji: "👍".into(),
            add: true,
        })
        .await
        .unwrap();
    h.stores
        .messages
        .edit_message(MessageEdit {
            channel_id: team.id,
            message_id: message.id,
            text: "still secret".into(),
            editor: alice.id,
        })
        .await
        .unwrap();
    h.published();
    h.stores
        .messages
        .delete_message(MessageDelete {
            channel_id: team.id,
            message_id: message.id,
            by: alice.to_ref(),
            as_manager: false,
        })
        .await
        .unwrap();
    let published = h.published();
    assert_eq!(published.len(), 1);
    match super::event_of(&published[0].frame).1 {
        Event::MessageDeleted {
            message_id,
            message_seq,
            by,
        } => assert_eq!(
            (message_id, message_seq, by),
            (message.id, message.seq, alice.to_ref())
        ),
        other => panic!("expected message_deleted, got {other:?}"),
    }
    for (_, event) in h
        .log(team.id)
        .await
        .into_iter()
        .chain(h.log(bob_me.id).await)
    {
        let carried = match event {
            Event::Message { message } => message,
            Event::MessageEdited { message } | Event::Mention { message, .. } => *message,
            _ => continue,
        };
        assert!(carried.deleted, "{carried:?}");
        assert_eq!(carried.text, "");
        assert!(carried.attachments.is_empty() && carried.mentions.is_empty());
        assert!(carried.edited_at.is_none());
    }
    let history = h.stores.messages.history(team.id, None, 10).await.unwrap();
    let listed = &history.messages[0];
    assert!(listed.deleted && listed.text.is_empty() && listed.reactions.is_empty());
    assert!(listed.attachments.is_empty());
    let access = h
        .stores
        .attachments
        .attachment_access(file.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        access.channels.is_empty(),
        "its file is no longer reachable through it"
    );
    let counts = h.stores.reads.read_counts(bob.id, team.id).await.unwrap();
    assert_eq!((counts.unread, counts.mentions), (0, 0));
    let again = h
        .stores
        .messages
        .delete_message(MessageDelete {
            channel_id: team.id,
            message_id: message.id,
            by: alice.to_ref(),
            as_manager: false,
        })
        .await;
    assert_eq!(code(again), ErrorCode::MessageNotFound);
    let react = h
        .stores
        .reactions
        .react(ReactionUpdate {
            channel_id: team.id,
            message_id: message.id,
            user: bob.to_ref(),
            emoji: "👍".into(),
            add: true,
        })
        .await;
    assert_eq!(code(react), ErrorCode::MessageNotFound);
}

pub async fn who_may_delete(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let first = h.send(&team, &alice, "one").await;
    let second = h.send(&team, &alice, "two").await;
    let delete = |message_id: i64, as_manager: bool| MessageDelete {
        channel_id: team.id,
        message_id,
        by: bob.to_ref(),
        as_manager,
    };
    let messages = &h.stores.messages;
    assert_eq!(
        code(messages.delete_message(delete(first.id, false)).await),
        ErrorCode::Forbidden
    );
    messages
        .delete_message(delete(second.id, true))
        .await
        .unwrap();
    let history = messages.history(team.id, None, 10).await.unwrap();
    let deleted: Vec<bool> = history.messages.iter().map(|m| m.deleted).collect();
    assert_eq!(deleted, [true, false]);
}

pub async fn history_pages_newest_first(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let other = h.channel("other", &alice).await;
    for i in 0..7 {
        h.send(&team, &alice, &format!("m{i}")).await;
        h.send(&other, &alice, "elsewhere").await;
    }
    let messages = &h.stores.messages;
    let page = messages.history(team.id, None, 3).await.unwrap();
    let seqs = |page: &crate::store::HistorySlice| -> Vec<u64> {
        page.messages.iter().map(|m| m.seq).collect()
    };
    assert_eq!(seqs(&page), [8, 7, 6]);
    assert!(page.has_more);
    let page = messages.history(team.id, Some(6), 3).await.unwrap();
    assert_eq!(seqs(&page), [5, 4, 3]);
    assert!(page.has_more);
    let page = messages.history(team.id, Some(3), 3).await.unwrap();
    assert_eq!(seqs(&page), [2]);
    assert!(!page.has_more);
    assert_eq!(page.messages[0].text, "m0");
    let empty = messages.history(999, None, 3).await.unwrap();
    assert!(empty.messages.is_empty() && !empty.has_more);
}

pub async fn reactions_count_and_announce_changes(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    h.stores
        .channels
        .add_member(Join {
            channel_id: team.id,
            channel_name: team.name.clone(),
            user: bob.to_ref(),
            max_participants: None,
        })
        .await
        .unwrap();
    let message = h.send(&team, &alice, "react to me").await;
    h.published();
    let react = |user: &crate::store::UserRecord, emoji: &str, add: bool| ReactionUpdate {
        channel_id: team.id,
        message_id: message.id,
        user: user.to_ref(),
        emoji: emoji.to_owned(),
        add,
    };
    let reactions = &h.stores.reactions;
    let steps = [
        (react(&alice, "👍", true), 1, true),
        (react(&alice, "👍", true), 1, false),
        (react(&bob, "👍", true), 2, true),
        (react(&bob, "🎉", true), 1, true),
        (react(&alice, "👍", false), 1, true),
        (react(&alice, "👍", false), 1, false),
    ];
    for (update, count, announced) in steps {
        let (user, emoji, added) = (update.user.clone(), update.emoji.clone(), update.add);
        let change = reactions.react(update).await.unwrap();
        assert_eq!(
            (
                change.count,
                change.added,
                change.user,
                change.emoji.as_str()
            ),
            (count, added, user, emoji.as_str())
        );
        assert_eq!(change.channel, "team");
        assert_eq!(h.published().len(), usize::from(announced));
    }
    let history = h.stores.messages.history(team.id, None, 1).await.unwrap();
    let mut listed: Vec<(String, u64, Vec<i64>)> = history.messages[0]
        .reactions
        .iter()
        .map(|r| (r.emoji.clone(), r.count, r.users.clone()))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("🎉".into(), 1, vec![bob.id]),
            ("👍".into(), 1, vec![bob.id])
        ]
    );
    let missing = ReactionUpdate {
        message_id: 999,
        ..react(&alice, "👍", true)
    };
    assert_eq!(
        code(reactions.react(missing).await),
        ErrorCode::MessageNotFound
    );
}
