//! Threads: the channel under a message, created on first use.

use parley_protocol::{ErrorCode, Message};

use crate::{
    chat::Chat,
    error::{Error, Result},
    store::{OpenedThread, UserRecord},
};

impl Chat {
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
        let OpenedThread {
            root,
            channel: record,
            summary,
        } = self
            .stores
            .threads
            .open_thread(channel.record.id, message_id, user.id)
            .await?;
        if self.directory.by_id(record.id).is_none() {
            self.directory.insert_channel(record);
        }
        Ok((root, summary))
    }
}
