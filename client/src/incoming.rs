//! Events from the server into the cache: each durable event's change is applied with its seq
//! (the resume point) in one cache call, then told to the client's listeners.

use std::sync::Arc;

use parley_protocol::{Event, EventFrame};

use crate::{store, ClientEvent, CommentEvent, Inner, Result};

/// Applies a durable event's change to the cache and records its seq (the resume point) in
/// the same cache call.
async fn apply(
    inner: &Inner,
    channel: &str,
    seq: Option<u64>,
    change: impl FnOnce(&rusqlite::Connection) -> Result<()> + Send + 'static,
) -> Result<()> {
    let name = channel.to_owned();
    inner
        .store
        .run(move |c| {
            change(c)?;
            if let Some(seq) = seq {
                store::advance_to(c, &name, seq)?;
            }
            Ok(())
        })
        .await
}

pub(crate) async fn store_event(inner: &Arc<Inner>, frame: EventFrame, me: i64) -> Result<()> {
    let EventFrame {
        channel,
        seq,
        event,
    } = frame;
    match event {
        Event::Message { message } => {
            let stored = message.clone();
            let inserted = inner
                .store
                .run(move |c| store::insert_message(c, &stored, true))
                .await?;
            if inserted {
                inner.reads.count(&message, me);
                inner.emit(ClientEvent::Message { message });
            }
        }
        Event::MessageEdited { message } => {
            let stored = (*message).clone();
            apply(inner, &channel, seq, move |c| {
                store::edit_cached(c, &stored)
            })
            .await?;
            inner.emit(ClientEvent::MessageEdited { message });
        }
        Event::MessageDeleted {
            message_id,
            message_seq,
            ..
        } => {
            let name = channel.clone();
            apply(inner, &channel, seq, move |c| {
                store::delete_cached(c, &name, message_seq)
            })
            .await?;
            inner.emit(ClientEvent::MessageDeleted {
                channel,
                message_id,
                seq: message_seq,
            });
        }
        Event::Reaction { reaction } => {
            let r = reaction.clone();
            apply(inner, &channel, seq, move |c| store::react_cached(c, &r)).await?;
            inner.emit(ClientEvent::Reaction { reaction });
        }
        Event::ThreadUpdated { thread } => {
            let (name, summary) = (channel.clone(), thread.clone());
            apply(inner, &channel, seq, move |c| {
                store::thread_cached(c, &name, &summary)
            })
            .await?;
            inner.emit(ClientEvent::ThreadUpdated { channel, thread });
        }
        Event::Mention { message, muted } => {
            apply(inner, &channel, seq, |_| Ok(())).await?;
            inner.reads.mention(&message);
            inner.emit(ClientEvent::Mention { message, muted });
        }
        Event::CommentMention {
            doc,
            comment_id,
            by,
            ts,
        } => {
            apply(inner, &channel, seq, |_| Ok(())).await?;
            inner.emit(ClientEvent::CommentMention {
                doc,
                comment_id,
                by,
                ts,
            });
        }
        Event::Read { read } => {
            let state = read.clone();
            apply(inner, &channel, seq, move |c| {
                store::set_read(c, &state.channel, state.last_read)
            })
            .await?;
            inner.reads.set(&read);
            inner.emit(ClientEvent::Read { read });
        }
        Event::MemberJoined { user } => member(inner, channel, seq, user, true).await?,
        Event::MemberLeft { user } => member(inner, channel, seq, user, false).await?,
        Event::ChannelUpdated { topic, by } => {
            let (name, t) = (channel.clone(), topic.clone());
            apply(inner, &channel, seq, move |c| {
                store::set_topic(c, &name, t.as_deref())
            })
            .await?;
            inner.emit(ClientEvent::ChannelUpdated { channel, topic, by });
        }
        Event::Presence {
            state,
            user,
            status,
            ..
        } => {
            let (name, u, st) = (channel.clone(), user.clone(), status.clone());
            let now = crate::now_ms();
            inner
                .store
                .run(move |c| store::saw_presence(c, &name, &u, &st, now))
                .await?;
            let state = serde_json::to_value(state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            inner.emit(ClientEvent::Presence {
                channel,
                user,
                state,
                status,
            });
        }
        Event::Typing { user, typing, .. } => {
            inner.emit(ClientEvent::Typing {
                channel,
                user,
                typing,
            });
        }
        Event::ReadReceipt { user, seq: read } => {
            apply(inner, &channel, seq, |_| Ok(())).await?;
            inner.emit(ClientEvent::ReadReceipt {
                channel,
                user,
                seq: read,
            });
        }
        Event::Unsubscribed { reason } => {
            let name = channel.clone();
            inner
                .store
                .run(move |c| store::set_subscribed(c, &name, false))
                .await?;
            inner.emit(ClientEvent::Unsubscribed { channel, reason });
        }
        Event::CommentCreated { comment } => {
            apply(inner, &channel, seq, |_| Ok(())).await?;
            crate::docs::comment_event(inner, CommentEvent::CommentCreated { comment }).await?;
        }
        Event::CommentEdited { comment } => {
            apply(inner, &channel, seq, |_| Ok(())).await?;
            crate::docs::comment_event(inner, CommentEvent::CommentEdited { comment }).await?;
        }
        Event::CommentResolved { comment } => {
            apply(inner, &channel, seq, |_| Ok(())).await?;
            crate::docs::comment_event(inner, CommentEvent::CommentResolved { comment }).await?;
        }
        Event::CommentDeleted { comment_id } => {
            apply(inner, &channel, seq, |_| Ok(())).await?;
            crate::docs::comment_event(inner, CommentEvent::CommentDeleted { comment_id }).await?;
        }
        Event::Custom {
            event,
            data,
            publisher,
        } => {
            // A durable one moves the channel's resume point on; nothing else is cached.
            apply(inner, &channel, seq, |_| Ok(())).await?;
            inner.emit(ClientEvent::Custom {
                channel,
                seq,
                event,
                data,
                publisher,
            });
        }
    }
    Ok(())
}

async fn member(
    inner: &Inner,
    channel: String,
    seq: Option<u64>,
    user: parley_protocol::UserRef,
    joined: bool,
) -> Result<()> {
    let (name, u) = (channel.clone(), user.clone());
    apply(inner, &channel, seq, move |c| {
        store::set_member(c, &name, &u, joined)
    })
    .await?;
    inner.emit(ClientEvent::Member {
        channel,
        user,
        joined,
    });
    Ok(())
}
