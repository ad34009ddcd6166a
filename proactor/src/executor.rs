//! Executors: the answer to "where and how does this handler run?".

use crate::call_stack::Frame;
use crate::op::handler_op;
use crate::scheduler::Scheduler;
use crate::sync::Arc;
use std::fmt;

/// Something that runs handlers: an [`IoExecutor`], a [`Strand`](crate::Strand),
/// or a type of your own.
///
/// * [`post`](Executor::post) always queues: the handler never runs before
///   `post` returns.
/// * [`dispatch`](Executor::dispatch) runs the handler before returning when
///   the calling thread is already running handlers of this executor, and
///   queues it otherwise.
/// * [`defer`](Executor::defer) queues, with the hint that the handler
///   continues the caller's work, so it may be kept on the calling thread.
///
/// ```
/// use proactor::{Executor, IoContext};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let ctx = IoContext::new()?;
/// let ex = ctx.executor();
/// let n = Arc::new(AtomicUsize::new(0));
/// let n2 = n.clone();
/// ex.post(move || {
///     n2.fetch_add(1, Ordering::SeqCst);
/// });
/// assert_eq!(n.load(Ordering::SeqCst), 0); // not yet: post never runs inline
/// ctx.run();
/// assert_eq!(n.load(Ordering::SeqCst), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Executor: Clone + Send + Sync + 'static {
    /// Queues `f`. It never runs before `post` returns.
    fn post<F: FnOnce() + Send + 'static>(&self, f: F);

    /// Runs `f` before returning if [`running_in_this_thread`](Executor::running_in_this_thread)
    /// is true, and queues it otherwise.
    fn dispatch<F: FnOnce() + Send + 'static>(&self, f: F);

    /// Queues `f` as a continuation of the running handler.
    fn defer<F: FnOnce() + Send + 'static>(&self, f: F);

    /// True if the calling thread is running handlers of this executor.
    fn running_in_this_thread(&self) -> bool;

    /// Counts one unit of outstanding work: `run()` does not return for
    /// lack of work until the matching
    /// [`on_work_finished`](Executor::on_work_finished). Used by
    /// [`WorkGuard`](crate::WorkGuard) and by pending operations. The
    /// default does nothing.
    fn on_work_started(&self) {}

    /// Releases a unit counted by
    /// [`on_work_started`](Executor::on_work_started). The default does
    /// nothing.
    fn on_work_finished(&self) {}
}

/// The executor of an [`IoContext`](crate::IoContext): runs handlers on the
/// threads that call its `run()` family.
///
/// Cheap to clone, comparable (equal when they belong to the same context),
/// and usable from any thread. An executor may outlive its context; work
/// given to it afterwards is dropped without being run.
///
/// ```
/// use proactor::{Executor, IoContext};
///
/// let ctx = IoContext::new()?;
/// let ex = ctx.executor();
/// assert!(ex == ctx.executor());
/// assert!(!ex.running_in_this_thread());
/// let ex2 = ex.clone();
/// ex.post(move || assert!(ex2.running_in_this_thread()));
/// assert_eq!(ctx.run(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct IoExecutor {
    pub(crate) sched: Arc<Scheduler>,
}

impl IoExecutor {
    pub(crate) fn new(sched: Arc<Scheduler>) -> Self {
        IoExecutor { sched }
    }
}

impl Executor for IoExecutor {
    #[inline]
    fn post<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.sched.post(handler_op(f));
    }

    #[inline]
    fn dispatch<F: FnOnce() + Send + 'static>(&self, f: F) {
        if self.running_in_this_thread() {
            f();
        } else {
            self.post(f);
        }
    }

    #[inline]
    fn defer<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.sched.defer(handler_op(f));
    }

    #[inline]
    fn running_in_this_thread(&self) -> bool {
        Frame::contains(&*self.sched)
    }

    fn on_work_started(&self) {
        self.sched.work_started();
    }

    fn on_work_finished(&self) {
        self.sched.work_finished(1);
    }
}

impl PartialEq for IoExecutor {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.sched, &other.sched)
    }
}

impl Eq for IoExecutor {}

impl fmt::Debug for IoExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoExecutor")
            .field("context", &Arc::as_ptr(&self.sched))
            .finish()
    }
}
