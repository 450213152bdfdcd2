//! Sign-in under load: password hashing is bounded (workers and a queue, then 503 with
//! Retry-After), login and registration are limited per client address, and everyone else's
//! requests stay fast meanwhile. Peak memory is read from the server process (VmHWM).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use parley_testkit::*;
use serde_json::json;

/// Sign-in attempts fired at once: half logins with unknown names, half registrations.
const ATTEMPTS: usize = 300;
/// 2 workers at ~19 MiB each plus the server itself stay far below this; without the bound,
/// 300 parallel hashes took 703 MB in a release build.
const PEAK_RSS_BOUND_MIB: u64 = 200;
/// How long `/healthz` or a token check may take while the attempts run. Generous: this is a
/// debug build on a shared machine; without the bound they took seconds.
const PROBE_BOUND: Duration = Duration::from_secs(2);

#[tokio::test]
async fn parallel_unknown_logins_and_registrations_are_bounded() {
    // The new settings as environment variables, which a server without them ignores: the
    // same test then shows what happens without the bound.
    let server = TestServer::builder()
        .config("[rate_limit]\nlogins_per_second = 0\n")
        .envs(&[
            ("PARLEY_RATE_LIMIT_ADDRESS_LOGINS_PER_SECOND", "0"),
            ("PARLEY_SERVER_MAX_HTTP_CONNECTIONS_PER_ADDRESS", "1000"),
            ("PARLEY_ACCOUNTS_HASH_CONCURRENCY", "2"),
            ("PARLEY_ACCOUNTS_HASH_QUEUE", "8"),
        ])
        .start_process()
        .await;
    let token = server.register("alice").await;

    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|i| {
            let http = server.http().clone();
            let url = server.url().clone();
            tokio::spawn(async move {
                let (path, body) = if i % 2 == 0 {
                    (
                        "/api/login",
                        json!({"name": format!("nobody-{i}"), "password": "wrong password"}),
                    )
                } else {
                    (
                        "/api/register",
                        json!({"name": format!("newcomer-{i}"), "password": "correct horse"}),
                    )
                };
                let response = tokio::time::timeout(
                    Duration::from_secs(120),
                    http.post(format!("{url}{path}")).json(&body).send(),
                )
                .await
                .expect("an attempt hung")
                .expect("an attempt failed");
                let retry_after = response.headers().get("retry-after").cloned();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                (status, retry_after, body)
            })
        })
        .collect();

    // Meanwhile: health and an authenticated request (a token check) answer promptly.
    let mut probes = 0;
    let mut slowest = Duration::ZERO;
    while attempts.iter().any(|a| !a.is_finished()) && probes < 200 {
        let started = Instant::now();
        let (status, _) = tokio::time::timeout(PROBE_BOUND, server.get("/healthz", None))
            .await
            .expect("/healthz was slow while sign-ins ran");
        assert_eq!(status, 200);
        let (status, me) = tokio::time::timeout(PROBE_BOUND, server.get("/api/me", Some(&token)))
            .await
            .expect("a token check was slow while sign-ins ran");
        assert_eq!((status, me["name"].as_str()), (200, Some("alice")));
        slowest = slowest.max(started.elapsed());
        probes += 1;
    }
    assert!(probes > 0, "the attempts ended before any probe");

    let (mut done, mut busy) = (0, 0);
    for attempt in attempts {
        let (status, retry_after, body) = attempt.await.unwrap();
        match status {
            201 | 401 => done += 1,
            503 => {
                assert_eq!(body["code"], "server_busy", "{body}");
                assert!(body["retry_after_ms"].as_u64().unwrap() > 0, "{body}");
                let secs: u64 = retry_after
                    .expect("503 without Retry-After")
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(secs >= 1);
                busy += 1;
            }
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    let peak = server.peak_rss_mib();
    eprintln!(
        "{ATTEMPTS} sign-ins: {done} hashed, {busy} refused busy; peak RSS {peak} MiB; \
         slowest probe pair {slowest:?} over {probes} probes"
    );
    assert!(done >= 2, "some attempts must get through");
    assert!(busy > 0, "the surplus must be refused with 503");
    assert!(
        peak < PEAK_RSS_BOUND_MIB,
        "peak RSS {peak} MiB over the bound"
    );
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let server = TestServer::builder()
        .config("[rate_limit]\nlogins_per_second = 0\n")
        .envs(&[
            ("PARLEY_RATE_LIMIT_ADDRESS_LOGINS_PER_SECOND", "0.001"),
            ("PARLEY_RATE_LIMIT_ADDRESS_LOGIN_BURST", "3"),
        ])
        .start()
        .await;
    // Three attempts with three different names, registration included, use the burst.
    server.register("first").await;
    for name in ["second", "third"] {
        let (status, body) = server
            .post(
                "/api/login",
                None,
                json!({"name": name, "password": "wrong password"}),
            )
            .await;
        assert_eq!(status, 401, "{body}");
    }
    // A fourth name from the same address waits, whatever the name.
    let response = server
        .http()
        .post(format!("{}/api/login", server.url()))
        .json(&json!({"name": "fourth", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "fifth", "password": "correct horse"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    // A name that cannot exist is refused before it is counted (no 429 for it).
    let (status, _) = server
        .post(
            "/api/login",
            None,
            json!({"name": "not a name!", "password": "wrong password"}),
        )
        .await;
    assert_eq!(status, 401);
}
