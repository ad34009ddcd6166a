//! The engine behind [`IoContext`](crate::IoContext): Asio's `scheduler`.
//!
//! * **Shared queue.** Operations wait in one intrusive MPSC queue
//!   ([`Mpsc`]): posting from any thread is a lock-free exchange. Threads
//!   inside `run()` take turns as its consumer under the *consumer lock*,
//!   held only for the pop itself.
//! * **Task seat.** A backend installed with [`Scheduler::init_task`] is
//!   represented in the queue by a sentinel operation; see [`task`].
//! * **Private queues.** Operations deferred from inside a handler (and, in
//!   one-thread mode, posted from inside one) go to the running thread's
//!   [`Frame`] without a lock or wake-up. They run straight from there while
//!   the shared queue is empty, and move behind it otherwise, so a thread's
//!   own submissions keep their order.
//! * **Outstanding work.** A queued operation is work by being in the
//!   queue, so posting costs no counter update; everything else (work
//!   guards, pending I/O, threads busy running handlers) is counted in
//!   [`busy`]. `run()` ends when both are empty; whoever brings the count to
//!   zero checks the queue and stops the context.
//! * **One-thread mode** (`concurrency_hint == 1`): the outermost run call
//!   holds the consumer lock for its whole duration (releasing it only to
//!   sleep), so popping takes no lock at all, and posts from the running
//!   thread go to its private queue. A second thread that calls `run()`
//!   anyway is safe: it waits for the lock.
//! * **Deferred wake-ups.** The wake-up for an operation that completed
//!   at once inside a handler, and the one for the task when a thread takes
//!   the last handler, are left to a *rescuer* when one exists: an idle
//!   thread that looks at the queue again within a millisecond and takes
//!   what nobody has taken since its last look (see [`idle`]). That saves a
//!   futex wake or a backend interrupt, and a context switch, per message,
//!   while a handler that blocks still holds other work up for a few
//!   milliseconds only. `PROACTOR_DEFERRED_WAKEUPS=0` turns this off.
//! * **Panics** unwind out of `run()` through guards that pop the frame,
//!   move the private queue back to the shared one and settle the busy
//!   count; no lock is held while a handler runs (the one-thread consumer
//!   lock does not poison). The context is not stopped by a panic.

mod busy;
#[cfg(test)]
mod fake_task;
mod idle;
#[cfg(all(test, loom))]
mod loom_tests;
pub(crate) mod task;
#[cfg(all(test, not(loom)))]
mod tests;

use crate::call_stack::{self, Frame};
use crate::op::mpsc::Mpsc;
use crate::op::queue::OpQueue;
use crate::op::{OpHeader, OpPtr};
#[cfg(not(loom))]
use crate::reactor::{Reactor, ReactorTask};
use crate::sync::{
    self, AtomicBool, AtomicUsize, CachePadded, Instant, OnceLock, Ordering::*, ParkingGuard,
    ParkingLock,
};
#[cfg(not(loom))]
use crate::sync::{Arc, AtomicU32, Mutex};
use busy::Busy;
use idle::{Idle, Rescue, RESCUE_ROUNDS, RESCUE_WAIT, SHUTDOWN};
#[cfg(not(loom))]
use std::io;
use std::ptr::NonNull;
use std::time::Duration;
use task::Task;

/// The default limit on busy polling before blocking for I/O (see
/// `IoContext::set_busy_poll`).
#[cfg(not(loom))]
const DEFAULT_BUSY_POLL_NS: u32 = 100_000;

/// Whether wake-ups may be deferred to rescuers (see [`idle`]): on unless
/// `PROACTOR_DEFERRED_WAKEUPS=0`, read once per process. Under loom, only
/// in the models that ask for it (see [`loom_rescue`]).
fn deferred_wakeups() -> bool {
    #[cfg(loom)]
    {
        loom_rescue::ON.with(|on| on.get())
    }
    #[cfg(not(loom))]
    {
        static ON: OnceLock<bool> = OnceLock::new();
        *ON.get_or_init(|| {
            std::env::var("PROACTOR_DEFERRED_WAKEUPS").map_or(true, |v| v.trim() != "0")
        })
    }
}

