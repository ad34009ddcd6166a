//! Adaptive busy polling: how long a thread about to block for I/O first
//! polls instead (as the kernel's halt-polling does for idle virtual CPUs).
//!
//! Blocking costs a wake-up when the next event comes, and on virtual
//! machines a wake-up can take tens of microseconds: longer than a loopback
//! round trip. When the next event tends to come a few microseconds after
//! the thread runs out of work (a latency-bound exchange), polling for a
//! short while catches it without sleeping.
//!
//! Polling pays only when the first look finds nothing and a later one
//! finds something: then a blocking wait would have slept. When the first
//! look already finds events (many busy connections), a blocking wait
//! would have returned at once too, and polling would only trade large
//! batches of events for small ones; when no look finds anything, the
//! processor time was wasted. So the window doubles after a poll that
//! paid, and widens to cover a wait (polling included) that really slept
//! and ended within the limit; it halves after a poll that did not pay,
//! and soon reaches zero when waits last longer than the limit: an idle, a
//! sparsely loaded or a fully loaded context does not poll.

use crate::sync::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

/// The smallest window worth polling (and the first one tried).
const START_NS: u32 = 8_000;
/// A blocking wait shorter than this did not really sleep: its events were
/// there already.
const SLEPT_NS: u64 = 2_000;

/// How a poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    /// The first look found events: a blocking wait would not have slept.
    AtOnce,
    /// A later look found events: polling saved a sleep.
    Later,
    /// Nothing came within the window.
    Empty,
}

/// A wait that reports more ready descriptors than this means several
/// connections are busy at once: then the thread rarely sleeps long, and
/// polling would only trade large batches of events for small ones (and
/// take processor time that the peers need). Polling stays off for
/// [`BUSY_HOLD`] waits after such a wait.
const ONE_AT_A_TIME: u32 = 1;
const BUSY_HOLD: u32 = 16;

pub(crate) struct BusyPoll {
    /// Current window, in nanoseconds (0: block at once).
    window_ns: AtomicU32,
    /// Waits to go before polling may start again (see [`BUSY_HOLD`]).
    busy_hold: AtomicU32,
}

impl BusyPoll {
    pub(crate) fn new() -> Self {
        BusyPoll {
            window_ns: AtomicU32::new(0),
            busy_hold: AtomicU32::new(0),
        }
    }

    /// How long to poll before blocking for at most `timeout`, given the
    /// configured maximum `max_ns` (0: never poll).
    pub(crate) fn window(&self, max_ns: u32, timeout: Option<Duration>) -> Option<Duration> {
        let w = self.window_ns.load(Relaxed).min(max_ns);
        if w == 0 || self.busy_hold.load(Relaxed) > 0 {
            return None;
        }
        let w = Duration::from_nanos(w.into());
        Some(timeout.map_or(w, |t| t.min(w)))
    }

    /// A wait or a poll reported `n` ready descriptors.
    // Only the epoll poller reports ready descriptors.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn reported(&self, n: usize) {
        let hold = self.busy_hold.load(Relaxed);
        let next = if n > ONE_AT_A_TIME as usize {
            BUSY_HOLD
        } else {
            hold.saturating_sub(1)
        };
        if next != hold {
            self.busy_hold.store(next, Relaxed);
        }
    }

    /// A poll ended so.
    pub(crate) fn polled(&self, how: Polled, max_ns: u32) {
        let w = self.window_ns.load(Relaxed);
        let next = match how {
            Polled::Later => w.saturating_mul(2).min(max_ns),
            Polled::AtOnce | Polled::Empty if w / 2 < START_NS => 0,
            Polled::AtOnce | Polled::Empty => w / 2,
        };
        self.window_ns.store(next, Relaxed);
    }

    /// A thread that had been waiting for `idle` (its polling included)
    /// was woken by an event. If a window within the limit would have
    /// caught it, and the thread really slept, polling would have saved
    /// the sleep: the window grows to cover such a wait.
    pub(crate) fn woke(&self, idle: Duration, max_ns: u32) {
        let idle_ns = u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX);
        if max_ns == 0 || idle_ns <= SLEPT_NS || idle_ns > u64::from(max_ns) {
            return;
        }
        let cover = (idle_ns * 2).clamp(u64::from(START_NS), u64::from(max_ns)) as u32;
        let w = self.window_ns.load(Relaxed);
        if cover > w {
            self.window_ns.store(cover, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 50_000;

    #[test]
    fn starts_blocking_and_grows_when_polling_saves_sleeps() {
        let b = BusyPoll::new();
        assert_eq!(b.window(MAX, None), None);
        b.woke(Duration::from_micros(3), MAX);
        assert_eq!(
            b.window(MAX, None),
            Some(Duration::from_nanos(START_NS.into()))
        );
        b.polled(Polled::Later, MAX);
        b.polled(Polled::Later, MAX);
        b.polled(Polled::Later, MAX);
        assert_eq!(b.window(MAX, None), Some(Duration::from_nanos(MAX.into())));
        assert_eq!(
            b.window(MAX, Some(Duration::from_micros(5))),
            Some(Duration::from_micros(5)),
            "never past the caller's timeout"
        );
    }

    #[test]
    fn polls_that_do_not_pay_and_long_sleeps_turn_it_off() {
        for how in [Polled::Empty, Polled::AtOnce] {
            let b = BusyPoll::new();
            b.woke(Duration::from_micros(10), MAX);
            b.polled(Polled::Later, MAX);
            b.polled(Polled::Later, MAX);
            b.woke(Duration::from_secs(1), MAX); // a long sleep does not grow it
            b.woke(Duration::from_micros(60), MAX); // nor one past the limit
            for _ in 0..4 {
                b.polled(how, MAX);
            }
            assert_eq!(b.window(MAX, None), None, "{how:?}");
        }
    }

    #[test]
    fn waits_that_found_events_ready_do_not_start_polling() {
        let b = BusyPoll::new();
        b.woke(Duration::from_nanos(500), MAX);
        assert_eq!(b.window(MAX, None), None);
    }

    #[test]
    fn a_wait_the_window_missed_but_the_limit_covers_widens_it() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(20), MAX);
        assert_eq!(b.window(MAX, None), Some(Duration::from_micros(40)));
        // An empty poll halves it; the wait that follows, 20 us in all,
        // widens it again to cover such waits, not merely doubling back.
        b.polled(Polled::Empty, MAX);
        b.woke(Duration::from_micros(20), MAX);
        assert_eq!(b.window(MAX, None), Some(Duration::from_micros(40)));
    }

    #[test]
    fn waits_longer_than_the_limit_turn_it_off() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(20), MAX);
        for _ in 0..4 {
            b.polled(Polled::Empty, MAX);
            b.woke(Duration::from_micros(60), MAX);
        }
        assert_eq!(b.window(MAX, None), None);
    }

    #[test]
    fn a_zero_maximum_never_polls() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(10), 0);
        assert_eq!(b.window(0, None), None);
    }
}
