//! [`IoContext`]: the object that runs completion handlers.

use crate::executor::IoExecutor;
use crate::scheduler::Scheduler;
use crate::sync::Arc;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

/// Runs completion handlers: Asio's `io_context`.
///
/// Handlers are given to it through its [`executor`](IoContext::executor)
/// (or by I/O objects bound to it) and run on whichever threads call
/// [`run`](IoContext::run) and its relatives. Any number of threads may run
/// one context at once; each handler runs exactly once, on one of them.
///
/// `run()` returns when there is no work left: no queued handler, no
/// handler running, no pending operation and no
/// [`WorkGuard`](crate::WorkGuard). Running out of work *stops* the
/// context: from then
/// on every run and poll call returns 0 at once, until
/// [`restart`](IoContext::restart).
///
/// A handler that panics makes the `run()` call of its thread unwind with
/// the panic. The context is not stopped and stays consistent: call `run()`
/// again to carry on with the remaining handlers.
///
/// Dropping the context drops every handler that never ran, without calling
/// it. Executors that outlive it accept no more work (it is dropped).
///
/// ```
/// use proactor::{Executor, IoContext};
///
/// let ctx = IoContext::new()?;
/// let ex = ctx.executor();
/// for i in 0..3 {
///     ex.post(move || println!("handler {i}"));
/// }
/// assert_eq!(ctx.run(), 3);
/// assert!(ctx.stopped()); // ran out of work
/// assert_eq!(ctx.run(), 0);
/// ctx.restart();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct IoContext {
    sched: Arc<Scheduler>,
}

/// The concurrency hint that `IoContext::new` uses: several threads may run
/// the context.
const DEFAULT_CONCURRENCY_HINT: usize = 0;

