//! Messages and channels: sending and changing through the outbox, the outbox itself, history
//! and search (the cache first, the server for what it lacks), and the channel list.

use std::{sync::atomic::Ordering, time::Duration};

use parley_protocol::{rpc, ChannelInfo, Message};
use tokio::sync::broadcast;

use crate::{now_ms, store, Client, ClientEvent, Error, OutboxEntry, Result, SearchHit};

impl Client {
    /// Queues a message and returns the pending entry at once; it goes out when connected.
    pub async fn send(&self, channel: &str, text: &str) -> Result<OutboxEntry> {
        if text.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        let client_id = self.new_client_id();
        self.queue("message", channel, text, &client_id).await
    }

    pub(crate) async fn queue(
        &self,
        kind: &str,
        target: &str,
        body: &str,
        client_id: &str,
    ) -> Result<OutboxEntry> {
        let (kind, target, body, client_id) = (
            kind.to_owned(),
            target.to_owned(),
            body.to_owned(),
            client_id.to_owned(),
        );
        let entry = self
            .inner
            .store
            .run(move |c| store::outbox_push(c, &kind, &target, &body, &client_id, now_ms()))
            .await?;
        self.inner.emit(ClientEvent::Outbox {
            change: "queued".into(),
            entry: Box::new(entry.clone()),
            message: None,
        });
        self.inner.outbox_wake.notify_one();
        Ok(entry)
    }

    /// Queues a message with uploaded attachments (ids from `upload`).
    pub async fn send_with(
        &self,
        channel: &str,
        text: &str,
        attachments: &[i64],
    ) -> Result<OutboxEntry> {
        if text.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        if attachments.is_empty() {
            return self.send(channel, text).await;
        }
        let body = serde_json::json!({"text": text, "attachments": attachments}).to_string();
        let client_id = self.new_client_id();
        self.queue("message_files", channel, &body, &client_id)
            .await
    }

    /// Edits one's own message: queued like a send (in order with sends), applied when online.
    pub async fn edit(&self, channel: &str, message_id: i64, text: &str) -> Result<OutboxEntry> {
        if text.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        let body = serde_json::json!({"message_id": message_id, "text": text}).to_string();
        let client_id = self.new_client_id();
        self.queue("edit", channel, &body, &client_id).await
    }

    /// Deletes a message (queued like a send).
    pub async fn delete(&self, channel: &str, message_id: i64) -> Result<OutboxEntry> {
        let body = serde_json::json!({"message_id": message_id}).to_string();
        let client_id = self.new_client_id();
        self.queue("delete", channel, &body, &client_id).await
    }

    /// Adds (or with `add: false` removes) a reaction (queued like a send).
    pub async fn react(
        &self,
        channel: &str,
        message_id: i64,
        emoji: &str,
        add: bool,
    ) -> Result<OutboxEntry> {
        let body =
            serde_json::json!({"message_id": message_id, "emoji": emoji, "add": add}).to_string();
        let client_id = self.new_client_id();
        self.queue("react", channel, &body, &client_id).await
    }

    /// Publishes a custom event to a channel's subscribers (online only: custom events are not
    /// queued in the outbox). A durable one is stored under a seq and gets a fresh
    /// `client_id`, so a retry of this call after a lost answer cannot publish it twice.
    pub async fn publish(
        &self,
        channel: &str,
        event: &str,
        data: serde_json::Value,
        durable: bool,
    ) -> Result<parley_protocol::PublishResult> {
        self.request(rpc::PublishEvent {
            channel: channel.to_owned(),
            event: event.to_owned(),
            data,
            durable,
            client_id: Some(self.new_client_id()),
            user: None,
        })
        .await
    }

