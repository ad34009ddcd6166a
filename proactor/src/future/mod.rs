//! Rust futures on proactor executors: [`co_spawn`] and
//! [`IoContext::block_on`](crate::IoContext::block_on).

mod block_on;
mod task;

pub(crate) use block_on::block_on;

use crate::executor::Executor;
use crate::token::{CompletionHandler, CompletionToken, Initiation};
use std::future::Future;
use std::thread;

/// Runs the future `f` as a task on `ex`, and delivers its output through
/// `token` as a `std::thread::Result`: `Err` holds the panic payload if `f`
/// panicked.
///
/// The task is first polled from a posted handler (never inside
/// `co_spawn`). Whenever it is woken, its waker posts it back to `ex`, so on
/// a [`Strand`](crate::Strand) every poll runs inside the strand. The
/// handler is called on `ex`, right after the final poll.
///
/// ```
/// use proactor::{co_spawn, Executor, IoContext, Strand, UseFuture};
///
/// let ctx = IoContext::new()?;
/// let strand = Strand::new(ctx.executor());
/// let s = strand.clone();
/// let fut = co_spawn(&strand, async move { s.running_in_this_thread() }, UseFuture);
/// assert!(ctx.block_on(fut).unwrap()); // polled inside the strand
///
/// co_spawn(&ctx.executor(), async { panic!("boom") }, |r: std::thread::Result<()>| {
///     assert!(r.is_err());
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn co_spawn<E, F, T>(ex: &E, f: F, token: T) -> T::Output
where
    E: Executor,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    T: CompletionToken<(thread::Result<F::Output>,)>,
{
    token.launch(Spawn {
        ex: ex.clone(),
        future: f,
    })
}

struct Spawn<E, F> {
    ex: E,
    future: F,
}

impl<E, F> Initiation<(thread::Result<F::Output>,)> for Spawn<E, F>
where
    E: Executor,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn initiate<H: CompletionHandler<(thread::Result<F::Output>,)>>(self, handler: H) {
        task::spawn(self.ex, self.future, handler);
    }
}
