//! Host names as `server.allowed_hosts` lists them and as requests name them: one normal form
//! both are compared in; and the origins `server.cors_origins` may list.

use std::net::IpAddr;

/// A host as compared against `server.allowed_hosts`: without port, brackets or trailing dot,
/// in lower case, IP addresses in their canonical form (`0:0::1` is `::1`). None when `text`
/// is not a host name or address (with an optional port).
pub fn normalize_host(text: &str) -> Option<String> {
    let text = text.trim();
    let host = if let Some(rest) = text.strip_prefix('[') {
        // [v6] or [v6]:port
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || port_ok(after.strip_prefix(':')?)) {
            return None;
        }
        return inside
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| ip.to_string());
    } else if let Ok(ip) = text.parse::<IpAddr>() {
        // A bare IPv6 address (its colons are not a port) or IPv4.
        return Some(ip.to_string());
    } else {
        match text.split_once(':') {
            Some((host, port)) if port_ok(port) => host,
            Some(_) => return None,
            None => text,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if !valid {
        return None;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Some(ip.to_string()),
        Err(_) => Some(host),
    }
}

fn port_ok(port: &str) -> bool {
    port.is_empty() || port.parse::<u16>().is_ok()
}

/// Why `origin` cannot be an entry of `server.cors_origins`, if it cannot: `"*"`, or
/// `http(s)://host[:port]` with nothing after it (a browser's `Origin`).
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("{origin:?} is not an origin: it starts with http:// or https://")
        })?;
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
        || !origin.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(format!(
            "{origin:?} is not an origin: scheme://host[:port] with no path, e.g. https://app.example.com"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn hosts_are_normalised() {
        let n = |s| normalize_host(s);
        assert_eq!(n("LocalHost:7878").as_deref(), Some("localhost"));
        assert_eq!(n("localhost.").as_deref(), Some("localhost"));
        assert_eq!(n("127.0.0.1:0").as_deref(), Some("127.0.0.1"));
        assert_eq!(n("[::1]:7878").as_deref(), Some("::1"));
        assert_eq!(n("[0:0::1]").as_deref(), Some("::1"));
        assert_eq!(n("::1").as_deref(), Some("::1"));
        assert_eq!(n("chat.example.org").as_deref(), Some("chat.example.org"));
        for bad in [
            "",
            ":80",
            "a b",
            "host:port",
            "[::1",
            "[nope]:1",
            "x..y",
            "a/b",
        ] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
    }
}
