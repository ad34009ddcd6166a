//! The overlapped socket operations: each issues its Winsock call with the
//! `OVERLAPPED` of its block and turns the kernel's result into the
//! handler's arguments. They have the names and constructors of the Unix
//! readiness operations (`io/ops.rs`), so that the I/O objects and the
//! initiating functions are written once.
//!
//! Everything a call hands the kernel (the buffer, the `WSABUF`, the
//! flags, the addresses) lives in the operation, inside its block, which
//! stays where it is until the completion is dequeued.
//!
//! * [`transfer`]: `WSARecv` and `WSASend` (streams, connected datagrams).
//! * [`datagram`]: `WSARecvFrom` and `WSASendTo`.
//! * [`connection`]: `AcceptEx` and `ConnectEx`.

mod connection;
mod datagram;
mod transfer;

pub(crate) use super::socket::with_sock;
pub(crate) use connection::{AcceptAs, ConnectWait, FromFd};
pub(crate) use datagram::{RecvFrom, SendTo};
pub(crate) use transfer::{ReadSome, WriteSome};

use crate::completion::Completion;
use socket2::SockAddr;
use std::io;
use std::net::SocketAddr;
use windows_sys::Win32::Networking::WinSock::{SOCKET, SOCKET_ERROR, WSABUF, WSA_IO_PENDING};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// How an issued call went.
pub(crate) enum Issued {
    /// The kernel holds the operation: its packet will come.
    Pending,
    /// It finished inside the call, moving this many bytes. A packet comes
    /// anyway unless the socket skips packets on success.
    Done(usize),
    /// It failed inside the call (no packet comes), or it needed no call.
    Now(io::Result<usize>),
}

/// An operation issued on a socket associated with the port.
pub(crate) trait Overlapped: Completion {
    /// Issues the call on `s` with `ovl`.
    ///
    /// # Safety
    /// `ovl` is this operation's zeroed slot, in the block that holds
    /// `self`; the block stays where it is until the completion is
    /// dequeued. Once the call has handed the operation to the kernel,
    /// `issue` touches neither again (another thread may already run it).
    unsafe fn issue(&mut self, s: SOCKET, ovl: *mut OVERLAPPED) -> Issued;
}

/// The outcome of a Winsock call that returns 0 on success.
pub(super) fn issued(ret: i32, bytes: u32) -> Issued {
    if ret != SOCKET_ERROR {
        return Issued::Done(bytes as usize);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(WSA_IO_PENDING) => Issued::Pending,
        _ => Issued::Now(Err(e)),
    }
}

/// The outcome of an extension call that returns a `BOOL`.
pub(super) fn issued_bool(ok: i32, bytes: u32) -> Issued {
    issued(if ok != 0 { 0 } else { SOCKET_ERROR }, bytes)
}

/// A `WSABUF` over `len` bytes at `p` (at most 4 GiB - 1 in one call).
pub(super) fn wsabuf(p: *mut u8, len: usize) -> Wsabuf {
    Wsabuf(WSABUF {
        len: len.min(u32::MAX as usize) as u32,
        buf: p,
    })
}

/// A `WSABUF` kept in an operation: it points into the operation's own
/// buffer, which travels with it.
pub(super) struct Wsabuf(pub(super) WSABUF);

// SAFETY: the pointer is into the buffer owned by the same operation (or
// null), so it moves between threads with that buffer.
unsafe impl Send for Wsabuf {}

/// How the bytes are moved: sockets only, on Windows.
#[derive(Clone, Copy)]
pub(crate) enum Io {
    Socket,
}

/// A `SocketAddr` from a socket address, if it is an IP one.
pub(crate) fn ip_addr(a: &SockAddr) -> io::Result<SocketAddr> {
    a.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}
