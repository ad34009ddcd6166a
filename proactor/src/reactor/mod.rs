//! The reactor: readiness-based I/O and timers, taking the scheduler's
//! task seat (Asio's `epoll_reactor`).
//!
//! * [`descriptor`]: per-descriptor operation queues, performed on
//!   readiness; speculative attempts when a queue is empty.
//! * [`timer_queue`]: a heap per clock.
//! * The operating system's readiness source is a [`Poller`]
//!   (`sys/linux/epoll.rs` on Linux; elsewhere a portable waiter that has
//!   timers but no descriptors).
//! * On Windows the [`Poller`] is a completion port (`sys/windows/`):
//!   sockets keep their descriptor states, but their operations are issued
//!   to the kernel and harvested as completions (`windows.rs`).
//!
//! The reactor is created with the first I/O object of a context, as in
//! Asio: a context that only runs posted handlers never pays for it.

pub(crate) mod descriptor;
pub(crate) mod op;
#[cfg(all(test, not(loom)))]
mod tests;
pub(crate) mod timer_queue;
#[cfg(target_os = "linux")]
pub(crate) mod uring;
#[cfg(windows)]
pub(crate) mod windows;

use crate::busy_poll::BusyPoll;
use crate::op::queue::OpQueue;
use crate::op::slab::Slab;
use crate::op::OpPtr;
#[cfg(not(windows))]
use crate::scheduler::task::Task;
use crate::scheduler::Scheduler;
use crate::sync::{self, Arc, Mutex};
use crate::sys::Poller;
use descriptor::{DescriptorState, Pool};
use op::{CancelTicket, OpKind, Progress, RawFd, ReactorOpHeader};
use std::io;
use std::ptr::NonNull;
use std::time::{Duration, Instant, SystemTime};
use timer_queue::{TimerEntry, TimerQueue};

pub(crate) struct Reactor {
    poller: Poller,
    /// How long to poll before blocking (adapts to the traffic; a
    /// completion port is not polled, a ring's queue is).
    #[cfg_attr(windows, allow(dead_code))]
    busy: BusyPoll,
    sched: *const Scheduler,
    pool: Mutex<Pool>,
    timers: Mutex<Timers>,
    /// Memory for timers' shared state and waits, under a lock of its
    /// own: timers are made and dropped without touching the heaps.
    timer_blocks: Mutex<Slab>,
}

// SAFETY: `sched` points to the scheduler that owns this reactor and
// outlives it; everything else is synchronised.
unsafe impl Send for Reactor {}
unsafe impl Sync for Reactor {}

/// The timer heaps, one per clock, and the deadline the poller was last
/// armed for.
pub(crate) struct Timers {
    steady: TimerQueue<Instant>,
    system: TimerQueue<SystemTime>,
    armed: Option<Instant>,
    /// Waits on all timers. Together they hold one unit of the scheduler's
    /// work (see [`Scheduler::work_started`]) while there are any, instead
    /// of one each: a wait then costs no update of the shared count when it
    /// starts or ends, unless it is the only one.
    waiting: usize,
}

impl Timers {
    /// A wait joined the timers (in an entry of the heap).
    fn added(&mut self, sched: &Scheduler) {
        if self.waiting == 0 {
            sched.work_started();
        }
        self.waiting += 1;
    }

    /// `n` waits left the timers: the units of work to release once they
    /// are posted (1 if they were the last).
    #[must_use]
    fn removed(&mut self, n: usize) -> usize {
        debug_assert!(n <= self.waiting);
        self.waiting -= n;
        usize::from(n > 0 && self.waiting == 0)
    }
}

/// A clock timers can run on.
pub(crate) trait Clock: 'static {
    type Time: Ord + Copy + Send + Sync + timer_queue::HeapKey + 'static;
    fn now() -> Self::Time;
    /// How long from `now` until `t` (zero if past).
    fn until(t: Self::Time, now: Self::Time) -> Duration;
    fn queue(t: &mut Timers) -> &mut TimerQueue<Self::Time>;
}

/// The monotonic clock.
pub(crate) struct Steady;
/// The system (wall) clock.
pub(crate) struct System;

