//! The reactor's `Poller` on a completion port: the one thread in the task
//! seat waits in the port until a wake-up packet arrives or the earliest
//! timer is due (the timer deadline is the wait's timeout).
//!
//! * **Wake-ups** are packets with [`WAKE`] as their key. At most one is in
//!   the port at a time (`wake_pending`): the thread that takes it out
//!   returns, so a second packet could only cause a useless extra wake-up.
//!   A packet that arrives when nobody waits makes the next wait return at
//!   once; the scheduler treats that like any early return.
//! * **Timers**: the reactor gives the earliest expiry to
//!   [`Poller::set_timer`]. A thread already waiting is woken only if the
//!   new expiry comes before the time it would wake anyway, so re-arming
//!   for a later timer costs no packet.
//! * **I/O**: sockets are associated with the port under [`IO`]; each
//!   packet of that key points at the `OVERLAPPED` inside a completion
//!   operation (`completion.rs`), which [`Poller::wait_io`] fills in with
//!   the result and hands on, ready to be queued on the scheduler. The
//!   operation held one unit of outstanding work since it was started; the
//!   reactor's task reports it released with the harvest.
//! * **Posted handlers** from outside the context's threads are packets
//!   with [`POSTED`] as their key and the operation as their `OVERLAPPED`
//!   pointer ([`Poller::post_op`]): the packet wakes the waiting thread,
//!   which hands the operation on like a completion.
//! * **In flight**: the poller counts the operations the kernel holds, so
//!   that a context being dropped can wait for their packets
//!   ([`Poller::drain`]) before it destroys them.

use super::iocp::{CompletionPort, MAX_FINITE_MS, NO_LIMIT_MS};
use super::socket::{self, socket};
use super::status;
use crate::completion::CompletionHeader;
use crate::op::OpPtr;
use crate::reactor::descriptor::DescriptorState;
use crate::reactor::op::RawFd;
use crate::sync::{self, AtomicBool, AtomicUsize, Mutex, Ordering::*};
use std::io;
use std::ptr::{self, NonNull};
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::NTSTATUS;
use windows_sys::Win32::System::IO::OVERLAPPED_ENTRY;

/// The completion key of wake-up packets: not 0, so that an entry the port
/// never filled cannot pass for one; handles associated with the port later
/// get keys of their own.
pub(super) const WAKE: usize = 1;

/// The completion key of sockets: their packets carry an operation.
pub(super) const IO: usize = 2;

/// The completion key of posted handlers: the packet's `OVERLAPPED`
/// pointer is the operation itself.
const POSTED: usize = 3;

/// The descriptor state's `registered` bit saying that the socket's
/// operations that finish inside their call queue no packet.
pub(crate) const SKIPS_ON_SUCCESS: u32 = 1;

/// How many packets one wait takes out of the port at most: a burst of
/// completions costs one call, and the batch stays small on the stack.
const ENTRIES_PER_WAIT: usize = 64;

/// What [`Poller::set_timer`] must know to decide whether to wake the
/// waiting thread, and what the waiting thread must know to pick its
/// timeout; one lock, so neither misses the other's update. There is at
/// most one waiter: the thread in the scheduler's task seat.
#[derive(Default)]
struct Clock {
    /// When the earliest timer is due.
    timer: Option<Instant>,
    /// A thread waits in the port (or is about to).
    waiting: bool,
    /// When that thread wakes by itself (`None`: it does not).
    wakes_at: Option<Instant>,
}

