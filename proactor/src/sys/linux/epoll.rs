//! The Linux readiness source: epoll, an eventfd interrupter and a timerfd
//! (as Asio's `epoll_reactor`).
//!
//! * Descriptors are registered once, edge-triggered, for input, priority
//!   data, errors and hang-up; output interest is added the first time a
//!   write has to wait.
//! * The interrupter is an eventfd made readable once and never read:
//!   re-arming it with `EPOLL_CTL_MOD` produces a fresh edge, so breaking a
//!   thread out of `epoll_wait` costs one system call and no reads.
//! * The timerfd is armed (relative, monotonic) for the earliest timer, so a
//!   new earliest timer needs no interruption.

use crate::busy_poll::{BusyPoll, Polled};
use crate::reactor::descriptor::{ready, DescriptorState};
use crate::reactor::op::RawFd;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// Spin between empty polls: from this long, doubling up to the maximum.
const GAP_MIN_NS: u64 = 500;
const GAP_MAX_NS: u64 = 4_000;
const INTERRUPTER: u64 = 0;
const TIMER: u64 = 1;
const EVENTS_PER_WAIT: usize = 128;

/// Interest for every registered descriptor.
const BASE: u32 = (libc::EPOLLIN
    | libc::EPOLLRDHUP
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLPRI
    | libc::EPOLLET) as u32;

