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
//! * `SHUTDOWN` says the context is gone and posts must be dropped;
//! * `SHORT_SLEEPER` units and `TASK_SHORT` count the *rescuers*: sleepers
//!   and a task wait that end within [`RESCUE_WAIT`] by themselves (see
//!   below).
//!
//! **Rescuers.** Two wake-ups mostly wake a thread for nothing: the one for
//! an operation that completed at once inside a handler (the handler's
//! thread runs it next), and the one for the backend task when a thread
//! takes the last handler (that thread runs the task next). Each costs a
//! futex wake or a backend interrupt, and a context switch, per message.
//! Both may be *deferred*, but only while a rescuer exists: an idle thread
//! that looks at the queue again within [`RESCUE_WAIT`] and takes the work
//! if nobody has popped anything since its last look. So a handler that
//! blocks (even until that very completion runs) holds its work up for a
//! few milliseconds at most, never for good. A thread stays a rescuer for
//! [`RESCUE_ROUNDS`] looks that find the queue empty, then sleeps without
//! a timeout, so an idle context does not keep waking up; deferring wake-ups
//! stops then, and the next wake-up is an ordinary one.
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
use std::time::Duration;

pub(crate) const TASK_BLOCKED: usize = 1;
pub(crate) const TASK_INTERRUPTED: usize = 2;
pub(crate) const SHUTDOWN: usize = 4;
const SPINNING: usize = 8;
/// The thread blocked in the task is a rescuer.
const TASK_SHORT: usize = 16;
/// Sleepers that are rescuers (13 bits; counted in `SLEEPER` too, and
/// removed by the sleeper itself).
const SHORT_SLEEPER: usize = 1 << 5;
const SHORT_MASK: usize = SLEEPER - SHORT_SLEEPER;
const SLEEPER: usize = 1 << 18;

/// The longest a rescuer waits before it looks at the queue again.
pub(crate) const RESCUE_WAIT: Duration = Duration::from_millis(1);
/// How many looks in a row that find nothing to do a thread stays a
/// rescuer for. (One in the loom models, so that the change to an ordinary
/// sleeper comes within their preemption bound.)
pub(crate) const RESCUE_ROUNDS: u32 = if cfg!(loom) { 1 } else { 32 };

