//! Client addresses: the key that per-address limits count by, and the WebSocket connections
//! each address holds (`realtime.max_connections_per_address` and its anonymous share).
//!
//! The address is the TCP peer, unless the peer is one of `server.trusted_proxies`: then it is
//! the last address in `X-Forwarded-For` that is not itself a trusted proxy ([`TrustedProxies`]).
//! A header from anyone else is ignored, so a client cannot pick its own address.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex, OnceLock},
};

use futures_util::future::BoxFuture;
use parley_protocol::ErrorCode;
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{Error, Result};

/// The key an address is counted under: an IPv4 address as it is (IPv4-mapped IPv6 included),
/// an IPv6 address by its /64, the block one host or home network normally gets, so a client
/// cannot escape the limits by hopping between the addresses of its own network.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

/// Live WebSocket connections per address key. An entry exists only while its address holds a
/// connection, so the map is bounded by `realtime.max_connections`. On a server of several
/// nodes the caps are checked against every node's count too ([`SharedConnections`]).
#[derive(Default)]
pub struct AddressConnections {
    counts: Mutex<HashMap<IpAddr, Counts>>,
    shared: OnceLock<Arc<dyn SharedConnections>>,
}

/// Connections per address counted for every node of a cluster together (in Redis).
pub trait SharedConnections: Send + Sync {
    /// Counts one more connection of `key` on this node unless every node's together are at
    /// `max` (or `max_anonymous` without a token): then the refusal's message. None when the
    /// shared count cannot be reached: this node's own count decides meanwhile.
    fn admit(
        &self,
        key: IpAddr,
        anonymous: bool,
        caps: (usize, usize),
    ) -> BoxFuture<'_, Option<std::result::Result<(), String>>>;
    /// Counts one connection of `key` less (queued; never waits).
    fn release(&self, key: IpAddr, anonymous: bool);
}

#[derive(Default, Clone, Copy)]
struct Counts {
    all: usize,
    anonymous: usize,
}

/// Everything a WebSocket connection holds against the connection limits; released on drop.
pub struct ConnectionPermit {
    _global: OwnedSemaphorePermit,
    _address: AddressSlot,
}

impl ConnectionPermit {
    /// The client address (or IPv6 /64) the connection is counted under.
    pub(crate) fn client(&self) -> IpAddr {
        self._address.key
    }

    pub(crate) fn new(global: OwnedSemaphorePermit, address: AddressSlot) -> Self {
        Self {
            _global: global,
            _address: address,
        }
    }
}

/// One connection counted against its address.
pub(crate) struct AddressSlot {
    registry: Arc<AddressConnections>,
    key: IpAddr,
    anonymous: bool,
    /// Counted in the cluster's shared count too (given back with the slot).
    shared: bool,
}

