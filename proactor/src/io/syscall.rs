//! The byte-moving system calls of the readiness operations: `recv`,
//! `send`, `read`, `write`, `pread` and `pwrite` on a non-blocking
//! descriptor, one attempt each.
//!
//! On Linux they go to the kernel directly (rustix's raw system calls).
//! libc's wrappers of these calls are cancellation points: in a process
//! with a second thread (the signal dispatcher is one) each call brackets
//! the system call with two atomic updates of the thread's cancellation
//! state, and the error comes back through `errno`. For an echo server
//! that was 115 of about 1,500 instructions per message outside the kernel
//! (callgrind). proactor never cancels threads, so the cancellation points
//! are not missed. Other systems keep libc.
//!
//! Failures are raw error numbers, so that the caller's "retry" and "would
//! block" checks are integer comparisons; [`attempt`] turns the rest into
//! `io::Error`s.

use crate::reactor::op::RawFd;
use std::io;
use std::mem::MaybeUninit;

/// A transfer's byte count, or the error number it failed with.
pub(crate) type Transfer = Result<usize, i32>;

/// Retries `f` on `EINTR`; maps "would block" to `None`.
pub(crate) fn attempt(mut f: impl FnMut() -> Transfer) -> Option<io::Result<usize>> {
    loop {
        match f() {
            Ok(n) => return Some(Ok(n)),
            Err(libc::EINTR) => continue,
            Err(e) if e == libc::EAGAIN || e == libc::EWOULDBLOCK => return None,
            Err(e) => return Some(Err(io::Error::from_raw_os_error(e))),
        }
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::Transfer;
    use crate::io::ops::with_fd;
    use crate::reactor::op::RawFd;
    use rustix::net::{RecvFlags, SendFlags};
    use std::mem::MaybeUninit;

    fn raw(r: rustix::io::Result<usize>) -> Transfer {
        r.map_err(|e| e.raw_os_error())
    }

    pub(crate) fn recv(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> Transfer {
        raw(
            with_fd(fd, |fd| rustix::net::recv(fd, buf, RecvFlags::empty()))
                .map(|(got, _)| got.0.len()),
        )
    }

    /// `MSG_NOSIGNAL`: a peer that has gone away is `EPIPE`, not `SIGPIPE`
    /// (as the io_uring backend's sends and Rust's own sockets do).
    pub(crate) fn send(fd: RawFd, data: &[u8]) -> Transfer {
        raw(with_fd(fd, |fd| {
            rustix::net::send(fd, data, SendFlags::NOSIGNAL)
        }))
    }

    pub(crate) fn read(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> Transfer {
        raw(with_fd(fd, |fd| rustix::io::read(fd, buf)).map(|(got, _)| got.len()))
    }

    pub(crate) fn write(fd: RawFd, data: &[u8]) -> Transfer {
        raw(with_fd(fd, |fd| rustix::io::write(fd, data)))
    }

    pub(crate) fn pread(fd: RawFd, buf: &mut [MaybeUninit<u8>], offset: u64) -> Transfer {
        raw(with_fd(fd, |fd| rustix::io::pread(fd, buf, offset)).map(|(got, _)| got.len()))
    }

    pub(crate) fn pwrite(fd: RawFd, data: &[u8], offset: u64) -> Transfer {
        raw(with_fd(fd, |fd| rustix::io::pwrite(fd, data, offset)))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::Transfer;
    use crate::reactor::op::RawFd;
    use std::io;
    use std::mem::MaybeUninit;

    fn raw(r: isize) -> Transfer {
        if r < 0 {
            Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO))
        } else {
            Ok(r as usize)
        }
    }

    /// An offset as `off_t`, or `EINVAL` (as the kernel says of negative
    /// ones).
    fn off(offset: u64) -> Result<libc::off_t, i32> {
        libc::off_t::try_from(offset).map_err(|_| libc::EINVAL)
    }

    /// Flags 0, as before: not every system here has `MSG_NOSIGNAL`, and
    /// the Rust runtime ignores `SIGPIPE` in binaries.
    pub(crate) fn send(fd: RawFd, data: &[u8]) -> Transfer {
        // SAFETY: `data` is readable for its length; the descriptor is open.
        raw(unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), 0) })
    }

    pub(crate) fn recv(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> Transfer {
        // SAFETY: `buf` is writable for its length; the descriptor is open.
        raw(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) })
    }

    pub(crate) fn read(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> Transfer {
        // SAFETY: `buf` is writable for its length; the descriptor is open.
        raw(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
    }

    pub(crate) fn write(fd: RawFd, data: &[u8]) -> Transfer {
        // SAFETY: `data` is readable for its length; the descriptor is open.
        raw(unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) })
    }

    pub(crate) fn pread(fd: RawFd, buf: &mut [MaybeUninit<u8>], offset: u64) -> Transfer {
        let at = off(offset)?;
        // SAFETY: `buf` is writable for its length; the descriptor is open.
        raw(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), at) })
    }

    pub(crate) fn pwrite(fd: RawFd, data: &[u8], offset: u64) -> Transfer {
        let at = off(offset)?;
        // SAFETY: `data` is readable for its length; the descriptor is open.
        raw(unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), at) })
    }
}

pub(crate) use imp::{pread, pwrite, read, recv, send, write};

/// Reads into `buf` the way `how` says.
pub(crate) fn read_as(how: super::ops::Io, fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> Transfer {
    use super::ops::Io;
    match how {
        Io::Socket => recv(fd, buf),
        Io::Descriptor | Io::File => read(fd, buf),
        Io::At(offset) => pread(fd, buf, offset),
    }
}

/// Writes `data` the way `how` says.
pub(crate) fn write_as(how: super::ops::Io, fd: RawFd, data: &[u8]) -> Transfer {
    use super::ops::Io;
    match how {
        Io::Socket => send(fd, data),
        Io::Descriptor | Io::File => write(fd, data),
        Io::At(offset) => pwrite(fd, data, offset),
    }
}
