//! What a completion packet's status means, as the error the operation
//! completes with.
//!
//! A packet carries the kernel's `NTSTATUS` (in `OVERLAPPED::Internal`),
//! not the Winsock error a synchronous call would have set. The generic
//! conversion (`RtlNtStatusToDosError`) turns socket failures into
//! file-system codes (a refused connect becomes `ERROR_CONNECTION_REFUSED`,
//! which `std` does not map to `ErrorKind::ConnectionRefused`), so the
//! statuses sockets produce are mapped to their Winsock errors first: the
//! same errors, and so the same `ErrorKind`s, as the synchronous calls and
//! the Linux backend report.

use std::io;
use windows_sys::Win32::Foundation::{
    RtlNtStatusToDosError, ERROR_MORE_DATA, ERROR_OPERATION_ABORTED, NTSTATUS,
    STATUS_ACCESS_DENIED, STATUS_ADDRESS_ALREADY_EXISTS, STATUS_BUFFER_OVERFLOW, STATUS_CANCELLED,
    STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_REFUSED, STATUS_CONNECTION_RESET,
    STATUS_GRACEFUL_DISCONNECT, STATUS_HOST_UNREACHABLE, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_ADDRESS_COMPONENT, STATUS_INVALID_CONNECTION, STATUS_IO_TIMEOUT,
    STATUS_LOCAL_DISCONNECT, STATUS_NETWORK_UNREACHABLE, STATUS_PIPE_DISCONNECTED,
    STATUS_PORT_UNREACHABLE, STATUS_REMOTE_DISCONNECT, STATUS_SUCCESS,
};
use windows_sys::Win32::Networking::WinSock::{
    WSAEACCES, WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAECONNABORTED, WSAECONNREFUSED, WSAECONNRESET,
    WSAEDISCON, WSAEHOSTUNREACH, WSAENETUNREACH, WSAENOBUFS, WSAENOTCONN, WSAESHUTDOWN,
    WSAETIMEDOUT,
};

/// The outcome of a dequeued operation: `bytes` transferred, or the error
/// its `status` stands for. An operation can fail after moving bytes (a
/// send cancelled half-way reports what it sent): the error then records
/// them (`error::bytes_transferred`), as a composed operation's does.
pub(crate) fn result(status: NTSTATUS, bytes: u32) -> io::Result<usize> {
    let code = match status {
        STATUS_SUCCESS => return Ok(bytes as usize),
        // A message larger than the buffer (a datagram, a message-mode
        // pipe's message): what fitted was received, and the rest is lost
        // or waits for the next read. Operations that keep what fitted
        // turn this back into a success (see `what_fitted`).
        STATUS_BUFFER_OVERFLOW => ERROR_MORE_DATA as i32,
        STATUS_CANCELLED => ERROR_OPERATION_ABORTED as i32,
        STATUS_CONNECTION_REFUSED => WSAECONNREFUSED,
        STATUS_CONNECTION_RESET | STATUS_REMOTE_DISCONNECT => WSAECONNRESET,
        // This side's stack dropped the connection (Asio and libuv say
        // "aborted" too).
        STATUS_LOCAL_DISCONNECT => WSAECONNABORTED,
        STATUS_INVALID_CONNECTION => WSAENOTCONN,
        STATUS_INSUFFICIENT_RESOURCES => WSAENOBUFS,
        STATUS_ACCESS_DENIED => WSAEACCES,
        STATUS_GRACEFUL_DISCONNECT => WSAEDISCON,
        // An ICMP "port unreachable" reported on a UDP socket.
        STATUS_PORT_UNREACHABLE => WSAECONNRESET,
        STATUS_CONNECTION_ABORTED => WSAECONNABORTED,
        STATUS_PIPE_DISCONNECTED => WSAESHUTDOWN,
        STATUS_IO_TIMEOUT => WSAETIMEDOUT,
        STATUS_NETWORK_UNREACHABLE => WSAENETUNREACH,
        STATUS_HOST_UNREACHABLE => WSAEHOSTUNREACH,
        STATUS_ADDRESS_ALREADY_EXISTS => WSAEADDRINUSE,
        STATUS_INVALID_ADDRESS_COMPONENT => WSAEADDRNOTAVAIL,
        // SAFETY: a pure table look-up on a status value.
        other => (unsafe { RtlNtStatusToDosError(other) }) as i32,
    };
    Err(crate::error::after_transfer(
        io::Error::from_raw_os_error(code),
        bytes as usize,
    ))
}

/// `r`, with a message cut short by the buffer (`ERROR_MORE_DATA`, from
/// [`result`]) counted as a success with the bytes that fitted: what a
/// datagram socket reports on Linux too.
pub(crate) fn what_fitted(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Err(e) if crate::error::root_cause(&e).raw_os_error() == Some(ERROR_MORE_DATA as i32) => {
            Ok(crate::error::bytes_transferred(&e))
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{bytes_transferred, is_operation_aborted};

    #[test]
    fn socket_statuses_become_the_errors_winsock_reports() {
        let kind = |s| result(s, 0).unwrap_err().kind();
        assert_eq!(
            kind(STATUS_CONNECTION_REFUSED),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            kind(STATUS_CONNECTION_RESET),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            kind(STATUS_CONNECTION_ABORTED),
            io::ErrorKind::ConnectionAborted
        );
        assert_eq!(kind(STATUS_IO_TIMEOUT), io::ErrorKind::TimedOut);
        assert_eq!(
            kind(STATUS_LOCAL_DISCONNECT),
            io::ErrorKind::ConnectionAborted
        );
        assert_eq!(kind(STATUS_INVALID_CONNECTION), io::ErrorKind::NotConnected);
        assert_eq!(kind(STATUS_ACCESS_DENIED), io::ErrorKind::PermissionDenied);
        assert!(is_operation_aborted(
            &result(STATUS_CANCELLED, 0).unwrap_err()
        ));
    }

    #[test]
    fn successes_and_truncated_datagrams_report_their_bytes() {
        assert_eq!(result(STATUS_SUCCESS, 7).unwrap(), 7);
        assert_eq!(result(STATUS_SUCCESS, 0).unwrap(), 0);
        assert_eq!(what_fitted(result(STATUS_SUCCESS, 7)).unwrap(), 7);
        assert_eq!(what_fitted(result(STATUS_BUFFER_OVERFLOW, 64)).unwrap(), 64);
        assert!(is_operation_aborted(
            &what_fitted(result(STATUS_CANCELLED, 0)).unwrap_err()
        ));
    }

    #[test]
    fn a_message_cut_short_is_an_error_that_records_what_fitted() {
        let e = result(STATUS_BUFFER_OVERFLOW, 64).unwrap_err();
        assert_eq!(
            crate::error::root_cause(&e).raw_os_error(),
            Some(ERROR_MORE_DATA as i32)
        );
        assert_eq!(bytes_transferred(&e), 64);
    }

    #[test]
    fn a_failure_after_some_bytes_records_them() {
        let e = result(STATUS_CANCELLED, 80_000).unwrap_err();
        assert!(is_operation_aborted(&e));
        assert_eq!(bytes_transferred(&e), 80_000);
        // Counted once more by a composed operation that had written
        // earlier: the record is the sum, the cause still "aborted".
        let e = crate::error::after_transfer(e, 100);
        assert!(is_operation_aborted(&e));
        assert_eq!(bytes_transferred(&e), 80_100);
    }
}
