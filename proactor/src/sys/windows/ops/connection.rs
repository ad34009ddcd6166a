//! Making connections: `AcceptEx` into a socket made for it, and
//! `ConnectEx` on a bound one.

use super::{issued_bool, with_sock, Issued, Overlapped};
use crate::completion::Completion;
use crate::reactor::op::RawFd;
use crate::reactor::OwnedFd;
use crate::sys::windows::ext;
use socket2::{SockAddr, Type};
use std::io;
use std::marker::PhantomData;
use std::mem;
use std::os::windows::io::AsRawSocket;
use std::ptr;
use windows_sys::Win32::Networking::WinSock::{
    setsockopt, INVALID_SOCKET, SOCKADDR_STORAGE, SOCKET, SOCKET_ERROR, SOL_SOCKET,
    SO_UPDATE_ACCEPT_CONTEXT, SO_UPDATE_CONNECT_CONTEXT,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

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
