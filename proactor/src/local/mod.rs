//! Unix-domain sockets (Asio's `local::stream_protocol` and
//! `local::datagram_protocol`): [`UnixAcceptor`], [`UnixSocket`] and
//! [`UnixDatagram`].

use crate::buf::{IoBuf, IoBufMut};
use crate::compose::AsyncConnect;
use crate::executor::IoExecutor;
use crate::io::object::{impl_connect, impl_connected_datagram, io_object};
use crate::io::ops::{with_sock, FromFd, Io, RecvFrom, SendTo};
use crate::io::Start;
use crate::io::{FailWith, IoCore};
use crate::net::new_socket;
use crate::reactor::op::{OpKind, Progress, RawFd, Reactive};
use crate::stream::impl_stream;
use crate::sync::Arc;
use crate::token::CompletionToken;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

fn path_of(a: io::Result<SockAddr>) -> io::Result<Option<PathBuf>> {
    Ok(a?.as_pathname().map(Path::to_path_buf))
}

fn unix_addr(path: &Path) -> io::Result<SockAddr> {
    SockAddr::unix(path)
}

/// A connected Unix stream socket.
///
/// ```
/// use proactor::local::UnixSocket;
/// use proactor::{async_read, async_write, IoContext};
///
/// let ctx = IoContext::new()?;
/// let (a, b) = UnixSocket::pair(&ctx.executor())?;
/// async_write(&a, b"ping", |r: std::io::Result<usize>, _: &'static [u8; 4]| assert_eq!(r.unwrap(), 4));
/// async_read(&b, Vec::with_capacity(4), |r: std::io::Result<usize>, buf: Vec<u8>| {
///     assert_eq!(&buf[..], b"ping");
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixSocket {
    core: Arc<IoCore>,
}

impl_stream!(UnixSocket, "proactor::local::UnixSocket", Io::Socket);

impl UnixSocket {
    /// A closed socket on `ex`'s context (opened by `async_connect`).
    pub fn new(ex: &IoExecutor) -> UnixSocket {
        UnixSocket {
            core: Arc::new(IoCore::new(ex)),
        }
    }

    /// Two sockets connected to each other.
    pub fn pair(ex: &IoExecutor) -> io::Result<(UnixSocket, UnixSocket)> {
        let (a, b) = socket_pair(Type::STREAM)?;
        Ok((
            <Self as FromFd>::from_fd(ex, a)?,
            <Self as FromFd>::from_fd(ex, b)?,
        ))
    }

    /// Connects to the socket bound at `path`.
    pub fn async_connect<T: CompletionToken<(io::Result<()>,)>>(
        &self,
        path: impl AsRef<Path>,
        token: T,
    ) -> T::Output {
        self.async_connect_one(path.as_ref().to_path_buf(), token)
    }

    /// The bound path, if any.
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        path_of(self.core.fd(|fd| with_sock(fd, |s| s.local_addr())))
    }

    /// The peer's bound path, if any.
    pub fn peer_addr(&self) -> io::Result<Option<PathBuf>> {
        path_of(self.core.fd(|fd| with_sock(fd, |s| s.peer_addr())))
    }

    /// Shuts down the reading side, the writing side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.core.submit_started();
        self.core.fd(|fd| with_sock(fd, |s| s.shutdown(how)))
    }
}

io_object!(UnixSocket, "proactor::local::UnixSocket");

impl fmt::Debug for UnixSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSocket").finish_non_exhaustive()
    }
}

/// A reference to a [`UnixSocket`] for [`async_connect`](crate::async_connect).
#[derive(Clone)]
pub struct UnixSocketRef {
    core: Arc<IoCore>,
}

impl fmt::Debug for UnixSocketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSocketRef").finish_non_exhaustive()
    }
}

impl_connect!(
    UnixSocket,
    UnixSocketRef,
    PathBuf,
    |ep: &PathBuf| unix_addr(ep)
);
impl_connect!(UnixSocketRef, UnixSocketRef, PathBuf, |ep: &PathBuf| {
    unix_addr(ep)
});

/// A listening Unix stream socket.
///
/// ```
/// use proactor::local::{UnixAcceptor, UnixSocket};
/// use proactor::IoContext;
///
/// let ctx = IoContext::new()?;
/// let path = std::env::temp_dir().join(format!("proactor-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let acceptor = UnixAcceptor::bind(&ctx.executor(), &path)?;
/// acceptor.async_accept(|r: std::io::Result<UnixSocket>| { r.unwrap(); });
/// let client = UnixSocket::new(&ctx.executor());
/// client.async_connect(&path, |r: std::io::Result<()>| r.unwrap());
/// ctx.run();
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixAcceptor {
    core: Arc<IoCore>,
}

