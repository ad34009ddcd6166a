//! Sockets as the completion port sees them: associating one, cancelling
//! its overlapped operations, closing it, and borrowing it for one call.
//!
//! The reactor keeps a socket in its descriptor state as a `RawFd` (an
//! `i64` off Unix) so that the state and its locking are shared with the
//! other platforms; [`socket`] turns it back into the `SOCKET` it holds.

use super::iocp::CompletionPort;
use crate::reactor::op::RawFd;
use socket2::SockRef;
use std::io;
use std::os::windows::io::{BorrowedSocket, IntoRawSocket, OwnedSocket, RawSocket};
use std::ptr;
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Networking::WinSock::{
    closesocket, getsockopt, SOCKET, SOCKET_ERROR, SOL_SOCKET, SO_PROTOCOL_INFOW,
    WSAPROTOCOL_INFOW, XP1_IFS_HANDLES,
};
use windows_sys::Win32::Storage::FileSystem::SetFileCompletionNotificationModes;
use windows_sys::Win32::System::WindowsProgramming::{
    FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, FILE_SKIP_SET_EVENT_ON_HANDLE,
};
use windows_sys::Win32::System::IO::{CancelIoEx, OVERLAPPED};

/// The socket a descriptor state holds.
pub(crate) fn socket(fd: RawFd) -> SOCKET {
    fd as SOCKET
}

/// What a descriptor state holds for `s`, which it now owns.
pub(crate) fn into_fd(s: OwnedSocket) -> RawFd {
    s.into_raw_socket() as RawFd
}

/// The descriptor state's number for a socket it is about to own.
pub(crate) fn fd_of(s: &OwnedSocket) -> RawFd {
    std::os::windows::io::AsRawSocket::as_raw_socket(s) as RawFd
}

/// Associates `s` with `port` under `key`, and asks the kernel to queue no
/// packet for operations that finish inside their call (their initiator
/// completes them, see `ops.rs`). Returns whether that request was
/// granted: where it was not (a layered provider may refuse it), every
/// operation's packet comes, success or not.
pub(crate) fn associate(port: &CompletionPort, s: SOCKET, key: usize) -> io::Result<bool> {
    port.associate(s as HANDLE, key)?;
    if !ifs_handles(s) {
        return Ok(false);
    }
    let modes = (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE) as u8;
    // SAFETY: `s` is a live socket handle.
    Ok(unsafe { SetFileCompletionNotificationModes(s as HANDLE, modes) } != 0)
}

/// Whether `s`'s provider hands out real file-system handles. A layered
/// provider that does not (`XP1_IFS_HANDLES` unset) may accept the request
/// to skip packets on success and then complete operations wrongly, so
/// skipping is asked for only where it holds (an unreadable answer counts
/// as "no").
fn ifs_handles(s: SOCKET) -> bool {
    // SAFETY: all-zero is a valid (empty) protocol description.
    let mut info: WSAPROTOCOL_INFOW = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<WSAPROTOCOL_INFOW>() as i32;
    // SAFETY: `info` and `len` describe a writable buffer of that size.
    let r = unsafe {
        getsockopt(
            s,
            SOL_SOCKET,
            SO_PROTOCOL_INFOW,
            ptr::addr_of_mut!(info).cast(),
            &mut len,
        )
    };
    r != SOCKET_ERROR && info.dwServiceFlags1 & XP1_IFS_HANDLES != 0
}

/// Asks the kernel to cancel `ovl` on `s` (all of its operations if `ovl`
/// is null). Cancelled operations still deliver their packet (status
/// "cancelled"), and only that packet ends them: the return value says
/// nothing reliable (wine 8 reports success with nothing pending), so it is
/// ignored.
pub(crate) fn cancel(s: SOCKET, ovl: *const OVERLAPPED) {
    // SAFETY: `s` is a handle value and `ovl` an address; the kernel only
    // compares them with its pending requests, so a stale pair cancels
    // nothing.
    unsafe { CancelIoEx(s as HANDLE, ovl) };
}

/// Cancels every operation on `s`, then closes it. The cancelled
/// operations' packets arrive afterwards.
pub(crate) fn close(s: SOCKET) -> io::Result<()> {
    cancel(s, ptr::null());
    // SAFETY: the caller owned `s` and has forgotten it.
    if unsafe { closesocket(s) } == SOCKET_ERROR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` with the descriptor state's socket, for one call.
pub(crate) fn with_sock<R>(fd: RawFd, f: impl FnOnce(SockRef<'_>) -> R) -> R {
    // SAFETY: callers run under the descriptor's lock while it is open
    // (`Reactor::with_fd`, the operation starters), and the borrow does
    // not outlive `f`.
    let s = unsafe { BorrowedSocket::borrow_raw(fd as RawSocket) };
    f(SockRef::from(&s))
}

/// Stops `s` (a UDP socket) from failing its next receive with
/// `WSAECONNRESET` after a datagram it sent met "port unreachable": an
/// unconnected Linux socket reports nothing then, and a server must not
/// lose its receive because one client went away. Best effort: a provider
/// that does not know the request keeps its behaviour.
pub(crate) fn ignore_port_unreachable(s: &OwnedSocket) {
    let off: u32 = 0;
    let mut got = 0u32;
    let raw = std::os::windows::io::AsRawSocket::as_raw_socket(s) as SOCKET;
    // SAFETY: `off` is readable for its size; no output, not overlapped.
    unsafe {
        windows_sys::Win32::Networking::WinSock::WSAIoctl(
            raw,
            windows_sys::Win32::Networking::WinSock::SIO_UDP_CONNRESET,
            ptr::addr_of!(off).cast(),
            std::mem::size_of::<u32>() as u32,
            ptr::null_mut(),
            0,
            &mut got,
            ptr::null_mut(),
            None,
        )
    };
}
