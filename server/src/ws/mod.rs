//! The WebSocket layer both kinds of connection share (`/ws` chat sessions and `/docs`
//! document connections): the frames they queue, how the rest of the server reaches a
//! connection (`ConnControl`), the registry of live connections, and the writer task.

mod control;
mod frame;
mod writer;

pub use control::{ConnControl, SessionRegistry};
pub use frame::Frame;
pub(crate) use writer::{write_loop, WriterTiming};
