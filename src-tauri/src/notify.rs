//! Native notifications (notify-rust: the freedesktop Notifications service on Linux) for
//! mentions, direct messages and new messages in followed channels while the window is not
//! focused. Muted channels, channels with notifications off and do-not-disturb stay silent.
//! Clicking one brings the window forward on that channel (the XDG "default" action).

use std::sync::{atomic::Ordering, Arc};

use parley_client::ClientEvent;
use parley_protocol::Message;
use tauri::{AppHandle, Manager};

use crate::{state::AppState, types::AppEvent};

/// At most this many notifications wait for a click at once (each waits on its own thread).
const MAX_WAITING: usize = 16;
/// Messages older than this (a backlog after being offline) do not notify.
const FRESH_MS: i64 = 120_000;

/// What to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub channel: String,
    /// A document the notice is about (a click opens it rather than `channel`).
    pub doc: Option<String>,
    pub title: String,
    pub body: String,
}

/// Everything `decide` looks at besides the event.
pub struct Context<'a> {
    pub me: &'a str,
    pub settings: &'a crate::types::Settings,
    pub window_focused: bool,
    pub open_channel: Option<&'a str>,
    /// The channel is muted (server-side mute in effect now).
    pub muted: &'a dyn Fn(&str) -> bool,
    pub now_ms: i64,
}

/// The status the user chose is *do not disturb* and has not run out: it silences this app too,
/// as the *Do not disturb* setting does (the status also tells others).
fn status_is_dnd(settings: &crate::types::Settings, now_ms: i64) -> bool {
    settings
        .status
        .as_ref()
        .is_some_and(|s| s.status == "dnd" && s.until.is_none_or(|until| until > now_ms))
}

/// Whether an event notifies, and how. Pure, so the rules are tested on their own.
pub fn decide(event: &ClientEvent, cx: &Context) -> Option<Notice> {
    if !cx.settings.notifications
        || cx.settings.do_not_disturb
        || status_is_dnd(cx.settings, cx.now_ms)
    {
        return None;
    }
    if let ClientEvent::CommentMention { doc, by, ts, .. } = event {
        if by.name == cx.me || cx.now_ms - ts > FRESH_MS {
            return None;
        }
        // The comment's text is fetched before the notice is shown (see `session`).
        return Some(Notice {
            channel: String::new(),
            doc: Some(doc.clone()),
            title: format!("{} mentioned you on {doc}", display_user(by)),
            body: String::new(),
        });
    }
    let (message, mention) = match event {
        ClientEvent::Mention { message, muted } => {
            if *muted {
                return None;
            }
            (message.as_ref(), true)
        }
        ClientEvent::Message { message } => (message, false),
        _ => return None,
    };
    if message.author.name == cx.me || message.deleted {
        return None;
    }
    if cx.now_ms - message.ts > FRESH_MS {
        return None;
    }
    let channel = message.channel.as_str();
    if (cx.muted)(channel) || cx.settings.channel_notifications.get(channel) == Some(&false) {
        return None;
    }
    let looking = cx.window_focused && cx.open_channel == Some(channel);
    if looking {
        return None;
    }
    let who = display(message);
    let direct = channel.starts_with("dm:");
    if mention {
        return Some(Notice {
            channel: channel.to_owned(),
            doc: None,
            title: if direct {
                format!("{who} (direct message)")
            } else {
                format!("{who} mentioned you in #{channel}")
            },
            body: excerpt(&message.text),
        });
    }
    // A message that mentions this user also comes as a mention: notify once, from there.
    if mentions_me(message, cx.me) {
        return None;
    }
    if direct {
        return Some(Notice {
            channel: channel.to_owned(),
            doc: None,
            title: format!("{who} (direct message)"),
            body: excerpt(&message.text),
        });
    }
    if cx.window_focused || channel.starts_with("thread#") {
        return None;
    }
    Some(Notice {
        channel: channel.to_owned(),
        doc: None,
        title: format!("{who} in #{channel}"),
        body: excerpt(&message.text),
    })
}

fn mentions_me(message: &Message, me: &str) -> bool {
    // `mentions` holds user ids; the text is the reliable test without knowing our own id.
    message.text.split(|c: char| c.is_whitespace()).any(|w| {
        let w = w.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '-');
        w == format!("@{me}") || w == "@channel" || w == "@here"
    })
}