impl Clock for Steady {
    type Time = Instant;
    fn now() -> Instant {
        Instant::now()
    }
    fn until(t: Instant, now: Instant) -> Duration {
        t.saturating_duration_since(now)
    }
    fn queue(t: &mut Timers) -> &mut TimerQueue<Instant> {
        &mut t.steady
    }
}

impl Clock for System {
    type Time = SystemTime;
    fn now() -> SystemTime {
        SystemTime::now()
    }
    fn until(t: SystemTime, now: SystemTime) -> Duration {
        t.duration_since(now).unwrap_or(Duration::ZERO)
    }
    fn queue(t: &mut Timers) -> &mut TimerQueue<SystemTime> {
        &mut t.system
    }
}

// Descriptors are only used where there are I/O objects (Unix and
// Windows; Windows issues operations instead of queueing them).
#[cfg_attr(not(unix), allow(dead_code))]
impl Reactor {
    pub(crate) fn new(sched: &Scheduler) -> io::Result<Reactor> {
        Ok(Reactor {
            poller: Poller::new()?,
            busy: BusyPoll::new(),
            sched,
            pool: Mutex::new(Pool::new(sched)),
            timers: Mutex::new(Timers {
                steady: TimerQueue::new(),
                system: TimerQueue::new(),
                armed: None,
                waiting: 0,
            }),
            timer_blocks: Mutex::new(Slab::new()),
        })
    }

    fn sched(&self) -> &Scheduler {
        // SAFETY: see the `Send`/`Sync` impls.
        unsafe { &*self.sched }
    }

    // ----- descriptors -----------------------------------------------------

    /// A descriptor state for an I/O object, closed. The object keeps it for
    /// its whole life (through any number of opens and closes), so an
    /// operation racing a close finds it closed instead of finding another
    /// object's state; [`Reactor::release`] gives it back.
    pub(crate) fn alloc_state(&self) -> NonNull<DescriptorState> {
        sync::lock(&self.pool).take()
    }

    /// Takes ownership of `fd` and registers it. Fails if the state already
    /// holds a descriptor, or if the backend refuses `fd`.
    pub(crate) fn open(&self, state: NonNull<DescriptorState>, fd: OwnedFd) -> io::Result<()> {
        self.open_as(state, fd, true)
    }

    /// As [`Reactor::open`], for a descriptor that is always ready (a
    /// regular file): readiness backends do not watch it, since its
    /// operations never wait.
    #[cfg(unix)]
    pub(crate) fn open_always_ready(
        &self,
        state: NonNull<DescriptorState>,
        fd: OwnedFd,
    ) -> io::Result<()> {
        self.open_as(state, fd, false)
    }