    /// A fresh `client_id`: random, so two devices or processes never collide.
    pub fn new_client_id(&self) -> String {
        let n = self.inner.next_client_id.fetch_add(1, Ordering::Relaxed);
        let r: u64 = rand::random();
        format!("c{r:016x}{n:x}")
    }

    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        self.inner.store.run(|c| store::outbox_all(c)).await
    }

    /// Puts a failed entry back in the queue.
    pub async fn retry(&self, local_id: i64) -> Result<bool> {
        let done = self
            .inner
            .store
            .run(move |c| store::outbox_retry(c, local_id))
            .await?;
        if done {
            self.inner.outbox_wake.notify_one();
        }
        Ok(done)
    }

    pub async fn discard(&self, local_id: i64) -> Result<bool> {
        self.inner
            .store
            .run(move |c| store::outbox_discard(c, local_id))
            .await
    }

    /// Waits until nothing is pending in the outbox (failed entries do not count), or
    /// `timeout`. True when it emptied.
    pub async fn flushed(&self, timeout: Duration) -> Result<bool> {
        let mut events = self.events();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pending = self
                .inner
                .store
                .run(|c| Ok(store::outbox_next(c)?.is_some()))
                .await?;
            if !pending {
                return Ok(true);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => return Ok(false),
                Ok(Err(broadcast::error::RecvError::Closed)) => return Ok(false),
                Ok(_) => {}
            }
        }
    }

    /// Messages of a channel, newest `limit` before `before`, oldest first: from the cache,
    /// filled from the server first when online and the cache holds fewer.
    pub async fn history(
        &self,
        channel: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let name = channel.to_owned();
        let cached = self
            .inner
            .store
            .run(move |c| store::history(c, &name, before, limit))
            .await?;
        if cached.len() as u32 >= limit || !self.is_online() {
            return Ok(cached);
        }
        let request = rpc::History {
            channel: channel.to_owned(),
            before,
            limit: Some(limit),
        };
        match self.request(request).await {
            Ok(page) => {
                let messages = page.messages;
                self.inner
                    .store
                    .run(move |c| {
                        for m in &messages {
                            store::insert_message(c, m, false)?;
                        }
                        Ok(())
                    })
                    .await?;
                let name = channel.to_owned();
                self.inner
                    .store
                    .run(move |c| store::history(c, &name, before, limit))
                    .await
            }
            Err(Error::Server(body)) => Err(Error::Server(body)),
            Err(_) => Ok(cached),
        }
    }

    /// The channel a cached message is in (None: not in the cache, or a thread reply): where a
    /// thread `thread#<id>` lives, for one.
    pub async fn message_channel(&self, id: i64) -> Result<Option<String>> {
        self.inner
            .store
            .run(move |c| store::message_channel(c, id))
            .await
    }

    pub async fn search(
        &self,
        query: &str,
        channel: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SearchHit>> {
        let (query, channel) = (query.to_owned(), channel.map(str::to_owned));
        self.inner
            .store
            .run(move |c| store::search(c, &query, channel.as_deref(), limit))
            .await
    }

    /// Full-text search on the server over every message this user may read (for what the
    /// cache does not hold); `search` is the local one.
    pub async fn search_server(
        &self,
        query: &str,
        channel: Option<&str>,
        limit: u32,
    ) -> Result<Vec<parley_protocol::SearchHit>> {
        self.request(rpc::Search {
            query: query.to_owned(),
            channel: channel.map(str::to_owned),
            author: None,
            after: None,
            before: None,
            limit: Some(limit),
        })
        .await
    }

    /// Channels this user can see (from the server when online, the cache otherwise).
    pub async fn channels(&self) -> Result<Vec<ChannelInfo>> {
        match self.request(rpc::ListChannels {}).await {
            Ok(channels) => {
                self.inner.reads.listed(&channels);
                let saved: Vec<(String, String)> = channels
                    .iter()
                    .filter_map(|ch| Some((ch.name.clone(), serde_json::to_string(ch).ok()?)))
                    .collect();
                self.inner
                    .store
                    .run(move |c| {
                        for (name, info) in &saved {
                            store::save_channel_info(c, name, info)?;
                        }
                        Ok(())
                    })
                    .await?;
                Ok(channels)
            }
            Err(Error::Offline | Error::Disconnected | Error::Timeout) => {
                let rows = self.inner.store.run(|c| store::channel_infos(c)).await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(_, info, _, _)| info.and_then(|i| serde_json::from_str(&i).ok()))
                    .collect())
            }
            Err(err) => Err(err),
        }
    }

    /// Becomes a member of a public or presence channel.
    pub async fn join(&self, channel: &str) -> Result<ChannelInfo> {
        self.request(rpc::JoinChannel {
            channel: channel.to_owned(),
        })
        .await
    }

    /// Stops being a member (the server also ends this connection's subscription).
    pub async fn leave(&self, channel: &str) -> Result<String> {
        self.request(rpc::LeaveChannel {
            channel: channel.to_owned(),
        })
        .await
    }

    /// Sets the channel's topic (empty: clears it); its members may. The channel as it is now
    /// is kept in the cache.
    pub async fn set_topic(&self, channel: &str, topic: &str) -> Result<ChannelInfo> {
        let info = self
            .request(rpc::UpdateChannel {
                channel: channel.to_owned(),
                topic: topic.to_owned(),
            })
            .await?;
        if let Ok(json) = serde_json::to_string(&info) {
            let name = info.name.clone();
            self.inner
                .store
                .run(move |c| store::save_channel_info(c, &name, &json))
                .await?;
        }
        Ok(info)
    }

    /// Every member of a channel with their role, page by page (at most `max`).
    pub async fn members(
        &self,
        channel: &str,
        max: usize,
    ) -> Result<Vec<parley_protocol::ChannelMember>> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let (page, more) = self
                .request(rpc::ListMembers {
                    channel: channel.to_owned(),
                    after,
                    limit: Some(500),
                })
                .await?;
            after = page.last().map(|m| m.user.id);
            all.extend(page);
            if !more || after.is_none() || all.len() >= max {
                all.truncate(max);
                return Ok(all);
            }
        }
    }
}