impl AddressConnections {
    /// Counts a new connection from `ip`, or refuses it with `too_many_connections` when the
    /// address already holds `max` connections (or `max_anonymous` anonymous ones).
    pub(crate) fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        anonymous: bool,
        max: usize,
        max_anonymous: usize,
    ) -> Result<AddressSlot> {
        let key = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = counts.entry(key).or_default();
        let refused = if entry.all >= max {
            Some(format!(
                "this address already holds {} connections (realtime.max_connections_per_address)",
                entry.all
            ))
        } else if anonymous && entry.anonymous >= max_anonymous {
            Some(format!(
                "this address already holds {} connections without a token \
                 (realtime.max_anonymous_connections_per_address); sign in",
                entry.anonymous
            ))
        } else {
            None
        };
        if let Some(message) = refused {
            if entry.all == 0 {
                counts.remove(&key);
            }
            return Err(Error::new(ErrorCode::TooManyConnections, message));
        }
        entry.all += 1;
        entry.anonymous += usize::from(anonymous);
        Ok(AddressSlot {
            registry: Arc::clone(self),
            key,
            anonymous,
            shared: false,
        })
    }

    /// Checks the caps against every node of the cluster too.
    pub fn share(&self, shared: Arc<dyn SharedConnections>) {
        let _ = self.shared.set(shared);
    }

    /// [`Self::admit`], then the cluster's count when there is one: a connection one node
    /// would take but the cluster holds too many of is refused the same way.
    pub(crate) async fn admit_everywhere(
        self: &Arc<Self>,
        ip: IpAddr,
        anonymous: bool,
        max: usize,
        max_anonymous: usize,
    ) -> Result<AddressSlot> {
        let mut slot = self.admit(ip, anonymous, max, max_anonymous)?;
        if let Some(shared) = self.shared.get() {
            match shared
                .admit(slot.key, anonymous, (max, max_anonymous))
                .await
            {
                Some(Ok(())) => slot.shared = true,
                Some(Err(message)) => {
                    return Err(Error::new(ErrorCode::TooManyConnections, message))
                }
                None => {}
            }
        }
        Ok(slot)
    }

    /// Connections `ip`'s address key holds now (all, anonymous).
    pub fn held_by(&self, ip: IpAddr) -> (usize, usize) {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .get(&address_key(ip))
            .map_or((0, 0), |c| (c.all, c.anonymous))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if self.shared {
            if let Some(shared) = self.registry.shared.get() {
                shared.release(self.key, self.anonymous);
            }
        }
        let mut counts = self
            .registry
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = counts.get_mut(&self.key) {
            entry.all = entry.all.saturating_sub(1);
            if self.anonymous {
                entry.anonymous = entry.anonymous.saturating_sub(1);
            }
            if entry.all == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(
            address_key(mapped),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn slots_count_and_release() {
        let registry = Arc::new(AddressConnections::default());
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let anon = registry.admit(ip, true, 3, 1).expect("first");
        assert!(registry.admit(ip, true, 3, 1).is_err(), "anonymous cap");
        let signed = registry.admit(ip, false, 3, 1).expect("signed in");
        let third = registry.admit(ip, false, 3, 1).expect("third");
        assert_eq!(
            registry.admit(ip, false, 3, 1).err().map(|e| e.code()),
            Some(ErrorCode::TooManyConnections)
        );
        assert_eq!(registry.held_by(ip), (3, 1));
        drop((anon, signed, third));
        assert_eq!(registry.held_by(ip), (0, 0));
        assert!(registry.counts.lock().expect("lock").is_empty());
    }
}

/// `server.trusted_proxies`: the peers whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<ipnet::IpNet>,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`, `::1`) and CIDR ranges (`10.0.0.0/8`).
    pub fn parse(entries: &[String]) -> std::result::Result<Self, String> {
        let nets = entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an address or CIDR range"))
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok(Self { nets })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted; then, walking
    /// `X-Forwarded-For` (every instance, in order) from the right, the first address that is
    /// not a trusted proxy. A malformed entry ends the walk at the last trusted hop, so garbage
    /// never becomes the client's address. Ports in entries are accepted and dropped.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        // Bounded by the request head's size limit.
        let hops: Vec<&str> = forwarded_for
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

/// Hops of `X-Forwarded-For` walked from the right: more proxies than this in a row is not a
/// deployment, and the walk stays cheap whatever the header holds.
const MAX_FORWARDED_HOPS: usize = 64;

/// `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod proxy_tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("valid list")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_header_from_an_untrusted_peer_is_ignored() {
        let p = proxies(&["127.0.0.1"]);
        assert_eq!(
            p.client(ip("203.0.113.9"), ["10.1.1.1"].into_iter()),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies(&[]).client(ip("127.0.0.1"), ["10.1.1.1"].into_iter()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        // The client forged the first entry; the proxies appended the real ones.
        let header = ["6.6.6.6, 198.51.100.7", "10.2.3.4"];
        assert_eq!(
            p.client(ip("127.0.0.1"), header.into_iter()),
            ip("198.51.100.7")
        );
        assert_eq!(
            p.client(ip("127.0.0.1"), ["[2001:db8::1]:443"].into_iter()),
            ip("2001:db8::1")
        );
        assert_eq!(
            p.client(ip("::ffff:127.0.0.1"), ["192.0.2.1:80"].into_iter()),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn garbage_or_no_header_leaves_the_last_trusted_hop() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(
            p.client(ip("127.0.0.1"), std::iter::empty()),
            ip("127.0.0.1")
        );
        assert_eq!(
            p.client(ip("127.0.0.1"), ["1.1.1.1, junk, 10.0.0.9"].into_iter()),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        let bad = TrustedProxies::parse(&["10.0.0.0/33".into()]);
        assert!(bad.is_err());
        assert!(TrustedProxies::parse(&["localhost".into()]).is_err());
    }
}
