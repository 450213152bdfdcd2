//! Read state: where the user stands in each channel they are a member of (read up to, unread
//! and mention counts, mute). The client is the one place the desktop app and the command line
//! take it from. It starts from the server's `unread` list, takes the `read` events of the
//! personal channel `@me` (this user's other devices), counts the messages and mentions that
//! arrive in between, and tells the server when this device reads (`mark_read`).
//!
//! The counts follow messages silently (a backlog of thousands is one summary for whoever
//! shows them, not thousands of events); a `Read` event says when a position or mute changed.

use std::{collections::HashMap, sync::Mutex};

use parley_protocol::{rpc, ChannelInfo, Message, ReadState};

use crate::{store, Client, ClientEvent, ConnectionState, Error, Result};

/// The read state of every channel the user is a member of, as far as this client knows.
#[derive(Default)]
pub(crate) struct ReadStates {
    inner: Mutex<Tracked>,
}

#[derive(Default)]
struct Tracked {
    /// Per member channel (the server's `unread` list names exactly those).
    states: HashMap<String, ReadState>,
    /// The highest seq counted per channel, or known to be in the server's count already (a
    /// backlog replayed after a reconnect, or a message the server counted, counts once).
    counted: HashMap<String, u64>,
}

impl ReadStates {
    fn with<T>(&self, f: impl FnOnce(&mut Tracked) -> T) -> T {
        match self.inner.lock() {
            Ok(mut tracked) => f(&mut tracked),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The channel list was read: messages up to each channel's `head` are in the server's next
    /// unread count, so they are not counted again when they arrive.
    pub(crate) fn listed(&self, channels: &[ChannelInfo]) {
        self.with(|t| {
            for info in channels {
                let counted = t.counted.entry(info.name.clone()).or_default();
                *counted = (*counted).max(info.head);
            }
        });
    }

    /// The server's `unread` list: the state of every member channel now.
    pub(crate) fn replace_all(&self, states: &[ReadState]) {
        self.with(|t| {
            t.states = states
                .iter()
                .map(|s| (s.channel.clone(), s.clone()))
                .collect();
        });
    }

    /// One channel's state from the server (a `read` event, a mark or mute answer).
    pub(crate) fn set(&self, state: &ReadState) {
        self.with(|t| {
            t.states.insert(state.channel.clone(), state.clone());
        });
    }

    /// Counts a message that just arrived; true when it is a new unread one. Not counted: the
    /// user's own, deleted ones, thread replies, channels the user is not a member of, and
    /// what the user has read already.
    pub(crate) fn count(&self, message: &Message, me: i64) -> bool {
        self.with(|t| {
            let counted = t.counted.entry(message.channel.clone()).or_default();
            if message.seq <= *counted {
                return false;
            }
            *counted = message.seq;
            if message.author.id == me || message.deleted || message.channel.starts_with("thread#")
            {
                return false;
            }
            match t.states.get_mut(&message.channel) {
                Some(state) if message.seq > state.last_read => {
                    state.unread += 1;
                    true
                }
                _ => false,
            }
        })
    }

    /// A mention of the user arrived (its message is counted as unread on its own).
    pub(crate) fn mention(&self, message: &Message) {
        self.with(|t| {
            if let Some(state) = t.states.get_mut(&message.channel) {
                if message.seq > state.last_read {
                    state.mentions += 1;
                }
            }
        });
    }

    /// This device read `channel` up to `seq`: nothing there is unread any more.
    pub(crate) fn read_here(&self, channel: &str, seq: u64) -> Option<ReadState> {
        self.with(|t| {
            let state = t.states.get_mut(channel)?;
            state.last_read = state.last_read.max(seq);
            state.unread = 0;
            state.mentions = 0;
            Some(state.clone())
        })
    }

    pub(crate) fn get(&self, channel: &str) -> Option<ReadState> {
        self.with(|t| t.states.get(channel).cloned())
    }

    pub(crate) fn all(&self) -> Vec<ReadState> {
        self.with(|t| {
            let mut all: Vec<ReadState> = t.states.values().cloned().collect();
            all.sort_by(|a, b| a.channel.cmp(&b.channel));
            all
        })
    }
}

impl Client {
    /// Unread and mention counts of every channel the user is a member of: from the server
    /// when online (and kept), else as this client knows them.
    pub async fn unread(&self) -> Result<Vec<ReadState>> {
        match self.request(rpc::Unread {}).await {
            Ok(states) => {
                self.inner.reads.replace_all(&states);
                Ok(states)
            }
            Err(Error::Offline | Error::Disconnected | Error::Timeout) => {
                Ok(self.inner.reads.all())
            }
            Err(err) => Err(err),
        }
    }

    /// Where the user stands in `channel`, as this client knows it now.
    pub fn read_state(&self, channel: &str) -> Option<ReadState> {
        self.inner.reads.get(channel)
    }

    /// Where the user stands in every member channel, as this client knows it now.
    pub fn read_states(&self) -> Vec<ReadState> {
        self.inner.reads.all()
    }

    /// Everything up to `seq` in `channel` has been read here: kept in the cache, counted at
    /// once, and told to the server (which tells the user's other devices). Offline, the
    /// position stays local and the server learns it with the next read.
    pub async fn mark_read(&self, channel: &str, seq: u64) -> Result<()> {
        let name = channel.to_owned();
        self.inner
            .store
            .run(move |c| store::set_read(c, &name, seq))
            .await?;
        if let Some(read) = self.inner.reads.read_here(channel, seq) {
            self.inner.emit(ClientEvent::Read { read });
        }
        if !matches!(self.state(), ConnectionState::Online { .. }) {
            return Ok(());
        }
        let request = rpc::MarkRead {
            channel: channel.to_owned(),
            seq,
        };
        match self.request(request).await {
            Ok(read) => {
                self.inner.reads.set(&read);
                Ok(())
            }
            Err(Error::Offline) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Mutes `channel` until `until` (Unix milliseconds; None: until unmuted), on every device.
    pub async fn mute(&self, channel: &str, until: Option<i64>) -> Result<ReadState> {
        let read = self
            .request(rpc::Mute {
                channel: channel.to_owned(),
                until,
            })
            .await?;
        self.inner.reads.set(&read);
        Ok(read)
    }

    pub async fn unmute(&self, channel: &str) -> Result<ReadState> {
        let read = self
            .request(rpc::Unmute {
                channel: channel.to_owned(),
            })
            .await?;
        self.inner.reads.set(&read);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn message(channel: &str, seq: u64, author: i64) -> Message {
        serde_json::from_value(serde_json::json!({
            "id": seq as i64 + 1000,
            "channel": channel,
            "seq": seq,
            "author": {"id": author, "name": format!("user{author}")},
            "text": format!("message {seq}"),
            "client_id": format!("c{seq}"),
            "created_at": "2026-11-28T09:00:00.000Z",
            "ts": 1_700_000_000_000i64,
        }))
        .unwrap()
    }

    fn read(channel: &str, last_read: u64, unread: u64) -> ReadState {
        ReadState {
            channel: channel.into(),
            last_read,
            unread,
            mentions: 0,
            muted_until: None,
        }
    }

    const ME: i64 = 1;
    const BOB: i64 = 2;

    #[test]
    fn messages_by_others_count_once() {
        let reads = ReadStates::default();
        reads.replace_all(&[read("general", 0, 0), read("random", 0, 0)]);
        for seq in 1..=500 {
            assert!(reads.count(&message("random", seq, BOB), ME));
        }
        // Replayed after a reconnect: not counted twice.
        assert!(!reads.count(&message("random", 7, BOB), ME));
        // Mine: not unread.
        assert!(!reads.count(&message("random", 501, ME), ME));
        assert_eq!(reads.get("random").unwrap().unread, 500);
        assert_eq!(reads.get("general").unwrap().unread, 0);
    }

    #[test]
    fn the_server_count_includes_what_is_still_on_its_way() {
        let reads = ReadStates::default();
        let listed: ChannelInfo = serde_json::from_value(serde_json::json!({
            "name": "random", "channel_type": "public", "authentication": "required",
            "presence": false, "user_specific": false, "auto_subscribe": false,
            "max_participants": null, "message_history": 0, "message_retention_secs": 0,
            "topic": null, "epoch": "e1", "head": 10, "member": true, "member_count": 2,
        }))
        .unwrap();
        reads.listed(&[listed]);
        reads.replace_all(&[read("random", 7, 3)]);
        for seq in 8..=12 {
            reads.count(&message("random", seq, BOB), ME);
        }
        assert_eq!(reads.get("random").unwrap().unread, 5);
    }

    #[test]
    fn what_is_not_unread() {
        let reads = ReadStates::default();
        reads.replace_all(&[read("random", 5, 0)]);
        // Read already, a thread's reply, a deleted message, a channel the user is not in.
        assert!(!reads.count(&message("random", 4, BOB), ME));
        assert!(!reads.count(&message("thread#9", 1, BOB), ME));
        let mut gone = message("random", 6, BOB);
        gone.deleted = true;
        assert!(!reads.count(&gone, ME));
        assert!(!reads.count(&message("elsewhere", 1, BOB), ME));
        assert!(reads.count(&message("random", 7, BOB), ME));
        assert_eq!(reads.get("random").unwrap().unread, 1);
        assert!(reads.get("elsewhere").is_none());
    }

    #[test]
    fn mentions_and_reading_here() {
        let reads = ReadStates::default();
        reads.replace_all(&[read("random", 5, 0)]);
        let m = message("random", 8, BOB);
        reads.count(&m, ME);
        reads.mention(&m);
        reads.mention(&message("random", 3, BOB)); // read already
        let state = reads.get("random").unwrap();
        assert_eq!((state.unread, state.mentions), (1, 1));
        let state = reads.read_here("random", 8).unwrap();
        assert_eq!((state.last_read, state.unread, state.mentions), (8, 0, 0));
        // Another device's read event wins.
        let mut other = read("random", 9, 0);
        other.muted_until = Some(123);
        reads.set(&other);
        assert_eq!(reads.get("random").unwrap().muted_until, Some(123));
        assert!(reads.read_here("unknown", 1).is_none());
    }
}
