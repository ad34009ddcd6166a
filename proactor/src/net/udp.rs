//! UDP: [`UdpSocket`].

use super::{domain_of, ip, new_socket};
use crate::buf::{IoBuf, IoBufMut};
use crate::executor::IoExecutor;
use crate::io::object::{impl_connected_datagram, io_object};
use crate::io::ops::{with_sock, RecvFrom, SendTo};
use crate::io::IoCore;
use crate::io::Start;
use crate::reactor::op::OpKind;
#[cfg(unix)]
use crate::reactor::op::{Progress, RawFd, Reactive};
use crate::sync::Arc;
use crate::token::CompletionToken;
use socket2::{SockAddr, SockRef, Type};
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// A UDP socket (Asio's `ip::udp::socket`).
///
/// ```
/// use proactor::net::UdpSocket;
/// use proactor::IoContext;
///
/// let ctx = IoContext::new()?;
/// let a = UdpSocket::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap())?;
/// let b = UdpSocket::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap())?;
/// b.async_receive_from(Vec::with_capacity(64), |r: std::io::Result<(usize, std::net::SocketAddr)>, buf: Vec<u8>| {
///     assert_eq!(&buf[..], b"ping");
/// });
/// a.async_send_to(b"ping", b.local_addr()?, |r: std::io::Result<usize>, _: &'static [u8; 4]| {
///     assert_eq!(r.unwrap(), 4);
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    core: Arc<IoCore>,
}

impl UdpSocket {
    /// A socket bound to `addr` (port 0: any free port).
    pub fn bind(ex: &IoExecutor, addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = new_socket(domain_of(&addr), Type::DGRAM)?;
        #[cfg(windows)]
        crate::sys::windows::socket::ignore_port_unreachable(&fd);
        SockRef::from(&fd).bind(&addr.into())?;
        Ok(UdpSocket {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip(self.core.fd(|fd| with_sock(fd, |s| s.local_addr())))
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip(self.core.fd(|fd| with_sock(fd, |s| s.peer_addr())))
    }

    /// Sets the default destination of [`async_send`](UdpSocket::async_send)
    /// and the only source [`async_receive`](UdpSocket::async_receive)
    /// accepts. (Never blocks: UDP has no handshake.)
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.core
            .fd(|fd| with_sock(fd, |s| s.connect(&addr.into())))
    }

    /// Sends `buf[..len]` as one datagram to `to`.
    pub fn async_send_to<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        to: SocketAddr,
        token: T,
    ) -> T::Output {
        token.launch(Start {
            core: self.core.clone(),
            op: SendTo::new(buf, to.into()),
            kind: OpKind::Write,
        })
    }

    /// Receives one datagram into the spare capacity of `buf`; the token
    /// receives its length and its sender.
    pub fn async_receive_from<
        B: IoBufMut,
        T: CompletionToken<(io::Result<(usize, SocketAddr)>, B)>,
    >(
        &self,
        buf: B,
        token: T,
    ) -> T::Output {
        token.launch(Start {
            core: self.core.clone(),
            op: RecvFromIp(RecvFrom::new(buf)),
            kind: OpKind::Read,
        })
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.core.fd(|fd| with_sock(fd, |s| s.set_broadcast(on)))
    }
}

io_object!(UdpSocket, "proactor::net::UdpSocket");
impl_connected_datagram!(UdpSocket, "proactor::net::UdpSocket");

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

/// `RecvFrom` with the sender as an IP address.
struct RecvFromIp<B>(RecvFrom<B>);

/// `RecvFrom`'s arguments with the sender as an IP address.
fn with_ip<B>(
    (r, buf): (io::Result<(usize, SockAddr)>, B),
) -> (io::Result<(usize, SocketAddr)>, B) {
    (
        r.and_then(|(n, from)| Ok((n, crate::io::ops::ip_addr(&from)?))),
        buf,
    )
}

#[cfg(unix)]
impl<B: IoBufMut> Reactive for RecvFromIp<B> {
    type Args = (io::Result<(usize, SocketAddr)>, B);

    fn perform(&mut self, fd: RawFd) -> Progress {
        self.0.perform(fd)
    }

    fn fail(&mut self, e: io::Error) {
        self.0.fail(e)
    }

    fn into_args(self) -> Self::Args {
        with_ip(self.0.into_args())
    }
}

#[cfg(target_os = "linux")]
impl<B: IoBufMut> crate::io::submit::Submit for RecvFromIp<B> {
    fn prep(&mut self, fd: RawFd) -> io::Result<io_uring::squeue::Entry> {
        self.0.prep(fd)
    }

    fn complete(&mut self, fd: RawFd, res: io::Result<usize>) -> bool {
        self.0.complete(fd, res)
    }
}

#[cfg(windows)]
impl<B: IoBufMut> crate::completion::Completion for RecvFromIp<B> {
    type Args = (io::Result<(usize, SocketAddr)>, B);

    fn into_args(self, result: io::Result<usize>) -> Self::Args {
        with_ip(self.0.into_args(result))
    }
}

#[cfg(windows)]
impl<B: IoBufMut> crate::io::ops::Overlapped for RecvFromIp<B> {
    unsafe fn issue(
        &mut self,
        s: windows_sys::Win32::Networking::WinSock::SOCKET,
        ovl: *mut windows_sys::Win32::System::IO::OVERLAPPED,
    ) -> crate::io::ops::Issued {
        // SAFETY: forwarded: `self.0` lives in the same block as `self`.
        unsafe { self.0.issue(s, ovl) }
    }
}
