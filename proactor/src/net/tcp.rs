//! TCP: [`TcpAcceptor`] and [`TcpSocket`].

use super::{domain_of, ip, new_socket};
use crate::buf::{IoBuf, IoBufMut};
use crate::compose::AsyncConnect;
use crate::executor::IoExecutor;
use crate::io::ops::{with_sock, Accept, Io};
use crate::io::ConnectInit;
use crate::io::IoCore;
use crate::reactor::op::{OpKind, Progress, RawFd, Reactive};
use crate::stream::{impl_stream, AsyncReadStream, AsyncWriteStream};
use crate::sync::Arc;
use crate::token::{CompletionHandler, CompletionToken, Initiation};
use socket2::{SockRef, Type};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// The backlog [`TcpAcceptor::bind`] uses (the kernel caps it at
/// `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: i32 = 4096;

/// A TCP connection (Asio's `ip::tcp::socket`).
///
/// Created closed by [`TcpSocket::new`] and opened by
/// [`async_connect`](TcpSocket::async_connect), or accepted by a
/// [`TcpAcceptor`].
///
/// ```no_run
/// use proactor::net::TcpSocket;
/// use proactor::IoContext;
///
/// let ctx = IoContext::new()?;
/// let socket = TcpSocket::new(&ctx.executor());
/// socket.async_connect("127.0.0.1:7".parse().unwrap(), |r: std::io::Result<()>| {
///     println!("connected: {r:?}");
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpSocket {
    core: Arc<IoCore>,
}

impl_stream!(TcpSocket, Io::Socket);

