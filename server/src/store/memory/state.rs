//! The in-memory store's tables, with the lookups and cascades the SQLite schema gives by
//! indexes and foreign keys.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use parley_protocol::{Attachment, CommentAnchor, DocRole, Event, Message, ThreadSummary, UserRef};

use crate::store::refusals;
use crate::{
    error::Result,
    store::{format_ts, frames, ChannelRecord, Published, ReadPosition, UserRecord},
};

#[derive(Default)]
pub struct State {
    /// The claim each document's log is written under.
    pub claims: crate::store::claims::Claims,
    ids: Ids,
    pub channels: BTreeMap<i64, ChannelRow>,
    /// (channel, user) → role.
    pub members: BTreeMap<(i64, i64), crate::store::MemberRole>,
    /// (channel, seq) → event.
    pub events: BTreeMap<(i64, u64), EventRow>,
    pub messages: BTreeMap<i64, MessageRow>,
    /// (channel, seq) → message id.
    pub message_at: BTreeMap<(i64, u64), i64>,
    /// (author, client_id) → message id.
    pub message_by_client: HashMap<(i64, String), i64>,
    pub edits: Vec<EditRow>,
    pub reactions: Vec<ReactionRow>,
    /// (user, message) → mention.
    pub mentions: BTreeMap<(i64, i64), MentionRow>,
    /// (user, channel) → read position.
    pub read_state: HashMap<(i64, i64), ReadPosition>,
    pub read_receipts: HashSet<i64>,
    /// root message → thread.
    pub threads: HashMap<i64, ThreadRow>,
    pub indexed_through: i64,
    /// Message id → text, as the search index holds it.
    pub indexed: BTreeMap<i64, String>,
    pub attachments: BTreeMap<i64, AttachmentRow>,
    /// (message, attachment).
    pub message_attachments: BTreeSet<(i64, i64)>,
    pub users: BTreeMap<i64, UserRow>,
    pub tokens: BTreeMap<i64, TokenRow>,
    /// Ids of bot accounts.
    pub bots: BTreeSet<i64>,
    pub docs: BTreeMap<i64, DocRow>,
    /// (doc, user) → granted role.
    pub doc_roles: BTreeMap<(i64, i64), DocRole>,
    /// update id → (doc, update).
    pub doc_updates: BTreeMap<i64, (i64, Vec<u8>)>,
    pub snapshots: HashMap<i64, Vec<u8>>,
    pub versions: BTreeMap<i64, VersionRow>,
    pub comments: BTreeMap<i64, CommentRowM>,
    /// (comment, user).
    pub comment_mentions: BTreeSet<(i64, i64)>,
    /// (channel, seq) → (comment, the frame still carries its body).
    pub comment_events: BTreeMap<(i64, u64), (i64, bool)>,
    /// Invites, account states, reset codes and avatars (`people.rs`).
    pub people: super::people_state::People,
    /// (publisher, client_id) → (channel, seq) of durable custom events.
    pub published: HashMap<(i64, String), (i64, u64)>,
    /// Webhook endpoints, outbox and deliveries (`webhooks.rs`).
    pub webhooks: super::webhooks::Webhooks,
}

/// The last id given per table (ids are never reused, as with SQLite's AUTOINCREMENT).
#[derive(Default)]
struct Ids {
    channel: i64,
    message: i64,
    user: i64,
    token: i64,
    attachment: i64,
    doc: i64,
    update: i64,
    version: i64,
    comment: i64,
}

/// Which id sequence to draw from.
#[derive(Clone, Copy)]
pub enum Table {
    Channel,
    Message,
    User,
    Token,
    Attachment,
    Doc,
    Update,
    Version,
    Comment,
}

pub struct ChannelRow {
    pub record: ChannelRecord,
    pub created_by: Option<i64>,
}

pub struct EventRow {
    pub created_at: i64,
    pub frame: String,
}