/// The loom models' switch for deferred wake-ups: contexts made on this
/// thread while it is on defer them.
#[cfg(loom)]
pub(crate) mod loom_rescue {
    std::thread_local! {
        pub(crate) static ON: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
}

/// How many times in a row the task's turn may be skipped while handlers
/// are queued (see `Scheduler::skip_task`).
const TASK_SKIPS: usize = 16;

/// The busy-polling limit a new context starts with: the default, or
/// `PROACTOR_BUSY_POLL_US` (microseconds; 0 turns polling off), read once
/// per process.
#[cfg(not(loom))]
fn default_busy_poll_ns() -> u32 {
    static NS: OnceLock<u32> = OnceLock::new();
    *NS.get_or_init(|| {
        std::env::var("PROACTOR_BUSY_POLL_US")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .map_or(DEFAULT_BUSY_POLL_NS, |us| us.saturating_mul(1000))
    })
}

/// How a producer's wake-up may be given (see [`idle`]).
#[derive(Clone, Copy)]
enum Wake {
    Now,
    /// May be left to a rescuer.
    Deferrable,
}

/// How long a run-family call may wait for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Never block (`poll`, `poll_one`).
    Poll,
    /// Block until work arrives or the context stops.
    Forever,
    /// Block until then at the latest.
    Until(Instant),
}

/// Five cache lines: the queue's producer line (its tail) and consumer
/// line (its head); the consumer lock (a waiter's write to it must not
/// disturb the holder's pops); the flags every loop iteration reads and
/// nothing writes in steady state; and the words that change when threads
/// go idle or wake (which producers read on every post).
pub(crate) struct Scheduler {
    queue: Mpsc,
    /// Serialises consumers of `queue`.
    consumer: CachePadded<Consumer>,
    flags: CachePadded<Flags>,
    idle: CachePadded<IdleState>,
}

/// The consumer lock, and a count of the pops made under it (which
/// rescuers read to tell a stuck queue from a busy one; written only under
/// the lock, and only in multi-thread mode).
struct Consumer {
    lock: ParkingLock,
    pops: AtomicUsize,
}

impl Consumer {
    #[inline]
    fn lock(&self) -> ParkingGuard<'_> {
        self.lock.lock()
    }
}

struct Flags {
    stopped: AtomicBool,
    one_thread: bool,
    /// Idle threads may be rescuers (multi-thread mode; see [`idle`]).
    rescue: bool,
    task: OnceLock<Box<dyn Task>>,
    /// The I/O backend, created with the first I/O object.
    #[cfg(not(loom))]
    reactor: OnceLock<Arc<Reactor>>,
    #[cfg(not(loom))]
    reactor_init: Mutex<()>,
    /// The longest the reactor may poll before blocking, in nanoseconds.
    #[cfg(not(loom))]
    busy_poll_ns: AtomicU32,
    /// How long an idle thread looks for handlers before it sleeps.
    #[cfg(not(loom))]
    spin: crate::busy_poll::BusyPoll,
    /// The processors this process may use.
    #[cfg(not(loom))]
    cpus: usize,
    /// The host-name lookup thread, started with the first lookup.
    #[cfg(all(any(unix, windows), not(loom)))]
    resolver: OnceLock<Arc<crate::net::resolver::Worker>>,
    /// Sentinel standing for the task in the queue.
    task_op: NonNull<OpHeader>,
}

struct IdleState {
    idle: Idle,
    /// Work guards, pending I/O, and threads busy in a run-family call.
    busy: Busy,
    /// Threads inside a run-family call (the outermost, per thread).
    #[cfg(not(loom))]
    runners: AtomicUsize,
    /// How many times in a row the task's turn was skipped (touched only
    /// by the sentinel's holder).
    task_skips: AtomicUsize,
}

// SAFETY: `task_op` is a private heap sentinel whose function does nothing;
// every other field is thread-safe.
unsafe impl Send for Scheduler {}
unsafe impl Sync for Scheduler {}

impl call_stack::Key for Scheduler {}

/// The sentinel's function: never asked to do anything that matters.
unsafe fn sentinel_func(_: NonNull<OpHeader>, _: crate::op::Action) {}

