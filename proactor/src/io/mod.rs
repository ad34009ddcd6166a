//! What every descriptor-based I/O object (sockets, stream descriptors) is
//! built on: [`IoCore`], which owns the object's descriptor state in the
//! context's reactor and starts operations on it.

pub(crate) mod core;
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
