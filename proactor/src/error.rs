//! The errors that proactor's operations complete with.
//!
//! Failures are plain [`std::io::Error`]s. A cancelled operation (by
//! `cancel()`, `close()`, dropping its I/O object or a cancellation signal)
//! completes with the platform's "operation aborted" error, as Asio's
//! `error::operation_aborted`: `ECANCELED` on Unix, `ERROR_OPERATION_ABORTED`
//! on Windows.
//!
//! ```
//! let e = proactor::error::operation_aborted();
//! assert!(proactor::error::is_operation_aborted(&e));
//! assert!(!proactor::error::is_operation_aborted(&std::io::ErrorKind::TimedOut.into()));
//! ```

use std::io;

#[cfg(unix)]
const ABORTED: i32 = libc::ECANCELED;
#[cfg(windows)]
const ABORTED: i32 = 995; // ERROR_OPERATION_ABORTED
#[cfg(not(any(unix, windows)))]
const ABORTED: i32 = 125;

/// The error a cancelled operation completes with.
pub fn operation_aborted() -> io::Error {
    io::Error::from_raw_os_error(ABORTED)
}

/// True if `e` says that its operation was cancelled (also when a composed
/// operation records how far it got; see [`bytes_transferred`]).
pub fn is_operation_aborted(e: &io::Error) -> bool {
    root_cause(e).raw_os_error() == Some(ABORTED)
}

/// How far a composed operation got before it failed: carried inside the
/// error it completes with (see [`bytes_transferred`]).
#[derive(Debug)]
struct Transferred {
    bytes: usize,
    source: io::Error,
}

impl std::fmt::Display for Transferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (after {} bytes)", self.source, self.bytes)
    }
}

impl std::error::Error for Transferred {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `e`, recording that `bytes` were transferred before it happened (kept
/// as is if none were). The kind stays `e`'s. If `e` records bytes already
/// (the failing operation moved some itself: a completion backend's
/// cancelled send), the record counts both.
pub(crate) fn after_transfer(e: io::Error, bytes: usize) -> io::Error {
    let (e, bytes) = match transferred(&e).map(|t| t.bytes) {
        Some(inner) => match e.into_inner().map(|b| b.downcast::<Transferred>()) {
            Some(Ok(t)) => (t.source, bytes + inner),
            _ => unreachable!("the error was seen to hold a record"),
        },
        None => (e, bytes),
    };
    if bytes == 0 {
        return e;
    }
    io::Error::new(e.kind(), Transferred { bytes, source: e })
}

fn transferred(e: &io::Error) -> Option<&Transferred> {
    e.get_ref()?.downcast_ref::<Transferred>()
}

/// The number of bytes a failed [`async_write`](crate::async_write) or
/// [`async_read`](crate::async_read) moved before it failed (0 for any
/// other error). Those bytes were written (or read into the buffer) and
/// stay so: a write cancelled half-way can be resumed from there.
///
/// ```
/// let e = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
/// assert_eq!(proactor::error::bytes_transferred(&e), 0);
/// ```
pub fn bytes_transferred(e: &io::Error) -> usize {
    transferred(e).map_or(0, |t| t.bytes)
}

/// The error underneath any record of bytes transferred: what the
/// operating system reported.
///
/// ```
/// let e = proactor::error::operation_aborted();
/// assert_eq!(proactor::error::root_cause(&e).raw_os_error(), e.raw_os_error());
/// ```
pub fn root_cause(e: &io::Error) -> &io::Error {
    transferred(e).map_or(e, |t| &t.source)
}
