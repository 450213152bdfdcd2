//! Messages, reactions, read state and threads, in memory.

use parley_protocol::{Event, Message, ReactionChange};

use super::{
    channels::plain_channel,
    state::{EditRow, MentionRow, MessageRow, ReactionRow, State, Table, ThreadRow},
    MemoryStore,
};
use crate::store::refusals;
use crate::{
    error::{Error, Result},
    store::{
        frames, now_ms, AppendOutcome, Committed, HistorySlice, MessageDelete, MessageEdit,
        MessageStore, OpenedThread, PostMessage, Published, ReactionStore, ReactionUpdate,
        ReadCounts, ReadMark, ReadPosition, ReadStore, StoreFuture, ThreadStore,
    },
};

impl State {
    fn post(&mut self, post: PostMessage) -> Result<(AppendOutcome, Vec<Published>)> {
        let key = (post.author.id, post.client_id.clone());
        if let Some(id) = self.message_by_client.get(&key) {
            let message = self
                .bare_message(*id)
                .ok_or_else(|| Error::internal("sent message vanished"))?;
            return Ok((
                AppendOutcome {
                    message,
                    duplicate: true,
                },
                Vec::new(),
            ));
        }
        // Everything that can refuse the send, before anything changes.
        self.channel(post.channel_id)?;
        for target in &post.mentions {
            self.channel(target.personal_channel_id)?;
        }
        if let Some(thread) = &post.thread {
            if !self.threads.contains_key(&thread.root_id) {
                return Err(refusals::thread_root_gone());
            }
            self.channel(thread.parent_id)?;
        }
        let now = now_ms();
        let seq = self.channel(post.channel_id)?.head_seq + 1;
        let id = self.next_id(Table::Message);
        self.messages.insert(
            id,
            MessageRow {
                channel_id: post.channel_id,
                seq,
                author_id: post.author.id,
                client_id: post.client_id.clone(),
                text: post.text.clone(),
                created_at: now,
                edited_at: None,
                deleted_at: None,
            },
        );
        self.message_at.insert((post.channel_id, seq), id);
        self.message_by_client.insert(key, id);
        let mut mentioned: Vec<i64> = post.mentions.iter().map(|m| m.user_id).collect();
        mentioned.retain(|u| *u != post.author.id);
        for user in &mentioned {
            self.mentions.entry((*user, id)).or_insert(MentionRow {
                channel_id: post.channel_id,
                seq,
                event: None,
            });
        }
        for attachment in &post.attachments {
            self.message_attachments.insert((id, *attachment));
        }
        let mut message = self
            .bare_message(id)
            .ok_or_else(|| Error::internal("sent message vanished"))?;
        message.mentions = mentioned;
        message.attachments = self.attachments_of(id);
        let event = Event::Message {
            message: message.clone(),
        };
        let author = Some(post.author.id);
        let mut published =
            vec![self.append_event(post.channel_id, &post.channel_name, event, now, author)?];
        if let Some(reply) = &post.thread {
            let thread = self
                .threads
                .get_mut(&reply.root_id)
                .ok_or_else(|| Error::internal("thread vanished"))?;
            if !thread.participants.contains(&post.author.id) {
                thread.participants.push(post.author.id);
            }
            thread.reply_count += 1;
            thread.last_reply_at = Some(now);
            let summary = self
                .thread_summary(reply.root_id)
                .ok_or_else(|| Error::internal("thread vanished"))?;
            let event = Event::ThreadUpdated { thread: summary };
            published.push(self.append_event(
                reply.parent_id,
                &reply.parent_name,
                event,
                now,
                author,
            )?);
        }
        for target in &post.mentions {
            let event = Event::Mention {
                message: Box::new(message.clone()),
                muted: target.muted,
            };
            let notice = self.append_event(
                target.personal_channel_id,
                &target.personal_channel,
                event,
                now,
                author,
            )?;
            if let Some(row) = self.mentions.get_mut(&(target.user_id, id)) {
                row.event = Some((notice.channel_id, notice.seq));
            }
            published.push(notice);
        }
        Ok((
            AppendOutcome {
                message,
                duplicate: false,
            },
            published,
        ))
    }

    fn edit(&mut self, edit: MessageEdit) -> Result<(Message, Vec<Published>)> {
        let old = self.live_message(edit.channel_id, edit.message_id)?;
        if old.author.id != edit.editor {
            return Err(refusals::not_the_editor());
        }
        let id = edit.message_id;
        let previous = self
            .edits
            .iter()
            .filter(|e| e.message_id == id)
            .map(|e| e.event_seq)
            .max()
            .unwrap_or(old.seq);
        let now = now_ms();
        if let Some(row) = self.messages.get_mut(&id) {
            row.text.clone_from(&edit.text);
            row.edited_at = Some(now);
        }
        if id <= self.indexed_through {
            self.indexed.insert(id, edit.text.clone());
        }
        let mut message = self
            .message_in(edit.channel_id, id)
            .ok_or_else(|| Error::internal("edited message vanished"))?;
        message.reactions = Vec::new(); // events carry the text; reactions have their own events
        let event = Event::MessageEdited {
            message: Box::new(message.clone()),
        };
        let published =
            self.append_event(edit.channel_id, &old.channel, event, now, Some(edit.editor))?;
        self.edits.push(EditRow {
            message_id: id,
            event_seq: published.seq,
        });
        self.rewrite(edit.channel_id, previous, |event| {
            frames::text_superseded(event, &message)
        })?;
        for frame in self.mention_frames(id) {
            self.rewrite(frame.0, frame.1, |event| {
                frames::mention_edited(event, &message)
            })?;
        }
        Ok((message, vec![published]))
    }