pub(crate) struct Poller {
    port: CompletionPort,
    /// A wake-up packet is in the port or being taken out of it.
    wake_pending: AtomicBool,
    clock: Mutex<Clock>,
    /// Operations started and not yet harvested (or finished in their
    /// call), and posted ones in the port.
    in_flight: AtomicUsize,
    #[cfg(test)]
    delivered: AtomicUsize,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            port: CompletionPort::new()?,
            wake_pending: AtomicBool::new(false),
            clock: Mutex::new(Clock::default()),
            in_flight: AtomicUsize::new(0),
            #[cfg(test)]
            delivered: AtomicUsize::new(0),
        })
    }

    /// Waits until woken, an operation completes, the timer is due, or
    /// `timeout` passes; gives every completed operation to `on_done` and
    /// returns true if the timer is due. Busy polling does not apply: a
    /// completion port has no cheaper look than the wait itself.
    pub(crate) fn wait_io(
        &self,
        timeout: Option<Duration>,
        mut on_done: impl FnMut(OpPtr),
    ) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut entries = [OVERLAPPED_ENTRY::default(); ENTRIES_PER_WAIT];
        loop {
            let (ms, last) = self.begin_wait(deadline);
            let packets = self
                .port
                .dequeue(&mut entries, ms)
                .unwrap_or_else(|e| panic!("GetQueuedCompletionStatusEx failed: {e}"));
            self.take(packets, &mut on_done);
            // A timeout can end a little early (the port counts in clock
            // ticks): only packets or a passed deadline end the wait.
            if !packets.is_empty() || last {
                return self.end_wait();
            }
        }
    }

    /// The readiness wait of the other platforms' pollers (no descriptor
    /// is ever ready here); the tests of the wake-ups and timers use it.
    #[cfg(test)]
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        _busy: &crate::busy_poll::BusyPoll,
        _max_poll_ns: u32,
        _on_ready: impl FnMut(NonNull<DescriptorState>, u32),
    ) -> bool {
        self.wait_io(timeout, drop)
    }

    /// Handles dequeued packets: wake-ups, and operations to hand on.
    fn take(&self, packets: &[OVERLAPPED_ENTRY], on_done: &mut impl FnMut(OpPtr)) {
        for p in packets {
            match p.lpCompletionKey {
                // Cleared before this thread looks at the scheduler's
                // queue again: a wake-up wanted from now on needs a packet
                // of its own.
                WAKE => self.wake_pending.store(false, SeqCst),
                POSTED if !p.lpOverlapped.is_null() => {
                    // SAFETY: a posted handler's packet.
                    let op = unsafe { posted(p) };
                    self.in_flight.fetch_sub(1, SeqCst);
                    #[cfg(test)]
                    self.delivered.fetch_add(1, SeqCst);
                    on_done(op);
                }
                IO if p.lpOverlapped.is_null() => {
                    // Not one of ours (a packet posted by hand, or a call
                    // made without an OVERLAPPED on an associated handle).
                }
                IO => {
                    let ovl = p.lpOverlapped;
                    // SAFETY: packets under `IO` come from operations
                    // issued on associated sockets, each with the slot of
                    // a live completion operation; the kernel is done with
                    // it, so it is ours now, and its status is final.
                    let header = unsafe { CompletionHeader::from_slot(ovl) };
                    // SAFETY: as above; an operation that already completed
                    // at once (its packet was uncertain) is not run again.
                    if !unsafe { CompletionHeader::packet_ends_it(header) } {
                        continue;
                    }
                    // SAFETY: as above.
                    let op = unsafe {
                        let status = (*ovl).Internal as NTSTATUS;
                        let result = status::result(status, p.dwNumberOfBytesTransferred);
                        CompletionHeader::land(header, result)
                    };
                    self.in_flight.fetch_sub(1, SeqCst);
                    on_done(op);
                }
                _ => {}
            }
        }
    }

    /// Sends a posted operation through the port: the waiting thread (or
    /// the next) takes it out and hands it on like a completion. Gives it
    /// back if the port refuses it.
    pub(crate) fn post_op(&self, op: OpPtr) -> Result<(), OpPtr> {
        // Counted in flight: a context being dropped destroys it with the
        // other packets (`drain`).
        self.in_flight.fetch_add(1, SeqCst);
        let raw = op.into_raw();
        match self.port.post(POSTED, 0, raw.as_ptr().cast()) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.in_flight.fetch_sub(1, SeqCst);
                // SAFETY: the port did not take it: still ours.
                Err(unsafe { OpPtr::from_raw(raw) })
            }
        }
    }

    /// Posted operations taken out of the port (tests).
    #[cfg(test)]
    pub(crate) fn delivered(&self) -> usize {
        self.delivered.load(SeqCst)
    }

    /// An operation is about to be issued: the kernel may hold it.
    pub(crate) fn launching(&self) {
        self.in_flight.fetch_add(1, SeqCst);
    }

    /// An operation counted by [`Poller::launching`] finished inside its
    /// call: no packet will come for it.
    pub(crate) fn landed_inline(&self) {
        self.in_flight.fetch_sub(1, SeqCst);
    }

    /// Waits (up to `patience`) for the packets of every operation in
    /// flight, giving each to `on_done`; the context is shutting down and
    /// has cancelled them all. Operations whose packet does not come in
    /// time are left to the kernel, and their blocks are never freed.
    pub(crate) fn drain(&self, patience: Duration, mut on_done: impl FnMut(OpPtr)) {
        let deadline = Instant::now() + patience;
        let mut entries = [OVERLAPPED_ENTRY::default(); ENTRIES_PER_WAIT];
        while self.in_flight.load(SeqCst) > 0 {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let Ok(packets) = self.port.dequeue(&mut entries, timeout_ms(deadline - now)) else {
                return;
            };
            self.take(packets, &mut on_done);
        }
    }

    /// Records that this thread waits, and until when; returns the
    /// timeout in milliseconds and whether this is a non-blocking look
    /// (the timer or the deadline has already passed).
    fn begin_wait(&self, deadline: Option<Instant>) -> (u32, bool) {
        let mut c = sync::lock(&self.clock);
        let now = Instant::now();
        let until = match (deadline, c.timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let last = until.is_some_and(|u| now >= u);
        c.waiting = !last;
        c.wakes_at = until;
        let ms = match until {
            _ if last => 0,
            None => NO_LIMIT_MS,
            Some(u) => timeout_ms(u - now),
        };
        (ms, last)
    }

    /// Records that this thread no longer waits; true if the timer is due.
    fn end_wait(&self) -> bool {
        let mut c = sync::lock(&self.clock);
        c.waiting = false;
        c.timer.is_some_and(|t| Instant::now() >= t)
    }

    /// Makes the waiting (or the next) [`Poller::wait`] return promptly.
    pub(crate) fn interrupt(&self) {
        if !self.wake_pending.swap(true, SeqCst) {
            // Failing here would lose a wake-up and hang a run call; the
            // port only refuses packets when its handle is bad or the
            // system is out of memory.
            self.port
                .post(WAKE, 0, ptr::null_mut())
                .unwrap_or_else(|e| panic!("PostQueuedCompletionStatus failed: {e}"));
        }
    }

    /// Arms the timer to fire `after` from now (`None`: disarms it).
    pub(crate) fn set_timer(&self, after: Option<Duration>) {
        let due = after.and_then(|a| Instant::now().checked_add(a));
        let mut c = sync::lock(&self.clock);
        c.timer = due;
        let sooner = match (due, c.wakes_at) {
            (Some(d), Some(w)) => d < w,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let wake = c.waiting && sooner;
        drop(c);
        if wake {
            self.interrupt();
        }
    }

    /// Associates a socket with the port; returns the state's
    /// `registered` bits ([`SKIPS_ON_SUCCESS`] if granted).
    pub(crate) fn register(&self, fd: RawFd, _state: NonNull<DescriptorState>) -> io::Result<u32> {
        let skips = socket::associate(&self.port, socket(fd), IO)?;
        Ok(if skips { SKIPS_ON_SUCCESS } else { 0 })
    }

    /// Associates a handle of the user's under [`IO`], without skipping
    /// packets on success: its calls' packets always come.
    pub(crate) fn associate(&self, handle: std::os::windows::io::RawHandle) -> io::Result<()> {
        self.port.associate(handle.cast(), IO)
    }

    /// Writes need no extra interest: every operation has its own packet.
    pub(crate) fn want_write(
        &self,
        _fd: RawFd,
        _state: NonNull<DescriptorState>,
        current: u32,
    ) -> io::Result<u32> {
        Ok(current)
    }

    /// Closing the socket ends its association; its operations are
    /// cancelled when it is closed.
    pub(crate) fn deregister(&self, _fd: RawFd) {}

    /// `Some(when it wakes by itself)` while a thread waits (tests).
    #[cfg(test)]
    pub(super) fn waiter(&self) -> Option<Option<Instant>> {
        let c = sync::lock(&self.clock);
        c.waiting.then_some(c.wakes_at)
    }

    /// Operations the kernel may hold (tests).
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(SeqCst)
    }

    #[cfg(test)]
    pub(super) fn port(&self) -> &CompletionPort {
        &self.port
    }
}