pub struct MessageRow {
    pub channel_id: i64,
    pub seq: u64,
    pub author_id: i64,
    pub client_id: String,
    pub text: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

pub struct EditRow {
    pub message_id: i64,
    pub event_seq: u64,
}

pub struct ReactionRow {
    pub message_id: i64,
    pub user_id: i64,
    pub emoji: String,
    pub created_at: i64,
}

pub struct MentionRow {
    pub channel_id: i64,
    pub seq: u64,
    /// Where its `mention` event is: (channel, seq).
    pub event: Option<(i64, u64)>,
}

#[derive(Clone)]
pub struct ThreadRow {
    pub channel_id: i64,
    pub reply_count: u64,
    pub last_reply_at: Option<i64>,
    pub participants: Vec<i64>,
}

pub struct AttachmentRow {
    pub attachment: Attachment,
    pub uploader_id: i64,
    pub thumbnail_sha256: Option<String>,
}

pub struct UserRow {
    pub record: UserRecord,
    pub name_key: Option<String>,
    pub password_hash: String,
}

pub struct TokenRow {
    pub user_id: i64,
    pub hash: Vec<u8>,
    pub revoked: bool,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub scope: Option<parley_protocol::api::TokenScope>,
}

impl TokenRow {
    /// Not revoked and not expired at `now`.
    pub fn live(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| at > now)
    }
}

pub struct DocRow {
    pub name: String,
    pub title: Option<String>,
    pub channel_id: Option<i64>,
    pub default_role: DocRole,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

pub struct VersionRow {
    pub doc_id: i64,
    pub name: String,
    pub state: Vec<u8>,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

pub struct CommentRowM {
    pub doc_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: i64,
    pub anchor: Option<CommentAnchor>,
    pub quote: Option<String>,
    pub body: String,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<i64>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub client_id: Option<String>,
}

impl State {
    pub fn next_id(&mut self, table: Table) -> i64 {
        let ids = &mut self.ids;
        let id = match table {
            Table::Channel => &mut ids.channel,
            Table::Message => &mut ids.message,
            Table::User => &mut ids.user,
            Table::Token => &mut ids.token,
            Table::Attachment => &mut ids.attachment,
            Table::Doc => &mut ids.doc,
            Table::Update => &mut ids.update,
            Table::Version => &mut ids.version,
            Table::Comment => &mut ids.comment,
        };
        *id += 1;
        *id
    }

    pub fn channel(&self, id: i64) -> Result<&ChannelRecord> {
        self.channels
            .get(&id)
            .map(|c| &c.record)
            .ok_or_else(refusals::channel_gone)
    }

    pub fn channel_named(&self, name: &str) -> Option<&ChannelRecord> {
        self.channels
            .values()
            .map(|c| &c.record)
            .find(|c| c.name == name)
    }

    /// Appends a durable event under the channel's next seq.
    pub fn append_event(
        &mut self,
        channel_id: i64,
        channel_name: &str,
        event: Event,
        now: i64,
        author_id: Option<i64>,
    ) -> Result<Published> {
        let seq = self.channel(channel_id)?.head_seq + 1;
        let webhook = self
            .webhooks
            .capture
            .then(|| event.webhook_type())
            .flatten();
        let frame = frames::event_frame(channel_name, seq, event)?;
        if let Some(kind) = webhook {
            self.webhooks.enqueue(channel_name, &kind, &frame, now);
        }
        self.events.insert(
            (channel_id, seq),
            EventRow {
                created_at: now,
                frame: frame.clone(),
            },
        );
        if let Some(channel) = self.channels.get_mut(&channel_id) {
            channel.record.head_seq = seq;
        }
        Ok(Published {
            channel_id,
            seq,
            frame,
            author_id,
        })
    }

    /// Rewrites the stored frame at (`channel_id`, `seq`), if retention left it.
    pub fn rewrite(
        &mut self,
        channel_id: i64,
        seq: u64,
        change: impl FnOnce(&mut Event),
    ) -> Result<()> {
        if let Some(row) = self.events.get_mut(&(channel_id, seq)) {
            row.frame = frames::rewrite(&row.frame, change)?;
        }
        Ok(())
    }

