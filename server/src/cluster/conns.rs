//! WebSocket connections per client address counted for every node together
//! (`address::SharedConnections`): a hash per address, `<prefix>:conns:<address>`, with a
//! field per node (`<node>:a` all, `<node>:n` without a token). A node's fields count only
//! while its liveness key (`<prefix>:alive:<node>`, set with every heartbeat, expiring after
//! three) exists: a node that died takes its connections with it, and the next admission for
//! that address removes its fields. Without an answer from Redis within 250 ms, each node's
//! own count decides, and the shared one is not asked again for a second.

use std::net::IpAddr;

use futures_util::future::BoxFuture;

use super::Cluster;
use crate::address::SharedConnections;

/// 0: admitted (counted); 1: at the cap; 2: at the anonymous cap. ARGV: this node, anonymous
/// (0/1), the cap, the anonymous cap, the liveness key prefix, the key's expiry (ms).
const ADMIT: &str = r"
local all, anon = 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local field, n = fields[i], tonumber(fields[i + 1])
  local node, kind = string.match(field, '^(.*):(%a)$')
  if node ~= ARGV[1] and redis.call('EXISTS', ARGV[5] .. node) == 0 then
    redis.call('HDEL', KEYS[1], field)
  elseif kind == 'a' then
    all = all + n
  else
    anon = anon + n
  end
end
if all >= tonumber(ARGV[3]) then return 1 end
if ARGV[2] == '1' and anon >= tonumber(ARGV[4]) then return 2 end
redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':a', 1)
if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':n', 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 0";

const RELEASE: &str = r"
local function less(field)
  if redis.call('HINCRBY', KEYS[1], field, -1) <= 0 then redis.call('HDEL', KEYS[1], field) end
end
less(ARGV[1] .. ':a')
if ARGV[2] == '1' then less(ARGV[1] .. ':n') end
return 0";

/// A backstop: an address's hash expires a week after its last admission.
const KEY_EXPIRY_MS: u64 = 7 * 24 * 3600 * 1000;

impl Cluster {
    fn conns_key(&self, key: IpAddr) -> String {
        format!("{}:conns:{key}", self.prefix)
    }

    /// This node's liveness key (set with each heartbeat).
    pub(super) fn alive_key(&self) -> String {
        format!("{}:alive:{:016x}", self.prefix, self.node)
    }
}

impl SharedConnections for Cluster {
    fn admit(
        &self,
        key: IpAddr,
        anonymous: bool,
        (max, max_anonymous): (usize, usize),
    ) -> BoxFuture<'_, Option<Result<(), String>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(ADMIT)
                .arg(1)
                .arg(self.conns_key(key))
                .arg(format!("{:016x}", self.node))
                .arg(u8::from(anonymous))
                .arg(max)
                .arg(max_anonymous)
                .arg(format!("{}:alive:", self.prefix))
                .arg(KEY_EXPIRY_MS);
            match self.shared_count::<u8>(&cmd, "connection counts").await? {
                0 => Some(Ok(())),
                1 => Some(Err(format!(
                    "this address already holds {max} connections across the servers \
                     (realtime.max_connections_per_address)"
                ))),
                _ => Some(Err(format!(
                    "this address already holds {max_anonymous} connections without a token \
                     across the servers (realtime.max_anonymous_connections_per_address); sign in"
                ))),
            }
        })
    }

    fn release(&self, key: IpAddr, anonymous: bool) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(this) = self.me.get().and_then(std::sync::Weak::upgrade) else {
            return;
        };
        // Queued, and bounded like an admission: a hung Redis holds each for at most 500 ms.
        runtime.spawn(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(RELEASE)
                .arg(1)
                .arg(this.conns_key(key))
                .arg(format!("{:016x}", this.node))
                .arg(u8::from(anonymous));
            this.shared_release(&cmd).await;
        });
    }
}
