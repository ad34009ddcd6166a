//! # proactor
//!
//! Boost.Asio's design in Rust: an [`IoContext`] runs completion handlers on
//! the threads that call its [`run`](IoContext::run); [`Executor`]s say
//! where handlers run, [`Strand`]s serialise them without locks,
//! [`WorkGuard`]s keep `run()` alive, and completion tokens let one
//! initiating function serve callbacks, futures and more.
//!
//! ```
//! use proactor::{co_spawn, Executor, IoContext, Strand, UseFuture};
//!
//! let ctx = IoContext::new()?;
//! let ex = ctx.executor();
//!
//! // Callbacks: posted handlers never run inside `post`.
//! ex.post(|| println!("hello from a handler"));
//!
//! // A strand: these run one at a time, in order, whatever thread runs them.
//! let strand = Strand::new(ex.clone());
//! for i in 0..3 {
//!     strand.post(move || println!("strand handler {i}"));
//! }
//!
//! // Futures: a task on the context, awaited from this thread.
//! let answer = co_spawn(&ex, async { 6 * 7 }, UseFuture);
//! assert_eq!(ctx.block_on(answer).unwrap(), 42);
//! ctx.run();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! New to completion tokens? [`guide::tokens`]
//! explains them side by side with Asio and with tokio.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(not(loom))]
mod backend;
#[cfg(not(loom))]
mod busy_poll;
mod call_stack;
mod context;
pub mod error;
mod executor;
mod op;
mod scheduler;
mod strand;
mod sync;
mod sys;
mod thread_pool;
mod work_guard;

// I/O (left out of loom builds, which model the core only).
#[cfg(not(loom))]
mod buf;
#[cfg(all(any(windows, target_os = "linux"), not(loom)))]
mod completion;
#[cfg(not(loom))]
mod compose;
#[cfg(all(unix, not(loom)))]
pub mod file;
#[cfg(all(any(unix, windows), not(loom)))]
mod io;
#[cfg(all(unix, not(loom)))]
pub mod local;
#[cfg(all(any(unix, windows), not(loom)))]
pub mod net;
#[cfg(all(unix, not(loom)))]
pub mod posix;
#[cfg(not(loom))]
mod reactor;
#[cfg(all(unix, not(loom)))]
mod signal;
#[cfg(not(loom))]
mod stream;
#[cfg(not(loom))]
mod timer;
#[cfg(all(windows, not(loom)))]
pub mod windows;

#[cfg(not(loom))]
mod future;
#[cfg(all(any(unix, windows), not(loom)))]
pub mod guide;
#[cfg(not(loom))]
pub mod token;

/// The README's examples, compiled and run as documentation tests so that
/// they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(not(loom))]
pub use backend::Backend;
#[cfg(not(loom))]
pub use buf::{IoBuf, IoBufMut};
#[cfg(not(loom))]
pub use compose::{
    async_connect, async_read, async_read_until, async_read_until_max, async_write, AsyncConnect,
    Delimiter,
};
pub use context::IoContext;
pub use executor::{Executor, IoExecutor};
#[cfg(all(unix, not(loom)))]
pub use signal::SignalSet;
pub use strand::Strand;
#[cfg(all(any(unix, windows), not(loom)))]
pub use stream::StreamRef;
#[cfg(not(loom))]
pub use stream::{AsyncReadStream, AsyncWriteStream};
pub use thread_pool::ThreadPool;
#[cfg(not(loom))]
pub use timer::{SteadyTimer, SystemTimer};
pub use work_guard::{make_work_guard, WorkGuard};

#[cfg(not(loom))]
pub use future::co_spawn;
#[cfg(not(loom))]
pub use token::{
    bind_cancellation_slot, bind_executor, parallel_group, CancellationSignal, CancellationSlot,
    CancellationType, CompletionHandler, CompletionToken, Deferred, DeferredOp, Detached,
    Initiation, OpFuture, UseFuture, WaitForAll, WaitForOne,
};
