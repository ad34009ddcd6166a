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
//! * **I/O**: none yet. Descriptors are refused (`Unsupported`) until the
//!   overlapped socket operations come; their packets will carry their own
//!   key and an `OVERLAPPED` inside the operation.

use super::iocp::{CompletionPort, MAX_FINITE_MS, NO_LIMIT_MS};
use crate::busy_poll::BusyPoll;
use crate::reactor::descriptor::DescriptorState;
use crate::sync::{self, AtomicBool, Mutex, Ordering::*};
use std::io;
use std::ptr::{self, NonNull};
use std::time::{Duration, Instant};
use windows_sys::Win32::System::IO::OVERLAPPED_ENTRY;

/// The completion key of wake-up packets: not 0, so that an entry the port
/// never filled cannot pass for one; handles associated with the port later
/// get keys of their own.
pub(super) const WAKE: usize = 1;

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
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            port: CompletionPort::new()?,
            wake_pending: AtomicBool::new(false),
            clock: Mutex::new(Clock::default()),
        })
    }

    /// Waits until woken, the timer is due, or `timeout` passes; returns
    /// true if the timer is due. Busy polling does not apply yet: nothing
    /// but wake-ups and timers can arrive.
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        _busy: &BusyPoll,
        _max_poll_ns: u32,
        _on_ready: impl FnMut(NonNull<DescriptorState>, u32),
    ) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut entries = [OVERLAPPED_ENTRY::default(); ENTRIES_PER_WAIT];
        loop {
            let (ms, last) = self.begin_wait(deadline);
            let packets = self
                .port
                .dequeue(&mut entries, ms)
                .unwrap_or_else(|e| panic!("GetQueuedCompletionStatusEx failed: {e}"));
            for p in packets {
                if p.lpCompletionKey == WAKE {
                    // Cleared before this thread looks at the scheduler's
                    // queue again: a wake-up wanted from now on needs a
                    // packet of its own.
                    self.wake_pending.store(false, SeqCst);
                }
            }
            // A timeout can end a little early (the port counts in clock
            // ticks): only packets or a passed deadline end the wait.
            if !packets.is_empty() || last {
                return self.end_wait();
            }
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

    no_descriptors!("the IOCP backend has no socket operations yet");

    /// `Some(when it wakes by itself)` while a thread waits (tests).
    #[cfg(test)]
    pub(super) fn waiter(&self) -> Option<Option<Instant>> {
        let c = sync::lock(&self.clock);
        c.waiting.then_some(c.wakes_at)
    }

    #[cfg(test)]
    pub(super) fn port(&self) -> &CompletionPort {
        &self.port
    }
}

/// `d` in whole milliseconds, rounded up (rounding down would wake the
/// thread before the timer is due, only for it to wait again), at most the
/// longest finite wait.
pub(super) fn timeout_ms(d: Duration) -> u32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).map_or(MAX_FINITE_MS, |ms| ms.min(MAX_FINITE_MS))
}