pub(crate) struct Poller {
    epoll: OwnedFd,
    interrupter: OwnedFd,
    timer: OwnedFd,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `fd` was just returned by a successful system call and is
    // owned by nobody else.
    cvt(fd).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        // SAFETY: plain system calls creating new descriptors.
        let epoll = owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        let interrupter =
            owned(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        let timer = owned(unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
            )
        })?;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        let w = unsafe { libc::write(interrupter.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if w != 8 {
            return Err(io::Error::last_os_error());
        }
        let p = Poller {
            epoll,
            interrupter,
            timer,
        };
        p.ctl(
            libc::EPOLL_CTL_ADD,
            p.interrupter.as_raw_fd(),
            Self::interrupter_events(),
            INTERRUPTER,
        )?;
        p.ctl(
            libc::EPOLL_CTL_ADD,
            p.timer.as_raw_fd(),
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            TIMER,
        )?;
        Ok(p)
    }

    fn interrupter_events() -> u32 {
        (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLET) as u32
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, key: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: key };
        // SAFETY: `ev` is a valid event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    /// Waits for events for at most `timeout` (`None`: until one arrives or
    /// [`Poller::interrupt`]). Reports each ready descriptor; returns true
    /// if the timer went off.
    ///
    /// Before blocking it may poll for a while, as `busy` (the adaptive
    /// window) and `max_poll_ns` (the context's limit) say.
    pub(crate) fn wait(
        &self,
        mut timeout: Option<Duration>,
        busy: &BusyPoll,
        max_poll_ns: u32,
        mut on_ready: impl FnMut(NonNull<DescriptorState>, u32),
    ) -> bool {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT];
        if timeout == Some(Duration::ZERO) {
            let n = self.epoll_wait(&mut events, 0);
            let (fired, found) = Self::dispatch(&events[..n], &mut on_ready);
            busy.reported(found);
            return fired;
        }
        // Since when this thread has been waiting (polling included).
        let idle_since = Instant::now();
        if let Some(window) = busy.window(max_poll_ns, timeout) {
            // A window cut short by the caller's timeout says nothing about
            // whether polling pays.
            let cut = timeout.is_some_and(|t| t <= window);
            let mut gap = Duration::from_nanos(GAP_MIN_NS);
            let mut first = true;
            loop {
                let n = self.epoll_wait(&mut events, 0);
                if n > 0 {
                    let how = if first { Polled::AtOnce } else { Polled::Later };
                    busy.polled(how, max_poll_ns);
                    let (fired, found) = Self::dispatch(&events[..n], &mut on_ready);
                    busy.reported(found);
                    return fired;
                }
                first = false;
                let now = idle_since.elapsed();
                if now >= window {
                    break;
                }
                // Let events gather between polls: fewer system calls,
                // larger batches.
                let until = (now + gap).min(window);
                while idle_since.elapsed() < until {
                    std::hint::spin_loop();
                }
                gap = (gap * 2).min(Duration::from_nanos(GAP_MAX_NS));
            }
            if !cut {
                busy.polled(Polled::Empty, max_poll_ns);
            }
            timeout = timeout.map(|t| t.saturating_sub(idle_since.elapsed()));
        }
        let ms = match timeout {
            None => -1,
            // Round up: waking before the deadline would only spin.
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
        };
        let n = self.epoll_wait(&mut events, ms);
        let idle = idle_since.elapsed();
        let (fired, found) = Self::dispatch(&events[..n], &mut on_ready);
        if found > 0 {
            busy.woke(idle, found, max_poll_ns);
            busy.reported(found);
        }
        fired
    }

    /// One `epoll_wait`; the number of events (0 on error: the caller
    /// simply looks again).
    fn epoll_wait(
        &self,
        events: &mut [libc::epoll_event; EVENTS_PER_WAIT],
        ms: libc::c_int,
    ) -> usize {
        // SAFETY: `events` has room for EVENTS_PER_WAIT entries.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                EVENTS_PER_WAIT as libc::c_int,
                ms,
            )
        };
        n.max(0) as usize
    }

    /// Reports the ready descriptors among `events`; returns whether the
    /// timer went off, and how many descriptors were reported.
    fn dispatch(
        events: &[libc::epoll_event],
        on_ready: &mut impl FnMut(NonNull<DescriptorState>, u32),
    ) -> (bool, usize) {
        let mut fired = false;
        let mut found = 0;
        for ev in events {
            let (bits, key) = (ev.events, ev.u64);
            match key {
                INTERRUPTER => {}
                TIMER => fired = true,
                ptr => {
                    let mut r = 0;
                    if bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
                        r |= ready::READ;
                    }
                    if bits & libc::EPOLLOUT as u32 != 0 {
                        r |= ready::WRITE;
                    }
                    if bits & libc::EPOLLPRI as u32 != 0 {
                        r |= ready::EXCEPT;
                    }
                    if bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                        r |= ready::ERROR;
                    }
                    if bits & (libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0 {
                        r |= ready::READ_CLOSED;
                    }
                    if let Some(state) = NonNull::new(ptr as *mut DescriptorState) {
                        on_ready(state, r);
                        found += 1;
                    }
                }
            }
        }
        (fired, found)
    }

    /// Makes a current or the next [`Poller::wait`] return.
    pub(crate) fn interrupt(&self) {
        // Re-arming the always-readable eventfd produces a new edge.
        let _ = self.ctl(
            libc::EPOLL_CTL_MOD,
            self.interrupter.as_raw_fd(),
            Self::interrupter_events(),
            INTERRUPTER,
        );
    }

    /// Arms the timer to go off after `after` (`None` disarms it).
    pub(crate) fn set_timer(&self, after: Option<Duration>) {
        let value = match after {
            // A zero value would disarm: use the shortest real delay.
            Some(d) => libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos().max(u32::from(d.is_zero())) as libc::c_long,
            },
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `spec` is valid for the call; the old value is not wanted.
        unsafe { libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    }

    /// Registers `fd`, reporting readiness as `state`. Returns the interest
    /// registered.
    pub(crate) fn register(&self, fd: RawFd, state: NonNull<DescriptorState>) -> io::Result<u32> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, BASE, state.as_ptr() as u64)?;
        Ok(BASE)
    }

    /// Makes sure output readiness is reported for `fd`.
    pub(crate) fn want_write(
        &self,
        fd: RawFd,
        state: NonNull<DescriptorState>,
        current: u32,
    ) -> io::Result<u32> {
        let out = libc::EPOLLOUT as u32;
        if current & out != 0 {
            return Ok(current);
        }
        self.ctl(
            libc::EPOLL_CTL_MOD,
            fd,
            current | out,
            state.as_ptr() as u64,
        )?;
        Ok(current | out)
    }

    /// Stops reporting `fd` (before it is closed).
    pub(crate) fn deregister(&self, fd: RawFd) {
        if fd >= 0 {
            let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
        }
    }
}
