//! The outbox flusher: sends pending entries one at a time, oldest first, whenever the client
//! is online. Each entry keeps its `client_id` across retries, so a send whose answer was lost
//! (connection cut, process killed) is sent again and the server answers with the original.
//! Refusals that will not change on retry mark the entry failed and the queue moves on.

use std::{sync::Arc, time::Duration};

use parley_protocol::{rpc, ErrorCode};

use crate::{store, ClientEvent, ConnectionState, Error, Inner, OutboxEntry};

/// Errors that a retry cannot fix.
fn permanent(code: ErrorCode) -> bool {
    !matches!(
        code,
        ErrorCode::RateLimited
            | ErrorCode::ServerBusy
            | ErrorCode::ShuttingDown
            | ErrorCode::Internal
            | ErrorCode::Unauthenticated
    )
}

pub(crate) async fn run(inner: Arc<Inner>) {
    let mut state = inner.state.subscribe();
    let stop = inner.stop.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        if !matches!(&*state.borrow_and_update(), ConnectionState::Online { .. }) {
            tokio::select! {
                changed = state.changed() => if changed.is_err() { return },
                () = inner.outbox_wake.notified() => {}
            }
            continue;
        }
        let next = match inner.store.run(|c| store::outbox_next(c)).await {
            Ok(next) => next,
            Err(err) => {
                tracing::error!(%err, "outbox unreadable");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(entry) = next else {
            tokio::select! {
                () = inner.outbox_wake.notified() => {}
                changed = state.changed() => if changed.is_err() { return },
            }
            continue;
        };
        match deliver(&inner, &entry).await {
            Ok(()) => {}
            Err(Wait(delay)) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    changed = state.changed() => if changed.is_err() { return },
                }
            }
        }
    }
}

/// The body of a queued edit, deletion or reaction (as `Client::edit`, `delete` and `react`
/// write it).
#[derive(serde::Deserialize)]
struct ChangeBody {
    message_id: i64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    emoji: String,
    /// A reaction added (true) or taken back.
    #[serde(default = "added")]
    add: bool,
}

fn added() -> bool {
    true
}

/// The body of a queued message with attachments (`Client::send_with`).
#[derive(serde::Deserialize)]
struct FilesBody {
    #[serde(default)]
    text: String,
    #[serde(default)]
    attachments: Vec<i64>,
}

/// An edit, delete or reaction queued like a send. A retried delete whose first attempt went
/// through finds the message gone: that is success.
async fn message_change(client: &crate::Client, entry: &OutboxEntry) -> Result<(), Error> {
    let body: ChangeBody =
        serde_json::from_str(&entry.body).map_err(|e| Error::Invalid(e.to_string()))?;
    let (channel, message_id) = (entry.target.clone(), body.message_id);
    match entry.kind.as_str() {
        "edit" => client
            .request(rpc::EditMessage {
                channel,
                message_id,
                text: body.text,
            })
            .await
            .map(drop),
        "delete" => match client
            .request(rpc::DeleteMessage {
                channel,
                message_id,
            })
            .await
        {
            Err(Error::Server(body)) if body.code == ErrorCode::MessageNotFound => Ok(()),
            other => other.map(drop),
        },
        _ if !body.add => client
            .request(rpc::RemoveReaction {
                channel,
                message_id,
                emoji: body.emoji,
            })
            .await
            .map(drop),
        _ => client
            .request(rpc::AddReaction {
                channel,
                message_id,
                emoji: body.emoji,
            })
            .await
            .map(drop),
    }
}

/// 200 ms doubling per attempt, at most 10 s.
fn backoff_ms(attempts: i64) -> u64 {
    200u64.saturating_mul(1 << attempts.clamp(0, 6)).min(10_000)
}

/// Try again after this long (or when the connection state changes).
struct Wait(Duration);

async fn deliver(inner: &Arc<Inner>, entry: &OutboxEntry) -> Result<(), Wait> {
    let local_id = entry.local_id;
    let _ = inner
        .store
        .run(move |c| store::outbox_attempt(c, local_id))
        .await;
    let client = crate::Client {
        inner: Arc::clone(inner),
    };
    let result = match entry.kind.as_str() {
        "message" => client
            .request(rpc::SendMessage {
                channel: entry.target.clone(),
                text: entry.body.clone(),
                client_id: entry.client_id.clone(),
                attachments: Vec::new(),
            })
            .await
            .map(|sent| Some(sent.message)),
        "message_files" => match serde_json::from_str::<FilesBody>(&entry.body) {
            Ok(body) => client
                .request(rpc::SendMessage {
                    channel: entry.target.clone(),
                    text: body.text,
                    client_id: entry.client_id.clone(),
                    attachments: body.attachments,
                })
                .await
                .map(|sent| Some(sent.message)),
            Err(err) => Err(Error::Invalid(format!("queued message: {err}"))),
        },
        "comment" => crate::docs::post_comment(&client, entry)
            .await
            .map(|()| None),
        "edit" | "delete" | "react" => message_change(&client, entry).await.map(|()| None),
        other => Err(Error::Invalid(format!(
            "unknown outbox entry kind {other:?}"
        ))),
    };
    match result {
        Ok(message) => {
            let stored = message.clone();
            let done = inner
                .store
                .run(move |c| store::outbox_delivered(c, local_id, stored.as_ref()))
                .await;
            if let Err(err) = done {
                tracing::error!(%err, "outbox entry sent but not removed");
                return Err(Wait(Duration::from_secs(1)));
            }
            inner.emit(ClientEvent::Outbox {
                change: "sent".into(),
                entry: Box::new(entry.clone()),
                message: message.clone().map(Box::new),
            });
            if let Some(message) = message {
                inner.emit(ClientEvent::Message { message });
            }
            Ok(())
        }
        Err(Error::Server(body)) if permanent(body.code) => {
            let (code, text) = (body.code.to_string(), body.message.clone());
            let _ = inner
                .store
                .run(move |c| store::outbox_failed(c, local_id, &code, &text))
                .await;
            let mut failed = entry.clone();
            failed.state = "failed".into();
            failed.error_code = Some(body.code.to_string());
            failed.error = Some(body.message);
            inner.emit(ClientEvent::Outbox {
                change: "failed".into(),
                entry: Box::new(failed),
                message: None,
            });
            Ok(())
        }
        Err(Error::Server(body)) => {
            let ms = body
                .retry_after_ms
                .unwrap_or_else(|| backoff_ms(entry.attempts))
                .clamp(50, 60_000);
            Err(Wait(Duration::from_millis(ms)))
        }
        // A request or answer that cannot be understood will not improve by retrying.
        Err(Error::Invalid(reason)) => {
            let _ = inner
                .store
                .run(move |c| store::outbox_failed(c, local_id, "invalid", &reason))
                .await;
            Ok(())
        }
        // Offline, cut, timed out, HTTP trouble: the same entry goes again, backing off.
        Err(_) => Err(Wait(Duration::from_millis(backoff_ms(entry.attempts)))),
    }
}
