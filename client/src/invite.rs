//! Invite links: what a workspace's host hands to someone joining it, in one line they can
//! paste: `parley://join?server=https%3A%2F%2F192.168.1.5%3A7878&fingerprint=sha256%3A…&invite=inv_…`.
//! `server` is where to connect, `fingerprint` (optional) the certificate to pin there
//! ([`crate::tls::pin`]: the host's app made it, so no authority vouches for it), `invite` the
//! code that lets one account register.

use crate::{Error, Result};

/// Longest link accepted: the three parts are short.
const MAX_LINK: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteLink {
    /// `https://host:port` (or `http://` on loopback).
    pub server: String,
    /// `sha256:…` of the server's certificate, to pin.
    pub fingerprint: Option<String>,
    pub code: String,
}

impl InviteLink {
    /// Reads a link; every malformed part is an error saying which.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::Invalid(format!("not a Parley invite link: {why}"));
        let text = text.trim();
        if text.len() > MAX_LINK {
            return Err(bad("too long"));
        }
        let url = reqwest::Url::parse(text).map_err(|_| bad("not a link"))?;
        if url.scheme() != "parley" || url.host_str() != Some("join") {
            return Err(bad("it must start with parley://join?"));
        }
        let (mut server, mut fingerprint, mut code) = (None, None, None);
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "server" => server = Some(value.into_owned()),
                "fingerprint" => fingerprint = Some(value.into_owned()),
                "invite" => code = Some(value.into_owned()),
                _ => {}
            }
        }
        let server = server.ok_or_else(|| bad("no server"))?;
        let parsed =
            reqwest::Url::parse(&server).map_err(|_| bad("the server is not an address"))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            return Err(bad("the server must be an https:// address"));
        }
        if let Some(fp) = &fingerprint {
            crate::tls::parse_fingerprint(fp)?;
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| bad("no invite code"))?;
        if code.len() > 200
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        {
            return Err(bad("the invite code is malformed"));
        }
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            fingerprint,
            code,
        })
    }

    /// The link's text.
    pub fn to_link(&self) -> String {
        let mut url = reqwest::Url::parse("parley://join").expect("a fixed, valid URL");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("server", &self.server);
            if let Some(fp) = &self.fingerprint {
                query.append_pair("fingerprint", fp);
            }
            query.append_pair("invite", &self.code);
        }
        url.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn link() -> InviteLink {
        InviteLink {
            server: "https://192.168.1.5:7878".into(),
            fingerprint: Some(crate::tls::fingerprint(b"cert")),
            code: "inv_0123abcd".into(),
        }
    }

    #[test]
    fn a_link_reads_back_as_written() {
        let text = link().to_link();
        assert!(
            text.starts_with("parley://join?server=https%3A%2F%2F192.168.1.5%3A7878"),
            "{text}"
        );
        assert_eq!(InviteLink::parse(&format!("  {text}\n")).unwrap(), link());
        let no_pin = InviteLink {
            fingerprint: None,
            ..link()
        };
        assert_eq!(InviteLink::parse(&no_pin.to_link()).unwrap(), no_pin);
    }

    #[test]
    fn malformed_links_say_what_is_wrong() {
        let cases = [
            ("https://example.org/join?invite=x", "parley://join"),
            ("parley://join?invite=inv_1", "no server"),
            (
                "parley://join?server=ftp%3A%2F%2Fh&invite=inv_1",
                "https://",
            ),
            ("parley://join?server=https%3A%2F%2Fh", "no invite code"),
            (
                "parley://join?server=https%3A%2F%2Fh&invite=a%20b",
                "malformed",
            ),
            (
                "parley://join?server=https%3A%2F%2Fh&invite=i&fingerprint=md5",
                "fingerprint",
            ),
        ];
        for (text, expected) in cases {
            let err = InviteLink::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        assert!(InviteLink::parse(&"x".repeat(5000)).is_err());
    }
}