impl TcpSocket {
    /// A closed socket on `ex`'s context.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let s = proactor::net::TcpSocket::new(&ctx.executor());
    /// assert!(!s.is_open());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(ex: &IoExecutor) -> TcpSocket {
        TcpSocket {
            core: Arc::new(IoCore::new(ex)),
        }
    }

    pub(crate) fn from_fd(ex: &IoExecutor, fd: OwnedFd) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }

    /// Adopts a connected standard-library stream (made non-blocking).
    ///
    /// ```no_run
    /// let ctx = proactor::IoContext::new()?;
    /// let std_stream = std::net::TcpStream::connect("127.0.0.1:7")?;
    /// let s = proactor::net::TcpSocket::from_std(&ctx.executor(), std_stream)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(ex: &IoExecutor, s: std::net::TcpStream) -> io::Result<TcpSocket> {
        s.set_nonblocking(true)?;
        Self::from_fd(ex, s.into())
    }

    /// Connects to `addr`, opening the socket first if it is closed. The
    /// token receives `Ok(())` once connected.
    ///
    /// ```no_run
    /// # let ctx = proactor::IoContext::new()?;
    /// let s = proactor::net::TcpSocket::new(&ctx.executor());
    /// s.async_connect("127.0.0.1:80".parse().unwrap(), |r: std::io::Result<()>| r.unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn async_connect<T: CompletionToken<(io::Result<()>,)>>(
        &self,
        addr: SocketAddr,
        token: T,
    ) -> T::Output {
        token.launch(ConnectInit::new(&self.core, addr.into()))
    }

    /// Reads at least one byte into the spare capacity of `buf` (`Ok(0)` at
    /// end of stream). The token receives the count and the buffer.
    ///
    /// ```no_run
    /// # let ctx = proactor::IoContext::new()?;
    /// # let s = proactor::net::TcpSocket::new(&ctx.executor());
    /// s.async_read_some(Vec::with_capacity(4096), |r: std::io::Result<usize>, buf: Vec<u8>| {
    ///     println!("{r:?}: {:?}", &buf[..]);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn async_read_some<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        token: T,
    ) -> T::Output {
        AsyncReadStream::async_read_some(self, buf, token)
    }

    /// Writes at least one byte of `buf[..len]`. The token receives the
    /// count and the buffer.
    ///
    /// ```no_run
    /// # let ctx = proactor::IoContext::new()?;
    /// # let s = proactor::net::TcpSocket::new(&ctx.executor());
    /// s.async_write_some(b"hello".to_vec(), |r: std::io::Result<usize>, _buf: Vec<u8>| {
    ///     println!("wrote {r:?}");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn async_write_some<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        token: T,
    ) -> T::Output {
        AsyncWriteStream::async_write_some(self, buf, token)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip(self.core.fd(|fd| with_sock(fd, |s| s.local_addr())))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip(self.core.fd(|fd| with_sock(fd, |s| s.peer_addr())))
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.core.fd(|fd| with_sock(fd, |s| s.set_nodelay(on)))
    }

    /// Reads `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.core.fd(|fd| with_sock(fd, |s| s.nodelay()))
    }

    /// Sets `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.core.fd(|fd| with_sock(fd, |s| s.set_keepalive(on)))
    }

    /// Reads `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.core.fd(|fd| with_sock(fd, |s| s.keepalive()))
    }

    /// Sets `SO_LINGER` (`None` turns it off).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.core.fd(|fd| with_sock(fd, |s| s.set_linger(linger)))
    }

    /// Reads `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.core.fd(|fd| with_sock(fd, |s| s.linger()))
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        self.core
            .fd(|fd| with_sock(fd, |s| s.set_send_buffer_size(size)))
    }

    /// Reads `SO_SNDBUF`.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.core.fd(|fd| with_sock(fd, |s| s.send_buffer_size()))
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        self.core
            .fd(|fd| with_sock(fd, |s| s.set_recv_buffer_size(size)))
    }

    /// Reads `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.core.fd(|fd| with_sock(fd, |s| s.recv_buffer_size()))
    }

    /// Shuts down the reading side, the writing side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.core.fd(|fd| with_sock(fd, |s| s.shutdown(how)))
    }

    /// Pending operations complete with "operation aborted"; the socket
    /// stays open and usable.
    pub fn cancel(&self) {
        self.core.cancel()
    }

    /// Closes the socket; pending operations complete with "operation
    /// aborted". It can be opened again by `async_connect`.
    pub fn close(&self) -> io::Result<()> {
        self.core.close()
    }

    /// True while the socket holds a descriptor.
    pub fn is_open(&self) -> bool {
        self.core.is_open()
    }

    /// The executor the socket's handlers run on.
    pub fn executor(&self) -> &IoExecutor {
        self.core.executor()
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        let _ = self.core.close();
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

/// A reference to a [`TcpSocket`] that [`async_connect`](crate::async_connect)
/// holds to go on trying endpoints. It does not keep the socket open.
#[derive(Clone)]
pub struct TcpSocketRef {
    core: Arc<IoCore>,
}

impl fmt::Debug for TcpSocketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocketRef").finish_non_exhaustive()
    }
}

macro_rules! impl_connect {
    ($ty:ty) => {
        impl AsyncConnect for $ty {
            type Endpoint = SocketAddr;
            type ConnectRef = TcpSocketRef;

            fn connect_ref(&self) -> TcpSocketRef {
                TcpSocketRef {
                    core: self.core.clone(),
                }
            }

            fn async_connect_one<T: CompletionToken<(io::Result<()>,)>>(
                &self,
                ep: SocketAddr,
                token: T,
            ) -> T::Output {
                token.launch(ConnectInit::new(&self.core, ep.into()))
            }

            fn close_for_retry(&self) -> io::Result<()> {
                self.core.close()
            }

            fn connect_executor(&self) -> IoExecutor {
                self.core.executor().clone()
            }
        }
    };
}
impl_connect!(TcpSocket);
impl_connect!(TcpSocketRef);