    fn open_as(&self, state: NonNull<DescriptorState>, fd: OwnedFd, watch: bool) -> io::Result<()> {
        // SAFETY: pooled states live as long as the reactor.
        let d = unsafe { state.as_ref() };
        let mut g = d.lock();
        if !g.shutdown {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "already open"));
        }
        if g.left_open {
            return Err(io::Error::other(
                "the object's last descriptor may still be in use by the kernel",
            ));
        }
        let raw = fd_raw(&fd);
        let registered = if watch {
            self.poller.register(raw, state)?
        } else {
            0
        };
        g.reset(into_raw(fd), registered);
        Ok(())
    }

    /// Runs `f` with the descriptor, under its lock (so it cannot be closed
    /// meanwhile). Fails with `EBADF` if closed.
    pub(crate) fn with_fd<R>(
        &self,
        state: NonNull<DescriptorState>,
        f: impl FnOnce(RawFd) -> io::Result<R>,
    ) -> io::Result<R> {
        // SAFETY: pooled states live as long as the reactor.
        let g = unsafe { state.as_ref() }.lock();
        if g.shutdown {
            return Err(io::Error::from_raw_os_error(libc_ebadf()));
        }
        f(g.fd)
    }

    /// Closes the descriptor: waiting operations complete with "operation
    /// aborted", the backend forgets it, and it is closed. Closing a closed
    /// state does nothing.
    pub(crate) fn close(&self, state: NonNull<DescriptorState>) -> io::Result<()> {
        // SAFETY: pooled states live as long as the reactor.
        let d = unsafe { state.as_ref() };
        let mut g = d.lock();
        if g.shutdown {
            return Ok(());
        }
        self.poller.deregister(g.fd);
        let (ops, closable) = self.abort_waiting(&mut g);
        // Closed under the lock: no attempt can use the number after it is
        // reused.
        let closed = self.end_fd(&mut g, closable);
        drop(g);
        self.post_all(ops);
        closed
    }

    /// Closes the state (if open) and gives it back to the pool.
    pub(crate) fn release(&self, state: NonNull<DescriptorState>) {
        let _ = self.close(state);
        // SAFETY: pooled states live as long as the reactor.
        let d = unsafe { state.as_ref() };
        let mut g = d.lock();
        if g.left_open {
            return;
        }
        // If a ring still holds requests of its (ended, not yet reaped),
        // the state goes back when the last is reaped, or a new descriptor
        // would find them in its queues.
        g.pool_when_idle = true;
        self.unlock_and_repool(d, g);
    }

    /// Shuts the state down and closes its descriptor; or, if not
    /// `closable` (a ring that refused submissions may still hold a request
    /// for it, which must not reach a file given the number next), hands
    /// it to the ring, which closes it once the kernel has taken that
    /// request. Rare (the kernel refusing work for a second); said once per
    /// descriptor.
    fn end_fd(&self, g: &mut descriptor::Guarded, closable: bool) -> io::Result<()> {
        g.shutdown = true;
        g.left_open = !closable;
        let fd = std::mem::replace(&mut g.fd, -1);
        if closable {
            return close_fd(fd);
        }
        eprintln!(
            "proactor: io_uring took no submissions while descriptor {fd} was being closed: \
             it is closed once the kernel takes the requests queued for it"
        );
        #[cfg(target_os = "linux")]
        if let Some(ring) = self.poller.ring() {
            ring.close_when_taken(fd);
        }
        Ok(())
    }

    /// Releases `g`, the lock of `d`, giving `d` back to the pool if it was
    /// released while busy and is idle now.
    fn unlock_and_repool(
        &self,
        d: &DescriptorState,
        mut g: crate::sync::MutexGuard<'_, descriptor::Guarded>,
    ) {
        let give = g.released_now();
        drop(g);
        if give {
            sync::lock(&self.pool).give(NonNull::from(d));
        }
    }

    /// Starts `op` (a reactor operation holding one unit of work, see
    /// [`Scheduler::work_started`]) on the descriptor: at once if its queue
    /// is empty and `speculative`, else when the descriptor is ready.
    pub(crate) fn start_op(&self, d: &DescriptorState, kind: OpKind, op: OpPtr, speculative: bool) {
        // SAFETY: `op` is a reactor operation (caller's contract).
        let raw = unsafe { ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())) };
        let mut g = d.lock();
        if g.shutdown {
            // SAFETY: we own `op` and hold the descriptor lock.
            unsafe { ReactorOpHeader::fail(raw, io::Error::from_raw_os_error(libc_ebadf())) };
            drop(g);
            return self.sched().post_completion(op);
        }
        // SAFETY: we own `op`.
        if unsafe { ReactorOpHeader::cancel_requested(raw) } {
            // Cancelled while it was being started.
            // SAFETY: we own `op` and hold the descriptor lock.
            unsafe { ReactorOpHeader::fail(raw, crate::error::operation_aborted()) };
            drop(g);
            return self.sched().post_completion(op);
        }
        let k = kind as usize;
        if g.queues[k].is_empty() {
            if speculative
                && (kind != OpKind::Read || g.queues[OpKind::Except as usize].is_empty())
                && g.try_speculative[k]
            {
                // SAFETY: we own `op` and hold the descriptor lock.
                match unsafe { ReactorOpHeader::perform(raw, g.fd) } {
                    Progress::Pending => {}
                    done => {
                        if done == Progress::DoneExhausted {
                            g.exhausted(k);
                        }
                        drop(g);
                        return self.sched().post_completion(op);
                    }
                }
            }
            if kind == OpKind::Write {
                match self.poller.want_write(g.fd, NonNull::from(d), g.registered) {
                    Ok(interest) => g.registered = interest,
                    Err(e) => {
                        // SAFETY: we own `op` and hold the descriptor lock.
                        unsafe { ReactorOpHeader::fail(raw, e) };
                        drop(g);
                        return self.sched().post_completion(op);
                    }
                }
            }
        }
        g.queues[k].push(op);
    }

    /// Cancels the one operation holding `ticket`, if it is still waiting:
    /// it completes with "operation aborted".
    pub(crate) fn cancel_op(&self, d: &DescriptorState, kind: OpKind, ticket: &CancelTicket) {
        let g = d.lock();
        let found = g.queues[kind as usize].remove_first(|op| {
            // SAFETY: queued operations are live reactor operations.
            unsafe { ReactorOpHeader::has_ticket(ReactorOpHeader::from_op(op), ticket) }
        });
        drop(g);
        if let Some(op) = found {
            abort(&op);
            self.sched().post_completion(op);
        }
    }

    /// Completes every waiting operation of the descriptor with "operation
    /// aborted". The descriptor stays usable.
    pub(crate) fn cancel_ops(&self, d: &DescriptorState) {
        let mut g = d.lock();
        #[cfg(windows)]
        if !g.shutdown {
            self.cancel_in_flight(g.fd);
        }
        let (ops, _) = self.abort_waiting(&mut g);
        drop(g);
        self.post_all(ops);
    }

    /// Ends the descriptor's waiting operations with "operation aborted"
    /// and returns them (to be posted once the lock is released), and
    /// whether the descriptor may be closed (see [`Reactor::end_fd`]).
    fn abort_waiting(&self, g: &mut descriptor::Guarded) -> (OpQueue, bool) {
        #[cfg(target_os = "linux")]
        if self.poller.ring().is_some() {
            return self.abort_submissions(g);
        }
        (
            DescriptorState::take_all(g, crate::error::operation_aborted),
            true,
        )
    }

    pub(crate) fn backend(&self) -> crate::Backend {
        #[cfg(target_os = "linux")]
        return match self.poller.ring() {
            Some(_) => crate::Backend::IoUring,
            None => crate::Backend::Epoll,
        };
        #[cfg(windows)]
        return crate::Backend::Iocp;
        #[cfg(not(any(target_os = "linux", windows)))]
        return crate::Backend::Portable;
    }

    /// See `IoCore::submit_started`.
    #[cfg(target_os = "linux")]
    pub(crate) fn submit_started(&self) {
        if let Some(ring) = self.poller.ring() {
            ring.flush();
        }
    }

    /// Whether this reactor's backend is an io_uring.
    #[cfg(target_os = "linux")]
    #[inline]
    pub(crate) fn on_ring(&self) -> bool {
        self.poller.ring().is_some()
    }

    fn post_all(&self, ops: OpQueue) {
        let mut n = 0;
        let all = OpQueue::new();
        while let Some(op) = ops.pop() {
            all.push(op);
            n += 1;
        }
        if n > 0 {
            self.sched().post_completions(all, n);
        }
    }

    // ----- timers ----------------------------------------------------------

    /// A block of [`slab::BLOCK`](crate::op::slab::BLOCK) bytes for a
    /// timer's shared state or a wait, uninitialised.
    pub(crate) fn timer_block(&self) -> NonNull<u8> {
        sync::lock(&self.timer_blocks).alloc()
    }

    /// Gives back a block from [`Reactor::timer_block`].
    ///
    /// # Safety
    /// `block` came from this reactor's `timer_block` and is not used
    /// afterwards.
    pub(crate) unsafe fn free_timer_block(&self, block: NonNull<u8>) {
        // SAFETY: caller's contract.
        unsafe { sync::lock(&self.timer_blocks).free(block) }
    }

    /// Waits on a timer: `op` (holding no unit of work: the timers hold one
    /// for all their waits) completes when the timer expires, or at once
    /// (posted) if it already has.
    ///
    /// # Safety
    /// `entry` stays alive until [`Reactor::timer_cancel`] has been called
    /// for it (timers call it when dropped).
    pub(crate) unsafe fn timer_wait<C: Clock>(
        &self,
        entry: NonNull<TimerEntry<C::Time>>,
        op: OpPtr,
    ) {
        let mut t = sync::lock(&self.timers);
        // SAFETY: caller's contract; timer lock held.
        let e = unsafe { &*entry.as_ptr() };
        // SAFETY: timer waits are reactor operations; we own `op`.
        let raw = unsafe { ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())) };
        // SAFETY: as above.
        if unsafe { ReactorOpHeader::cancel_requested(raw) } {
            drop(t);
            abort(&op);
            // Queued, it is work by being there.
            return self.sched().post(op);
        }
        e.ops.push(op);
        t.added(self.sched());
        // SAFETY: caller's contract.
        if unsafe { C::queue(&mut t).insert(entry) } {
            // Only a new earliest timer can be due already (a later one
            // fires with the earliest, whose wake-up is armed): the clock
            // is read only then.
            if e.expiry <= C::now() {
                // SAFETY: caller's contract.
                unsafe { C::queue(&mut t).remove(entry) };
                let due = OpQueue::new();
                let mut n = 0;
                while let Some(op) = e.ops.pop() {
                    due.push(op);
                    n += 1;
                }
                let release = t.removed(n);
                drop(t);
                return self.sched().post_completions(due, release);
            }
            self.rearm(&mut t);
        }
    }

    /// Gives the timer a new expiry; its waiting operations complete with
    /// "operation aborted". Returns how many there were.
    ///
    /// # Safety
    /// `entry` is alive.
    pub(crate) unsafe fn timer_set_expiry<C: Clock>(
        &self,
        entry: NonNull<TimerEntry<C::Time>>,
        expiry: C::Time,
    ) -> usize {
        let mut t = sync::lock(&self.timers);
        // SAFETY: caller's contract; timer lock held. Out of the heap
        // before its key changes.
        unsafe { C::queue(&mut t).remove(entry) };
        // SAFETY: as above.
        let e = unsafe { &mut *entry.as_ptr() };
        e.expiry = expiry;
        let aborted = Self::abort_all(&mut t, &e.ops);
        drop(t);
        self.post_aborted(aborted)
    }

    /// Completes the timer's waiting operations with "operation aborted";
    /// returns how many.
    ///
    /// # Safety
    /// `entry` is alive.
    pub(crate) unsafe fn timer_cancel<C: Clock>(
        &self,
        entry: NonNull<TimerEntry<C::Time>>,
    ) -> usize {
        let mut t = sync::lock(&self.timers);
        // SAFETY: caller's contract; timer lock held.
        unsafe { C::queue(&mut t).remove(entry) };
        // SAFETY: as above.
        let aborted = Self::abort_all(&mut t, unsafe { &(*entry.as_ptr()).ops });
        drop(t);
        self.post_aborted(aborted)
    }

    /// Moves a timer's waiting operations out, failed with "operation
    /// aborted" (`t`: the timer lock's guard); returns them, how many, and
    /// the units of work to release once they are posted.
    fn abort_all(t: &mut Timers, waiting: &OpQueue) -> (OpQueue, usize, usize) {
        let ops = OpQueue::new();
        let mut n = 0;
        while let Some(op) = waiting.pop() {
            // SAFETY: timer waits are reactor operations; the timer lock
            // serialises access to them.
            unsafe {
                ReactorOpHeader::fail(
                    ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())),
                    crate::error::operation_aborted(),
                )
            };
            ops.push(op);
            n += 1;
        }
        let release = t.removed(n);
        (ops, n, release)
    }

    /// Posts what [`Reactor::abort_all`] took (after the timer lock is
    /// released); returns how many.
    fn post_aborted(&self, (ops, n, release): (OpQueue, usize, usize)) -> usize {
        if n > 0 {
            self.sched().post_completions(ops, release);
        }
        n
    }

    /// Cancels the one wait on the timer holding `ticket`, if still pending.
    ///
    /// # Safety
    /// `entry` is alive.
    pub(crate) unsafe fn timer_cancel_one<C: Clock>(
        &self,
        entry: NonNull<TimerEntry<C::Time>>,
        ticket: &CancelTicket,
    ) {
        let mut t = sync::lock(&self.timers);
        // SAFETY: caller's contract; timer lock held.
        let e = unsafe { &*entry.as_ptr() };
        let found = e.ops.remove_first(|op| {
            // SAFETY: queued waits are live reactor operations.
            unsafe { ReactorOpHeader::has_ticket(ReactorOpHeader::from_op(op), ticket) }
        });
        if e.ops.is_empty() {
            // SAFETY: caller's contract.
            unsafe { C::queue(&mut t).remove(entry) };
        }
        let release = t.removed(usize::from(found.is_some()));
        drop(t);
        if let Some(op) = found {
            abort(&op);
            self.sched().post(op);
            self.sched().work_finished(release);
        }
    }

    /// Reads or changes a timer's expiry under the timer lock.
    ///
    /// # Safety
    /// `entry` is alive.
    pub(crate) unsafe fn timer_entry<C: Clock, R>(
        &self,
        entry: NonNull<TimerEntry<C::Time>>,
        f: impl FnOnce(&mut TimerEntry<C::Time>) -> R,
    ) -> R {
        let _t = sync::lock(&self.timers);
        // SAFETY: caller's contract; timer lock held.
        f(unsafe { &mut *entry.as_ptr() })
    }

    /// Points the poller's timer at the earliest expiry, if that is
    /// earlier than what it is armed for. A later one waits: the poller
    /// wakes early, finds nothing due, and re-arms then. A timeout that is
    /// set again before it expires (a new timer, or a new expiry, for each
    /// message) so costs no system call.
    fn rearm(&self, t: &mut Timers) {
        self.rearm_if(t, false);
    }

    /// As [`Reactor::rearm`]; `force` re-arms whatever the earliest expiry
    /// is (after the poller's timer fired, to reset its state).
    fn rearm_if(&self, t: &mut Timers, force: bool) {
        let now = Instant::now();
        let steady = t.steady.earliest();
        let system = t
            .system
            .earliest()
            .map(|s| now + System::until(s, System::now()));
        let next = match (steady, system) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let earlier = next.is_some_and(|n| t.armed.map_or(true, |a| n < a));
        if force || earlier {
            t.armed = next;
            self.poller
                .set_timer(next.map(|d| d.saturating_duration_since(now)));
        }
    }

    /// Moves every timer wait into `ops` (shutdown).
    fn abandon_timers(&self, ops: &mut OpQueue) {
        let mut t = sync::lock(&self.timers);
        t.steady.take_all(ops);
        t.system.take_all(ops);
        // Shutdown: the work is not counted any more.
        t.waiting = 0;
    }

    /// Moves the operations of due timers into `out`; returns the units of
    /// work they release (see [`Timers::removed`]). `fired`: the poller's
    /// timer went off.
    fn take_due_timers(&self, out: &OpQueue, fired: bool) -> usize {
        let mut t = sync::lock(&self.timers);
        if !fired && t.steady.earliest().is_none() && t.system.earliest().is_none() {
            return 0;
        }
        let n = t.steady.take_due(Instant::now(), out) + t.system.take_due(SystemTime::now(), out);
        self.rearm_if(&mut t, fired);
        t.removed(n)
    }
}

