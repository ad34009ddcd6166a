//! A fixed set of threads running one context (Asio's `thread_pool`).

use crate::context::IoContext;
use crate::executor::IoExecutor;
use crate::sync::{self, Arc, Mutex};
use crate::work_guard::{make_work_guard, WorkGuard};
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::thread::JoinHandle;

/// A context with its own threads, all calling `run()`.
///
/// The pool keeps itself alive (a work guard) until [`join`](ThreadPool::join)
/// is called: `join` then lets the threads leave `run()` once the work runs
/// out, and waits for them. [`stop`](ThreadPool::stop) makes them leave as
/// soon as their current handlers return. Dropping the pool stops and joins
/// it.
///
/// A handler that panics on a pool thread unwinds out of that thread's
/// `run()`; the panic is reported by the panic hook (on stderr by default)
/// and the thread goes back into `run()`, so the pool keeps its size.
///
/// ```
/// use proactor::{Executor, ThreadPool};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let pool = ThreadPool::new(2)?;
/// let n = Arc::new(AtomicUsize::new(0));
/// for _ in 0..10 {
///     let n = n.clone();
///     pool.executor().post(move || {
///         n.fetch_add(1, Ordering::SeqCst);
///     });
/// }
/// pool.join();
/// assert_eq!(n.load(Ordering::SeqCst), 10);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ThreadPool {
    context: Arc<IoContext>,
    guard: Mutex<Option<WorkGuard<IoExecutor>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ThreadPool {
    /// Starts `threads` threads (at least one).
    ///
    /// ```
    /// let pool = proactor::ThreadPool::new(4)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(threads: usize) -> io::Result<ThreadPool> {
        let threads = threads.max(1);
        let context = Arc::new(IoContext::with_concurrency_hint(threads)?);
        let guard = make_work_guard(&context.executor());
        let pool = ThreadPool {
            context,
            guard: Mutex::new(Some(guard)),
            threads: Mutex::new(Vec::with_capacity(threads)),
        };
        for i in 0..threads {
            let context = pool.context.clone();
            let handle = std::thread::Builder::new()
                .name(format!("proactor-pool-{i}"))
                .spawn(move || Self::thread_main(&context));
            match handle {
                Ok(h) => sync::lock(&pool.threads).push(h),
                Err(e) => {
                    pool.stop();
                    pool.join();
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    fn thread_main(context: &IoContext) {
        // A panicking handler ends one `run()` call, not the thread.
        while panic::catch_unwind(AssertUnwindSafe(|| context.run())).is_err() {}
    }

    /// The pool's executor.
    ///
    /// ```
    /// use proactor::Executor;
    ///
    /// let pool = proactor::ThreadPool::new(1)?;
    /// pool.executor().post(|| println!("on the pool"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn executor(&self) -> IoExecutor {
        self.context.executor()
    }

    /// Makes the threads leave `run()` as soon as their current handlers
    /// return; queued handlers are left unrun.
    ///
    /// ```
    /// let pool = proactor::ThreadPool::new(2)?;
    /// pool.stop();
    /// pool.join(); // returns promptly
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        self.context.stop();
    }

    /// Lets the threads leave `run()` once the pool runs out of work (or is
    /// stopped), and waits until they have.
    ///
    /// ```
    /// use proactor::Executor;
    ///
    /// let pool = proactor::ThreadPool::new(2)?;
    /// pool.executor().post(|| ());
    /// pool.join();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join(&self) {
        drop(sync::lock(&self.guard).take());
        let threads = std::mem::take(&mut *sync::lock(&self.threads));
        for t in threads {
            // The thread body catches handler panics; a failed join can
            // only be a panic in the runtime itself.
            if let Err(p) = t.join() {
                panic::resume_unwind(p);
            }
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.stop();
        self.join();
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}
