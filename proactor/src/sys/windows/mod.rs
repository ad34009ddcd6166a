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
//! Sockets keep the reactor's descriptor states (their lock, their open
//! and closed life, their block caches); what differs is how their
//! operations run. Instead of waiting in a queue for readiness, each is
//! issued to the kernel at once with the `OVERLAPPED` inside its block
//! (`completion.rs`), and comes back as a packet:
//!
//! 1. The initiating function allocates the operation (one unit of
//!    outstanding work) and issues its call under the descriptor's lock,
//!    so that the socket cannot be closed meanwhile
//!    (`reactor/windows.rs`).
//! 2. `ERROR_IO_PENDING`: the kernel owns the block. A call that finished
//!    at once on a socket that skips packets on success, a call that
//!    failed, or one that needed no call (an empty buffer) completes there:
//!    the operation is posted, never run inside the initiating function.
//! 3. The thread in the task seat dequeues the packet, stores the result
//!    in the operation and hands it to the scheduler with the harvest
//!    ([`poller`]); a handler thread runs it.
//!
//! Cancelling (`cancel`, a cancellation slot), closing and dropping only
//! ask the kernel to cancel (`CancelIoEx`); the operation still ends with
//! its packet ("operation aborted"), so its buffer stays owned until the
//! kernel has let go of it. A context dropped with operations in flight
//! cancels them and waits for their packets before destroying them.
//!
//! * [`iocp`]: the port handle and its calls.
//! * [`poller`]: the reactor's `Poller` on top of it: wake-up packets, the
//!   timer deadline as the wait's timeout, harvested operations.
//! * [`socket`]: association, skipping packets on success, cancel, close.
//! * [`ext`]: `AcceptEx` and `ConnectEx`, looked up through `WSAIoctl`.
//! * [`ops`]: the overlapped operations (`WSARecv`, `WSASend`,
//!   `WSARecvFrom`, `WSASendTo`, `AcceptEx`, `ConnectEx`).
//! * [`status`]: completion statuses as the errors Winsock reports.

mod ext;
mod iocp;
pub(crate) mod ops;
mod poller;
pub(crate) mod socket;
pub(crate) mod status;
#[cfg(test)]
mod tests;

pub(crate) use poller::{Poller, SKIPS_ON_SUCCESS};

/// The kernel's part of a completion operation.
pub(crate) type OpSlot = windows_sys::Win32::System::IO::OVERLAPPED;
