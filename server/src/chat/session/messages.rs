//! The `/ws` requests about messages: send (pipelined), history, edit, delete, reactions,
//! threads, search, and custom events (`publish`).

use std::sync::Arc;

use parley_protocol::{ErrorBody, Op, Reply, ServerFrame};

use super::{misrouted, push_serialized, Session};
use crate::error::{Error, Result};

impl Session {
    /// `Ok(None)` for send, whose reply goes out when the message commits.
    pub(super) async fn message_request(&mut self, id: u64, op: Op) -> Result<Option<Reply>> {
        let state = Arc::clone(&self.state);
        let reply = match op {
            Op::Send {
                channel,
                text,
                client_id,
                attachments,
            } => {
                let user = self.user()?.clone();
                self.take_send()?;
                // Sends are pipelined: the message is queued for storage in order, and its
                // reply goes out when it commits while this connection reads on. A bounded
                // number may be in flight; beyond that the reader waits (back-pressure).
                let permit = Arc::clone(&self.inflight_sends)
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::internal("send permits closed"))?;
                let committed = state
                    .chat
                    .submit_message(&user, &channel, &text, &client_id, &attachments)
                    .await?;
                let (out, control) = (self.out.clone(), Arc::clone(&self.control));
                let metrics = Arc::clone(&state.metrics);
                tokio::spawn(async move {
                    let frame = match committed.await {
                        Ok(result) => ServerFrame::Reply {
                            id,
                            reply: Reply::Send(result),
                        },
                        Err(err) => {
                            metrics.errors.inc();
                            ServerFrame::Error {
                                id: Some(id),
                                error: err.0,
                            }
                        }
                    };
                    push_serialized(&out, &control, &frame).await;
                    drop(permit);
                });
                return Ok(None);
            }
            Op::History {
                channel,
                before,
                limit,
            } => Reply::History(
                state
                    .chat
                    .history(self.user.as_ref(), &channel, before, limit)
                    .await?,
            ),
            Op::MessageEdit {
                channel,
                message_id,
                text,
            } => Reply::MessageEdit {
                message: state
                    .chat
                    .edit_message(self.user()?, &channel, message_id, &text)
                    .await?,
            },
            Op::MessageDelete {
                channel,
                message_id,
            } => {
                state
                    .chat
                    .delete_message(self.user()?, &channel, message_id)
                    .await?;
                Reply::MessageDelete {
                    channel,
                    message_id,
                }
            }
            Op::ReactionAdd {
                channel,
                message_id,
                emoji,
            } => Reply::ReactionAdd(
                state
                    .chat
                    .react(self.user()?, &channel, message_id, &emoji, true)
                    .await?,
            ),
            Op::ReactionRemove {
                channel,
                message_id,
                emoji,
            } => Reply::ReactionRemove(
                state
                    .chat
                    .react(self.user()?, &channel, message_id, &emoji, false)
                    .await?,
            ),
            Op::ThreadOpen {
                channel,
                message_id,
            } => {
                let (root, thread) = state
                    .chat
                    .thread_open(self.user()?, &channel, message_id)
                    .await?;
                Reply::ThreadOpen { root, thread }
            }
            Op::Search {
                query,
                channel,
                author,
                after,
                before,
                limit,
            } => Reply::Search {
                hits: state
                    .chat
                    .search(
                        self.user()?,
                        crate::chat::SearchQuery {
                            query: &query,
                            channel: channel.as_deref(),
                            author: author.as_deref(),
                            after,
                            before,
                            limit,
                        },
                    )
                    .await?,
            },
            Op::Publish {
                channel,
                event,
                data,
                durable,
                client_id,
                user,
            } => {
                let publisher = self.user()?.clone();
                self.take_send()?;
                let request = crate::chat::Publish {
                    channel,
                    event,
                    data,
                    durable,
                    client_id,
                    user,
                };
                Reply::Publish(
                    state
                        .chat
                        .publish(&publisher, self.scope.as_deref(), request)
                        .await?,
                )
            }
            op => return Err(misrouted(&op)),
        };
        Ok(Some(reply))
    }
}

impl Session {
    /// One from this connection's send allowance (sends and publishes share it).
    fn take_send(&mut self) -> Result<()> {
        self.send_limit.take().map_err(|ms| {
            self.state.metrics.rate_limited.connection_sends.inc();
            Error(ErrorBody::rate_limited(ms))
        })
    }
}