impl IoContext {
    /// Creates a context on the platform's default backend, ready for any
    /// number of threads.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<IoContext> {
        Self::with_concurrency_hint(DEFAULT_CONCURRENCY_HINT)
    }

    /// Creates a context, telling it how many threads will run it. `1`
    /// promises a single thread: handlers posted from that thread go to a
    /// private queue, and taking work takes no lock. (Calling `run()` from a
    /// second thread anyway is safe: that call waits for the first one.)
    /// Any other value is like [`IoContext::new`].
    ///
    /// ```
    /// use proactor::{Executor, IoContext};
    ///
    /// let ctx = IoContext::with_concurrency_hint(1)?;
    /// ctx.executor().post(|| ());
    /// assert_eq!(ctx.run(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_concurrency_hint(hint: usize) -> io::Result<IoContext> {
        let ctx = Self::without_backend(hint);
        // On Windows the completion port is the context, as in Asio:
        // handlers posted from other threads go through it from the start.
        #[cfg(all(windows, not(loom)))]
        ctx.sched.reactor()?;
        Ok(ctx)
    }

    /// A context whose backend is created with its first I/O object (or
    /// installed by hand: the scheduler's tests seat a fake one).
    pub(crate) fn without_backend(hint: usize) -> IoContext {
        IoContext {
            sched: Arc::new(Scheduler::new(hint)),
        }
    }

    /// The context's executor.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let ex = ctx.executor();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn executor(&self) -> IoExecutor {
        IoExecutor::new(self.sched.clone())
    }

    /// Runs handlers until there is no work left or the context is stopped.
    /// Returns how many handlers it ran.
    ///
    /// ```
    /// use proactor::{Executor, IoContext};
    ///
    /// let ctx = IoContext::new()?;
    /// let ex = ctx.executor();
    /// let ex2 = ex.clone();
    /// ex.post(move || ex2.post(|| ())); // a handler that posts another
    /// assert_eq!(ctx.run(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run(&self) -> usize {
        self.sched.run()
    }

    /// Runs at most one handler, waiting for one if necessary. Returns 0 if
    /// the context is (or becomes) stopped.
    ///
    /// ```
    /// use proactor::{Executor, IoContext};
    ///
    /// let ctx = IoContext::new()?;
    /// ctx.executor().post(|| ());
    /// ctx.executor().post(|| ());
    /// assert_eq!(ctx.run_one(), 1);
    /// assert_eq!(ctx.run_one(), 1);
    /// assert_eq!(ctx.run_one(), 0); // out of work: stopped
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_one(&self) -> usize {
        self.sched.run_one()
    }

    /// Like [`run`](IoContext::run), but returns after `d` at the latest.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ctx = proactor::IoContext::new()?;
    /// let _guard = proactor::make_work_guard(&ctx.executor());
    /// assert_eq!(ctx.run_for(Duration::from_millis(10)), 0); // waited, nothing came
    /// assert!(!ctx.stopped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_for(&self, d: Duration) -> usize {
        match Instant::now().checked_add(d) {
            Some(t) => self.run_until(t),
            None => self.run(),
        }
    }

    /// Like [`run`](IoContext::run), but returns at `t` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let ctx = proactor::IoContext::new()?;
    /// let _guard = proactor::make_work_guard(&ctx.executor());
    /// ctx.run_until(Instant::now() + Duration::from_millis(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_until(&self, t: Instant) -> usize {
        self.sched.run_until(t)
    }

    /// Runs every handler that is ready, without waiting. Returns how many
    /// it ran.
    ///
    /// ```
    /// use proactor::{Executor, IoContext};
    ///
    /// let ctx = IoContext::new()?;
    /// let _guard = proactor::make_work_guard(&ctx.executor());
    /// ctx.executor().post(|| ());
    /// assert_eq!(ctx.poll(), 1);
    /// assert_eq!(ctx.poll(), 0); // nothing ready; does not block
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll(&self) -> usize {
        self.sched.poll()
    }

    /// Runs at most one ready handler, without waiting.
    ///
    /// ```
    /// use proactor::{Executor, IoContext};
    ///
    /// let ctx = IoContext::new()?;
    /// ctx.executor().post(|| ());
    /// ctx.executor().post(|| ());
    /// assert_eq!(ctx.poll_one(), 1);
    /// assert_eq!(ctx.poll_one(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_one(&self) -> usize {
        self.sched.poll_one()
    }

    /// Stops the context: every run and poll call returns as soon as its
    /// current handler (if any) finishes, and new ones return 0 at once,
    /// until [`restart`](IoContext::restart). Queued handlers stay queued.
    ///
    /// ```
    /// use proactor::{Executor, IoContext};
    /// use std::sync::Arc;
    ///
    /// let ctx = Arc::new(IoContext::new()?);
    /// let _guard = proactor::make_work_guard(&ctx.executor());
    /// let c = ctx.clone();
    /// ctx.executor().post(move || c.stop());
    /// ctx.run(); // returns despite the guard
    /// assert!(ctx.stopped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        self.sched.stop()
    }

    /// True once the context has been stopped or has run out of work.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// assert!(!ctx.stopped());
    /// ctx.run();
    /// assert!(ctx.stopped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stopped(&self) -> bool {
        self.sched.stopped()
    }

    /// Clears the stopped state so that run and poll calls work again. Call
    /// it while no thread is inside one of them.
    ///
    /// ```
    /// use proactor::{Executor, IoContext};
    ///
    /// let ctx = IoContext::new()?;
    /// ctx.run();
    /// ctx.executor().post(|| ());
    /// assert_eq!(ctx.run(), 0); // still stopped
    /// ctx.restart();
    /// assert_eq!(ctx.run(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn restart(&self) {
        self.sched.restart()
    }

    /// Sets the longest a thread about to block waiting for I/O may first
    /// poll for it instead (busy polling); `Duration::ZERO` turns polling
    /// off. The default is 100 µs, or what the environment variable
    /// `PROACTOR_BUSY_POLL_US` says (in microseconds, read once per
    /// process).
    ///
    /// Polling trades processor time for latency: a blocked thread pays a
    /// wake-up when the next event comes, which on virtual machines can
    /// cost more than a loopback round trip. The window adapts between
    /// nothing and this limit. It grows when polling saved a sleep (the
    /// first look found nothing, a later one found an event: a
    /// latency-bound exchange on one connection) and shrinks when it did
    /// not (nothing came, or events were waiting already). A sleep of up
    /// to twice the limit that one event ended opens it again: the
    /// wake-up may have made up the rest (unless a poll of the whole limit
    /// found nothing lately). It stays off
    /// while waits find several connections ready at once: there a
    /// blocking wait rarely sleeps, and polling would only cost system
    /// calls and processor time that the peers need. So an idle, a
    /// sparsely loaded or a busy context does not poll. Where processor
    /// time is scarce or billed, turn it off.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// ctx.set_busy_poll(std::time::Duration::ZERO);
    /// assert_eq!(ctx.busy_poll(), std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(not(loom))]
    pub fn set_busy_poll(&self, max: Duration) {
        let ns = max.as_nanos().min(u128::from(u32::MAX)) as u32;
        self.sched.set_busy_poll_ns(ns);
    }

    /// The context's I/O backend (created now if no I/O object has
    /// created it yet). Fails if the operating system refuses every
    /// backend.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// println!("I/O runs on {:?}", ctx.backend()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(not(loom))]
    pub fn backend(&self) -> io::Result<crate::Backend> {
        Ok(self.sched.reactor()?.backend())
    }

    /// The busy-polling limit (see [`set_busy_poll`](IoContext::set_busy_poll)).
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// assert_eq!(ctx.busy_poll(), std::time::Duration::from_micros(100));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(not(loom))]
    pub fn busy_poll(&self) -> Duration {
        Duration::from_nanos(self.sched.busy_poll_ns().into())
    }

    /// Runs handlers on this thread until `f` completes, and returns its
    /// output. `f` is polled on this thread, inside the context (so
    /// `running_in_this_thread()` is true while it runs).
    ///
    /// Running out of work does not stop the context while `block_on`
    /// waits. If the context is stopped, `block_on` stops running handlers
    /// and only waits for `f` to be woken.
    ///
    /// ```
    /// use proactor::{co_spawn, IoContext, UseFuture};
    ///
    /// let ctx = IoContext::new()?;
    /// let task = co_spawn(&ctx.executor(), async { 6 * 7 }, UseFuture);
    /// assert_eq!(ctx.block_on(task).unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(not(loom))]
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        crate::future::block_on(&self.sched, f)
    }
}

#[cfg(test)]
impl IoContext {
    pub(crate) fn scheduler(&self) -> &Arc<Scheduler> {
        &self.sched
    }
}

impl Drop for IoContext {
    fn drop(&mut self) {
        self.sched.shutdown();
    }
}

impl fmt::Debug for IoContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoContext")
            .field("stopped", &self.stopped())
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<IoContext>();
    is::<IoExecutor>();
}