/// What a sleeping rescuer looks at when its wait times out.
pub(crate) struct Rescue<'a> {
    /// `None` while the queue is empty; else a mark that changes when the
    /// consumer pops.
    pub(crate) progress: &'a dyn Fn() -> Option<usize>,
    /// The context stopped or the call was interrupted.
    pub(crate) halted: &'a dyn Fn() -> bool,
}

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
    ///
    /// With `rescue`, the thread sleeps as a rescuer (see the module
    /// documentation): after its first check it wakes every
    /// [`RESCUE_WAIT`], and takes queued work only when the queue has made
    /// no progress since its previous look.
    pub(crate) fn sleep(
        &self,
        ready: &dyn Fn() -> bool,
        deadline: Option<Instant>,
        rescue: Option<&Rescue<'_>>,
    ) -> bool {
        // `rescue` stays `Some` while this thread is a rescuer.
        let mut rescue = rescue;
        let unit = |r: Option<&Rescue<'_>>| SLEEPER + if r.is_some() { SHORT_SLEEPER } else { 0 };
        let mut tokens = sync::lock(&self.tokens);
        self.state.fetch_add(unit(rescue), SeqCst);
        sync::handshake_fence();
        let mut seen = None;
        let mut empty_looks = 0;
        let mut looked = false;
        loop {
            if *tokens > 0 {
                // Our waker already took our SLEEPER unit away.
                *tokens -= 1;
                if rescue.is_some() {
                    self.state.fetch_sub(SHORT_SLEEPER, SeqCst);
                }
                return true;
            }
            if let Some(r) = rescue.filter(|_| looked) {
                match (r.progress)() {
                    // Work that nobody has taken since the last look.
                    Some(mark) if seen == Some(mark) => break,
                    Some(mark) => {
                        seen = Some(mark);
                        empty_looks = 0;
                    }
                    None => {
                        seen = None;
                        empty_looks += 1;
                    }
                }
                if (r.halted)() {
                    break;
                }
                if empty_looks >= RESCUE_ROUNDS {
                    // Idle for long enough: stop being a rescuer. Dekker
                    // again: a producer that deferred its wake-up saw our
                    // unit before this RMW, so the check below sees its
                    // work.
                    self.state.fetch_sub(SHORT_SLEEPER, SeqCst);
                    sync::handshake_fence();
                    rescue = None;
                    looked = false;
                    continue;
                }
            } else if ready() {
                break;
            }
            looked = true;
            let now = Instant::now();
            let left = match deadline {
                Some(t) if now >= t => {
                    self.state.fetch_sub(unit(rescue), SeqCst);
                    return false;
                }
                Some(t) => Some(t - now),
                None => None,
            };
            tokens = match (rescue, left) {
                (Some(_), left) => {
                    let wait = left.map_or(RESCUE_WAIT, |l| l.min(RESCUE_WAIT));
                    sync::wait_briefly(&self.cond, &self.tokens, tokens, wait)
                }
                (None, None) => sync::wait(&self.cond, tokens),
                (None, Some(left)) => sync::wait_timeout(&self.cond, tokens, left),
            };
        }
        self.state.fetch_sub(unit(rescue), SeqCst);
        true
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
        self.wake_one_in(s, task);
    }

    /// As [`Idle::wake_one`], but a rescuer, if there is one, will find
    /// the work by itself: the wake-up is deferred to it (see the module
    /// documentation). For the two wake-ups that mostly wake a thread for
    /// nothing; the caller has published its work first.
    #[inline]
    pub(crate) fn wake_one_or_defer(&self, task: Option<&dyn Task>) {
        let s = self.state.load(SeqCst);
        if s != 0 && s & (TASK_SHORT | SHORT_MASK) == 0 {
            self.wake_one_in(s, task);
        }
    }

    fn wake_one_in(&self, s: usize, task: Option<&dyn Task>) {
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
    /// `short`: the wait ends within [`RESCUE_WAIT`] by itself, and the
    /// thread then looks at the queue (it is a rescuer).
    pub(crate) fn block_task(&self, short: bool) {
        let bits = TASK_BLOCKED | if short { TASK_SHORT } else { 0 };
        self.state.fetch_or(bits, SeqCst);
        sync::handshake_fence();
    }

    pub(crate) fn unblock_task(&self) {
        self.state
            .fetch_and(!(TASK_BLOCKED | TASK_INTERRUPTED | TASK_SHORT), SeqCst);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// Waits (bounded) until `f` holds; the sleeper's state changes are the
    /// only thing to synchronise with here.
    fn until(f: impl Fn() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(t.elapsed() < Duration::from_secs(30), "never happened");
            std::thread::yield_now();
        }
    }

    /// A rescuer watching a queue whose look number `n` reports `mark(n)`.
    fn rescuer(idle: Arc<Idle>, mark: fn(usize) -> Option<usize>) -> (usize, bool) {
        let looks = AtomicUsize::new(0);
        let progress = || mark(looks.fetch_add(1, SeqCst));
        let halted = || false;
        let rescue = Rescue {
            progress: &progress,
            halted: &halted,
        };
        let woke = idle.sleep(&|| false, None, Some(&rescue));
        (looks.load(SeqCst), woke)
    }

    #[test]
    fn a_rescuer_takes_work_that_nobody_takes() {
        // Progress on the first looks, then none: it leaves on the first
        // look that repeats the one before.
        let idle = Arc::new(Idle::new());
        let i = idle.clone();
        let t = std::thread::spawn(move || rescuer(i, |n| Some(n.min(4))));
        let (looks, woke) = t.join().unwrap();
        assert!(woke);
        assert_eq!(looks, 6);
        assert_eq!(idle.state(), 0);
    }

    #[test]
    fn a_rescuer_that_finds_nothing_becomes_an_ordinary_sleeper() {
        let idle = Arc::new(Idle::new());
        let i = idle.clone();
        let t = std::thread::spawn(move || rescuer(i, |_| None));
        until(|| idle.state() & SHORT_MASK == 0 && idle.state() >= SLEEPER);
        // Now deferring is off: the wake-up goes to the sleeper.
        idle.wake_one_or_defer(None);
        let (looks, woke) = t.join().unwrap();
        assert!(woke);
        assert_eq!(looks, RESCUE_ROUNDS as usize);
        assert_eq!(idle.state(), 0);
    }

    #[test]
    fn wake_ups_are_deferred_only_while_a_rescuer_exists() {
        let idle = Idle::new();
        let backend = Arc::new(super::super::fake_task::FakeBackend::default());
        let interrupts = || backend.state.lock().unwrap().interrupts;
        // Blocked for good: the deferrable wake-up interrupts it.
        idle.block_task(false);
        idle.wake_one_or_defer(Some(&backend));
        assert_eq!(interrupts(), 1);
        idle.unblock_task();
        // Blocked briefly, so a rescuer: nothing to do now.
        idle.block_task(true);
        idle.wake_one_or_defer(Some(&backend));
        assert_eq!(interrupts(), 1);
        // An ordinary wake-up is never deferred.
        idle.wake_one(Some(&backend));
        assert_eq!(interrupts(), 2);
        idle.unblock_task();
        assert_eq!(idle.state(), 0);
    }
}