    /// Replaces the stored frame at (`channel_id`, `seq`), if retention left it.
    pub fn replace_frame(&mut self, channel_id: i64, seq: u64, frame: String) {
        if let Some(row) = self.events.get_mut(&(channel_id, seq)) {
            row.frame = frame;
        }
    }

    pub fn user_ref(&self, id: i64) -> Option<UserRef> {
        self.users.get(&id).map(|u| u.record.to_ref())
    }

    /// A user by name, without regard to ASCII case (as SQLite's `NOCASE` column).
    pub fn user_named(&self, name: &str) -> Option<&UserRecord> {
        self.users
            .values()
            .map(|u| &u.record)
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// A message as stored, without reactions, mentions, attachments or thread.
    pub fn bare_message(&self, id: i64) -> Option<Message> {
        let row = self.messages.get(&id)?;
        let channel = self.channels.get(&row.channel_id)?;
        let author = self.user_ref(row.author_id)?;
        Some(Message {
            id,
            channel: channel.record.name.clone(),
            seq: row.seq,
            author,
            text: row.text.clone(),
            client_id: row.client_id.clone(),
            created_at: format_ts(row.created_at),
            ts: row.created_at,
            edited_at: row.edited_at.map(format_ts),
            deleted: row.deleted_at.is_some(),
            thread: None,
            attachments: Vec::new(),
            mentions: Vec::new(),
            reactions: Vec::new(),
        })
    }

    /// A message of a channel with its reactions, mentions, attachments and thread.
    pub fn message_in(&self, channel_id: i64, id: i64) -> Option<Message> {
        if self.messages.get(&id)?.channel_id != channel_id {
            return None;
        }
        let mut message = self.bare_message(id)?;
        self.fill(&mut message);
        Some(message)
    }

    /// A live message of a channel, or `message_not_found`.
    pub fn live_message(&self, channel_id: i64, id: i64) -> Result<Message> {
        self.message_in(channel_id, id)
            .filter(|m| !m.deleted)
            .ok_or_else(|| refusals::message_not_found(id))
    }

    pub fn fill(&self, message: &mut Message) {
        message.reactions = self.reactions_of(message.id);
        message.mentions = self.mentions_of(message.id);
        message.attachments = self.attachments_of(message.id);
        message.thread = self.thread_summary(message.id).map(Box::new);
    }

    pub fn reactions_of(&self, message_id: i64) -> Vec<parley_protocol::ReactionCount> {
        let mut rows: Vec<&ReactionRow> = self
            .reactions
            .iter()
            .filter(|r| r.message_id == message_id)
            .collect();
        rows.sort_by_key(|r| (r.created_at, r.user_id));
        frames::group_reactions(rows.into_iter().map(|r| (r.emoji.clone(), r.user_id)))
    }

    pub fn mentions_of(&self, message_id: i64) -> Vec<i64> {
        let mut users: Vec<i64> = self
            .mentions
            .keys()
            .filter(|(_, m)| *m == message_id)
            .map(|(u, _)| *u)
            .collect();
        users.sort_unstable();
        users
    }

    pub fn attachments_of(&self, message_id: i64) -> Vec<Attachment> {
        self.message_attachments
            .range((message_id, i64::MIN)..=(message_id, i64::MAX))
            .filter_map(|(_, a)| self.attachments.get(a).map(|a| a.attachment.clone()))
            .collect()
    }

    pub fn thread_summary(&self, root_id: i64) -> Option<ThreadSummary> {
        let thread = self.threads.get(&root_id)?;
        let channel = self.channels.get(&thread.channel_id)?;
        Some(ThreadSummary {
            root_id,
            channel: channel.record.name.clone(),
            reply_count: thread.reply_count,
            last_reply_at: thread.last_reply_at.map(format_ts),
            participants: thread.participants.clone(),
        })
    }

    /// Removes messages with everything that cascades from them.
    pub fn remove_messages(&mut self, ids: &HashSet<i64>) {
        if ids.is_empty() {
            return;
        }
        for id in ids {
            if let Some(row) = self.messages.remove(id) {
                self.message_at.remove(&(row.channel_id, row.seq));
                self.message_by_client
                    .remove(&(row.author_id, row.client_id));
            }
            self.indexed.remove(id);
        }
        self.edits.retain(|e| !ids.contains(&e.message_id));
        self.reactions.retain(|r| !ids.contains(&r.message_id));
        self.mentions.retain(|(_, m), _| !ids.contains(m));
        self.message_attachments.retain(|(m, _)| !ids.contains(m));
    }

    /// Deletes channels and documents with everything that cascades from them: a channel takes
    /// its personal instances, threads, documents and comments channels; a document takes its
    /// comments channel.
    pub fn cascade(&mut self, channels: Vec<i64>, docs: Vec<i64>) {
        let (mut channels, mut docs) = (channels, docs);
        let mut gone_channels = HashSet::new();
        let mut gone_docs = HashSet::new();
        while !channels.is_empty() || !docs.is_empty() {
            for id in std::mem::take(&mut channels) {
                if !gone_channels.insert(id) {
                    continue;
                }
                channels.extend(self.channels.values().filter_map(|c| {
                    let r = &c.record;
                    (r.template_id == Some(id) || r.parent_id == Some(id)).then_some(r.id)
                }));
                docs.extend(
                    self.docs
                        .iter()
                        .filter(|(_, d)| d.channel_id == Some(id))
                        .map(|(doc, _)| *doc),
                );
            }
            for id in std::mem::take(&mut docs) {
                if !gone_docs.insert(id) {
                    continue;
                }
                channels.extend(
                    self.channels
                        .values()
                        .filter(|c| c.record.doc_id == Some(id))
                        .map(|c| c.record.id),
                );
            }
        }
        for id in &gone_channels {
            self.channels.remove(id);
            self.read_receipts.remove(id);
        }
        self.published
            .retain(|_, (channel, _)| !gone_channels.contains(channel));
        let messages: HashSet<i64> = self
            .messages
            .iter()
            .filter(|(_, m)| gone_channels.contains(&m.channel_id))
            .map(|(id, _)| *id)
            .collect();
        self.remove_messages(&messages);
        self.events.retain(|(c, _), _| !gone_channels.contains(c));
        self.members.retain(|(c, _), _| !gone_channels.contains(c));
        self.read_state
            .retain(|(_, c), _| !gone_channels.contains(c));
        self.threads
            .retain(|_, t| !gone_channels.contains(&t.channel_id));
        self.comment_events
            .retain(|(c, _), _| !gone_channels.contains(c));
        for id in &gone_docs {
            self.docs.remove(id);
            self.snapshots.remove(id);
        }
        self.doc_roles.retain(|(d, _), _| !gone_docs.contains(d));
        self.doc_updates.retain(|_, (d, _)| !gone_docs.contains(d));
        self.versions.retain(|_, v| !gone_docs.contains(&v.doc_id));
        let comments: Vec<i64> = self
            .comments
            .iter()
            .filter(|(_, c)| gone_docs.contains(&c.doc_id))
            .map(|(id, _)| *id)
            .collect();
        self.remove_comments(&comments);
    }

    /// Removes comments (and their replies) with their mentions and recorded frames.
    pub fn remove_comments(&mut self, ids: &[i64]) {
        let mut gone: HashSet<i64> = ids.iter().copied().collect();
        gone.extend(
            self.comments
                .iter()
                .filter(|(_, c)| c.parent_id.is_some_and(|p| gone.contains(&p)))
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
        );
        self.comments.retain(|id, _| !gone.contains(id));
        self.comment_mentions.retain(|(c, _)| !gone.contains(c));
        self.comment_events.retain(|_, (c, _)| !gone.contains(c));
    }
}
