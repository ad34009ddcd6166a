//! Datagrams with addresses: `WSARecvFrom` and `WSASendTo`.

use super::{issued, wsabuf, Io, Issued, Overlapped, ReadSome, WriteSome};
use crate::buf::{IoBuf, IoBufMut};
use crate::completion::Completion;
use socket2::SockAddr;
use std::io;
use std::mem;
use std::ptr;
use windows_sys::Win32::Networking::WinSock::{
    WSARecvFrom, WSASendTo, SOCKADDR_STORAGE, SOCKET, WSAEMSGSIZE,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// A datagram receive's outcome. One that did not fit filled the buffer
/// and failed inside the call (no packet comes: only `WSA_IO_PENDING`
/// promises one); Linux truncates the datagram silently, and so does this.
fn issued_datagram(ret: i32, bytes: u32, room: usize) -> Issued {
    match issued(ret, bytes) {
        Issued::Now(Err(e)) if e.raw_os_error() == Some(WSAEMSGSIZE) => Issued::Now(Ok(room)),
        other => other,
    }
}

/// Receives a datagram and its sender's address (`WSARecvFrom`).
pub(crate) struct RecvFrom<B> {
    read: ReadSome<B>,
    from: SOCKADDR_STORAGE,
    from_len: i32,
}

impl<B: IoBufMut> RecvFrom<B> {
    pub(crate) fn new(buf: B) -> Self {
        RecvFrom {
            read: ReadSome::new(buf, Io::Socket, false),
            // SAFETY: all-zero is a valid (empty) address.
            from: unsafe { mem::zeroed() },
            from_len: mem::size_of::<SOCKADDR_STORAGE>() as i32,
        }
    }
}

impl<B: IoBufMut> Completion for RecvFrom<B> {
    type Args = (io::Result<(usize, SockAddr)>, B);

    fn into_args(self, result: io::Result<usize>) -> Self::Args {
        let (from, from_len) = (self.from, self.from_len);
        let (r, buf) = self.read.into_args(result);
        let r = r.map(|n| {
            // SAFETY: the kernel wrote the sender's address and its length
            // (at most the storage's size).
            // (socket2 names the same storage type through its own
            // windows-sys version, hence the untyped read.)
            let addr = unsafe { SockAddr::new(ptr::read(ptr::addr_of!(from).cast()), from_len) };
            (n, addr)
        });
        (r, buf)
    }
}

impl<B: IoBufMut> Overlapped for RecvFrom<B> {
    unsafe fn issue(&mut self, s: SOCKET, ovl: *mut OVERLAPPED) -> Issued {
        let read = &mut self.read;
        read.init = read.buf.bytes_init();
        let spare = read.buf.spare();
        // Taken before the call: once it is pending, the block may be
        // completed and freed on another thread before the call returns.
        let room = spare.len();
        read.wsabuf = wsabuf(spare.as_mut_ptr().cast(), room);
        let mut bytes = 0;
        // SAFETY: as in `ReadSome::issue`; the address storage and its
        // length live in the block too.
        let r = unsafe {
            WSARecvFrom(
                s,
                &read.wsabuf.0,
                1,
                &mut bytes,
                &mut read.flags,
                ptr::addr_of_mut!(self.from).cast(),
                &mut self.from_len,
                ovl,
                None,
            )
        };
        issued_datagram(r, bytes, room)
    }
}

/// Sends a datagram to an address (`WSASendTo`).
pub(crate) struct SendTo<B> {
    write: WriteSome<B>,
    to: SockAddr,
}

impl<B: IoBuf> SendTo<B> {
    pub(crate) fn new(buf: B, to: SockAddr) -> Self {
        SendTo {
            write: WriteSome::new(buf, Io::Socket),
            to,
        }
    }
}

impl<B: IoBuf> Completion for SendTo<B> {
    type Args = (io::Result<usize>, B);

    fn into_args(self, result: io::Result<usize>) -> Self::Args {
        self.write.into_args(result)
    }
}

impl<B: IoBuf> Overlapped for SendTo<B> {
    unsafe fn issue(&mut self, s: SOCKET, ovl: *mut OVERLAPPED) -> Issued {
        let to = &self.to;
        let data = self.write.buf.as_slice();
        self.write.wsabuf = wsabuf(data.as_ptr().cast_mut(), data.len());
        let mut bytes = 0;
        // SAFETY: as in `WriteSome::issue`; the address lives in the block.
        let r = unsafe {
            WSASendTo(
                s,
                &self.write.wsabuf.0,
                1,
                &mut bytes,
                0,
                to.as_ptr().cast(),
                to.len(),
                ovl,
                None,
            )
        };
        issued(r, bytes)
    }
}
