//! TCP: [`TcpAcceptor`] and [`TcpSocket`].

use super::{domain_of, ip, new_socket};
use crate::compose::AsyncConnect;
use crate::executor::IoExecutor;
use crate::io::object::{impl_connect, io_object};
use crate::io::ops::{with_sock, FromFd, Io};
use crate::io::IoCore;
use crate::reactor::OwnedFd;
use crate::stream::impl_stream;
use crate::sync::Arc;
use crate::token::CompletionToken;
use socket2::{SockRef, Type};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
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

impl_stream!(TcpSocket, "proactor::net::TcpSocket", Io::Socket);

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
        <TcpSocket as FromFd>::from_fd(ex, s.into())
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
        self.async_connect_one(addr, token)
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
        self.core.submit_started();
        self.core.fd(|fd| with_sock(fd, |s| s.shutdown(how)))
    }
}

io_object!(TcpSocket, "proactor::net::TcpSocket");

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

impl_connect!(TcpSocket, TcpSocketRef, SocketAddr, |ep: &SocketAddr| Ok(
    (*ep).into()
));
impl_connect!(
    TcpSocketRef,
    TcpSocketRef,
    SocketAddr,
    |ep: &SocketAddr| Ok((*ep).into())
);

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
        token.launch(crate::io::accept::<TcpSocket>(self.core.clone()))
    }
}

io_object!(TcpAcceptor, "proactor::net::TcpAcceptor");

impl fmt::Debug for TcpAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpAcceptor")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

impl FromFd for TcpSocket {
    fn from_fd(ex: &IoExecutor, fd: OwnedFd) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }
}

#[cfg(all(test, windows))]
mod tests {
    use super::*;
    use crate::io::accept_retry::Again;
    use crate::token::CompletionHandler;
    use crate::IoContext;
    use std::sync::mpsc;

    /// An accept whose connection the peer reset before it was accepted
    /// waits for the next connection instead of failing (wine cannot
    /// reset a connection in that window, so the completion is simulated).
    #[test]
    fn an_accept_whose_connection_was_reset_waits_for_the_next() {
        let ctx = IoContext::new().unwrap();
        let a = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
        let (tx, rx) = mpsc::channel();
        let again = Again::new(a.core.clone(), move |r: io::Result<TcpSocket>| {
            tx.send(r.map(|s| s.local_addr().is_ok())).unwrap()
        });
        CompletionHandler::complete(again, (Err(io::ErrorKind::ConnectionReset.into()),));
        assert!(rx.try_recv().is_err(), "the handler saw the reset");
        let _peer = std::net::TcpStream::connect(a.local_addr().unwrap()).unwrap();
        ctx.run();
        assert!(rx.try_recv().unwrap().unwrap());
    }
}
