//! Threads: the channel under a message, created on first use.

use parley_protocol::{ErrorCode, Message};

use crate::{
    error::{Error, Result},
    store::{self, UserRecord},
    AppState,
};

impl AppState {
    /// The thread under a message, created on first use.
    pub async fn thread_open(
        &self,
        user: &UserRecord,
        channel: &str,
        message_id: i64,
    ) -> Result<(Message, parley_protocol::ThreadSummary)> {
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_read(Some(user))?;
        if channel.is_thread() || channel.is_document() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "threads live under messages of ordinary channels (no threads in threads)",
            ));
        }
        let (channel_id, user_id) = (channel.record.id, user.id);
        let (root, record, summary) = self
            .store
            .write(move |tx, _| {
                let root = store::message_in(tx, channel_id, message_id)?
                    .filter(|m| !m.deleted)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::MessageNotFound,
                            format!("no message {message_id}"),
                        )
                    })?;
                let record = store::open_thread(tx, message_id, channel_id, user_id)?;
                let summary = store::thread_summary(tx, message_id)?
                    .ok_or_else(|| Error::internal("thread vanished"))?;
                Ok(((root, record, summary), Vec::new()))
            })
            .await?;
        if self.directory.by_id(record.id).is_none() {
            self.directory.insert_channel(record);
        }
        Ok((root, summary))
    }
}
