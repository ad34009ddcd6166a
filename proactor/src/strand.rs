//! Strands: serialised execution without locks (Asio's `strand<>`, built the
//! way its `strand_executor_service` is).
//!
//! A strand is a queue of handlers plus a "locked" state. Whoever finds the
//! strand unlocked when queueing a handler locks it and schedules an
//! *invoker* on the inner executor. The invoker runs, on whatever thread
//! picks it up, the handlers that were queued when it started, in order;
//! then it unlocks the strand, or, if more handlers arrived meanwhile, hands
//! the lock to a fresh turn of itself behind the other work of the inner
//! executor. So a strand never runs two handlers at once, runs them in the
//! order they were queued, and never monopolises a thread.
//!
//! Here the queue is the lock-free [`Mpsc`] and the lock is the count of
//! queued-or-running handlers: queueing is an exchange plus an increment,
//! and the strand is locked exactly when the count is non-zero. The invoker
//! releases the handlers it ran with one subtraction.

use crate::call_stack::{self, Frame};
use crate::executor::Executor;
use crate::op::mpsc::Mpsc;
use crate::op::{handler_op, OpPtr};
use crate::sync::{Arc, AtomicUsize, Ordering::*};
use std::fmt;

/// Runs handlers one at a time, in the order they were queued, on the
/// threads of an inner executor.
///
/// Handlers given to one strand never run concurrently, even when many
/// threads run the context, so state touched only from a strand's handlers
/// needs no lock. Clones are the same strand.
///
/// [`dispatch`](Executor::dispatch) runs the handler at once when the
/// calling thread is already inside this strand, or when the strand is
/// idle and the calling thread runs the inner executor.
///
/// ```
/// use proactor::{Executor, Strand, ThreadPool};
/// use std::sync::{Arc, Mutex};
///
/// let pool = ThreadPool::new(4)?;
/// let strand = Strand::new(pool.executor());
/// let log = Arc::new(Mutex::new(Vec::new()));
/// for i in 0..100 {
///     let log = log.clone();
///     strand.post(move || log.lock().unwrap().push(i));
/// }
/// pool.join();
/// assert_eq!(*log.lock().unwrap(), (0..100).collect::<Vec<_>>()); // in order
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Strand<E: Executor> {
    inner: E,
    state: Arc<StrandState>,
}

struct StrandState {
    queue: Mpsc,
    /// Handlers queued or running. Non-zero: locked.
    count: AtomicUsize,
}

impl call_stack::Key for StrandState {}

impl<E: Executor> Strand<E> {
    /// A new strand on `inner`.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let strand = proactor::Strand::new(ctx.executor());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(inner: E) -> Self {
        Strand {
            inner,
            state: Arc::new(StrandState {
                queue: Mpsc::new(),
                count: AtomicUsize::new(0),
            }),
        }
    }

    /// The executor the strand runs on.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let strand = proactor::Strand::new(ctx.executor());
    /// assert!(*strand.inner() == ctx.executor());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inner(&self) -> &E {
        &self.inner
    }

    fn enqueue(&self, op: OpPtr, continuation: bool) {
        self.state.queue.push(op);
        if self.state.count.fetch_add(1, AcqRel) == 0 {
            // We locked the strand: start a turn.
            Invoker::schedule(&self.state, &self.inner, continuation);
        }
    }
}

impl<E: Executor> Executor for Strand<E> {
    fn post<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.enqueue(handler_op(f), false);
    }

    fn dispatch<F: FnOnce() + Send + 'static>(&self, f: F) {
        if self.running_in_this_thread() {
            return f();
        }
        if self.inner.running_in_this_thread()
            && self
                .state
                .count
                .compare_exchange(0, 1, Acquire, Relaxed)
                .is_ok()
        {
            // Idle strand, and we are on its executor: take the lock and
            // run `f` right here as the strand's turn.
            struct Unlock<'a, E: Executor>(&'a Strand<E>);
            impl<E: Executor> Drop for Unlock<'_, E> {
                fn drop(&mut self) {
                    let s = self.0;
                    if s.state.count.fetch_sub(1, AcqRel) > 1 {
                        Invoker::schedule(&s.state, &s.inner, true);
                    }
                }
            }
            let _unlock = Unlock(self);
            return Frame::enter(&*self.state, |_| f());
        }
        self.enqueue(handler_op(f), false);
    }

    fn defer<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.enqueue(handler_op(f), true);
    }

    fn running_in_this_thread(&self) -> bool {
        Frame::contains(&*self.state)
    }

    fn on_work_started(&self) {
        self.inner.on_work_started();
    }

    fn on_work_finished(&self) {
        self.inner.on_work_finished();
    }
}

/// One turn of a strand, queued on the inner executor.
struct Invoker<E: Executor> {
    state: Arc<StrandState>,
    inner: E,
    /// Still owes the strand a turn: if dropped unrun (the context shut
    /// down), it drops the queued handlers and unlocks the strand.
    armed: bool,
}

impl<E: Executor> Invoker<E> {
    fn schedule(state: &Arc<StrandState>, inner: &E, continuation: bool) {
        let invoker = Invoker {
            state: state.clone(),
            inner: inner.clone(),
            armed: true,
        };
        if continuation {
            inner.defer(move || invoker.run());
        } else {
            inner.post(move || invoker.run());
        }
    }

    fn run(mut self) {
        self.armed = false;
        // Handlers queued from now on wait for the next turn.
        let budget = self.state.count.load(Acquire);
        let mut turn = Turn {
            invoker: &self,
            done: 0,
        };
        Frame::enter(&*self.state, |_| {
            while turn.done < budget {
                turn.done += 1;
                // SAFETY: holding the strand's lock makes us its only
                // consumer.
                match unsafe { self.state.queue.pop_wait() } {
                    Some(op) => op.complete(),
                    None => unreachable!("a counted strand handler is always queued"),
                }
            }
        });
    }
}

/// Ends a turn, also when a handler panics: releases the handlers run and
/// hands the lock on if more are queued.
struct Turn<'a, E: Executor> {
    invoker: &'a Invoker<E>,
    done: usize,
}

impl<E: Executor> Drop for Turn<'_, E> {
    fn drop(&mut self) {
        let inv = self.invoker;
        if inv.state.count.fetch_sub(self.done, AcqRel) > self.done {
            Invoker::schedule(&inv.state, &inv.inner, true);
        }
    }
}

impl<E: Executor> Drop for Invoker<E> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Never run: drop every queued handler, including any queued while
        // we do this, then unlock.
        loop {
            let n = self.state.count.load(Acquire);
            for _ in 0..n {
                // SAFETY: we own the strand's lock, hence its consumer side.
                drop(unsafe { self.state.queue.pop_wait() });
            }
            if self.state.count.fetch_sub(n, AcqRel) == n {
                return;
            }
        }
    }
}

impl<E: Executor> Clone for Strand<E> {
    fn clone(&self) -> Self {
        Strand {
            inner: self.inner.clone(),
            state: self.state.clone(),
        }
    }
}

impl<E: Executor> PartialEq for Strand<E> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl<E: Executor> Eq for Strand<E> {}

impl<E: Executor + fmt::Debug> fmt::Debug for Strand<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Strand")
            .field("inner", &self.inner)
            .field("state", &Arc::as_ptr(&self.state))
            .finish()
    }
}
