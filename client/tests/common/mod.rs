//! Test harness for the client: the shared test kit (`parley-testkit`: the server, in-process
//! or as a process that can be killed and restarted on the same port, the proxy that cuts
//! connections, the `parley` CLI run as a process) and the client's longer wait.
#![allow(dead_code, clippy::unwrap_used)]

use std::{path::Path, time::Duration};

pub use parley_testkit::*;

/// Waits of the client's own tests (a flush, coming online): the client backs off between
/// attempts, so they get longer than the kit's.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `parley` with `PARLEY_HOME` = `home` (no keyring: the file fallback): whether it
/// succeeded, its output and its error output.
pub async fn parley(home: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    eprintln!("parley {args:?}");
    let out = run_parley(home, args, stdin).await;
    (out.success, out.stdout, out.stderr)
}

/// What a chaos run must end with, given the channel's stored `history` (oldest first) and
/// the clients that sent `"<sender>:<n>"` messages to `channel`: each of the `senders` ×
/// `per_sender` messages stored once, each sender's in the order sent, and every client's cache
/// equal to the log, seq for seq (waiting up to a minute for each to catch up).
pub async fn assert_log_and_caches(
    history: &[serde_json::Value],
    clients: &[parley_client::Client],
    channel: &str,
    (senders, per_sender): (usize, usize),
) {
    assert_eq!(
        history.len(),
        senders * per_sender,
        "lost or duplicated in the store"
    );
    let mut next = vec![0usize; senders];
    let mut ids = std::collections::HashSet::new();
    for m in history {
        let text = m["text"].as_str().unwrap();
        let (i, n) = text.split_once(':').unwrap();
        let (i, n): (usize, usize) = (i.parse().unwrap(), n.parse().unwrap());
        assert_eq!(
            n, next[i],
            "client {i}: out of order or duplicated at {text}"
        );
        next[i] += 1;
        assert!(ids.insert(m["client_id"].as_str().unwrap().to_owned()));
    }
    let head = history.last().unwrap()["seq"].as_u64().unwrap();
    let expected: Vec<(u64, String)> = history
        .iter()
        .map(|m| {
            (
                m["seq"].as_u64().unwrap(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (i, client) in clients.iter().enumerate() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let ch = channel.to_owned();
            let (_, last) = client
                .store()
                .run(move |c| parley_client::store::resume_point(c, &ch))
                .await
                .unwrap();
            if last >= head {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "client {i} stuck at seq {last} of {head}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ch = channel.to_owned();
        let cached = client
            .store()
            .run(move |c| parley_client::store::history(c, &ch, None, u32::MAX))
            .await
            .unwrap();
        let cached: Vec<(u64, String)> = cached.into_iter().map(|m| (m.seq, m.text)).collect();
        assert_eq!(cached.len(), expected.len(), "client {i}: cache size");
        assert!(cached == expected, "client {i}: cache differs from the log");
    }
}