impl UnixAcceptor {
    /// Listens at `path` (which must not exist).
    pub fn bind(ex: &IoExecutor, path: impl AsRef<Path>) -> io::Result<UnixAcceptor> {
        let fd = new_socket(Domain::UNIX, Type::STREAM)?;
        {
            let s = SockRef::from(&fd);
            s.bind(&unix_addr(path.as_ref())?)?;
            s.listen(crate::net::DEFAULT_BACKLOG)?;
        }
        Ok(UnixAcceptor {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }

    /// The path it listens at.
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        path_of(self.core.fd(|fd| with_sock(fd, |s| s.local_addr())))
    }

    /// Accepts a connection.
    pub fn async_accept<T: CompletionToken<(io::Result<UnixSocket>,)>>(
        &self,
        token: T,
    ) -> T::Output {
        token.launch(crate::io::accept::<UnixSocket>(self.core.clone()))
    }
}

io_object!(UnixAcceptor, "proactor::local::UnixAcceptor");

impl fmt::Debug for UnixAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixAcceptor").finish_non_exhaustive()
    }
}

impl FromFd for UnixSocket {
    fn from_fd(ex: &IoExecutor, fd: OwnedFd) -> io::Result<UnixSocket> {
        Ok(UnixSocket {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }
}

/// A Unix datagram socket.
///
/// ```
/// use proactor::local::UnixDatagram;
/// use proactor::IoContext;
///
/// let ctx = IoContext::new()?;
/// let (a, b) = UnixDatagram::pair(&ctx.executor())?;
/// a.async_send(b"dgram", |r: std::io::Result<usize>, _: &'static [u8; 5]| assert_eq!(r.unwrap(), 5));
/// b.async_receive(Vec::with_capacity(16), |r: std::io::Result<usize>, buf: Vec<u8>| {
///     assert_eq!(&buf[..r.unwrap()], b"dgram");
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    core: Arc<IoCore>,
}

impl UnixDatagram {
    /// A socket bound at `path`.
    pub fn bind(ex: &IoExecutor, path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let fd = new_socket(Domain::UNIX, Type::DGRAM)?;
        SockRef::from(&fd).bind(&unix_addr(path.as_ref())?)?;
        Self::from_fd(ex, fd)
    }

    /// A socket bound nowhere (it can send, and receive replies only if
    /// connected).
    pub fn unbound(ex: &IoExecutor) -> io::Result<UnixDatagram> {
        Self::from_fd(ex, new_socket(Domain::UNIX, Type::DGRAM)?)
    }

    /// Two sockets connected to each other.
    pub fn pair(ex: &IoExecutor) -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = socket_pair(Type::DGRAM)?;
        Ok((Self::from_fd(ex, a)?, Self::from_fd(ex, b)?))
    }

    fn from_fd(ex: &IoExecutor, fd: OwnedFd) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }

    /// Sets the default destination (and only accepted source).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let addr = unix_addr(path.as_ref())?;
        self.core.fd(|fd| with_sock(fd, |s| s.connect(&addr)))
    }

    /// The bound path, if any.
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        path_of(self.core.fd(|fd| with_sock(fd, |s| s.local_addr())))
    }

    /// Sends `buf[..len]` as one datagram to the socket at `path`.
    pub fn async_send_to<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        path: impl AsRef<Path>,
        token: T,
    ) -> T::Output {
        match unix_addr(path.as_ref()) {
            Ok(to) => token.launch(Start {
                core: self.core.clone(),
                op: SendTo::new(buf, to),
                kind: OpKind::Write,
            }),
            Err(e) => token.launch(FailWith::new(&self.core, SendTo::unaddressed(buf), e)),
        }
    }

    /// Receives one datagram; the token gets its length and the sender's
    /// path (if bound).
    pub fn async_receive_from<
        B: IoBufMut,
        T: CompletionToken<(io::Result<(usize, Option<PathBuf>)>, B)>,
    >(
        &self,
        buf: B,
        token: T,
    ) -> T::Output {
        token.launch(Start {
            core: self.core.clone(),
            op: RecvFromPath(RecvFrom::new(buf)),
            kind: OpKind::Read,
        })
    }
}

io_object!(UnixDatagram, "proactor::local::UnixDatagram");
impl_connected_datagram!(UnixDatagram, "proactor::local::UnixDatagram");

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram").finish_non_exhaustive()
    }
}

fn socket_pair(ty: Type) -> io::Result<(OwnedFd, OwnedFd)> {
    let (a, b) = Socket::pair(Domain::UNIX, ty, None)?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    Ok((a.into(), b.into()))
}

/// `RecvFrom` with the sender as a path.
struct RecvFromPath<B>(RecvFrom<B>);

#[cfg(target_os = "linux")]
impl<B: IoBufMut> crate::io::submit::Submit for RecvFromPath<B> {
    fn prep(&mut self, fd: RawFd) -> io::Result<io_uring::squeue::Entry> {
        self.0.prep(fd)
    }

    fn complete(&mut self, fd: RawFd, res: io::Result<usize>) -> bool {
        self.0.complete(fd, res)
    }
}

impl<B: IoBufMut> Reactive for RecvFromPath<B> {
    type Args = (io::Result<(usize, Option<PathBuf>)>, B);

    fn perform(&mut self, fd: RawFd) -> Progress {
        self.0.perform(fd)
    }

    fn fail(&mut self, e: io::Error) {
        self.0.fail(e)
    }

    fn into_args(self) -> Self::Args {
        let (r, buf) = self.0.into_args();
        (
            r.map(|(n, from)| (n, from.as_pathname().map(Path::to_path_buf))),
            buf,
        )
    }
}
