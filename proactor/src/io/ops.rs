//! The readiness operations of sockets and stream descriptors: each tries
//! its non-blocking system call and reports whether to wait.

use super::syscall;
use crate::buf::{IoBuf, IoBufMut};
use crate::reactor::op::{Progress, RawFd, Reactive};
use socket2::{SockAddr, SockRef};
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

/// Runs `f` with the descriptor borrowed, for one system call.
pub(crate) fn with_fd<R>(fd: RawFd, f: impl FnOnce(BorrowedFd<'_>) -> R) -> R {
    // SAFETY: operations and `IoCore::fd` callers run under the
    // descriptor's lock while it is open (see `Reactor::start_op`,
    // `DescriptorState::perform_io` and `Reactor::with_fd`), and the borrow
    // does not outlive `f`.
    f(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Runs `f` with the descriptor as a socket, for one system call.
pub(crate) fn with_sock<R>(fd: RawFd, f: impl FnOnce(SockRef<'_>) -> R) -> R {
    with_fd(fd, |fd| f(SockRef::from(&fd)))
}

/// Retries on `EINTR`; maps "would block" to `None`.
fn attempt<T>(mut f: impl FnMut() -> io::Result<T>) -> Option<io::Result<T>> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            r => return Some(r),
        }
    }
}

/// How a read or write went, for speculation: finished short of what was
/// asked means the descriptor is drained (or full) until it is next ready.
fn progress(done: usize, asked: usize, stream: bool) -> Progress {
    if stream && done > 0 && done < asked {
        Progress::DoneExhausted
    } else {
        Progress::Done
    }
}

/// How the bytes are moved.
#[derive(Clone, Copy)]
pub(crate) enum Io {
    /// `recv`/`send`: sockets.
    Socket,
    /// `read`/`write`: pipes, ttys and other descriptors.
    Descriptor,
    /// `read`/`write` of a regular file at its position: always ready, a
    /// short read is the end of the file, not a drained descriptor.
    File,
    /// `pread`/`pwrite` at this offset of a regular file.
    At(u64),
}

impl Io {
    /// A short transfer says the descriptor is drained (until the next
    /// readiness event): true of streams, not of files.
    fn drains(self) -> bool {
        matches!(self, Io::Socket | Io::Descriptor)
    }
}

/// Reads into the spare capacity of `buf`.
pub(crate) struct ReadSome<B> {
    pub(super) buf: B,
    pub(super) how: Io,
    /// Stream semantics (a short read drains the descriptor); false for
    /// datagrams.
    stream: bool,
    pub(super) result: io::Result<usize>,
}

impl<B: IoBufMut> ReadSome<B> {
    pub(crate) fn new(buf: B, how: Io, stream: bool) -> Self {
        ReadSome {
            buf,
            how,
            stream,
            result: Ok(0),
        }
    }
}

impl<B: IoBufMut> Reactive for ReadSome<B> {
    type Args = (io::Result<usize>, B);

    fn perform(&mut self, fd: RawFd) -> Progress {
        let init = self.buf.bytes_init();
        let spare = self.buf.spare();
        let asked = spare.len();
        if asked == 0 {
            self.result = Ok(0);
            return Progress::Done;
        }
        let how = self.how;
        match syscall::attempt(|| syscall::read_as(how, fd, spare)) {
            None => Progress::Pending,
            Some(Ok(n)) => {
                // SAFETY: the kernel initialised `n` bytes after the data.
                unsafe { self.buf.set_init(init + n) };
                self.result = Ok(n);
                progress(n, asked, self.stream && how.drains())
            }
            Some(Err(e)) => {
                self.result = Err(e);
                Progress::Done
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.result = Err(e);
    }

    fn into_args(self) -> Self::Args {
        (self.result, self.buf)
    }
}

/// Writes from the data of `buf`.
pub(crate) struct WriteSome<B> {
    pub(super) buf: B,
    pub(super) how: Io,
    pub(super) result: io::Result<usize>,
}

impl<B: IoBuf> WriteSome<B> {
    pub(crate) fn new(buf: B, how: Io) -> Self {
        WriteSome {
            buf,
            how,
            result: Ok(0),
        }
    }
}

impl<B: IoBuf> Reactive for WriteSome<B> {
    type Args = (io::Result<usize>, B);

    fn perform(&mut self, fd: RawFd) -> Progress {
        let data = self.buf.as_slice();
        if data.is_empty() {
            self.result = Ok(0);
            return Progress::Done;
        }
        let how = self.how;
        match syscall::attempt(|| syscall::write_as(how, fd, data)) {
            None => Progress::Pending,
            Some(Ok(n)) => {
                self.result = Ok(n);
                progress(n, data.len(), how.drains())
            }
            Some(Err(e)) => {
                self.result = Err(e);
                Progress::Done
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.result = Err(e);
    }

    fn into_args(self) -> Self::Args {
        (self.result, self.buf)
    }
}

/// Receives a datagram and its sender's address.
pub(crate) struct RecvFrom<B> {
    pub(super) buf: B,
    pub(super) result: io::Result<(usize, SockAddr)>,
    /// What a ring's `recvmsg` fills in.
    #[cfg(target_os = "linux")]
    pub(super) msg: super::submit::Msg,
}

impl<B: IoBufMut> RecvFrom<B> {
    pub(crate) fn new(buf: B) -> Self {
        RecvFrom {
            buf,
            result: Err(io::ErrorKind::Other.into()),
            #[cfg(target_os = "linux")]
            msg: Default::default(),
        }
    }
}

impl<B: IoBufMut> Reactive for RecvFrom<B> {
    type Args = (io::Result<(usize, SockAddr)>, B);

    fn perform(&mut self, fd: RawFd) -> Progress {
        let init = self.buf.bytes_init();
        let spare = self.buf.spare();
        match attempt(|| with_sock(fd, |s| s.recv_from(spare))) {
            None => Progress::Pending,
            Some(Ok((n, from))) => {
                // SAFETY: the kernel initialised `n` bytes after the data.
                unsafe { self.buf.set_init(init + n) };
                self.result = Ok((n, from));
                Progress::Done
            }
            Some(Err(e)) => {
                self.result = Err(e);
                Progress::Done
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.result = Err(e);
    }

    fn into_args(self) -> Self::Args {
        (self.result, self.buf)
    }
}

/// Sends a datagram to an address.
pub(crate) struct SendTo<B> {
    pub(super) buf: B,
    /// `None`: the destination could not be expressed (the operation is
    /// only ever failed, see `FailWith`).
    pub(super) to: Option<SockAddr>,
    pub(super) result: io::Result<usize>,
    /// What a ring's `sendmsg` reads.
    #[cfg(target_os = "linux")]
    pub(super) msg: super::submit::Msg,
}

impl<B: IoBuf> SendTo<B> {
    pub(crate) fn new(buf: B, to: SockAddr) -> Self {
        SendTo {
            buf,
            to: Some(to),
            result: Ok(0),
            #[cfg(target_os = "linux")]
            msg: Default::default(),
        }
    }

    pub(crate) fn unaddressed(buf: B) -> Self {
        SendTo {
            buf,
            to: None,
            result: Ok(0),
            #[cfg(target_os = "linux")]
            msg: Default::default(),
        }
    }
}

impl<B: IoBuf> Reactive for SendTo<B> {
    type Args = (io::Result<usize>, B);

    fn perform(&mut self, fd: RawFd) -> Progress {
        let data = self.buf.as_slice();
        let Some(to) = &self.to else {
            self.result = Err(io::ErrorKind::InvalidInput.into());
            return Progress::Done;
        };
        match attempt(|| with_sock(fd, |s| s.send_to(data, to))) {
            None => Progress::Pending,
            Some(r) => {
                self.result = r;
                Progress::Done
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.result = Err(e);
    }

    fn into_args(self) -> Self::Args {
        (self.result, self.buf)
    }
}

/// Accepts a connection; the new descriptor is non-blocking and
/// close-on-exec.
pub(crate) struct Accept {
    pub(super) result: io::Result<(std::os::fd::OwnedFd, SockAddr)>,
    /// Where a ring's `accept` puts the peer's address.
    #[cfg(target_os = "linux")]
    pub(super) peer: super::submit::Peer,
}

impl Accept {
    pub(crate) fn new() -> Self {
        Accept {
            result: Err(io::ErrorKind::Other.into()),
            #[cfg(target_os = "linux")]
            peer: Default::default(),
        }
    }
}

impl Reactive for Accept {
    type Args = (io::Result<(std::os::fd::OwnedFd, SockAddr)>,);

    fn perform(&mut self, fd: RawFd) -> Progress {
        loop {
            match attempt(|| accept_fd(fd)) {
                None => return Progress::Pending,
                // The connection went away before we took it: take the next.
                Some(Err(e)) if is_transient_accept_error(&e) => continue,
                Some(r) => {
                    self.result = r;
                    return Progress::Done;
                }
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.result = Err(e);
    }

    fn into_args(self) -> Self::Args {
        (self.result,)
    }
}

/// A socket type an accepted descriptor can become.
pub(crate) trait FromFd: Sized + Send + 'static {
    fn from_fd(ex: &crate::IoExecutor, fd: std::os::fd::OwnedFd) -> io::Result<Self>;
}

/// Accepts a connection and wraps it as `S` on the acceptor's context.
pub(crate) struct AcceptAs<S> {
    pub(super) accept: Accept,
    ex: crate::IoExecutor,
    _socket: std::marker::PhantomData<fn() -> S>,
}

impl<S: FromFd> AcceptAs<S> {
    pub(crate) fn new(ex: &crate::IoExecutor) -> Self {
        AcceptAs {
            accept: Accept::new(),
            ex: ex.clone(),
            _socket: std::marker::PhantomData,
        }
    }
}

impl<S: FromFd> Reactive for AcceptAs<S> {
    type Args = (io::Result<S>,);

    fn perform(&mut self, fd: RawFd) -> Progress {
        self.accept.perform(fd)
    }

    fn fail(&mut self, e: io::Error) {
        self.accept.fail(e)
    }

    fn into_args(self) -> Self::Args {
        let (r,) = self.accept.into_args();
        (r.and_then(|(fd, _)| S::from_fd(&self.ex, fd)),)
    }
}

pub(crate) fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EPROTO)
    )
}

/// Completes a non-blocking connect: the socket became writable (or
/// failed); its pending error says which.
pub(crate) struct ConnectWait {
    pub(super) result: io::Result<()>,
}

impl ConnectWait {
    pub(crate) fn new() -> Self {
        ConnectWait { result: Ok(()) }
    }
}

impl Reactive for ConnectWait {
    type Args = (io::Result<()>,);

    fn perform(&mut self, fd: RawFd) -> Progress {
        self.result = match with_sock(fd, |s| s.take_error()) {
            Ok(None) => Ok(()),
            Ok(Some(e)) | Err(e) => Err(e),
        };
        Progress::Done
    }

    fn fail(&mut self, e: io::Error) {
        self.result = Err(e);
    }

    fn into_args(self) -> Self::Args {
        (self.result,)
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn accept_fd(fd: RawFd) -> io::Result<(std::os::fd::OwnedFd, SockAddr)> {
    use std::os::fd::FromRawFd;
    // SAFETY: `accept4` fills at most `len` bytes of the storage that
    // `SockAddr::try_init` hands us, and we own the returned descriptor.
    unsafe {
        SockAddr::try_init(|storage, len| {
            let new = libc::accept4(
                fd,
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            if new < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(std::os::fd::OwnedFd::from_raw_fd(new))
            }
        })
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn accept_fd(fd: RawFd) -> io::Result<(std::os::fd::OwnedFd, SockAddr)> {
    let (s, addr) = with_sock(fd, |s| s.accept())?;
    s.set_nonblocking(true)?;
    Ok((s.into(), addr))
}

/// A `SocketAddr` from a socket address, if it is an IP one.
pub(crate) fn ip_addr(a: &SockAddr) -> io::Result<SocketAddr> {
    a.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}
