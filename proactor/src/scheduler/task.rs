//! The backend's seat in the scheduler (Asio's `scheduler_task` and
//! `task_operation_`).
//!
//! A backend (the epoll reactor, an io_uring or IOCP completion port) is a
//! [`Task`]. Once installed, a sentinel operation stands for it in the
//! shared queue like any other operation. The thread that pops the sentinel
//! runs the task: without blocking when other handlers are waiting, or
//! blocking (as this thread's way of being idle) when there is nothing else
//! to do. Every other idle thread sleeps on the condition variable, so
//! exactly one thread at a time waits in the backend. The sentinel goes back
//! behind the completions the task harvested, so handlers and I/O take
//! turns.

use crate::op::queue::OpQueue;
use crate::op::OpPtr;
use std::time::Duration;

/// A backend that can take the scheduler's task seat.
pub(crate) trait Task: Send + Sync + 'static {
    /// Harvests completed operations into `ops`. `timeout` is how long it
    /// may block: `Some(Duration::ZERO)` never blocks, `None` blocks until
    /// an event or [`Task::interrupt`]. Returns how many units of
    /// outstanding work the harvested operations held; the scheduler
    /// releases them once the operations are queued.
    fn run(&self, timeout: Option<Duration>, ops: &mut OpQueue) -> usize;

    /// Makes a blocked or the next [`Task::run`] return promptly. Called at
    /// most once per blocking run by the scheduler.
    fn interrupt(&self);

    /// Abandons every pending operation (the context is being dropped):
    /// moves them into `ops` to be destroyed without being run.
    fn shutdown(&self, ops: &mut OpQueue);

    /// Takes a posted operation (holding one unit of outstanding work) to
    /// hand back from a later [`Task::run`], as a completion port does with
    /// `PostQueuedCompletionStatus`; or gives it back, to be queued.
    #[cfg_attr(not(windows), allow(dead_code))]
    fn deliver(&self, op: OpPtr) -> Result<(), OpPtr> {
        Err(op)
    }
}