    fn mention_frames(&self, message_id: i64) -> Vec<(i64, u64)> {
        self.mentions
            .iter()
            .filter(|((_, m), _)| *m == message_id)
            .filter_map(|(_, row)| row.event)
            .collect()
    }

    fn delete(&mut self, delete: MessageDelete) -> Result<Published> {
        let message = self.live_message(delete.channel_id, delete.message_id)?;
        if message.author.id != delete.by.id && !delete.as_manager {
            return Err(refusals::not_a_deleter());
        }
        let id = delete.message_id;
        let now = now_ms();
        let edit_seqs: Vec<u64> = self
            .edits
            .iter()
            .filter(|e| e.message_id == id)
            .map(|e| e.event_seq)
            .collect();
        if let Some(row) = self.messages.get_mut(&id) {
            row.text.clear();
            row.deleted_at = Some(now);
        }
        if id <= self.indexed_through {
            self.indexed.insert(id, String::new());
        }
        self.edits.retain(|e| e.message_id != id);
        self.reactions.retain(|r| r.message_id != id);
        self.message_attachments.retain(|(m, _)| *m != id);
        let gone = frames::redacted(&message);
        let channel = delete.channel_id;
        let frame = frames::event_frame(
            &message.channel,
            message.seq,
            Event::Message {
                message: gone.clone(),
            },
        )?;
        self.replace_frame(channel, message.seq, frame);
        for seq in edit_seqs {
            let event = Event::MessageEdited {
                message: Box::new(gone.clone()),
            };
            let frame = frames::event_frame(&message.channel, seq, event)?;
            self.replace_frame(channel, seq, frame);
        }
        for (event_channel, event_seq) in self.mention_frames(id) {
            let Some(name) = self.channel(event_channel).ok().map(|c| c.name.clone()) else {
                continue;
            };
            let event = Event::Mention {
                message: Box::new(gone.clone()),
                muted: false,
            };
            let frame = frames::event_frame(&name, event_seq, event)?;
            self.replace_frame(event_channel, event_seq, frame);
        }
        let event = Event::MessageDeleted {
            message_id: id,
            message_seq: message.seq,
            by: delete.by.clone(),
        };
        self.append_event(channel, &message.channel, event, now, Some(delete.by.id))
    }

    fn react(&mut self, update: ReactionUpdate) -> Result<(ReactionChange, Vec<Published>)> {
        let message = self.live_message(update.channel_id, update.message_id)?;
        let (id, user) = (update.message_id, update.user.id);
        let now = now_ms();
        let existing = self
            .reactions
            .iter()
            .position(|r| r.message_id == id && r.user_id == user && r.emoji == update.emoji);
        let changed = match (update.add, existing) {
            (true, None) => {
                self.reactions.push(ReactionRow {
                    message_id: id,
                    user_id: user,
                    emoji: update.emoji.clone(),
                    created_at: now,
                });
                true
            }
            (false, Some(at)) => {
                self.reactions.remove(at);
                true
            }
            _ => false,
        };
        let count = self
            .reactions
            .iter()
            .filter(|r| r.message_id == id && r.emoji == update.emoji)
            .count() as u64;
        let change = ReactionChange {
            channel: message.channel.clone(),
            message_id: id,
            emoji: update.emoji,
            user: update.user,
            added: update.add,
            count,
        };
        if !changed {
            return Ok((change, Vec::new()));
        }
        let event = Event::Reaction {
            reaction: change.clone(),
        };
        let published =
            self.append_event(update.channel_id, &message.channel, event, now, Some(user))?;
        Ok((change, vec![published]))
    }

    fn position(&self, user_id: i64, channel_id: i64) -> ReadPosition {
        self.read_state
            .get(&(user_id, channel_id))
            .copied()
            .unwrap_or_default()
    }

    fn history(&self, channel_id: i64, before: Option<u64>, limit: u32) -> HistorySlice {
        let before = before.unwrap_or(u64::MAX);
        let mut messages: Vec<Message> = self
            .message_at
            .range((channel_id, 0)..(channel_id, before))
            .rev()
            .take(limit as usize + 1)
            .filter_map(|(_, id)| self.bare_message(*id))
            .collect();
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        for message in &mut messages {
            if message.deleted {
                message.edited_at = None;
            } else {
                self.fill(message);
            }
        }
        HistorySlice { messages, has_more }
    }

