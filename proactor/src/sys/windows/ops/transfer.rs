//! Moving bytes on a connected socket: `WSARecv` and `WSASend`.

use super::{issued, wsabuf, Io, Issued, Overlapped, Wsabuf};
use crate::buf::{IoBuf, IoBufMut};
use crate::completion::Completion;
use std::io;
use std::ptr;
use windows_sys::Win32::Networking::WinSock::{WSARecv, WSASend, SOCKET};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// Reads into the spare capacity of `buf` (`WSARecv`).
pub(crate) struct ReadSome<B> {
    pub(super) buf: B,
    /// The buffer's length when the call was issued.
    pub(super) init: usize,
    pub(super) wsabuf: Wsabuf,
    pub(super) flags: u32,
}

impl<B: IoBufMut> ReadSome<B> {
    /// `stream` (a short read drains the socket) only matters to readiness
    /// backends.
    pub(crate) fn new(buf: B, _how: Io, _stream: bool) -> Self {
        ReadSome {
            buf,
            init: 0,
            wsabuf: wsabuf(ptr::null_mut(), 0),
            flags: 0,
        }
    }
}

impl<B: IoBufMut> Completion for ReadSome<B> {
    type Args = (io::Result<usize>, B);

    fn into_args(mut self, result: io::Result<usize>) -> Self::Args {
        // A failed read may have received bytes first (see `status.rs`):
        // they are the buffer's too.
        let n = match &result {
            Ok(n) => *n,
            Err(e) => crate::error::bytes_transferred(e),
        };
        // SAFETY: the kernel initialised `n` bytes after the data.
        unsafe { self.buf.set_init(self.init + n) };
        (result, self.buf)
    }
}

impl<B: IoBufMut> Overlapped for ReadSome<B> {
    unsafe fn issue(&mut self, s: SOCKET, ovl: *mut OVERLAPPED) -> Issued {
        self.init = self.buf.bytes_init();
        let spare = self.buf.spare();
        if spare.is_empty() {
            return Issued::Now(Ok(0));
        }
        self.wsabuf = wsabuf(spare.as_mut_ptr().cast(), spare.len());
        let mut bytes = 0;
        // SAFETY: the buffer, `WSABUF` and flags live in the block until
        // the completion (caller's contract); `bytes` is only written
        // inside the call.
        let r = unsafe { WSARecv(s, &self.wsabuf.0, 1, &mut bytes, &mut self.flags, ovl, None) };
        issued(r, bytes)
    }
}

/// Writes from the data of `buf` (`WSASend`).
pub(crate) struct WriteSome<B> {
    pub(super) buf: B,
    pub(super) wsabuf: Wsabuf,
}

impl<B: IoBuf> WriteSome<B> {
    pub(crate) fn new(buf: B, _how: Io) -> Self {
        WriteSome {
            buf,
            wsabuf: wsabuf(ptr::null_mut(), 0),
        }
    }
}

impl<B: IoBuf> Completion for WriteSome<B> {
    type Args = (io::Result<usize>, B);

    fn into_args(self, result: io::Result<usize>) -> Self::Args {
        (result, self.buf)
    }
}

impl<B: IoBuf> Overlapped for WriteSome<B> {
    unsafe fn issue(&mut self, s: SOCKET, ovl: *mut OVERLAPPED) -> Issued {
        let data = self.buf.as_slice();
        if data.is_empty() {
            return Issued::Now(Ok(0));
        }
        // The kernel only reads through the pointer.
        self.wsabuf = wsabuf(data.as_ptr().cast_mut(), data.len());
        let mut bytes = 0;
        // SAFETY: as in `ReadSome::issue`.
        let r = unsafe { WSASend(s, &self.wsabuf.0, 1, &mut bytes, 0, ovl, None) };
        issued(r, bytes)
    }
}