/// The state of one run-family call: `'s` borrows the scheduler, `'f` the
/// call's frame.
pub(crate) struct RunCtx<'s, 'f> {
    frame: &'f Frame,
    /// One-thread mode: the consumer lock this call holds while running.
    consumer: Option<ParkingGuard<'s>>,
    /// One-thread mode, outermost call: this call re-takes the lock after
    /// sleeping. Nested calls run under their ancestor's lock.
    owns_consumer: bool,
    /// Pops need no lock: one-thread mode (ours or an ancestor's).
    holds_consumer: bool,
    /// `block_on`: running out of work does not stop the context.
    keep_alive: bool,
    /// Makes the call return early (and wakes it) when true.
    interrupt: Option<&'s (dyn Fn() -> bool + 's)>,
    /// Blocking turns of the task in a row that found nothing (this thread
    /// stops being a rescuer after [`RESCUE_ROUNDS`]).
    empty_task_waits: u32,
}

impl Scheduler {
    pub(crate) fn new(concurrency_hint: usize) -> Self {
        let task_op = Box::new(OpHeader::new(sentinel_func));
        Scheduler {
            queue: Mpsc::new(),
            consumer: CachePadded(Consumer {
                lock: ParkingLock::new(),
                pops: AtomicUsize::new(0),
            }),
            flags: CachePadded(Flags {
                stopped: AtomicBool::new(false),
                one_thread: concurrency_hint == 1,
                rescue: concurrency_hint != 1 && deferred_wakeups(),
                task: OnceLock::new(),
                #[cfg(not(loom))]
                reactor: OnceLock::new(),
                #[cfg(not(loom))]
                reactor_init: Mutex::new(()),
                #[cfg(not(loom))]
                busy_poll_ns: AtomicU32::new(default_busy_poll_ns()),
                #[cfg(not(loom))]
                spin: crate::busy_poll::BusyPoll::new(),
                #[cfg(not(loom))]
                cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
                #[cfg(all(any(unix, windows), not(loom)))]
                resolver: OnceLock::new(),
                task_op: NonNull::from(Box::leak(task_op)),
            }),
            idle: CachePadded(IdleState {
                idle: Idle::new(),
                busy: Busy::new(),
                #[cfg(not(loom))]
                runners: AtomicUsize::new(0),
                task_skips: AtomicUsize::new(0),
            }),
        }
    }

    // ----- producers -------------------------------------------------------

    /// Queues `op`: never runs it inline.
    #[inline]
    pub(crate) fn post(&self, op: OpPtr) {
        if self.flags.one_thread {
            self.defer(op)
        } else {
            self.post_shared(op)
        }
    }

    /// Queues `op` as a continuation of the running handler: on the
    /// thread's private queue when called from inside `run()`.
    #[inline]
    pub(crate) fn defer(&self, op: OpPtr) {
        let op = Frame::with_current(self, |frame| match frame {
            Some(frame) => {
                frame.private.push(op);
                None
            }
            None => Some(op),
        });
        if let Some(op) = op {
            self.post_shared(op);
        }
    }

    #[inline]
    fn post_shared(&self, op: OpPtr) {
        #[cfg(all(windows, not(loom)))]
        let Some(op) = self.post_from_outside(op) else {
            return;
        };
        self.queue.push(op);
        self.after_push();
    }

    /// Windows: a handler posted from outside the context's threads goes
    /// through the completion port (`PostQueuedCompletionStatus`, as in
    /// Asio): it wakes the thread waiting there and is run by it. Returns
    /// `op` if it is to be queued instead: posted from a handler of this
    /// context (a thread that needs no waking), or before the port exists.
    #[cfg(all(windows, not(loom)))]
    fn post_from_outside(&self, op: OpPtr) -> Option<OpPtr> {
        // From a handler, or after shutdown (the queue drops it at once).
        if Frame::with_current(self, |frame| frame.is_some())
            || self.idle.idle.state() & SHUTDOWN != 0
        {
            return Some(op);
        }
        let Some(task) = self.task() else {
            return Some(op);
        };
        // The unit is held while the operation is in the port (where the
        // out-of-work check cannot see it), and released when the task
        // hands it back.
        self.work_started();
        if let Err(op) = task.deliver(op) {
            self.queue.push(op);
            self.after_push();
            self.work_finished(1);
        }
        None
    }

    /// A producer's duty after publishing work: wake an idle thread if any,
    /// and honour shutdown.
    #[inline]
    fn after_push(&self) {
        self.after_push_as(Wake::Now);
    }

