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
//!
//! A wait that slept lasts as long as the gap before the event *plus* the
//! wake-up, and a wake-up on a virtual machine can take as long as the
//! limit itself. So a sleep of up to twice the limit may hide a gap that a
//! poll would have caught; judged by the limit alone, it would keep the
//! window shut for good once one late event had closed it (every sleep then
//! looks too long to poll for). Such a sleep, when one event ended it,
//! *probes*: it opens the window to the limit once more. (Several events
//! at once after it are several connections busy, where polling does not
//! pay.) A poll of the whole limit that finds nothing proves the gaps
//! longer than the limit; then the next probes wait for [`PROBE_HOLD_MIN`]
//! sleeps, twice as many after each such poll in a row (up to
//! [`PROBE_HOLD_MAX`]), until a poll pays again.

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

/// Sleeps to let go by, after a poll of the whole limit found nothing,
/// before a sleep of up to twice the limit opens the window again; the
/// hold doubles with each such poll in a row, up to the maximum.
const PROBE_HOLD_MIN: u32 = 8;
const PROBE_HOLD_MAX: u32 = 1024;

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
    /// Sleeps to go before one may probe (see the module documentation).
    probe_hold: AtomicU32,
    /// The hold that the next poll of the whole limit that finds nothing
    /// sets (0: [`PROBE_HOLD_MIN`]).
    probe_backoff: AtomicU32,
}

