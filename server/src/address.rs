//! Client addresses: the key that per-address limits count by, and the WebSocket connections
//! each address holds (`realtime.max_connections_per_address` and its anonymous share).
//!
//! The address is the TCP peer. `X-Forwarded-For` is not read: behind a reverse proxy every
//! client shares the proxy's address, so such a deployment raises these limits.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex},
};

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
/// connection, so the map is bounded by `realtime.max_connections`.
#[derive(Default)]
pub struct AddressConnections {
    counts: Mutex<HashMap<IpAddr, Counts>>,
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
        })
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
