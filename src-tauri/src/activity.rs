//! Which client events reach the UI one by one, and which only as a per-channel summary.
//!
//! The UI shows the messages of a few channels (the one on screen, an open thread); for every
//! other channel it needs only the sidebar's figures. A backlog (after being offline, or the
//! first sign-in to a busy workspace) can be tens of thousands of messages: sending each one
//! over IPC would grow the web process's memory for nothing. So messages of channels the UI
//! does not show are noted here and summed up per channel in an `activity` push a moment
//! later (the channel's newest seq here, its unread and mention counts from the client, which
//! keeps read state; a mention gets its channel such a push too); edits, reactions, deletions
//! and typing in those channels are not sent at all (the UI reads the cache when it opens the
//! channel).

use std::collections::{BTreeSet, HashMap, HashSet};

use parley_client::ClientEvent;

/// Where the window and the user's attention are, and what the UI has not been told yet.
#[derive(Default)]
pub struct Attention {
    pub window_focused: bool,
    /// The channel on screen.
    pub open_channel: Option<String>,
    /// Channels whose messages the UI shows (the one on screen, an open thread and its
    /// channel): their events are pushed one by one.
    pub watched: HashSet<String>,
    /// Channels already followed in this session.
    pub followed: HashSet<String>,
    /// The newest seq seen per channel.
    heads: HashMap<String, u64>,
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
    /// Noted; the UI gets the channel's summary with the next `take_activity`.
    Summarize,
    /// Nothing on screen shows it.
    Drop,
}

/// A channel with news for the sidebar (pushed as `AppEvent::Activity`, with the client's
/// unread count).
#[derive(Debug, PartialEq, Eq)]
pub struct ChannelActivity {
    pub channel: String,
    pub head: u64,
}

impl Attention {
    /// Forgets the session's channels (signed out, or another user).
    pub fn reset(&mut self) {
        self.followed.clear();
        self.heads.clear();
        self.dirty.clear();
        self.burst.clear();
    }

    /// The UI now shows `open` (the channel on screen) and `also` (thread channels).
    pub fn show(&mut self, open: Option<String>, also: Vec<String>) {
        self.watched = also.into_iter().chain(open.clone()).collect();
        self.open_channel = open;
    }

    /// Whether the user is looking at `channel` now (on screen, window focused).
    pub fn looking_at(&self, channel: &str) -> bool {
        self.window_focused && self.open_channel.as_deref() == Some(channel)
    }

    /// Decides what happens to an event.
    pub fn route(&mut self, event: &ClientEvent) -> Route {
        let channel = match event {
            ClientEvent::Message { message } => {
                let head = self.heads.entry(message.channel.clone()).or_default();
                *head = (*head).max(message.seq);
                if self.watched.contains(&message.channel) {
                    let pushed = self.burst.entry(message.channel.clone()).or_default();
                    if *pushed < BURST {
                        *pushed += 1;
                        // Shown beside the one on screen: its counts still change.
                        if self.open_channel.as_ref() != Some(&message.channel)
                            && !message.channel.starts_with("thread#")
                        {
                            self.dirty.insert(message.channel.clone());
                        }
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
            // Pushed (notifications, listeners), and the channel's counts follow in its summary.
            ClientEvent::Mention { message, .. } => {
                if !message.channel.starts_with("thread#") {
                    let head = self.heads.entry(message.channel.clone()).or_default();
                    *head = (*head).max(message.seq);
                    self.dirty.insert(message.channel.clone());
                }
                return Route::Push;
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

    /// The channels with news since the last call, with their newest seq.
    pub fn take_activity(&mut self) -> Vec<ChannelActivity> {
        self.burst.clear();
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|channel| ChannelActivity {
                head: self.heads.get(&channel).copied().unwrap_or(0),
                channel,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use parley_protocol::{Message, UserRef};

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

    // How many of these messages are unread is the client's to count (parley-client's
    // `reads` tests: 500 here); this side gathers which channels have news, and how far.
    #[test]
    fn channels_not_on_screen_are_summed_up() {
        let mut a = attention();
        assert_eq!(a.route(&event(message("general", 1, "bob"))), Route::Push);
        assert!(!a.has_activity());
        for seq in 1..=500 {
            assert_eq!(
                a.route(&event(message("random", seq, "bob"))),
                Route::Summarize
            );
        }
        // Replayed after a reconnect: the head does not go back.
        a.route(&event(message("random", 7, "bob")));
        // Mine: the head moves.
        a.route(&event(message("random", 501, "me")));
        assert!(a.has_activity());
        assert_eq!(
            a.take_activity(),
            vec![ChannelActivity {
                channel: "random".into(),
                head: 501,
            }]
        );
        assert!(!a.has_activity());
        assert!(a.take_activity().is_empty());
    }

    #[test]
    fn a_backlog_of_the_channel_on_screen_becomes_a_summary() {
        let mut a = attention();
        for seq in 1..=u64::from(BURST) {
            assert_eq!(a.route(&event(message("general", seq, "bob"))), Route::Push);
        }
        assert_eq!(
            a.route(&event(message("general", 51, "bob"))),
            Route::Summarize
        );
        let summary = a.take_activity();
        assert_eq!(summary.len(), 1);
        assert_eq!(
            (summary[0].channel.as_str(), summary[0].head),
            ("general", 51)
        );
        // The next window pushes one by one again.
        assert_eq!(a.route(&event(message("general", 52, "bob"))), Route::Push);
    }

    #[test]
    fn a_mention_is_pushed_and_its_channel_summed_up() {
        let mut a = attention();
        let mention = ClientEvent::Mention {
            message: Box::new(message("random", 8, "bob")),
            muted: false,
        };
        assert_eq!(a.route(&mention), Route::Push);
        assert_eq!(
            a.take_activity(),
            vec![ChannelActivity {
                channel: "random".into(),
                head: 8,
            }]
        );
    }

    #[test]
    fn the_user_looks_at_the_channel_on_screen_only_while_focused() {
        let mut a = attention();
        a.window_focused = true;
        assert!(a.looking_at("general"));
        assert!(!a.looking_at("random"));
        a.window_focused = false;
        assert!(!a.looking_at("general"));
        a.window_focused = true;
        a.show(None, vec![]);
        assert!(!a.looking_at("general"));
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
        assert_eq!(a.route(&typing("general")), Route::Push);
        assert_eq!(a.route(&typing("random")), Route::Drop);
        let deleted = ClientEvent::MessageDeleted {
            channel: "random".into(),
            message_id: 1,
            seq: 1,
        };
        assert_eq!(a.route(&deleted), Route::Drop);
        // The open thread's replies come one by one; other threads' do not come at all.
        assert_eq!(a.route(&event(message("thread#42", 3, "bob"))), Route::Push);
        assert_eq!(a.route(&event(message("thread#43", 3, "bob"))), Route::Drop);
        assert!(!a.has_activity());
        // Everything else goes to the UI.
        let synced = ClientEvent::Synced {
            channel: "random".into(),
            seq: 9,
        };
        assert_eq!(a.route(&synced), Route::Push);
    }
}
