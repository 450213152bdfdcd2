//! Event frames as every store keeps them: the exact JSON subscribers received, and the rules by
//! which edits and deletes rewrite them afterwards, so that a resume never replays text that was
//! edited away or deleted. Shared by the implementations, which differ only in where the frames
//! are kept.
//!
//! - A message edit: the frame that carried the previous text (the `message` event, or the last
//!   `message_edited` one) keeps its place and now carries `text: ""`, with `edited_at` set; the
//!   new `message_edited` event carries the text. The `mention` frames on mentioned users' `@me`
//!   carry the message as it is now (they have no later event to correct them).
//! - A message delete: its `message`, `message_edited` and `mention` frames carry it without its
//!   text, reactions, mentions, attachments or thread.
//! - A comment edit: the frames of the comment that still carried a body carry `body: ""` (and
//!   no `mentions`).
//! - A comment delete: every frame of the comment and of its replies carries it without `body`,
//!   `quote` or `mentions`.

use parley_protocol::{
    Comment, Event, EventFrame, Message, ReactionCount, ServerFrame, ThreadSummary,
};

use crate::error::{Error, Result};

/// The frame of a durable event, serialized once.
pub fn event_frame(channel: &str, seq: u64, event: Event) -> Result<String> {
    serde_json::to_string(&ServerFrame::Event(EventFrame {
        channel: channel.to_owned(),
        seq: Some(seq),
        event,
    }))
    .map_err(Error::internal)
}

/// The webhook frame of a new document (`document.created`; documents have no event of their
/// own on a channel): under the channel it belongs to, or its comments channel
/// (`doc#<id>`) for a workspace document.
pub fn document_created(channel: &str, doc: &super::DocRecord) -> Result<String> {
    serde_json::to_string(&serde_json::json!({
        "type": "event",
        "channel": channel,
        "kind": "document_created",
        "doc": {
            "id": doc.id,
            "name": doc.name,
            "title": doc.title,
            "creator": doc.creator,
            "created_at": super::format_ts(doc.created_at),
        },
    }))
    .map_err(Error::internal)
}

/// `stored` with `change` applied to its event.
pub fn rewrite(stored: &str, change: impl FnOnce(&mut Event)) -> Result<String> {
    let mut frame: ServerFrame = serde_json::from_str(stored).map_err(Error::internal)?;
    if let ServerFrame::Event(event) = &mut frame {
        change(&mut event.event);
    }
    serde_json::to_string(&frame).map_err(Error::internal)
}

/// A deleted message as its rewritten frames carry it: only its place.
pub fn redacted(message: &Message) -> Message {
    let mut redacted = message.clone();
    redacted.text = String::new();
    redacted.deleted = true;
    redacted.edited_at = None;
    redacted.reactions = Vec::new();
    redacted.mentions = Vec::new();
    redacted.attachments = Vec::new();
    redacted.thread = None;
    redacted
}

/// The frame that carried a message's previous text, after an edit to `now`.
pub fn text_superseded(event: &mut Event, now: &Message) {
    if let Event::Message { message: old } = event {
        old.text.clear();
        old.edited_at.clone_from(&now.edited_at);
    } else if let Event::MessageEdited { message: old } = event {
        old.text.clear();
        old.edited_at.clone_from(&now.edited_at);
    }
}

/// A `mention` frame after its message was edited to `now`.
pub fn mention_edited(event: &mut Event, now: &Message) {
    if let Event::Mention { message: old, .. } = event {
        old.text.clone_from(&now.text);
        old.edited_at.clone_from(&now.edited_at);
    }
}

fn comment_of(event: &mut Event) -> Option<&mut Comment> {
    match event {
        Event::CommentCreated { comment }
        | Event::CommentEdited { comment }
        | Event::CommentResolved { comment } => Some(comment.as_mut()),
        _ => None,
    }
}

/// A frame that carried a comment's body, after an edit at `edited_at` (RFC 3339).
pub fn comment_body_replaced(event: &mut Event, edited_at: &str) {
    if let Some(comment) = comment_of(event) {
        comment.body.clear();
        comment.mentions.clear();
        comment.edited_at = Some(edited_at.to_owned());
    }
}

/// A frame of a deleted comment (or of a reply to it).
pub fn comment_removed(event: &mut Event) {
    if let Some(comment) = comment_of(event) {
        comment.body.clear();
        comment.quote = None;
        comment.mentions.clear();
    }
}

/// Reactions as clients see them: by emoji, in the order of each emoji's first reaction.
/// `rows` are (emoji, user) in the order they were made.
pub fn group_reactions(rows: impl IntoIterator<Item = (String, i64)>) -> Vec<ReactionCount> {
    let mut out: Vec<ReactionCount> = Vec::new();
    for (emoji, user) in rows {
        match out.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => {
                r.count += 1;
                r.users.push(user);
            }
            None => out.push(ReactionCount {
                emoji,
                count: 1,
                users: vec![user],
            }),
        }
    }
    out
}

/// A thread's summary after one more reply by `author_id` at `now`.
pub fn thread_replied(summary: &mut ThreadSummary, author_id: i64, now: i64) {
    if !summary.participants.contains(&author_id) {
        summary.participants.push(author_id);
    }
    summary.reply_count += 1;
    summary.last_reply_at = Some(super::format_ts(now));
}
