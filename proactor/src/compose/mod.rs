//! Composed operations: state machines over the `*_some` operations
//! (Asio's `async_read`, `async_write`, `async_read_until`,
//! `async_connect`), written once against the stream traits.
//!
//! Each step starts the next from the previous one's handler; none runs
//! its final handler inside the initiating function. When there is nothing
//! to do at the start (a full buffer, a delimiter already present), a
//! zero-length `async_read_some` delivers the completion: streams complete
//! a read with no room at once, with `Ok(0)` (proactor's streams do; a
//! stream of your own should too).

mod connect;
mod read;
mod read_until;
mod views;
mod write;

pub use connect::{async_connect, AsyncConnect};
pub use read::async_read;
pub use read_until::{async_read_until, async_read_until_max, Delimiter};
pub use write::async_write;
#[cfg(unix)]
pub(crate) use {
    read::{ReadAll, ReadPart},
    write::{WriteAll, WritePart},
};
