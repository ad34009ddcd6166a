//! How idle threads wait for work and how work finds them (Asio's
//! `wakeup_event_` plus the task-interruption rule of
//! `wake_one_thread_and_unlock`).
//!
//! A thread with nothing to run either sleeps on the condition variable or,
//! when it holds the backend task, blocks inside the backend. One atomic
//! word, [`Idle::state`], tells producers which of those is happening, so
//! that the common case (everyone busy) costs a producer one load:
//!
//! * `SLEEPER` units count threads asleep on the condition variable that no
//!   producer has claimed yet;
//! * `SPINNING` says a thread is looking at the queue over and over before
//!   it sleeps (at most one at a time): a producer then wakes nobody, since
//!   that thread will find the work;
//! * `TASK_BLOCKED` says a thread is (about to be) blocked in the backend,
//!   `TASK_INTERRUPTED` that someone already interrupted it;
//! * `SHUTDOWN` says the context is gone and posts must be dropped.
//!
//! The rule that no wake-up is lost is Dekker's: a producer publishes its
//! operation with a SeqCst exchange and then loads `state` (SeqCst); a
//! sleeper adds itself to `state` with a SeqCst RMW and then checks the
//! queue (SeqCst). At least one of them sees the other.
//!
//! A woken sleeper is handed a *token* under the lock, so that two producers
//! never both spend their wake-up on the same sleeper, and spurious
//! wake-ups are told apart from real ones.

use super::task::Task;
use crate::sync::{self, AtomicUsize, Condvar, Instant, Mutex, Ordering::SeqCst};

pub(crate) const TASK_BLOCKED: usize = 1;
pub(crate) const TASK_INTERRUPTED: usize = 2;
pub(crate) const SHUTDOWN: usize = 4;
const SPINNING: usize = 8;
const SLEEPER: usize = 16;

pub(crate) struct Idle {
    state: AtomicUsize,
    /// Wake-up tokens handed to sleepers and not yet collected.
    tokens: Mutex<usize>,
    cond: Condvar,
}

impl Idle {
    pub(crate) fn new() -> Self {
        Idle {
            state: AtomicUsize::new(0),
            tokens: Mutex::new(0),
            cond: Condvar::new(),
        }
    }

    /// The producers' one load.
    #[inline]
    pub(crate) fn state(&self) -> usize {
        self.state.load(SeqCst)
    }

    pub(crate) fn set_shutdown(&self) {
        self.state.fetch_or(SHUTDOWN, SeqCst);
        sync::handshake_fence();
    }

    /// Sleeps until `ready()` holds, a producer hands this thread a token,
    /// or `deadline` passes. Returns false only on timeout.
    pub(crate) fn sleep(&self, ready: &dyn Fn() -> bool, deadline: Option<Instant>) -> bool {
        let mut tokens = sync::lock(&self.tokens);
        self.state.fetch_add(SLEEPER, SeqCst);
        sync::handshake_fence();
        loop {
            if *tokens > 0 {
                // Our waker already took our SLEEPER unit away.
                *tokens -= 1;
                return true;
            }
            if ready() {
                self.state.fetch_sub(SLEEPER, SeqCst);
                return true;
            }
            tokens = match deadline {
                None => sync::wait(&self.cond, tokens),
                Some(t) => {
                    let now = Instant::now();
                    if now >= t {
                        self.state.fetch_sub(SLEEPER, SeqCst);
                        return false;
                    }
                    sync::wait_timeout(&self.cond, tokens, t - now)
                }
            };
        }
    }

    /// Looks for work with `ready()` again and again, while `more()` says
    /// so, before this thread sleeps; true if it found work. Only one
    /// thread spins at a time: any other gets false at once.
    ///
    /// No wake-up is lost: a producer that saw `SPINNING` and woke nobody
    /// published its work before its look at `state`, and that look came
    /// before the spinner cleared the flag; so the spinner finds the work
    /// in its loop, or in [`Idle::sleep`]'s check afterwards.
    pub(crate) fn spin(&self, ready: &dyn Fn() -> bool, more: &mut dyn FnMut() -> bool) -> bool {
        if self.state.fetch_or(SPINNING, SeqCst) & SPINNING != 0 {
            return false;
        }
        sync::handshake_fence();
        let found = loop {
            if ready() {
                break true;
            }
            if !more() {
                break false;
            }
            std::hint::spin_loop();
        };
        self.state.fetch_and(!SPINNING, SeqCst);
        found
    }

    /// Wakes one idle thread for a newly queued operation: the spinning
    /// thread will find it by itself; otherwise a sleeper if there is one
    /// (so that the task keeps waiting for I/O), otherwise the thread
    /// blocked in the task.
    pub(crate) fn wake_one(&self, task: Option<&dyn Task>) {
        let s = self.state.load(SeqCst);
        if s & SPINNING != 0 {
            return;
        }
        if s >= SLEEPER {
            let mut tokens = sync::lock(&self.tokens);
            if self.state.load(SeqCst) >= SLEEPER {
                self.state.fetch_sub(SLEEPER, SeqCst);
                *tokens += 1;
                // Notify after unlocking, so that the woken thread does not
                // wake only to block on the lock we still hold.
                drop(tokens);
                self.cond.notify_one();
                return;
            }
        }
        self.interrupt_task(task);
    }

    /// Wakes every sleeper (they re-check their condition) and the task.
    pub(crate) fn wake_all(&self, task: Option<&dyn Task>) {
        // Taking the lock orders this wake-up after any sleeper's check of
        // its condition, and a sleeper counts itself under it: one that is
        // not counted yet will see the condition. Notifying after releasing
        // the lock spares the woken threads a second wait, on the lock; not
        // notifying when nobody sleeps spares a system call (every run that
        // ends by running out of work comes here).
        let tokens = sync::lock(&self.tokens);
        let sleepers = self.state.load(SeqCst) >= SLEEPER;
        drop(tokens);
        if sleepers {
            self.cond.notify_all();
        }
        self.interrupt_task(task);
    }

    fn interrupt_task(&self, task: Option<&dyn Task>) {
        let Some(task) = task else { return };
        let mut s = self.state.load(SeqCst);
        while s & (TASK_BLOCKED | TASK_INTERRUPTED) == TASK_BLOCKED {
            match self
                .state
                .compare_exchange_weak(s, s | TASK_INTERRUPTED, SeqCst, SeqCst)
            {
                Ok(_) => {
                    task.interrupt();
                    return;
                }
                Err(now) => s = now,
            }
        }
    }

    /// Announces that this thread is about to block in the task. The caller
    /// must re-check for work afterwards (the other half of Dekker's rule).
    pub(crate) fn block_task(&self) {
        self.state.fetch_or(TASK_BLOCKED, SeqCst);
        sync::handshake_fence();
    }

    pub(crate) fn unblock_task(&self) {
        self.state
            .fetch_and(!(TASK_BLOCKED | TASK_INTERRUPTED), SeqCst);
    }
}
