//! Which client events reach the UI one by one, and which only as a per-channel summary.
//!
//! The UI shows the messages of a few channels (the one on screen, an open thread); for every
//! other channel it needs only the sidebar's figures. A backlog (after being offline, or the
//! first sign-in to a busy workspace) can be tens of thousands of messages: sending each one
//! over IPC would grow the web process's memory for nothing. So messages of channels the UI
//! does not show are counted here and summed up per channel in an `activity` push a moment
//! later; edits, reactions, deletions and typing in those channels are not sent at all (the
//! UI reads the cache when it opens the channel). The same counts drive the tray.

use std::collections::{BTreeSet, HashMap, HashSet};

use parley_client::ClientEvent;
use parley_protocol::Message;

/// Where the window and the user's attention are, and the unread counts the app keeps.
#[derive(Default)]
pub struct Attention {
    pub window_focused: bool,
    /// The channel on screen.
    pub open_channel: Option<String>,
    /// Channels whose messages the UI shows (the one on screen, an open thread and its
    /// channel): their events are pushed one by one.
    pub watched: HashSet<String>,
    /// Channels muted on the server (until Unix ms), from the unread list and `read` events.
    pub muted_until: HashMap<String, i64>,
    /// Unread counts per channel (for the tray and the sidebar of channels not shown).
    pub unread: HashMap<String, u64>,
    /// Channels already followed in this session.
    pub followed: HashSet<String>,
    /// The newest seq seen per channel.
    heads: HashMap<String, u64>,
    /// The highest seq counted per channel (a backlog replayed after a reconnect counts once).
    counted: HashMap<String, u64>,
    /// Channels with news the UI has not been told about yet.
    dirty: BTreeSet<String>,
    /// Messages pushed one by one per shown channel since the last summary.
    burst: HashMap<String, u32>,
}

/// Messages of a shown channel pushed one by one between two summaries; beyond that (a
/// backlog streaming in) the UI gets a summary and loads the newest page itself.
pub const BURST: u32 = 50;

/// What the forwarder does with an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Send it to the UI now.
    Push,
    /// Counted; the UI gets the channel's summary with the next `take_activity`.
    Summarize,
    /// Nothing on screen shows it.
    Drop,
}

/// One channel's figures for the sidebar (pushed as `AppEvent::Activity`).
#[derive(Debug, PartialEq, Eq)]
pub struct ChannelActivity {
    pub channel: String,
    pub head: u64,
    pub unread: u64,
}

impl Attention {
    /// Forgets the session's channels (signed out, or another user).
    pub fn reset(&mut self) {
        self.followed.clear();
        self.unread.clear();
        self.heads.clear();
        self.counted.clear();
        self.dirty.clear();
        self.burst.clear();
    }

    /// The UI now shows `open` (the channel on screen) and `also` (thread channels).
    pub fn show(&mut self, open: Option<String>, also: Vec<String>) {
        self.watched = also.into_iter().chain(open.clone()).collect();
        self.open_channel = open;
    }

    /// The server's unread count for a channel whose newest seq is `head`: messages up to
    /// `head` that arrive later are in that count already.
    pub fn set_unread(&mut self, channel: &str, unread: u64, head: u64) {
        self.unread.insert(channel.to_owned(), unread);
        let counted = self.counted.entry(channel.to_owned()).or_default();
        *counted = (*counted).max(head);
        let newest = self.heads.entry(channel.to_owned()).or_default();
        *newest = (*newest).max(head);
    }

    /// Counts a message (unread, for the tray and the sidebar); true when it is new unread.
    pub fn count(&mut self, message: &Message, me: &str) -> bool {
        let channel = &message.channel;
        let head = self.heads.entry(channel.clone()).or_default();
        *head = (*head).max(message.seq);
        let counted = self.counted.entry(channel.clone()).or_default();
        if message.seq <= *counted {
            return false;
        }
        *counted = message.seq;
        let looking = self.window_focused && self.open_channel.as_deref() == Some(channel);
        if message.author.name == me
            || message.deleted
            || channel.starts_with("thread#")
            || looking
            || !self.followed.contains(channel)
        {
            return false;
        }
        *self.unread.entry(channel.clone()).or_default() += 1;
        true
    }

    /// Decides what happens to an event (after counting it, for a message).
    pub fn route(&mut self, event: &ClientEvent, me: &str) -> Route {
        let channel = match event {
            ClientEvent::Message { message } => {
                self.count(message, me);
                if self.watched.contains(&message.channel) {
                    let pushed = self.burst.entry(message.channel.clone()).or_default();
                    if *pushed < BURST {
                        *pushed += 1;
                        return Route::Push;
                    }
                    self.dirty.insert(message.channel.clone());
                    return Route::Summarize;
                }
                if message.channel.starts_with("thread#") {
                    return Route::Drop;
                }
                self.dirty.insert(message.channel.clone());
                return Route::Summarize;
            }
            ClientEvent::MessageEdited { message } => &message.channel,
            ClientEvent::MessageDeleted { channel, .. }
            | ClientEvent::ThreadUpdated { channel, .. }
            | ClientEvent::Typing { channel, .. } => channel,
            ClientEvent::Reaction { reaction } => &reaction.channel,
            _ => return Route::Push,
        };
        if self.watched.contains(channel) {
            Route::Push
        } else {
            Route::Drop
        }
    }

