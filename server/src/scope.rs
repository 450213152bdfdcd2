//! Scoped tokens (a bot's): which operations and routes a scope admits. The rules are pure
//! functions of the request, so each surface enforces them in one place: the `/ws` session
//! before it routes a request, the HTTP extractors for every `/api` route, and the `/docs`
//! upgrade. An unscoped token passes everything here (its user's access rules still apply).

use parley_protocol::{
    api::{ScopeOp, TokenScope},
    ErrorCode, Op,
};

use crate::error::{Error, Result};

/// What a request needs from a token's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing: any signed-in token may (who am I, ping, channel lists filtered by scope).
    Nothing,
    /// This operation in this channel.
    Op(ScopeOp, String),
    /// Any operation in this channel (joining and leaving it).
    Channel(String),
    /// Never with a scoped token; the text says what.
    Refused(&'static str),
}

/// The refusal every surface answers (403 over HTTP).
pub fn refused(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::TokenScope, message)
}

/// Checks `need` against a token's scope (none: an unscoped token, which passes).
pub fn check(scope: Option<&TokenScope>, need: &Need) -> Result<()> {
    let Some(scope) = scope else { return Ok(()) };
    match need {
        Need::Nothing => Ok(()),
        Need::Op(op, channel) if scope.allows(*op, channel) => Ok(()),
        Need::Op(op, channel) => Err(refused(format!(
            "this token's scope does not allow {} in {channel}",
            op.as_str()
        ))),
        Need::Channel(channel) if scope.names(channel) => Ok(()),
        Need::Channel(channel) => Err(refused(format!(
            "channel {channel} is outside this token's scope"
        ))),
        Need::Refused(what) => Err(refused(format!("a scoped token cannot {what}"))),
    }
}

/// True when a scoped session may see `channel` at all (listings, auto-subscriptions).
pub fn shows(scope: Option<&TokenScope>, channel: &str) -> bool {
    scope.is_none_or(|scope| scope.names(channel))
}

/// What a `/ws` operation needs.
pub fn for_op(op: &Op) -> Need {
    let read = |channel: &String| Need::Op(ScopeOp::Read, channel.clone());
    let send = |channel: &String| Need::Op(ScopeOp::Send, channel.clone());
    match op {
        Op::Auth { .. } | Op::Ping | Op::ChannelList | Op::Unsubscribe { .. } => Need::Nothing,
        Op::ChannelJoin { channel } | Op::ChannelLeave { channel } => {
            Need::Channel(channel.clone())
        }
        Op::Subscribe { channel, .. }
        | Op::ChannelMembers { channel, .. }
        | Op::History { channel, .. }
        | Op::PresenceList { channel }
        | Op::MarkRead { channel, .. }
        | Op::Mute { channel, .. }
        | Op::Unmute { channel } => read(channel),
        Op::Search { channel, .. } => match channel {
            Some(channel) => read(channel),
            None => Need::Refused("search every channel; name one of its channels"),
        },
        Op::Send { channel, .. }
        | Op::Typing { channel }
        | Op::MessageEdit { channel, .. }
        | Op::MessageDelete { channel, .. }
        | Op::ReactionAdd { channel, .. }
        | Op::ReactionRemove { channel, .. }
        | Op::ThreadOpen { channel, .. }
        | Op::ChannelUpdate { channel, .. } => send(channel),
        Op::Publish { channel, .. } => Need::Op(ScopeOp::Publish, channel.clone()),
        Op::ChannelCreate { .. } => Need::Refused("create channels"),
        Op::ChannelInvite { .. } => Need::Refused("invite"),
        Op::DmOpen { .. } => Need::Refused("open direct messages"),
        Op::SetStatus { .. } => Need::Refused("change its account's status"),
        Op::Unread => Need::Refused("list unread counts of every channel"),
    }
}

/// What an HTTP route needs: `method` and the matched route template (`/api/channels/{name}`),
/// `channel` the route's `{name}` when it has one. Routes not listed are refused.
pub fn for_route(method: &str, route: &str, channel: Option<&str>) -> Need {
    let named = |op| {
        channel.map_or(Need::Refused("use this route"), |c| {
            Need::Op(op, c.to_owned())
        })
    };
    match (method, route) {
        ("GET", "/api/me") | ("POST", "/api/logout") | ("GET", "/api/channels") => Need::Nothing,
        ("GET", "/api/channels/{name}/messages") => named(ScopeOp::Read),
        ("POST", "/api/channels/{name}/messages") => named(ScopeOp::Send),
        ("POST", "/api/channels/{name}/events") => named(ScopeOp::Publish),
        ("POST", "/api/channels/{name}/join") => channel
            .map_or(Need::Refused("use this route"), |c| {
                Need::Channel(c.to_owned())
            }),
        ("POST", "/api/channels") => Need::Refused("create channels"),
        ("POST", "/api/me/password") => Need::Refused("change its account"),
        (_, route) if route.starts_with("/api/me/tokens") => Need::Refused("manage tokens"),
        (_, route) if route.starts_with("/api/bots") => Need::Refused("manage bots"),
        (_, route) if route.starts_with("/api/docs") => {
            Need::Refused("use the document API (it may open documents on /docs)")
        }
        (_, route)
            if route.starts_with("/api/attachments") || route.starts_with("/api/uploads") =>
        {
            Need::Refused("upload or download attachments")
        }
        _ => Need::Refused("use this route"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn scope(channels: &[&str], ops: &[ScopeOp]) -> TokenScope {
        TokenScope {
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            operations: ops.to_vec(),
        }
    }

    #[test]
    fn unscoped_tokens_pass_everything() {
        assert!(check(None, &Need::Refused("x")).is_ok());
        assert!(check(None, &for_op(&Op::Unread)).is_ok());
    }

    #[test]
    fn scoped_tokens_pass_only_their_channels_and_operations() {
        let s = scope(&["alerts"], &[ScopeOp::Send]);
        let send = |c: &str| Op::Send {
            channel: c.into(),
            text: "x".into(),
            client_id: "c".into(),
            attachments: vec![],
        };
        assert!(check(Some(&s), &for_op(&send("alerts"))).is_ok());
        let err = check(Some(&s), &for_op(&send("other"))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TokenScope);
        let history = Op::History {
            channel: "alerts".into(),
            before: None,
            limit: None,
        };
        assert!(check(Some(&s), &for_op(&history)).is_err());
        assert!(check(
            Some(&s),
            &for_op(&Op::ChannelJoin {
                channel: "alerts".into()
            })
        )
        .is_ok());
        assert!(check(Some(&s), &for_op(&Op::Unread)).is_err());
        assert!(shows(Some(&s), "alerts") && !shows(Some(&s), "general"));
    }

    #[test]
    fn routes_not_listed_are_refused() {
        let s = scope(&["alerts"], &ScopeOp::ALL);
        let get = |route| check(Some(&s), &for_route("GET", route, Some("alerts")));
        assert!(get("/api/channels/{name}/messages").is_ok());
        assert!(get("/api/me").is_ok());
        assert!(get("/api/me/tokens").is_err());
        assert!(get("/api/docs/{name}").is_err());
        assert!(get("/api/something/new").is_err());
    }
}
