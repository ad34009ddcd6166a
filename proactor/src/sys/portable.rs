//! The readiness source where proactor has no I/O backend yet: timers and
//! wake-ups work (a condition variable with a timeout); registering a
//! descriptor fails with `Unsupported`.

use crate::busy_poll::BusyPoll;
use crate::reactor::descriptor::DescriptorState;
use crate::sync::{self, Condvar, Mutex};
use std::io;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    interrupted: bool,
    timer: Option<Instant>,
}

pub(crate) struct Poller {
    state: Mutex<State>,
    cv: Condvar,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        })
    }

    /// Waits until interrupted, the timer is due, or `timeout` passes.
    /// Returns true if the timer is due.
    /// Busy polling does not apply: there is no readiness to poll for.
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        _busy: &BusyPoll,
        _max_poll_ns: u32,
        _on_ready: impl FnMut(NonNull<DescriptorState>, u32),
    ) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut g = sync::lock(&self.state);
        loop {
            let now = Instant::now();
            let fired = g.timer.is_some_and(|t| now >= t);
            if g.interrupted || fired || deadline.is_some_and(|d| now >= d) {
                g.interrupted = false;
                return fired;
            }
            let wake = match (deadline, g.timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            g = match wake {
                None => sync::wait(&self.cv, g),
                Some(w) => sync::wait_timeout(&self.cv, g, w - now),
            };
        }
    }

    pub(crate) fn interrupt(&self) {
        sync::lock(&self.state).interrupted = true;
        self.cv.notify_all();
    }

    pub(crate) fn set_timer(&self, after: Option<Duration>) {
        sync::lock(&self.state).timer = after.and_then(|a| Instant::now().checked_add(a));
        self.cv.notify_all();
    }

    no_descriptors!("proactor has no I/O backend for this platform yet");
}