    #[inline]
    fn after_push_as(&self, wake: Wake) {
        sync::handshake_fence();
        let s = self.idle.idle.state();
        if s != 0 {
            self.after_push_slow(s, wake);
        }
    }

    #[cold]
    fn after_push_slow(&self, s: usize, wake: Wake) {
        if s & SHUTDOWN != 0 {
            // The context is gone: whatever was just queued is dropped.
            self.drain();
        } else {
            match wake {
                Wake::Now => self.idle.idle.wake_one(self.task()),
                Wake::Deferrable => self.idle.idle.wake_one_or_defer(self.task()),
            }
        }
    }

    /// Queues a finished I/O operation that held one unit of work (see
    /// [`Scheduler::work_started`]), releasing the unit: the queued
    /// operation is work by being in the queue.
    #[cfg_attr(loom, allow(dead_code))] // used by the I/O layers
    pub(crate) fn post_completion(&self, op: OpPtr) {
        if self.flags.rescue && Frame::with_current(self, |frame| frame.is_some()) {
            // Completed at once inside a handler: its thread will run it
            // next, unless that handler runs long, when a rescuer takes it.
            self.queue.push(op);
            self.after_push_as(Wake::Deferrable);
        } else {
            self.post(op);
        }
        self.work_finished(1);
    }

    /// As [`Scheduler::post_completion`] for `n` operations at once.
    #[cfg_attr(loom, allow(dead_code))] // used by the I/O layers
    pub(crate) fn post_completions(&self, ops: OpQueue, n: usize) {
        if let Some(chain) = ops.take() {
            self.queue.push_chain(chain);
            self.after_push();
        }
        self.work_finished(n);
    }

    /// Completes a finished I/O operation right here, from inside a
    /// handler of this scheduler (the thread is busy, so releasing the
    /// operation's unit first cannot end the work).
    #[cfg_attr(loom, allow(dead_code))] // used by the I/O layers
    pub(crate) fn complete_inline(&self, op: OpPtr) {
        self.work_finished(1);
        op.complete();
    }

    // ----- work, stop ------------------------------------------------------

    pub(crate) fn work_started(&self) {
        self.idle.busy.inc();
    }

    pub(crate) fn work_finished(&self, n: usize) {
        if n != 0 && self.idle.busy.release(n as u64) {
            self.stop_if_out_of_work();
        }
    }

    /// Stops the context if nothing is left: busy count zero, queue empty,
    /// and nothing moved between the two readings (see [`busy`]).
    fn stop_if_out_of_work(&self) {
        if let Some(zero) = self.idle.busy.zero() {
            sync::model_yield();
            if self.queue.is_empty() && self.idle.busy.unchanged_since(zero) {
                self.stop();
            }
        }
    }

    /// This thread starts being busy (enters a run call, wakes up).
    #[inline]
    fn enter_active(&self) {
        self.idle.busy.inc();
    }

    /// This thread stops being busy. If the count drops to zero it checks
    /// for the end of work (unless it is unwinding or keeping the context
    /// alive).
    fn leave_active(&self, check: bool) {
        if self.idle.busy.release(1) && check && !std::thread::panicking() {
            self.stop_if_out_of_work();
        }
    }