impl Drop for Poller {
    /// Destroys, unrun, the handlers posted while the context shut down
    /// (after its last look at the port).
    fn drop(&mut self) {
        let mut entries = [OVERLAPPED_ENTRY::default(); ENTRIES_PER_WAIT];
        while let Ok(packets) = self.port.dequeue(&mut entries, 0) {
            if packets.is_empty() {
                break;
            }
            for p in packets {
                if p.lpCompletionKey == POSTED && !p.lpOverlapped.is_null() {
                    // SAFETY: a posted handler's packet.
                    drop(unsafe { posted(p) });
                }
            }
        }
    }
}

/// The operation a [`POSTED`] packet carries, ours again.
///
/// # Safety
/// `p` is a dequeued packet of key [`POSTED`] with a non-null pointer,
/// which `Poller::post_op` sent.
unsafe fn posted(p: &OVERLAPPED_ENTRY) -> OpPtr {
    // SAFETY: caller's contract: the pointer is the operation's header.
    unsafe { OpPtr::from_raw(NonNull::new_unchecked(p.lpOverlapped.cast())) }
}

/// `d` in whole milliseconds, rounded up (rounding down would wake the
/// thread before the timer is due, only for it to wait again), at most the
/// longest finite wait.
pub(super) fn timeout_ms(d: Duration) -> u32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).map_or(MAX_FINITE_MS, |ms| ms.min(MAX_FINITE_MS))
}
