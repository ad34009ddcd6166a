//! TCP and UDP over IP: [`TcpAcceptor`], [`TcpSocket`], [`UdpSocket`], and
//! the [`Resolver`] for host names.
//!
//! All methods take `&self`: a socket shared in an `Arc` can have a read and
//! a write pending at once. Sockets are `Send + Sync`. Closing, cancelling
//! or dropping a socket completes its pending operations with "operation
//! aborted", handing their buffers back.

pub(crate) mod resolver;
mod tcp;
pub(crate) mod udp;

pub use resolver::Resolver;
pub use tcp::{TcpAcceptor, TcpSocket, TcpSocketRef, DEFAULT_BACKLOG};
pub use udp::UdpSocket;

use crate::reactor::OwnedFd;
use socket2::{Domain, SockAddr, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// A new non-blocking, close-on-exec socket (on Windows: overlapped and
/// not inheritable, as socket2 makes them; overlapped operations ignore
/// the blocking mode).
pub(crate) fn new_socket(domain: Domain, ty: Type) -> io::Result<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let s = Socket::new(domain, ty.nonblocking().cloexec(), None)?;
    #[cfg(windows)]
    let s = Socket::new(domain, ty, None)?;
    #[cfg(all(
        unix,
        not(any(target_os = "linux", target_os = "android", target_os = "freebsd"))
    ))]
    let s = {
        let s = Socket::new(domain, ty, None)?;
        s.set_nonblocking(true)?;
        s.set_cloexec(true)?;
        #[cfg(target_vendor = "apple")]
        s.set_nosigpipe(true)?;
        s
    };
    Ok(s.into())
}

pub(crate) fn domain_of(addr: &SocketAddr) -> Domain {
    Domain::for_address(*addr)
}

pub(crate) fn ip(a: io::Result<SockAddr>) -> io::Result<SocketAddr> {
    crate::io::ops::ip_addr(&a?)
}