    pub(crate) fn stop(&self) {
        if !self.flags.stopped.swap(true, SeqCst) {
            self.idle.idle.wake_all(self.task());
        }
    }

    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.flags.stopped.load(SeqCst)
    }

    pub(crate) fn restart(&self) {
        self.flags.stopped.store(false, SeqCst);
    }

    /// Wakes every idle thread so that they re-check their condition (used
    /// by `block_on`'s waker).
    #[cfg(not(loom))]
    pub(crate) fn wake_all(&self) {
        self.idle.idle.wake_all(self.task());
    }

    /// True while a thread is blocked in the task (for tests that need the
    /// reactor to be waiting).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn task_blocked(&self) -> bool {
        self.idle.idle.state() & idle::TASK_BLOCKED != 0
    }

    /// True if no thread can be waiting for this wake-up.
    #[cfg(not(loom))]
    pub(crate) fn nobody_idle(&self) -> bool {
        self.idle.idle.state() & !SHUTDOWN == 0
    }

    // ----- the task seat ---------------------------------------------------

    /// The longest the reactor may poll before blocking, in nanoseconds.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn busy_poll_ns(&self) -> u32 {
        self.flags.busy_poll_ns.load(Relaxed)
    }

    /// The longest an idle thread of this context may look for handlers
    /// before it sleeps: the limit, or 0 while every processor already has
    /// one of this context's threads (sleeping ones included). A spinner
    /// then takes the last processor from whatever else runs on the
    /// machine (a thread that posts the work, a client), for a wake-up
    /// that a sleep costs the others less. (The reactor's polling is not
    /// held back so: with many connections on 2 threads and 2 processors
    /// it saves more hand-offs between the threads than it costs.)
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn poll_limit_ns(&self) -> u32 {
        if self.idle.runners.load(Relaxed) >= self.flags.cpus {
            0
        } else {
            self.busy_poll_ns()
        }
    }

    #[cfg(not(loom))]
    pub(crate) fn set_busy_poll_ns(&self, ns: u32) {
        self.flags.busy_poll_ns.store(ns, Relaxed);
    }

    /// The reactor, if it has been created.
    #[cfg(all(not(loom), windows, test))]
    #[inline]
    pub(crate) fn created_reactor(&self) -> Option<&Arc<Reactor>> {
        self.flags.reactor.get()
    }

    /// The context's I/O backend, created (and seated as the task) on first
    /// use.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn reactor(&self) -> io::Result<&Arc<Reactor>> {
        match self.flags.reactor.get() {
            Some(r) => Ok(r),
            None => self.create_reactor(),
        }
    }

    /// The slow path of [`Scheduler::reactor`].
    #[cfg(not(loom))]
    #[cold]
    fn create_reactor(&self) -> io::Result<&Arc<Reactor>> {
        let _init = sync::lock(&self.flags.reactor_init);
        if let Some(r) = self.flags.reactor.get() {
            return Ok(r);
        }
        let r = Arc::new(Reactor::new(self)?);
        if !self.init_task(Box::new(ReactorTask(r.clone()))) {
            return Err(io::Error::other("the scheduler's task seat is taken"));
        }
        Ok(self.flags.reactor.get_or_init(|| r))
    }

    #[inline]
    fn task(&self) -> Option<&dyn Task> {
        self.flags.task.get().map(|t| &**t)
    }

    /// Installs the backend. The first call wins; later calls return false.
    #[cfg_attr(loom, allow(dead_code))] // used by the I/O layers
    pub(crate) fn init_task(&self, task: Box<dyn Task>) -> bool {
        if self.flags.task.set(task).is_err() {
            return false;
        }
        // SAFETY: the sentinel is ours and not in the queue yet. (Into the
        // queue itself: it is never a packet.)
        self.queue
            .push(unsafe { OpPtr::from_raw(self.flags.task_op) });
        self.after_push();
        true
    }

    /// The context's resolver thread (started by its first job).
    #[cfg(all(any(unix, windows), not(loom)))]
    pub(crate) fn resolver_worker(&self) -> &Arc<crate::net::resolver::Worker> {
        self.flags.resolver.get_or_init(Default::default)
    }

    // ----- run family ------------------------------------------------------

    pub(crate) fn run(&self) -> usize {
        self.run_while(Wait::Forever, usize::MAX)
    }

    pub(crate) fn run_one(&self) -> usize {
        self.run_while(Wait::Forever, 1)
    }

    pub(crate) fn run_until(&self, t: Instant) -> usize {
        self.run_while(Wait::Until(t), usize::MAX)
    }

    pub(crate) fn poll(&self) -> usize {
        self.run_while(Wait::Poll, usize::MAX)
    }

    pub(crate) fn poll_one(&self) -> usize {
        self.run_while(Wait::Poll, 1)
    }

    fn run_while(&self, wait: Wait, max: usize) -> usize {
        if self.stopped() {
            return 0;
        }
        self.enter(false, None, |cx| {
            let mut n = 0;
            while n < max && self.do_run_one(cx, wait) != 0 {
                n += 1;
            }
            n
        })
    }

    /// Runs `f` as a run-family call on this thread: frame pushed, counted
    /// as active, one-thread consumer lock taken; all undone however `f`
    /// ends.
    pub(crate) fn enter<'s, R>(
        &'s self,
        keep_alive: bool,
        interrupt: Option<&'s (dyn Fn() -> bool + 's)>,
        f: impl FnOnce(&mut RunCtx<'s, '_>) -> R,
    ) -> R {
        struct Exit<'s> {
            sched: &'s Scheduler,
            frame: &'s Frame,
            keep_alive: bool,
            nested: bool,
        }
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                if let Some(chain) = self.frame.private.take() {
                    self.sched.queue.push_chain(chain);
                    self.sched.after_push();
                } else if !self.sched.queue.is_empty() {
                    // Work left behind (if only the task's sentinel, which
                    // this thread may just have put back): a thread that
                    // went to sleep while this one held it must not sleep
                    // on (Asio wakes one whenever it takes a handler and
                    // more are queued).
                    self.sched.after_push();
                }
                #[cfg(not(loom))]
                if !self.nested {
                    self.sched.idle.runners.fetch_sub(1, Relaxed);
                }
                self.sched.leave_active(!self.keep_alive);
            }
        }

        // A nested call must see what the enclosing call queued privately
        // (Asio does the same for nested poll()).
        let nested = Frame::with_current(self, |outer| {
            let outer = outer?;
            if let Some(chain) = outer.private.take() {
                self.queue.push_chain(chain);
            }
            Some(())
        })
        .is_some();
        Frame::enter(self, |frame| {
            self.enter_active();
            #[cfg(not(loom))]
            if !nested {
                self.idle.runners.fetch_add(1, Relaxed);
            }
            let _exit = Exit {
                sched: self,
                frame,
                keep_alive,
                nested,
            };
            let owns = self.flags.one_thread && !nested;
            let mut cx = RunCtx {
                frame,
                consumer: owns.then(|| self.consumer.lock()),
                owns_consumer: owns,
                holds_consumer: self.flags.one_thread,
                keep_alive,
                interrupt,
                empty_task_waits: 0,
            };
            f(&mut cx)
        })
    }

    /// Runs at most one handler; 0 means stopped, interrupted, timed out,
    /// or (for `Wait::Poll`) nothing ready.
    pub(crate) fn do_run_one<'s>(&'s self, cx: &mut RunCtx<'s, '_>, wait: Wait) -> usize {
        let mut task_ran = false;
        loop {
            if self.flags.stopped.load(Relaxed) || cx.interrupt.is_some_and(|i| i()) {
                return 0;
            }
            if let Wait::Until(t) = wait {
                if Instant::now() >= t {
                    return 0;
                }
            }
            let private = &cx.frame.private;
            if !private.is_empty() {
                if self.queue.is_empty() {
                    if let Some(op) = private.pop() {
                        op.complete();
                        return 1;
                    }
                }
                if let Some(chain) = private.take() {
                    self.queue.push_chain(chain);
                }
            }
            match self.pop_shared(cx) {
                Some(op) if op.as_ptr() == self.flags.task_op.as_ptr() => {
                    op.into_raw();
                    if wait != Wait::Poll && self.skip_task() {
                        continue;
                    }
                    if task_ran && wait == Wait::Poll {
                        // The task has had its turn and nothing is ready.
                        // While this thread holds the sentinel the queue can
                        // be truly empty: if the work has run out, this is
                        // where a poll sees it (as a blocking run would on
                        // entering the task) and stops the context.
                        self.leave_active(!cx.keep_alive);
                        self.enter_active();
                        self.requeue_task(OpQueue::new());
                        return 0;
                    }
                    task_ran = true;
                    if !self.flags.one_thread && !self.queue.is_empty() {
                        // Handlers wait while this thread polls: share them
                        // (Asio's `more_handlers` wake-up).
                        self.idle.idle.wake_one(self.task());
                    }
                    self.run_task(cx, wait);
                }
                Some(op) => {
                    cx.empty_task_waits = 0;
                    op.complete();
                    return 1;
                }
                None if wait == Wait::Poll => return 0,
                None => self.sleep(cx, wait),
            }
        }
    }

    #[inline]
    fn pop_shared(&self, cx: &RunCtx<'_, '_>) -> Option<OpPtr> {
        let op = if cx.holds_consumer {
            // SAFETY: one-thread mode: this call or an ancestor on this
            // thread holds the consumer lock.
            unsafe { self.queue.pop_wait() }
        } else {
            let _consumer = self.consumer.lock();
            // SAFETY: we hold the consumer lock.
            let op = unsafe { self.queue.pop_wait() };
            if op.is_some() {
                let pops = &self.consumer.pops;
                pops.store(pops.load(Relaxed).wrapping_add(1), Relaxed);
            }
            op
        };
        if let Some(op) = &op {
            let task_op = self.flags.task_op;
            if !self.flags.one_thread && op.as_ptr() != task_op.as_ptr() && !self.queue.is_empty() {
                if self.queue.holds_only(task_op) {
                    // Only the task is left, which this thread runs next.
                    self.idle.idle.wake_one_or_defer(self.task());
                } else {
                    // More work than this thread can take: share it (Asio's
                    // `more_handlers` wake-up).
                    self.idle.idle.wake_one(self.task());
                }
            }
        }
        op
    }

    /// Sleeps until work arrives, the context stops, the call is
    /// interrupted, or the deadline passes (the caller re-checks which).
    fn sleep<'s>(&'s self, cx: &mut RunCtx<'s, '_>, wait: Wait) {
        let deadline = match wait {
            Wait::Until(t) => Some(t),
            _ => None,
        };
        cx.consumer = None;
        self.leave_active(!cx.keep_alive);
        let interrupt = cx.interrupt;
        let halted = || self.stopped() || interrupt.is_some_and(|i| i());
        let ready = || !self.queue.is_empty() || halted();
        let progress = || {
            // The count first: a pop between the two reads then shows next
            // time, instead of hiding behind an emptiness seen too late.
            let pops = self.consumer.pops.load(Relaxed);
            (!self.queue.is_empty()).then_some(pops)
        };
        let rescue = Rescue {
            progress: &progress,
            halted: &halted,
        };
        #[cfg(not(loom))]
        let idle_since = Instant::now();
        if !self.spin_for_work(&ready, deadline) {
            let rescue = self.flags.rescue.then_some(&rescue);
            self.idle.idle.sleep(&ready, deadline, rescue);
            #[cfg(not(loom))]
            // A sleeper does not learn how many handlers woke it: count
            // one, as in the hand-over between two threads that this
            // spin serves.
            self.flags
                .spin
                .woke(idle_since.elapsed(), 1, self.busy_poll_ns());
        }
        self.enter_active();
        if cx.owns_consumer {
            cx.consumer = Some(self.consumer.lock());
        }
    }

    /// Before sleeping, looks for work for a while, as the adaptive window
    /// says (the same policy and limit as the reactor's busy polling: it
    /// pays where a wake-up costs more than the wait for the next handler).
    /// Not while a thread waits in the task: that thread is the one that
    /// will see the next event (and may be polling itself), so a second
    /// spinner would only take a processor from the peers. True if work
    /// (or a stop, or an interruption) came.
    fn spin_for_work(&self, ready: &dyn Fn() -> bool, deadline: Option<Instant>) -> bool {
        #[cfg(loom)]
        {
            // One look: the models check the protocol, not the timing.
            let _ = deadline;
            self.idle.idle.spin(ready, &mut || false)
        }
        #[cfg(not(loom))]
        {
            use crate::busy_poll::Polled;
            let max = self.poll_limit_ns();
            let Some(mut window) = self.flags.spin.window(max, None) else {
                return false;
            };
            let start = Instant::now();
            let mut cut = false;
            if let Some(t) = deadline {
                let left = t.saturating_duration_since(start);
                cut = left <= window;
                window = window.min(left);
            }
            let mut looks = 0u32;
            let found = self.idle.idle.spin(ready, &mut || {
                looks += 1;
                if self.idle.idle.state() & idle::TASK_BLOCKED != 0 {
                    cut = true;
                    return false;
                }
                // The clock is read every few looks: it costs more than one.
                looks % 16 != 0 || start.elapsed() < window
            });
            let how = match (found, looks) {
                (false, _) => Polled::Empty,
                (true, 0) => Polled::AtOnce,
                (true, _) => Polled::Later,
            };
            if found || !cut {
                self.flags.spin.polled(how, max);
            }
            found
        }
    }

    /// With other handlers queued, a non-blocking turn of the task mostly
    /// finds little (each turn is a system call): the sentinel goes to the
    /// back of the queue instead, up to [`TASK_SKIPS`] times in a row, so
    /// that I/O is polled less often and in larger batches. Called by the
    /// sentinel's holder. True if skipped.
    #[inline]
    fn skip_task(&self) -> bool {
        let skips = &self.idle.task_skips;
        let n = skips.load(Relaxed);
        if n >= TASK_SKIPS || self.queue.is_empty() {
            skips.store(0, Relaxed);
            return false;
        }
        skips.store(n + 1, Relaxed);
        self.requeue_task(OpQueue::new());
        true
    }

    /// Runs the task while this thread holds its sentinel, then queues the
    /// harvested completions and the sentinel behind them.
    fn run_task<'s>(&'s self, cx: &mut RunCtx<'s, '_>, wait: Wait) {
        let Some(task) = self.task() else { return };
        let mut ops = OpQueue::new();
        let released = if wait == Wait::Poll || !self.queue.is_empty() {
            task.run(Some(Duration::ZERO), &mut ops)
        } else {
            // Nothing else to do: block in the task as this thread's way of
            // being idle.
            cx.consumer = None;
            self.leave_active(!cx.keep_alive);
            let short = self.flags.rescue && cx.empty_task_waits < RESCUE_ROUNDS;
            self.idle.idle.block_task(short);
            let busy =
                !self.queue.is_empty() || self.stopped() || cx.interrupt.is_some_and(|i| i());
            let mut timeout = match wait {
                _ if busy => Some(Duration::ZERO),
                Wait::Until(t) => Some(t.saturating_duration_since(Instant::now())),
                _ => None,
            };
            if short {
                timeout = Some(timeout.map_or(RESCUE_WAIT, |t| t.min(RESCUE_WAIT)));
            }
            let released = task.run(timeout, &mut ops);
            self.idle.idle.unblock_task();
            if ops.is_empty() && self.queue.is_empty() {
                cx.empty_task_waits = cx.empty_task_waits.saturating_add(1);
            } else {
                cx.empty_task_waits = 0;
            }
            self.enter_active();
            if cx.owns_consumer {
                cx.consumer = Some(self.consumer.lock());
            }
            released
        };
        self.requeue_task(ops);
        self.work_finished(released);
    }

    /// Queues `ops` followed by the task's sentinel (which the caller holds).
    fn requeue_task(&self, ops: OpQueue) {
        // SAFETY: the caller popped the sentinel and hands it back here.
        ops.push(unsafe { OpPtr::from_raw(self.flags.task_op) });
        if let Some(chain) = ops.take() {
            self.queue.push_chain(chain);
        }
    }

    // ----- shutdown --------------------------------------------------------

    /// Drops every handler that never ran, without running it; from now on
    /// new work is dropped as it arrives.
    pub(crate) fn shutdown(&self) {
        self.idle.idle.set_shutdown();
        self.flags.stopped.store(true, SeqCst);
        #[cfg(all(any(unix, windows), not(loom)))]
        if let Some(worker) = self.flags.resolver.get() {
            worker.stop();
        }
        if let Some(task) = self.task() {
            let mut abandoned = OpQueue::new();
            task.shutdown(&mut abandoned);
            drop(abandoned);
        }
        self.drain();
    }

    /// Destroys everything in the shared queue. Handlers are dropped outside
    /// the lock: their destructors may post (and so drain) again.
    fn drain(&self) {
        loop {
            let doomed = OpQueue::new();
            {
                let _consumer = self.consumer.lock();
                // SAFETY: we hold the consumer lock.
                while let Some(op) = unsafe { self.queue.pop_wait() } {
                    if op.as_ptr() == self.flags.task_op.as_ptr() {
                        op.into_raw();
                    } else {
                        doomed.push(op);
                    }
                }
            }
            if doomed.is_empty() {
                return;
            }
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // Empty the queue while the sentinel still exists (it may be in it).
        self.drain();
        // SAFETY: the sentinel was leaked from a box in `new`, and the queue
        // no longer links it.
        drop(unsafe { Box::from_raw(self.flags.task_op.as_ptr()) });
    }
}
