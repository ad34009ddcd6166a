//! Adaptive busy polling: how long a thread about to block for I/O first
//! polls instead (as the kernel's halt-polling does for idle virtual CPUs).
//!
//! Blocking costs a wake-up when the next event comes, and on virtual
//! machines a wake-up can take tens of microseconds: longer than a loopback
//! round trip. When events have been arriving within microseconds of each
//! other, polling for a short while catches the next one without sleeping.
//! The window adapts: it grows when a poll caught an event, or when a
//! blocking wait ended soon after it began, and halves when a poll ran out
//! empty, so an idle or sparsely loaded context soon stops polling at all.

use crate::sync::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

/// The smallest window worth polling (and the first one tried).
const START_NS: u32 = 8_000;
/// A blocking wait shorter than this many windows means events come close
/// together: polling would likely have caught this one.
const GROW_BELOW_MAX: u32 = 4;

pub(crate) struct BusyPoll {
    /// Current window, in nanoseconds (0: block at once).
    window_ns: AtomicU32,
}

// Only the epoll poller polls; the portable one takes it and ignores it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl BusyPoll {
    pub(crate) fn new() -> Self {
        BusyPoll {
            window_ns: AtomicU32::new(0),
        }
    }

    /// How long to poll before blocking for at most `timeout`, given the
    /// configured maximum `max_ns` (0: never poll).
    pub(crate) fn window(&self, max_ns: u32, timeout: Option<Duration>) -> Option<Duration> {
        let w = self.window_ns.load(Relaxed).min(max_ns);
        if w == 0 {
            return None;
        }
        let w = Duration::from_nanos(w.into());
        Some(timeout.map_or(w, |t| t.min(w)))
    }

    /// A poll caught an event (`hit`) or ran out empty.
    pub(crate) fn polled(&self, hit: bool, max_ns: u32) {
        let w = self.window_ns.load(Relaxed);
        let next = if hit {
            w.saturating_mul(2).min(max_ns)
        } else if w / 2 < START_NS {
            0
        } else {
            w / 2
        };
        self.window_ns.store(next, Relaxed);
    }

    /// A blocking wait that lasted `slept` was ended by an event.
    pub(crate) fn woke(&self, slept: Duration, max_ns: u32) {
        let soon = Duration::from_nanos(u64::from(max_ns) * u64::from(GROW_BELOW_MAX));
        if max_ns != 0 && slept < soon {
            let w = self.window_ns.load(Relaxed);
            let next = w.saturating_mul(2).max(START_NS).min(max_ns);
            self.window_ns.store(next, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 50_000;

    #[test]
    fn starts_blocking_and_grows_when_events_come_quickly() {
        let b = BusyPoll::new();
        assert_eq!(b.window(MAX, None), None);
        b.woke(Duration::from_micros(30), MAX);
        assert_eq!(
            b.window(MAX, None),
            Some(Duration::from_nanos(START_NS.into()))
        );
        b.polled(true, MAX);
        b.polled(true, MAX);
        b.polled(true, MAX);
        assert_eq!(b.window(MAX, None), Some(Duration::from_nanos(MAX.into())));
        assert_eq!(
            b.window(MAX, Some(Duration::from_micros(5))),
            Some(Duration::from_micros(5)),
            "never past the caller's timeout"
        );
    }

    #[test]
    fn empty_polls_and_long_sleeps_turn_it_off() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(10), MAX);
        b.polled(true, MAX);
        b.polled(true, MAX);
        b.woke(Duration::from_secs(1), MAX); // a long sleep does not grow it
        for _ in 0..4 {
            b.polled(false, MAX);
        }
        assert_eq!(b.window(MAX, None), None);
    }

    #[test]
    fn a_zero_maximum_never_polls() {
        let b = BusyPoll::new();
        b.woke(Duration::from_micros(1), 0);
        assert_eq!(b.window(0, None), None);
    }
}