/// Who wrote it: the display name, with the user name beside it whenever they differ, so a
/// newcomer who calls themselves "alice" shows as `alice (@mallory)` and cannot pass for
/// @alice.
pub fn display(message: &Message) -> String {
    display_user(&message.author)
}

/// A user as [`display`] shows them.
pub fn display_user(user: &parley_protocol::UserRef) -> String {
    let name = &user.name;
    match user.display_name.as_deref().map(str::trim) {
        Some(display) if !display.is_empty() && display != name => {
            format!("{display} (@{name})")
        }
        _ => name.clone(),
    }
}

/// Notification bodies are freedesktop markup (a small HTML subset): escape what a message
/// says, so `<b>` or `&` shows as written and cannot format, link or break the body.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// Shows a notice; a click focuses the window on its channel.
pub fn show(app: &AppHandle, state: &Arc<AppState>, notice: Notice) {
    let waiting = Arc::clone(&state.pending_notifications);
    let app = app.clone();
    std::thread::spawn(move || {
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("Parley")
            // The summary is plain text in the specification; the body is markup.
            .summary(&notice.title)
            .body(&escape_markup(&notice.body))
            .icon("parley-app")
            .hint(notify_rust::Hint::Category("im.received".into()))
            .action("default", "Open");
        let handle = match notification.show() {
            Ok(handle) => handle,
            Err(err) => {
                tracing::warn!(%err, "cannot show a notification");
                return;
            }
        };
        if waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return; // shown, but too many are waiting for a click already
        }
        let (channel, doc) = (notice.channel.clone(), notice.doc.clone());
        #[cfg(all(unix, not(target_os = "macos")))]
        handle.wait_for_action(|action| {
            if action == "default" || action == "Open" {
                focus_on(&app, &channel, doc.as_deref());
            }
        });
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        drop((handle, channel, doc, &app));
        waiting.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Brings the window forward and tells the UI to show `channel` (or document `doc`).
pub fn focus_on(app: &AppHandle, channel: &str, doc: Option<&str>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    if let Some(state) = app.try_state::<Arc<AppState>>() {
        state.push(AppEvent::Navigate {
            channel: channel.to_owned(),
            doc: doc.map(str::to_owned),
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::Settings;
    use parley_protocol::UserRef;

    fn message(channel: &str, author: &str, text: &str, ts: i64) -> Message {
        Message {
            id: 1,
            channel: channel.into(),
            seq: 1,
            author: UserRef {
                id: 2,
                name: author.into(),
                display_name: None,
                avatar: None,
            },
            text: text.into(),
            client_id: "c".into(),
            created_at: String::new(),
            ts,
            edited_at: None,
            deleted: false,
            thread: None,
            attachments: vec![],
            mentions: vec![],
            reactions: vec![],
        }
    }

    fn cx<'a>(settings: &'a Settings, focused: bool, open: Option<&'a str>) -> Context<'a> {
        Context {
            me: "me",
            settings,
            window_focused: focused,
            open_channel: open,
            muted: &|c: &str| c == "muted",
            now_ms: 1_000_000,
        }
    }

    #[test]
    fn rules() {
        let s = Settings::default();
        let msg = |ch: &str, text: &str| ClientEvent::Message {
            message: message(ch, "bob", text, 1_000_000),
        };
        let mention = |ch: &str, muted: bool| ClientEvent::Mention {
            message: Box::new(message(ch, "bob", "hi @me", 1_000_000)),
            muted,
        };
        // Unfocused: channel messages notify; focused: only elsewhere-mentions and DMs.
        assert!(decide(&msg("general", "hello"), &cx(&s, false, None)).is_some());
        assert!(decide(&msg("general", "hello"), &cx(&s, true, Some("random"))).is_none());
        assert!(decide(&msg("dm:1,2", "psst"), &cx(&s, true, Some("general"))).is_some());
        assert!(decide(&msg("dm:1,2", "psst"), &cx(&s, true, Some("dm:1,2"))).is_none());
        let n = decide(&mention("general", false), &cx(&s, true, Some("random"))).unwrap();
        assert_eq!(n.channel, "general");
        assert!(n.title.contains("mentioned you"), "{n:?}");
        // The mention's own channel message does not notify a second time.
        assert!(decide(&msg("general", "hi @me"), &cx(&s, false, None)).is_none());
        // Muted: by the server's mute, by the event's flag, per channel setting, DND, off.
        assert!(decide(&msg("muted", "x"), &cx(&s, false, None)).is_none());
        assert!(decide(&mention("general", true), &cx(&s, false, None)).is_none());
        let mut quiet = Settings::default();
        quiet.channel_notifications.insert("general".into(), false);
        assert!(decide(&mention("general", false), &cx(&quiet, false, None)).is_none());
        let dnd = Settings {
            do_not_disturb: true,
            ..Settings::default()
        };
        assert!(decide(&mention("general", false), &cx(&dnd, false, None)).is_none());
        // The status "do not disturb" silences too, until it runs out; "away" does not.
        let status = |status: &str, until: Option<i64>| Settings {
            status: Some(crate::types::MyStatus {
                status: status.into(),
                text: None,
                until,
            }),
            ..Settings::default()
        };
        assert!(decide(
            &mention("general", false),
            &cx(&status("dnd", None), false, None)
        )
        .is_none());
        let until_later = status("dnd", Some(1_000_000 + 60_000));
        assert!(decide(&mention("general", false), &cx(&until_later, false, None)).is_none());
        let ran_out = status("dnd", Some(1_000_000 - 1));
        assert!(decide(&mention("general", false), &cx(&ran_out, false, None)).is_some());
        assert!(decide(
            &mention("general", false),
            &cx(&status("away", None), false, None)
        )
        .is_some());
        let off = Settings {
            notifications: false,
            ..Settings::default()
        };
        assert!(decide(&msg("dm:1,2", "x"), &cx(&off, false, None)).is_none());
        // Own messages and old ones (a backlog) stay silent.
        let own = ClientEvent::Message {
            message: message("general", "me", "mine", 1_000_000),
        };
        assert!(decide(&own, &cx(&s, false, None)).is_none());
        let old = ClientEvent::Message {
            message: message("general", "bob", "old", 1_000_000 - FRESH_MS - 1),
        };
        assert!(decide(&old, &cx(&s, false, None)).is_none());
    }

    #[test]
    fn bodies_are_escaped_for_markup() {
        assert_eq!(
            escape_markup(r#"<b>bold</b> & <a href="x">'l'</a>"#),
            "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&quot;x&quot;&gt;&#39;l&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_markup("plain, é 👍"), "plain, é 👍");
    }

    #[test]
    fn comment_mentions_notify_unless_stale_or_own_or_quiet() {
        let settings = Settings::default();
        let mention = |by: &str, ts: i64| ClientEvent::CommentMention {
            doc: "plan".into(),
            comment_id: 7,
            by: UserRef {
                id: 3,
                name: by.into(),
                display_name: Some("Bobby".into()),
                avatar: None,
            },
            ts,
        };
        let notice = decide(&mention("bob", 1_000_000), &cx(&settings, true, None)).unwrap();
        assert_eq!(notice.doc.as_deref(), Some("plan"));
        assert_eq!(notice.title, "Bobby (@bob) mentioned you on plan");
        assert!(decide(&mention("me", 1_000_000), &cx(&settings, false, None)).is_none());
        assert!(decide(&mention("bob", 1), &cx(&settings, false, None)).is_none());
        let quiet = Settings {
            do_not_disturb: true,
            ..Settings::default()
        };
        assert!(decide(&mention("bob", 1_000_000), &cx(&quiet, false, None)).is_none());
    }

    #[test]
    fn titles_show_the_user_name_beside_a_different_display_name() {
        let s = Settings::default();
        let mut m = message("general", "mallory", "hi @me", 1_000_000);
        m.author.display_name = Some("alice".into());
        let n = decide(
            &ClientEvent::Mention {
                message: Box::new(m.clone()),
                muted: false,
            },
            &cx(&s, false, None),
        )
        .unwrap();
        assert_eq!(n.title, "alice (@mallory) mentioned you in #general");
        m.channel = "dm:1,2".into();
        m.text = "psst".into();
        let n = decide(
            &ClientEvent::Message { message: m.clone() },
            &cx(&s, false, None),
        )
        .unwrap();
        assert_eq!(n.title, "alice (@mallory) (direct message)");
        // The same name twice, or none: the user name alone.
        m.author.display_name = Some("mallory".into());
        assert_eq!(display(&m), "mallory");
        m.author.display_name = None;
        assert_eq!(display(&m), "mallory");
    }

    #[test]
    fn long_text_is_cut() {
        let long = "word ".repeat(100);
        let e = excerpt(&long);
        assert!(e.chars().count() <= 201);
        assert!(e.ends_with('…'));
    }
}
