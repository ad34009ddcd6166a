//! What every descriptor-based I/O object (sockets, stream descriptors) is
//! built on: [`IoCore`], which owns the object's descriptor state in the
//! context's reactor and starts operations on it.
//!
//! The operations are readiness ones on Unix (`ops.rs`) and completion
//! ones on Windows (`sys/windows/ops.rs`, started by `completion.rs`),
//! with the same names, so that the I/O objects and the initiating
//! functions here are written once; [`IoOp`] names whichever applies.

#[cfg(windows)]
pub(crate) mod accept_retry;
#[cfg(windows)]
mod completion;
pub(crate) mod core;
#[macro_use]
pub(crate) mod object;
#[cfg(unix)]
pub(crate) mod ops;
#[cfg(target_os = "linux")]
pub(crate) mod submit;
#[cfg(unix)]
mod syscall;
#[cfg(windows)]
pub(crate) use crate::sys::windows::ops;

pub(crate) use self::core::IoCore;

/// The operations an I/O object starts on this platform.
#[cfg(all(unix, not(target_os = "linux")))]
pub(crate) use crate::reactor::op::Reactive as IoOp;
/// The operations an I/O object starts on this platform.
#[cfg(windows)]
pub(crate) use crate::sys::windows::ops::Overlapped as IoOp;
/// The operations an I/O object starts on this platform.
#[cfg(target_os = "linux")]
pub(crate) use submit::IoOp;

mod start {
    use super::ops::{Io, ReadSome, WriteSome};
    use super::IoCore;
    use crate::buf::{IoBuf, IoBufMut};
    use crate::reactor::op::OpKind;
    use crate::sync::Arc;
    use crate::token::{CompletionHandler, CompletionToken, Initiation};
    use std::io;

    struct ReadInit<B> {
        core: Arc<IoCore>,
        how: Io,
        buf: B,
    }

    impl<B: IoBufMut> Initiation<(io::Result<usize>, B)> for ReadInit<B> {
        fn initiate<H: CompletionHandler<(io::Result<usize>, B)>>(self, handler: H) {
            self.core.start(
                OpKind::Read,
                ReadSome::new(self.buf, self.how, true),
                handler,
                true,
            );
        }
    }

    struct WriteInit<B> {
        core: Arc<IoCore>,
        how: Io,
        buf: B,
    }

    impl<B: IoBuf> Initiation<(io::Result<usize>, B)> for WriteInit<B> {
        fn initiate<H: CompletionHandler<(io::Result<usize>, B)>>(self, handler: H) {
            self.core.start(
                OpKind::Write,
                WriteSome::new(self.buf, self.how),
                handler,
                true,
            );
        }
    }

    /// `async_read_some` on a stream core.
    pub(crate) fn start_read<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        core: &Arc<IoCore>,
        how: Io,
        buf: B,
        token: T,
    ) -> T::Output {
        token.launch(ReadInit {
            core: core.clone(),
            how,
            buf,
        })
    }

    /// `async_write_some` on a stream core.
    pub(crate) fn start_write<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        core: &Arc<IoCore>,
        how: Io,
        buf: B,
        token: T,
    ) -> T::Output {
        token.launch(WriteInit {
            core: core.clone(),
            how,
            buf,
        })
    }
}

pub(crate) use start::{start_read, start_write};

mod connect {
    use super::IoCore;
    use crate::sync::Arc;
    use socket2::SockAddr;

    /// Connects a stream socket, opening it first if it is closed (how:
    /// `connect_unix` and `connect_windows`).
    pub(crate) struct ConnectInit {
        pub(super) core: Arc<IoCore>,
        pub(super) addr: SockAddr,
    }

    impl ConnectInit {
        pub(crate) fn new(core: &Arc<IoCore>, addr: SockAddr) -> Self {
            ConnectInit {
                core: core.clone(),
                addr,
            }
        }
    }
}

/// A non-blocking `connect`, then a wait for writability.
#[cfg(unix)]
mod connect_unix {
    use super::connect::ConnectInit;
    use super::ops::{with_sock, ConnectWait};
    use crate::reactor::op::OpKind;
    use crate::token::{CompletionHandler, Initiation};
    use socket2::Type;
    use std::io;

