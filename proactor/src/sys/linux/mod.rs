//! Linux: two backends, chosen when a context creates its reactor.
//!
//! * epoll (`epoll.rs`), the default: readiness, as Asio's `epoll_reactor`.
//! * io_uring (`uring.rs`): completions, as Asio's `io_uring_service`.
//!
//! `PROACTOR_BACKEND=io_uring` (or `epoll`) in the environment picks one.
//! A kernel that refuses io_uring, or lacks what the backend needs, gets
//! epoll, and the process says so once on standard error.

pub(crate) mod epoll;
pub(crate) mod futex;
pub(crate) mod uring;

use crate::busy_poll::BusyPoll;
use crate::reactor::descriptor::DescriptorState;
use crate::reactor::op::RawFd;
use std::io;
use std::ptr::NonNull;
use std::sync::Once;
use std::time::Duration;

/// A context's backend on Linux. (It lives in the reactor's one
/// allocation: boxing the ring would only add a hop to every use.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Poller {
    Epoll(epoll::Poller),
    Uring(uring::Ring),
}

/// The backend the environment asks for.
fn wants_uring() -> bool {
    match std::env::var("PROACTOR_BACKEND") {
        Ok(v) if v == "io_uring" => true,
        Ok(v) if v == "epoll" || v.is_empty() => false,
        Ok(v) => {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "proactor: unknown PROACTOR_BACKEND={v:?} (epoll or io_uring): using epoll"
                )
            });
            false
        }
        Err(_) => false,
    }
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        if wants_uring() {
            match uring::Ring::new() {
                Ok(r) => return Ok(Poller::Uring(r)),
                Err(e) => {
                    static WARNED: Once = Once::new();
                    WARNED.call_once(|| {
                        eprintln!(
                            "proactor: PROACTOR_BACKEND=io_uring, but the kernel refused io_uring ({e}): using epoll"
                        )
                    });
                }
            }
        }
        epoll::Poller::new().map(Poller::Epoll)
    }

    /// The ring, if this is the io_uring backend.
    #[inline]
    pub(crate) fn ring(&self) -> Option<&uring::Ring> {
        match self {
            Poller::Uring(r) => Some(r),
            Poller::Epoll(_) => None,
        }
    }

    /// See [`epoll::Poller::wait`] (the ring is waited on through
    /// [`Poller::ring`]).
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        busy: &BusyPoll,
        max_poll_ns: u32,
        on_ready: impl FnMut(NonNull<DescriptorState>, u32),
    ) -> bool {
        match self {
            Poller::Epoll(p) => p.wait(timeout, busy, max_poll_ns, on_ready),
            Poller::Uring(_) => unreachable!("the ring is not waited on for readiness"),
        }
    }

    pub(crate) fn interrupt(&self) {
        match self {
            Poller::Epoll(p) => p.interrupt(),
            Poller::Uring(r) => r.interrupt(),
        }
    }

    pub(crate) fn set_timer(&self, after: Option<Duration>) {
        match self {
            Poller::Epoll(p) => p.set_timer(after),
            Poller::Uring(r) => r.set_timer(after),
        }
    }

    /// Registers `fd` for readiness (the ring needs no registration).
    pub(crate) fn register(&self, fd: RawFd, state: NonNull<DescriptorState>) -> io::Result<u32> {
        match self {
            Poller::Epoll(p) => p.register(fd, state),
            Poller::Uring(_) => Ok(0),
        }
    }

    pub(crate) fn want_write(
        &self,
        fd: RawFd,
        state: NonNull<DescriptorState>,
        current: u32,
    ) -> io::Result<u32> {
        match self {
            Poller::Epoll(p) => p.want_write(fd, state, current),
            Poller::Uring(_) => Ok(current),
        }
    }

    pub(crate) fn deregister(&self, fd: RawFd) {
        match self {
            Poller::Epoll(p) => p.deregister(fd),
            Poller::Uring(_) => {}
        }
    }
}