    fn open_thread(&mut self, channel_id: i64, root_id: i64, by: i64) -> Result<OpenedThread> {
        let root = self.live_message(channel_id, root_id)?;
        let name = format!("thread#{root_id}");
        let channel = match self.channel_named(&name) {
            Some(existing) => existing.clone(),
            None => {
                let mut record = plain_channel(self.next_id(Table::Channel), name);
                record.parent_id = Some(channel_id);
                record.thread_root = Some(root_id);
                self.threads.insert(
                    root_id,
                    ThreadRow {
                        channel_id: record.id,
                        reply_count: 0,
                        last_reply_at: None,
                        participants: Vec::new(),
                    },
                );
                self.add_channel(record, Some(by))
            }
        };
        let summary = self
            .thread_summary(root_id)
            .ok_or_else(|| Error::internal("thread vanished"))?;
        Ok(OpenedThread {
            root,
            channel,
            summary,
        })
    }
}

impl MessageStore for MemoryStore {
    fn submit_message(&self, post: PostMessage) -> StoreFuture<'_, Committed<AppendOutcome>> {
        Box::pin(self.submit(move |state| state.post(post)))
    }

    fn edit_message(&self, edit: MessageEdit) -> StoreFuture<'_, Message> {
        Box::pin(self.write(move |state| state.edit(edit)))
    }

    fn delete_message(&self, delete: MessageDelete) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| Ok(((), vec![state.delete(delete)?]))))
    }

    fn history(
        &self,
        channel_id: i64,
        before: Option<u64>,
        limit: u32,
    ) -> StoreFuture<'_, HistorySlice> {
        let found = self.read(|state| Ok(state.history(channel_id, before, limit)));
        Box::pin(async move { found })
    }
}

impl ReactionStore for MemoryStore {
    fn react(&self, update: ReactionUpdate) -> StoreFuture<'_, ReactionChange> {
        Box::pin(self.write(move |state| state.react(update)))
    }
}

impl ReadStore for MemoryStore {
    fn read_position(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadPosition> {
        let found = self.read(|state| Ok(state.position(user_id, channel_id)));
        Box::pin(async move { found })
    }

    fn read_counts(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadCounts> {
        let found = self.read(|state| {
            let position = state.position(user_id, channel_id);
            let after = position.last_read;
            let unread = state
                .message_at
                .range((channel_id, after + 1)..=(channel_id, u64::MAX))
                .filter_map(|(_, id)| state.messages.get(id))
                .filter(|m| m.author_id != user_id && m.deleted_at.is_none())
                .count() as u64;
            let mentions = state
                .mentions
                .range((user_id, i64::MIN)..=(user_id, i64::MAX))
                .filter(|(_, row)| row.channel_id == channel_id && row.seq > after)
                .filter(|((_, message), _)| {
                    state
                        .messages
                        .get(message)
                        .is_some_and(|m| m.deleted_at.is_none())
                })
                .count() as u64;
            Ok(ReadCounts {
                position,
                unread,
                mentions,
            })
        });
        Box::pin(async move { found })
    }

    fn mutes(&self, channel_id: i64, user_ids: Vec<i64>) -> StoreFuture<'_, Vec<Option<i64>>> {
        let found = self.read(|state| {
            Ok(user_ids
                .iter()
                .map(|user| state.position(*user, channel_id).muted_until)
                .collect())
        });
        Box::pin(async move { found })
    }

    fn mark_read(&self, mark: ReadMark) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            let key = (mark.user.id, mark.channel_id);
            let before = state.position(key.0, key.1).last_read;
            if mark.seq <= before {
                return Ok((false, Vec::new()));
            }
            let mut published = Vec::new();
            if state.read_receipts.contains(&mark.channel_id) {
                let user_id = mark.user.id;
                let event = Event::ReadReceipt {
                    user: mark.user,
                    seq: mark.seq,
                };
                published.push(state.append_event(
                    mark.channel_id,
                    &mark.channel_name,
                    event,
                    now_ms(),
                    Some(user_id),
                )?);
            }
            state.read_state.entry(key).or_default().last_read = mark.seq;
            Ok((true, published))
        }))
    }

    fn set_mute(&self, user_id: i64, channel_id: i64, until: Option<i64>) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            if state.position(user_id, channel_id).muted_until == until {
                return Ok((false, Vec::new()));
            }
            let position = state.read_state.entry((user_id, channel_id)).or_default();
            position.muted_until = until;
            Ok((true, Vec::new()))
        }))
    }
}

impl ThreadStore for MemoryStore {
    fn open_thread(
        &self,
        channel_id: i64,
        root_id: i64,
        opened_by: i64,
    ) -> StoreFuture<'_, OpenedThread> {
        Box::pin(self.write(move |state| {
            Ok((
                state.open_thread(channel_id, root_id, opened_by)?,
                Vec::new(),
            ))
        }))
    }
}