/// A listening TCP socket (Asio's `ip::tcp::acceptor`).
///
/// ```
/// use proactor::net::{TcpAcceptor, TcpSocket};
/// use proactor::IoContext;
///
/// let ctx = IoContext::new()?;
/// let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap())?;
/// let addr = acceptor.local_addr()?;
/// acceptor.async_accept(|r: std::io::Result<TcpSocket>| {
///     let peer = r.unwrap();
///     println!("accepted {:?}", peer.peer_addr());
/// });
/// let client = TcpSocket::new(&ctx.executor());
/// client.async_connect(addr, |r: std::io::Result<()>| r.unwrap());
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpAcceptor {
    core: Arc<IoCore>,
}

impl TcpAcceptor {
    /// Listens on `addr` with `SO_REUSEADDR` and the default backlog
    /// ([`DEFAULT_BACKLOG`](crate::net::DEFAULT_BACKLOG)).
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let a = proactor::net::TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap())?;
    /// assert_ne!(a.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(ex: &IoExecutor, addr: SocketAddr) -> io::Result<TcpAcceptor> {
        Self::bind_with_backlog(ex, addr, DEFAULT_BACKLOG)
    }

    /// Listens on `addr` with `SO_REUSEADDR` and the given backlog.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let a = proactor::net::TcpAcceptor::bind_with_backlog(&ctx.executor(), "127.0.0.1:0".parse().unwrap(), 16)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_with_backlog(
        ex: &IoExecutor,
        addr: SocketAddr,
        backlog: i32,
    ) -> io::Result<TcpAcceptor> {
        let fd = new_socket(domain_of(&addr), Type::STREAM)?;
        {
            let s = SockRef::from(&fd);
            s.set_reuse_address(true)?;
            s.bind(&addr.into())?;
            s.listen(backlog)?;
        }
        Ok(TcpAcceptor {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip(self.core.fd(|fd| with_sock(fd, |s| s.local_addr())))
    }

    /// Accepts a connection. The token receives the connected socket, on
    /// the acceptor's context. Errors (such as running out of descriptors)
    /// are reported to the token; the acceptor stays usable.
    ///
    /// ```no_run
    /// # let ctx = proactor::IoContext::new()?;
    /// # let a = proactor::net::TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap())?;
    /// a.async_accept(|r: std::io::Result<proactor::net::TcpSocket>| { let _ = r; });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn async_accept<T: CompletionToken<(io::Result<TcpSocket>,)>>(
        &self,
        token: T,
    ) -> T::Output {
        token.launch(AcceptInit {
            core: self.core.clone(),
        })
    }

    /// Pending accepts complete with "operation aborted".
    pub fn cancel(&self) {
        self.core.cancel()
    }

    /// Stops listening; pending accepts complete with "operation aborted".
    pub fn close(&self) -> io::Result<()> {
        self.core.close()
    }

    /// The executor the acceptor's handlers run on.
    pub fn executor(&self) -> &IoExecutor {
        self.core.executor()
    }
}

impl Drop for TcpAcceptor {
    fn drop(&mut self) {
        let _ = self.core.close();
    }
}

impl fmt::Debug for TcpAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpAcceptor")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

struct AcceptInit {
    core: Arc<IoCore>,
}

impl Initiation<(io::Result<TcpSocket>,)> for AcceptInit {
    fn initiate<H: CompletionHandler<(io::Result<TcpSocket>,)>>(self, handler: H) {
        let op = AcceptTcp {
            accept: Accept::new(),
            ex: self.core.executor().clone(),
        };
        self.core.start(OpKind::Read, op, handler, true);
    }
}

/// Accept, then wrap the descriptor in a socket on the acceptor's context.
struct AcceptTcp {
    accept: Accept,
    ex: IoExecutor,
}

impl Reactive for AcceptTcp {
    type Args = (io::Result<TcpSocket>,);

    fn perform(&mut self, fd: RawFd) -> Progress {
        self.accept.perform(fd)
    }

    fn fail(&mut self, e: io::Error) {
        self.accept.fail(e)
    }

    fn into_args(self) -> Self::Args {
        let (r,) = self.accept.into_args();
        (r.and_then(|(fd, _)| TcpSocket::from_fd(&self.ex, fd)),)
    }
}