impl BusyPoll {
    pub(crate) fn new() -> Self {
        BusyPoll {
            window_ns: AtomicU32::new(0),
            busy_hold: AtomicU32::new(0),
            probe_hold: AtomicU32::new(0),
            probe_backoff: AtomicU32::new(0),
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
        match how {
            Polled::Later => self.probe_backoff.store(0, Relaxed),
            Polled::Empty if w >= max_ns => {
                // The whole limit went by without an event: probes wait.
                let hold = match self.probe_backoff.load(Relaxed) {
                    0 => PROBE_HOLD_MIN,
                    h => h.saturating_mul(2).min(PROBE_HOLD_MAX),
                };
                self.probe_backoff.store(hold, Relaxed);
                self.probe_hold.store(hold, Relaxed);
            }
            Polled::AtOnce | Polled::Empty => {}
        }
        let next = match how {
            Polled::Later => w.saturating_mul(2).min(max_ns),
            Polled::AtOnce | Polled::Empty if w / 2 < START_NS => 0,
            Polled::AtOnce | Polled::Empty => w / 2,
        };
        self.window_ns.store(next, Relaxed);
    }

    /// A thread that had been waiting for `idle` (its polling included)
    /// was woken by `found` events (ready descriptors, completions). If a
    /// window within the limit would have caught the first, and the thread
    /// really slept, polling would have saved the sleep: the window grows
    /// to cover such a wait. A sleep of up to twice the limit that ended
    /// with a single event may have been such a wait too, its wake-up
    /// making the rest: it opens the window to the limit, unless a poll of
    /// the whole limit found nothing lately (see the module documentation).
    /// (Several events after such a sleep are several connections busy at
    /// once, where polling does not pay.)
    pub(crate) fn woke(&self, idle: Duration, found: usize, max_ns: u32) {
        let idle_ns = u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX);
        let max = u64::from(max_ns);
        if max_ns == 0 || idle_ns <= SLEPT_NS || idle_ns > 2 * max {
            return;
        }
        if idle_ns > max {
            if found != 1 {
                return;
            }
            let hold = self.probe_hold.load(Relaxed);
            if hold > 0 {
                self.probe_hold.store(hold - 1, Relaxed);
                return;
            }
        }
        let cover = (idle_ns * 2).clamp(u64::from(START_NS), max) as u32;
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
        b.woke(Duration::from_micros(3), 1, MAX);
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
            b.woke(Duration::from_micros(10), 1, MAX);
            b.polled(Polled::Later, MAX);
            b.polled(Polled::Later, MAX);
            b.woke(Duration::from_secs(1), 1, MAX); // a long sleep does not grow it
            b.woke(Duration::from_micros(120), 1, MAX); // nor one past twice the limit
            for _ in 0..4 {
                b.polled(how, MAX);
            }
            assert_eq!(b.window(MAX, None), None, "{how:?}");
        }
    }

    #[test]
    fn waits_that_found_events_ready_do_not_start_polling() {
        let b = BusyPoll::new();
        b.woke(Duration::from_nanos(500), 1, MAX);
        assert_eq!(b.window(MAX, None), None);
    }

    #[test]
    fn a_wait_the_window_missed_but_the_limit_covers_widens_it() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(20), 1, MAX);
        assert_eq!(b.window(MAX, None), Some(Duration::from_micros(40)));
        // An empty poll halves it; the wait that follows, 20 us in all,
        // widens it again to cover such waits, not merely doubling back.
        b.polled(Polled::Empty, MAX);
        b.woke(Duration::from_micros(20), 1, MAX);
        assert_eq!(b.window(MAX, None), Some(Duration::from_micros(40)));
    }

    #[test]
    fn waits_longer_than_twice_the_limit_turn_it_off() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(20), 1, MAX);
        for _ in 0..4 {
            b.polled(Polled::Empty, MAX);
            b.woke(Duration::from_micros(120), 1, MAX);
        }
        assert_eq!(b.window(MAX, None), None);
    }

    const FULL: Option<Duration> = Some(Duration::from_nanos(MAX as u64));

    /// Empty polls until the window is shut.
    fn shut(b: &BusyPoll) {
        while b.window(MAX, None).is_some() {
            b.polled(Polled::Empty, MAX);
        }
    }

    #[test]
    fn a_sleep_that_may_hide_a_short_gap_opens_the_window_again() {
        // Events 30 us apart, and a wake-up that takes 40 us: polling
        // catches every event, but once a late one has shut the window,
        // every wait sleeps and lasts 70 us, past the limit.
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(30), 1, MAX);
        b.polled(Polled::Later, MAX);
        assert_eq!(b.window(MAX, None), FULL);
        // A late event: the window halves below the next gap, and shuts.
        b.polled(Polled::AtOnce, MAX);
        shut(&b);
        b.woke(Duration::from_micros(70), 3, MAX);
        assert_eq!(b.window(MAX, None), None, "not after several events");
        b.woke(Duration::from_micros(70), 1, MAX);
        assert_eq!(b.window(MAX, None), FULL, "the sleep probes");
        b.polled(Polled::Later, MAX);
        assert_eq!(b.window(MAX, None), FULL, "and the probe paid");
    }

    #[test]
    fn a_poll_of_the_whole_limit_that_finds_nothing_holds_the_probes_back() {
        // Events 70 us apart: no window within the limit catches them.
        let b = BusyPoll::new();
        let gap = Duration::from_micros(70);
        b.woke(gap, 1, MAX);
        for hold in [PROBE_HOLD_MIN, 2 * PROBE_HOLD_MIN, 4 * PROBE_HOLD_MIN] {
            assert_eq!(b.window(MAX, None), FULL, "a probe");
            b.polled(Polled::Empty, MAX);
            shut(&b);
            for _ in 0..hold {
                b.woke(gap, 1, MAX);
                assert_eq!(b.window(MAX, None), None, "held back");
            }
            b.woke(gap, 1, MAX);
        }
        // A poll that pays ends the back-off: the next failure holds the
        // probes for the shortest time again.
        b.polled(Polled::Later, MAX);
        b.polled(Polled::Empty, MAX);
        shut(&b);
        for _ in 0..PROBE_HOLD_MIN {
            b.woke(gap, 1, MAX);
        }
        b.woke(gap, 1, MAX);
        assert_eq!(b.window(MAX, None), FULL);
    }

    #[test]
    fn the_probe_hold_stops_growing_at_its_maximum() {
        let b = BusyPoll::new();
        let mut holds = Vec::new();
        for _ in 0..10 {
            // A poll of the whole limit that finds nothing, again and again.
            b.window_ns.store(MAX, Relaxed);
            b.polled(Polled::Empty, MAX);
            holds.push(b.probe_hold.load(Relaxed));
        }
        assert_eq!(holds, [8, 16, 32, 64, 128, 256, 512, 1024, 1024, 1024]);
    }

    #[test]
    fn a_zero_maximum_never_polls() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(10), 1, 0);
        assert_eq!(b.window(0, None), None);
    }
}