/// The reactor in the scheduler's task seat.
pub(crate) struct ReactorTask(pub(crate) Arc<Reactor>);

/// (On Windows, see `windows.rs`: the task harvests completions.)
#[cfg(not(windows))]
impl Task for ReactorTask {
    fn run(&self, timeout: Option<Duration>, ops: &mut OpQueue) -> usize {
        let r = &self.0;
        #[cfg(target_os = "linux")]
        if r.on_ring() {
            return self.run_ring(timeout, ops);
        }
        let max_poll_ns = r.sched().busy_poll_ns();
        let fired = r.poller.wait(timeout, &r.busy, max_poll_ns, |state, bits| {
            // SAFETY: the poller only reports states registered with this
            // reactor's pool, which never frees them.
            if let Some(op) = unsafe { state.as_ref() }.set_ready(bits) {
                ops.push(op);
            }
        });
        // The timers hold a unit of work (released with their last wait);
        // descriptor states do not.
        r.take_due_timers(ops, fired)
    }

    fn interrupt(&self) {
        self.0.poller.interrupt();
    }

    fn shutdown(&self, ops: &mut OpQueue) {
        let r = &self.0;
        #[cfg(target_os = "linux")]
        if r.on_ring() {
            return self.shutdown_ring(ops);
        }
        for d in sync::lock(&r.pool).all() {
            let mut g = d.lock();
            let abandoned = DescriptorState::take_all(&mut g, crate::error::operation_aborted);
            g.shutdown = true;
            while let Some(op) = abandoned.pop() {
                ops.push(op);
            }
        }
        r.abandon_timers(ops);
    }
}

