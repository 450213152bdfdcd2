//! The WebSocket layer both kinds of connection share (`/ws` chat sessions and `/docs`
//! document connections): the frames they queue, how the rest of the server reaches a
//! connection (`ConnControl`), the registry of live connections with their set-up and
//! close, and the writer task (bounded queue, batched flushes, pings, batched delivery).

mod batch;
mod connections;
mod control;
mod frame;
mod liveness;
mod writer;

pub use batch::Batching;
pub use connections::{Connections, Opened};
pub use control::ConnControl;
pub use frame::Frame;
pub use liveness::liveness_loop;

/// A connection's outbound queue (`crate::queue`), as its producers hold it.
pub type Outbound = crate::queue::Sender<Frame>;
/// A connection's outbound queue, as its writer drains it.
pub type OutboundRx = crate::queue::Receiver<Frame>;
pub use writer::{Writer, WriterHandle, WriterTiming};
