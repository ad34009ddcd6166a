//! What every descriptor-based I/O object (sockets, stream descriptors) is
//! built on: [`IoCore`], which owns the object's descriptor state in the
//! context's reactor and starts operations on it.

pub(crate) mod core;
#[macro_use]
pub(crate) mod object;
#[cfg(unix)]
pub(crate) mod ops;

pub(crate) use self::core::IoCore;

#[cfg(unix)]
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

#[cfg(unix)]
pub(crate) use start::{start_read, start_write};

#[cfg(unix)]
mod connect {
    use super::ops::{with_sock, ConnectWait};
    use super::IoCore;
    use crate::reactor::op::OpKind;
    use crate::sync::Arc;
    use crate::token::{CompletionHandler, Initiation};
    use socket2::{SockAddr, Type};
    use std::io;

    /// Connects a stream socket, opening it first if it is closed.
    pub(crate) struct ConnectInit {
        core: Arc<IoCore>,
        addr: SockAddr,
    }

    impl ConnectInit {
        pub(crate) fn new(core: &Arc<IoCore>, addr: SockAddr) -> Self {
            ConnectInit {
                core: core.clone(),
                addr,
            }
        }
    }

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

#[cfg(unix)]
pub(crate) use connect::ConnectInit;

mod fail {
    use super::IoCore;
    use crate::reactor::op::Reactive;
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

    impl<O: Reactive> Initiation<O::Args> for FailWith<O> {
        fn initiate<H: CompletionHandler<O::Args>>(self, handler: H) {
            self.core.complete_with(self.op, handler, Err(self.error));
        }
    }
}

pub(crate) use fail::FailWith;

#[cfg(unix)]
mod start_op {
    use super::IoCore;
    use crate::reactor::op::{OpKind, Reactive};
    use crate::sync::Arc;
    use crate::token::{CompletionHandler, Initiation};

    /// Starts one reactor operation on a core.
    pub(crate) struct Start<O> {
        pub(crate) core: Arc<IoCore>,
        pub(crate) op: O,
        pub(crate) kind: OpKind,
    }

    impl<O: Reactive> Initiation<O::Args> for Start<O> {
        fn initiate<H: CompletionHandler<O::Args>>(self, handler: H) {
            self.core.start(self.kind, self.op, handler, true);
        }
    }
}

#[cfg(unix)]
pub(crate) use start_op::Start;