/// Ends `op` (a reactor operation owned by the caller, queued nowhere)
/// with "operation aborted".
pub(crate) fn abort(op: &OpPtr) {
    // SAFETY: the caller owns the reactor operation exclusively.
    unsafe {
        ReactorOpHeader::fail(
            ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())),
            crate::error::operation_aborted(),
        )
    }
}

/// A descriptor state pointer that may travel (states are pool-owned and
/// live as long as their reactor, which whoever holds this keeps alive).
#[cfg(unix)]
#[derive(Clone, Copy)]
pub(crate) struct StateRef(pub(crate) NonNull<DescriptorState>);

// SAFETY: `DescriptorState` is `Sync`; see the type's comment for lifetime.
#[cfg(unix)]
unsafe impl Send for StateRef {}
// SAFETY: as for `Send`.
#[cfg(unix)]
unsafe impl Sync for StateRef {}

#[cfg(unix)]
impl StateRef {
    /// # Safety
    /// The state's reactor is alive.
    pub(crate) unsafe fn get(&self) -> &DescriptorState {
        // SAFETY: forwarded to the caller.
        unsafe { self.0.as_ref() }
    }
}

#[cfg(unix)]
pub(crate) use std::os::fd::OwnedFd;
/// On Windows the descriptors are sockets.
#[cfg(windows)]
pub(crate) use std::os::windows::io::OwnedSocket as OwnedFd;
/// Where there are no file descriptors, nothing can be opened.
#[cfg(not(any(unix, windows)))]
pub(crate) enum OwnedFd {}

