//! The overlapped socket operations: each issues its Winsock call with the
//! `OVERLAPPED` of its block and turns the kernel's result into the
//! handler's arguments. They have the names and constructors of the Unix
//! readiness operations (`io/ops.rs`), so that the I/O objects and the
//! initiating functions are written once.
//!
//! Everything a call hands the kernel (the buffer, the `WSABUF`, the
//! flags, the addresses) lives in the operation, inside its block, which
//! stays where it is until the completion is dequeued.

use super::ext;
pub(crate) use super::socket::with_sock;
use crate::buf::{IoBuf, IoBufMut};
use crate::completion::Completion;
use crate::reactor::op::RawFd;
use crate::reactor::OwnedFd;
use socket2::{SockAddr, Type};
use std::io;
use std::marker::PhantomData;
use std::mem;
use std::net::SocketAddr;
use std::os::windows::io::AsRawSocket;
use std::ptr;
use windows_sys::Win32::Networking::WinSock::{
    setsockopt, WSARecv, WSARecvFrom, WSASend, WSASendTo, INVALID_SOCKET, SOCKADDR_STORAGE, SOCKET,
    SOCKET_ERROR, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, SO_UPDATE_CONNECT_CONTEXT, WSABUF,
    WSAEMSGSIZE, WSA_IO_PENDING,
};
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
fn issued(ret: i32, bytes: u32) -> Issued {
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
fn issued_bool(ok: i32, bytes: u32) -> Issued {
    issued(if ok != 0 { 0 } else { SOCKET_ERROR }, bytes)
}

/// A datagram receive's outcome. One that did not fit filled the buffer
/// and failed inside the call (no packet comes: only `WSA_IO_PENDING`
/// promises one); Linux truncates the datagram silently, and so does this.
fn issued_datagram(ret: i32, bytes: u32, room: usize) -> Issued {
    match issued(ret, bytes) {
        Issued::Now(Err(e)) if e.raw_os_error() == Some(WSAEMSGSIZE) => Issued::Now(Ok(room)),
        other => other,
    }
}

/// A `WSABUF` over `len` bytes at `p` (at most 4 GiB - 1 in one call).
fn wsabuf(p: *mut u8, len: usize) -> Wsabuf {
    Wsabuf(WSABUF {
        len: len.min(u32::MAX as usize) as u32,
        buf: p,
    })
}

/// A `WSABUF` kept in an operation: it points into the operation's own
/// buffer, which travels with it.
struct Wsabuf(WSABUF);

// SAFETY: the pointer is into the buffer owned by the same operation (or
// null), so it moves between threads with that buffer.
unsafe impl Send for Wsabuf {}

/// How the bytes are moved: sockets only, on Windows.
#[derive(Clone, Copy)]
pub(crate) enum Io {
    Socket,
}

/// Reads into the spare capacity of `buf` (`WSARecv`).
pub(crate) struct ReadSome<B> {
    buf: B,
    /// The buffer's length when the call was issued.
    init: usize,
    wsabuf: Wsabuf,
    flags: u32,
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
    buf: B,
    wsabuf: Wsabuf,
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
        read.wsabuf = wsabuf(spare.as_mut_ptr().cast(), spare.len());
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
        issued_datagram(r, bytes, read.wsabuf.0.len as usize)
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

/// The room `AcceptEx` needs for each address: the largest address plus
/// the 16 bytes it documents.
const ACCEPT_ADDR_LEN: usize = mem::size_of::<SOCKADDR_STORAGE>() + 16;

/// A socket type an accepted socket can become.
pub(crate) trait FromFd: Sized + Send + 'static {
    fn from_fd(ex: &crate::IoExecutor, fd: OwnedFd) -> io::Result<Self>;
}

/// Accepts a connection (`AcceptEx` into a socket made for it) and wraps
/// it as `S` on the acceptor's context.
pub(crate) struct AcceptAs<S> {
    ex: crate::IoExecutor,
    listener: SOCKET,
    accepted: Option<OwnedFd>,
    addrs: [u8; 2 * ACCEPT_ADDR_LEN],
    _socket: PhantomData<fn() -> S>,
}

impl<S: FromFd> AcceptAs<S> {
    pub(crate) fn new(ex: &crate::IoExecutor) -> Self {
        AcceptAs {
            ex: ex.clone(),
            listener: INVALID_SOCKET,
            accepted: None,
            addrs: [0; 2 * ACCEPT_ADDR_LEN],
            _socket: PhantomData,
        }
    }
}

impl<S: FromFd> Completion for AcceptAs<S> {
    type Args = (io::Result<S>,);

    fn into_args(self, result: io::Result<usize>) -> Self::Args {
        let accepted = result.and_then(|_| {
            let s = self.accepted.ok_or(io::ErrorKind::NotConnected)?;
            // The accepted socket inherits the listener's properties (and
            // learns its addresses) only when told which listener it was.
            set_context(
                s.as_raw_socket() as SOCKET,
                SO_UPDATE_ACCEPT_CONTEXT,
                &self.listener,
            )?;
            S::from_fd(&self.ex, s)
        });
        (accepted,)
    }
}

impl<S: FromFd> Overlapped for AcceptAs<S> {
    unsafe fn issue(&mut self, s: SOCKET, ovl: *mut OVERLAPPED) -> Issued {
        let fd = s as RawFd;
        let made = with_sock(fd, |l| l.local_addr())
            .and_then(|a| crate::net::new_socket(a.domain(), Type::STREAM))
            .and_then(|new| Ok((new, ext::get(s)?)));
        let (new, ext) = match made {
            Ok(m) => m,
            Err(e) => return Issued::Now(Err(e)),
        };
        self.listener = s;
        let target = new.as_raw_socket() as SOCKET;
        self.accepted = Some(new);
        let mut bytes = 0;
        // SAFETY: the address buffer lives in the block until the
        // completion; no data is received with the connection (length 0).
        let ok = unsafe {
            (ext.accept_ex)(
                s,
                target,
                self.addrs.as_mut_ptr().cast(),
                0,
                ACCEPT_ADDR_LEN as u32,
                ACCEPT_ADDR_LEN as u32,
                &mut bytes,
                ovl,
            )
        };
        issued_bool(ok, bytes)
    }
}

/// Connects a bound socket (`ConnectEx`).
pub(crate) struct ConnectWait {
    /// `None`: the operation is only ever failed (see `FailWith`).
    to: Option<SockAddr>,
    socket: SOCKET,
}

impl ConnectWait {
    pub(crate) fn new() -> Self {
        ConnectWait {
            to: None,
            socket: INVALID_SOCKET,
        }
    }

    pub(crate) fn to(addr: SockAddr) -> Self {
        ConnectWait {
            to: Some(addr),
            socket: INVALID_SOCKET,
        }
    }
}

impl Completion for ConnectWait {
    type Args = (io::Result<()>,);

    fn into_args(self, result: io::Result<usize>) -> Self::Args {
        let r = result.and_then(|_| {
            if self.socket == INVALID_SOCKET {
                return Ok(());
            }
            // Without this the socket knows no peer (`getpeername`,
            // `shutdown` fail).
            set_context(self.socket, SO_UPDATE_CONNECT_CONTEXT, &())
        });
        (r,)
    }
}

impl Overlapped for ConnectWait {
    unsafe fn issue(&mut self, s: SOCKET, ovl: *mut OVERLAPPED) -> Issued {
        let Some(to) = &self.to else {
            return Issued::Now(Err(io::ErrorKind::InvalidInput.into()));
        };
        let ext = match ext::get(s) {
            Ok(e) => e,
            Err(e) => return Issued::Now(Err(e)),
        };
        self.socket = s;
        let mut bytes = 0;
        // SAFETY: the address lives in the block until the completion; no
        // data is sent with the connection.
        let ok = unsafe {
            (ext.connect_ex)(
                s,
                to.as_ptr().cast(),
                to.len(),
                ptr::null(),
                0,
                &mut bytes,
                ovl,
            )
        };
        issued_bool(ok, bytes)
    }
}

/// Sets one of the `SO_UPDATE_*_CONTEXT` options of `s` to `value` (a
/// zero-sized value sets it with no argument).
fn set_context<T>(s: SOCKET, option: i32, value: &T) -> io::Result<()> {
    let len = mem::size_of::<T>();
    let p = if len == 0 {
        ptr::null()
    } else {
        (value as *const T).cast()
    };
    // SAFETY: `p` is null or readable for `len` bytes.
    if unsafe { setsockopt(s, SOL_SOCKET, option, p, len as i32) } == SOCKET_ERROR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A `SocketAddr` from a socket address, if it is an IP one.
pub(crate) fn ip_addr(a: &SockAddr) -> io::Result<SocketAddr> {
    a.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}