    impl Initiation<(io::Result<()>,)> for ConnectInit {
        fn initiate<H: CompletionHandler<(io::Result<()>,)>>(self, handler: H) {
            let core = &self.core;
            if !core.is_open() {
                let opened = crate::net::new_socket(self.addr.domain(), Type::STREAM)
                    .and_then(|fd| core.open(fd));
                if let Err(e) = opened {
                    return core.complete_with(ConnectWait::new(), handler, Err(e));
                }
            }
            let addr = &self.addr;
            match core.fd(|fd| with_sock(fd, |s| s.connect(addr))) {
                Ok(()) => core.complete_with(ConnectWait::new(), handler, Ok(())),
                Err(e)
                    if e.raw_os_error() == Some(libc::EINPROGRESS)
                        || e.kind() == io::ErrorKind::WouldBlock =>
                {
                    core.start(OpKind::Write, ConnectWait::new(), handler, false)
                }
                Err(e) => core.complete_with(ConnectWait::new(), handler, Err(e)),
            }
        }
    }
}

/// `ConnectEx`, which needs a bound socket; every outcome comes from the
/// operation.
#[cfg(windows)]
mod connect_windows {
    use super::connect::ConnectInit;
    use super::ops::ConnectWait;
    use crate::reactor::op::OpKind;
    use crate::token::{CompletionHandler, Initiation};
    use socket2::{SockAddr, SockRef, Type};
    use std::io;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    /// A new socket for `addr`'s family, bound to any local address.
    fn open_bound(addr: &SockAddr) -> io::Result<crate::reactor::OwnedFd> {
        let s = crate::net::new_socket(addr.domain(), Type::STREAM)?;
        let any = if addr.is_ipv6() {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
        };
        SockRef::from(&s).bind(&any.into())?;
        Ok(s)
    }

    impl Initiation<(io::Result<()>,)> for ConnectInit {
        fn initiate<H: CompletionHandler<(io::Result<()>,)>>(self, handler: H) {
            let core = &self.core;
            if !core.is_open() {
                if let Err(e) = open_bound(&self.addr).and_then(|s| core.open(s)) {
                    return core.complete_with(ConnectWait::new(), handler, Err(e));
                }
            }
            core.start(OpKind::Write, ConnectWait::to(self.addr), handler, false)
        }
    }
}

pub(crate) use connect::ConnectInit;

mod fail {
    use super::{IoCore, IoOp};
    use crate::sync::Arc;
    use crate::token::{CompletionHandler, Initiation};
    use std::io;

    /// Completes an operation with an error found before it could start
    /// (posted, like every completion).
    pub(crate) struct FailWith<O> {
        core: Arc<IoCore>,
        op: O,
        error: io::Error,
    }

    impl<O> FailWith<O> {
        pub(crate) fn new(core: &Arc<IoCore>, op: O, error: io::Error) -> Self {
            FailWith {
                core: core.clone(),
                op,
                error,
            }
        }
    }

    impl<O: IoOp> Initiation<O::Args> for FailWith<O> {
        fn initiate<H: CompletionHandler<O::Args>>(self, handler: H) {
            self.core.complete_with(self.op, handler, Err(self.error));
        }
    }
}

pub(crate) use fail::FailWith;

mod start_op {
    use super::{IoCore, IoOp};
    use crate::reactor::op::OpKind;
    use crate::sync::Arc;
    use crate::token::{CompletionHandler, Initiation};

    /// Starts one reactor operation on a core.
    pub(crate) struct Start<O> {
        pub(crate) core: Arc<IoCore>,
        pub(crate) op: O,
        pub(crate) kind: OpKind,
    }

    impl<O: IoOp> Initiation<O::Args> for Start<O> {
        fn initiate<H: CompletionHandler<O::Args>>(self, handler: H) {
            self.core.start(self.kind, self.op, handler, true);
        }
    }
}

pub(crate) use start_op::Start;

/// Starts an accept of an `S` on `core` (the listening socket's).
#[cfg(unix)]
pub(crate) fn accept<S: ops::FromFd>(
    core: crate::sync::Arc<IoCore>,
) -> impl crate::token::Initiation<(std::io::Result<S>,)> {
    Start {
        op: ops::AcceptAs::<S>::new(core.executor()),
        core,
        kind: crate::reactor::op::OpKind::Read,
    }
}

/// Starts an accept of an `S` on `core` (the listening socket's); see
/// [`accept_retry`] for why it differs.
#[cfg(windows)]
pub(crate) fn accept<S: ops::FromFd>(
    core: crate::sync::Arc<IoCore>,
) -> impl crate::token::Initiation<(std::io::Result<S>,)> {
    accept_retry::AcceptRetrying::<S>::new(core)
}
