//! Work guards: keeping `run()` alive while work is expected.

use crate::executor::Executor;
use std::fmt;

/// Counts one unit of outstanding work on an executor for as long as it is
/// held, so that `run()` does not return merely because the queue ran dry
/// (Asio's `executor_work_guard`).
///
/// [`reset`](WorkGuard::reset) or dropping the guard releases the work; if
/// that was the last work and no handler is left, the context stops.
///
/// ```
/// use proactor::{make_work_guard, Executor, IoContext};
/// use std::sync::Arc;
///
/// let ctx = Arc::new(IoContext::new()?);
/// let mut guard = make_work_guard(&ctx.executor());
/// let runner = {
///     let ctx = ctx.clone();
///     std::thread::spawn(move || ctx.run())
/// };
/// ctx.executor().post(|| println!("ran on the runner thread"));
/// guard.reset(); // run() returns once the queue is empty
/// assert_eq!(runner.join().unwrap(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct WorkGuard<E: Executor> {
    executor: E,
    owns: bool,
}

/// Makes a [`WorkGuard`] for `ex`.
///
/// ```
/// let ctx = proactor::IoContext::new()?;
/// let guard = proactor::make_work_guard(&ctx.executor());
/// assert!(guard.owns_work());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn make_work_guard<E: Executor>(ex: &E) -> WorkGuard<E> {
    WorkGuard::new(ex.clone())
}

impl<E: Executor> WorkGuard<E> {
    /// Starts counting work on `executor`.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let _guard = proactor::WorkGuard::new(ctx.executor());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(executor: E) -> Self {
        executor.on_work_started();
        WorkGuard {
            executor,
            owns: true,
        }
    }

    /// Releases the work, once; later calls do nothing.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let mut guard = proactor::make_work_guard(&ctx.executor());
    /// guard.reset();
    /// assert!(!guard.owns_work());
    /// assert_eq!(ctx.run(), 0); // nothing keeps it alive any more
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self) {
        if std::mem::replace(&mut self.owns, false) {
            self.executor.on_work_finished();
        }
    }

    /// True until [`reset`](WorkGuard::reset).
    pub fn owns_work(&self) -> bool {
        self.owns
    }

    /// The executor whose work this guard counts.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let guard = proactor::make_work_guard(&ctx.executor());
    /// assert!(*guard.executor() == ctx.executor());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn executor(&self) -> &E {
        &self.executor
    }
}

impl<E: Executor> Drop for WorkGuard<E> {
    fn drop(&mut self) {
        self.reset();
    }
}

impl<E: Executor + fmt::Debug> fmt::Debug for WorkGuard<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkGuard")
            .field("executor", &self.executor)
            .field("owns", &self.owns)
            .finish()
    }
}
