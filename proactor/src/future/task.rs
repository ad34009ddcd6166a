//! A spawned future: one allocation holding the future, the handler for its
//! output and its executor; its waker posts it back to the executor.

use crate::executor::Executor;
use crate::sync::{AtomicU8, Ordering::*};
use crate::token::CompletionHandler;
use std::cell::UnsafeCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
// `Wake` is implemented for std's `Arc` only; futures are not loom-modelled
// (this module is left out of loom builds).
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

/// Not queued, not running: waiting for a wake-up.
const IDLE: u8 = 0;
/// Posted to the executor (exactly one posted run exists).
const SCHEDULED: u8 = 1;
/// Being polled.
const RUNNING: u8 = 2;
/// Being polled, and woken meanwhile: poll again afterwards.
const NOTIFIED: u8 = 3;
/// Finished; wake-ups are ignored.
const DONE: u8 = 4;

struct Task<E, F: Future, H> {
    state: AtomicU8,
    /// Touched only by the thread that moved `state` to RUNNING.
    future: UnsafeCell<Option<F>>,
    handler: UnsafeCell<Option<H>>,
    ex: E,
}

// SAFETY: `future` and `handler` are only accessed by the single thread that
// owns the RUNNING state (or by the last owner of the `Arc`, on drop); both
// are `Send`. The executor is `Send + Sync`.
unsafe impl<E: Executor, F: Future + Send, H: Send> Sync for Task<E, F, H> {}

pub(super) fn spawn<E, F, H>(ex: E, future: F, handler: H)
where
    E: Executor,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    H: CompletionHandler<(thread::Result<F::Output>,)>,
{
    let task = Arc::new(Task {
        state: AtomicU8::new(SCHEDULED),
        future: UnsafeCell::new(Some(future)),
        handler: UnsafeCell::new(Some(handler)),
        ex,
    });
    let ex = task.ex.clone();
    ex.post(move || task.run());
}

impl<E, F, H> Task<E, F, H>
where
    E: Executor,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    H: CompletionHandler<(thread::Result<F::Output>,)>,
{
    fn run(self: Arc<Self>) {
        self.state.store(RUNNING, SeqCst);
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        // SAFETY: we own the RUNNING state. The future is never moved: it is
        // pinned inside the `Arc` until dropped in place.
        let polled = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
            match &mut *self.future.get() {
                Some(f) => Pin::new_unchecked(f).poll(&mut cx),
                None => unreachable!("a finished task is never run"),
            }
        }));
        let output = match polled {
            Ok(Poll::Pending) => {
                if self
                    .state
                    .compare_exchange(RUNNING, IDLE, SeqCst, SeqCst)
                    .is_err()
                {
                    // Woken while running: go round again, behind whatever
                    // else is queued.
                    self.state.store(SCHEDULED, SeqCst);
                    let ex = self.ex.clone();
                    ex.defer(move || self.run());
                }
                return;
            }
            Ok(Poll::Ready(v)) => Ok(v),
            Err(payload) => Err(payload),
        };
        self.state.store(DONE, SeqCst);
        // SAFETY: we own the task's body (it is DONE and we ran the last
        // poll); the future is dropped in place, as its pin requires.
        let handler = unsafe {
            let dropped = panic::catch_unwind(AssertUnwindSafe(|| *self.future.get() = None));
            drop(dropped);
            (*self.handler.get()).take()
        };
        if let Some(h) = handler {
            h.complete((output,));
        }
    }
}

impl<E, F, H> Wake for Task<E, F, H>
where
    E: Executor,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    H: CompletionHandler<(thread::Result<F::Output>,)>,
{
    fn wake(self: Arc<Self>) {
        let mut s = self.state.load(SeqCst);
        loop {
            let next = match s {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return,
            };
            match self.state.compare_exchange(s, next, SeqCst, SeqCst) {
                Ok(_) if next == SCHEDULED => {
                    let ex = self.ex.clone();
                    ex.post(move || self.run());
                    return;
                }
                Ok(_) => return,
                Err(now) => s = now,
            }
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.clone().wake();
    }
}