    /// True when some channel's summary waits.
    pub fn has_activity(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The summaries of the channels with news since the last call.
    pub fn take_activity(&mut self) -> Vec<ChannelActivity> {
        self.burst.clear();
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|channel| ChannelActivity {
                head: self.heads.get(&channel).copied().unwrap_or(0),
                unread: self.unread.get(&channel).copied().unwrap_or(0),
                channel,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use parley_protocol::UserRef;

    fn message(channel: &str, seq: u64, author: &str) -> Message {
        serde_json::from_value(serde_json::json!({
            "id": seq as i64 + 1000,
            "channel": channel,
            "seq": seq,
            "author": {"id": 2, "name": author},
            "text": format!("message {seq}"),
            "client_id": format!("c{seq}"),
            "created_at": "2026-11-28T09:00:00.000Z",
            "ts": 1_700_000_000_000i64,
        }))
        .unwrap()
    }

    fn attention() -> Attention {
        let mut a = Attention::default();
        a.followed
            .extend(["general".to_owned(), "random".to_owned()]);
        a.show(Some("general".into()), vec![]);
        a
    }

    fn event(m: Message) -> ClientEvent {
        ClientEvent::Message { message: m }
    }

    #[test]
    fn channels_not_on_screen_are_summed_up() {
        let mut a = attention();
        assert_eq!(
            a.route(&event(message("general", 1, "bob")), "me"),
            Route::Push
        );
        assert!(!a.has_activity());
        for seq in 1..=500 {
            assert_eq!(
                a.route(&event(message("random", seq, "bob")), "me"),
                Route::Summarize
            );
        }
        // Replayed after a reconnect: not counted twice.
        a.route(&event(message("random", 7, "bob")), "me");
        // Mine: not unread, but the head moves.
        a.route(&event(message("random", 501, "me")), "me");
        assert!(a.has_activity());
        assert_eq!(
            a.take_activity(),
            vec![ChannelActivity {
                channel: "random".into(),
                head: 501,
                unread: 500
            }]
        );
        assert!(!a.has_activity());
        assert!(a.take_activity().is_empty());
    }

    #[test]
    fn a_backlog_of_the_channel_on_screen_becomes_a_summary() {
        let mut a = attention();
        for seq in 1..=u64::from(BURST) {
            assert_eq!(
                a.route(&event(message("general", seq, "bob")), "me"),
                Route::Push
            );
        }
        assert_eq!(
            a.route(&event(message("general", 51, "bob")), "me"),
            Route::Summarize
        );
        let summary = a.take_activity();
        assert_eq!(summary.len(), 1);
        assert_eq!(
            (summary[0].channel.as_str(), summary[0].head),
            ("general", 51)
        );
        // The next window pushes one by one again.
        assert_eq!(
            a.route(&event(message("general", 52, "bob")), "me"),
            Route::Push
        );
    }

    #[test]
    fn the_server_count_includes_what_is_still_on_its_way() {
        let mut a = attention();
        a.set_unread("random", 3, 10);
        for seq in 8..=12 {
            a.route(&event(message("random", seq, "bob")), "me");
        }
        assert_eq!(
            a.take_activity(),
            vec![ChannelActivity {
                channel: "random".into(),
                head: 12,
                unread: 5
            }]
        );
    }

    #[test]
    fn the_channel_on_screen_counts_only_while_unfocused() {
        let mut a = attention();
        a.window_focused = true;
        assert!(!a.count(&message("general", 1, "bob"), "me"));
        a.window_focused = false;
        assert!(a.count(&message("general", 2, "bob"), "me"));
        assert_eq!(a.unread["general"], 1);
        // Channels not followed, threads and deleted messages are not unread.
        assert!(!a.count(&message("elsewhere", 1, "bob"), "me"));
        assert!(!a.count(&message("thread#9", 1, "bob"), "me"));
        let mut gone = message("random", 1, "bob");
        gone.deleted = true;
        assert!(!a.count(&gone, "me"));
    }

    #[test]
    fn changes_in_channels_not_shown_are_dropped() {
        let mut a = attention();
        a.show(Some("general".into()), vec!["thread#42".into()]);
        let typing = |channel: &str| ClientEvent::Typing {
            channel: channel.into(),
            user: serde_json::from_value::<UserRef>(serde_json::json!({"id": 2, "name": "bob"}))
                .unwrap(),
            typing: true,
        };
        assert_eq!(a.route(&typing("general"), "me"), Route::Push);
        assert_eq!(a.route(&typing("random"), "me"), Route::Drop);
        let deleted = ClientEvent::MessageDeleted {
            channel: "random".into(),
            message_id: 1,
            seq: 1,
        };
        assert_eq!(a.route(&deleted, "me"), Route::Drop);
        // The open thread's replies come one by one; other threads' do not come at all.
        assert_eq!(
            a.route(&event(message("thread#42", 3, "bob")), "me"),
            Route::Push
        );
        assert_eq!(
            a.route(&event(message("thread#43", 3, "bob")), "me"),
            Route::Drop
        );
        assert!(!a.has_activity());
        // Everything else goes to the UI.
        let synced = ClientEvent::Synced {
            channel: "random".into(),
            seq: 9,
        };
        assert_eq!(a.route(&synced, "me"), Route::Push);
    }
}