#[cfg(unix)]
fn libc_ebadf() -> i32 {
    libc::EBADF
}
/// `ERROR_INVALID_HANDLE`: Windows' "bad file descriptor".
#[cfg(windows)]
fn libc_ebadf() -> i32 {
    6
}
#[cfg(not(any(unix, windows)))]
fn libc_ebadf() -> i32 {
    9
}

#[cfg(unix)]
fn fd_raw(fd: &OwnedFd) -> RawFd {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}
#[cfg(unix)]
fn into_raw(fd: OwnedFd) -> RawFd {
    std::os::fd::IntoRawFd::into_raw_fd(fd)
}
#[cfg(unix)]
fn close_fd(fd: RawFd) -> io::Result<()> {
    // SAFETY: the state owned `fd` and has forgotten it.
    if unsafe { libc::close(fd) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
#[cfg(windows)]
use crate::sys::windows::socket::{fd_of as fd_raw, into_fd as into_raw};
#[cfg(windows)]
fn close_fd(fd: RawFd) -> io::Result<()> {
    crate::sys::windows::socket::close(crate::sys::windows::socket::socket(fd))
}
#[cfg(not(any(unix, windows)))]
fn fd_raw(fd: &OwnedFd) -> RawFd {
    match *fd {}
}
#[cfg(not(any(unix, windows)))]
fn into_raw(fd: OwnedFd) -> RawFd {
    match fd {}
}
#[cfg(not(any(unix, windows)))]
fn close_fd(_fd: RawFd) -> io::Result<()> {
    Ok(())
}
