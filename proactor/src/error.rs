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

/// True if `e` says that its operation was cancelled.
pub fn is_operation_aborted(e: &io::Error) -> bool {
    e.raw_os_error() == Some(ABORTED)
}
