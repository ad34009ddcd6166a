//! The Windows backend: an I/O completion port (Asio's `win_iocp_io_context`
//! and seeds/003, fitted into the scheduler proactor already has).
//!
//! # Why the port sits in the task seat
//!
//! Asio's Windows `io_context` has no queue of its own: every posted
//! handler is a `PostQueuedCompletionStatus` packet and every idle thread
//! waits in `GetQueuedCompletionStatus`. proactor instead seats the port
//! where the epoll reactor sits on Linux: it is the scheduler's task (see
//! `scheduler/task.rs`), one thread at a time waits in it, and the others
//! sleep on the scheduler's condition variable. Reasons:
//!
//! * **One scheduler.** Ordering, private queues, one-thread mode, the
//!   outstanding-work count and the panic guards live in `scheduler/` and
//!   are checked by the loom models and the shared test suites. A second,
//!   Windows-only run loop would need all of that again, unchecked.
//! * **Posting stays cheap.** A post is an atomic exchange on the shared
//!   queue, not a kernel call per handler (under wine, a wineserver round
//!   trip); the port is only touched to wake the one thread blocked in it.
//! * **Stop needs no chain of packets.** `stop()` wakes every sleeper on
//!   the condition variable and posts one wake-up packet for the thread in
//!   the port. Asio's re-post-on-wake chain is unnecessary, and nothing
//!   relies on closing the port to release waiters (wine 8.0 does not).
//!
//! The price is that completions reach the other threads through the
//! shared queue rather than straight from the kernel; the harvesting
//! thread takes them in batches (`GetQueuedCompletionStatusEx`) and the
//! scheduler wakes helpers when more than one is ready, as it does for
//! epoll.
//!
//! The port is created with the context's first I/O object (timers
//! included), as the reactor is on Linux; a context that only runs posted
//! handlers never opens one.
//!
//! * [`iocp`]: the port handle and its three calls.
//! * [`poller`]: the reactor's `Poller` on top of it: wake-up packets and
//!   the timer deadline as the wait's timeout.

mod iocp;
mod poller;
#[cfg(test)]
mod tests;

pub(crate) use poller::Poller;
