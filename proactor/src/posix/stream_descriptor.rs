//! [`StreamDescriptor`]: pipes, ttys and other stream-like descriptors.

use crate::buf::{IoBuf, IoBufMut};
use crate::executor::IoExecutor;
use crate::io::ops::Io;
use crate::io::IoCore;
use crate::stream::{impl_stream, AsyncReadStream, AsyncWriteStream};
use crate::sync::Arc;
use crate::token::CompletionToken;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// A stream-oriented descriptor: a pipe end, a tty, a character device
/// (Asio's `posix::stream_descriptor`). Regular files cannot be used (the
/// system does not report readiness for them).
///
/// ```
/// use proactor::posix::StreamDescriptor;
/// use proactor::IoContext;
/// use std::os::fd::OwnedFd;
///
/// let ctx = IoContext::new()?;
/// let (r, w) = std::io::pipe()?;
/// let reader = StreamDescriptor::new(&ctx.executor(), OwnedFd::from(r))?;
/// let writer = StreamDescriptor::new(&ctx.executor(), OwnedFd::from(w))?;
/// writer.async_write_some(b"hi", |r: std::io::Result<usize>, _: &'static [u8; 2]| assert_eq!(r.unwrap(), 2));
/// reader.async_read_some(Vec::with_capacity(8), |r: std::io::Result<usize>, buf: Vec<u8>| {
///     assert_eq!(&buf[..r.unwrap()], b"hi");
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StreamDescriptor {
    core: Arc<IoCore>,
}

impl_stream!(StreamDescriptor, Io::Descriptor);

impl StreamDescriptor {
    /// Takes ownership of `fd` (made non-blocking) on `ex`'s context.
    pub fn new(ex: &IoExecutor, fd: OwnedFd) -> io::Result<StreamDescriptor> {
        set_nonblocking(&fd)?;
        Ok(StreamDescriptor {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }

    /// Reads at least one byte into the spare capacity of `buf` (`Ok(0)` at
    /// end of stream).
    pub fn async_read_some<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        token: T,
    ) -> T::Output {
        AsyncReadStream::async_read_some(self, buf, token)
    }

    /// Writes at least one byte of `buf[..len]`.
    pub fn async_write_some<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        token: T,
    ) -> T::Output {
        AsyncWriteStream::async_write_some(self, buf, token)
    }

    /// Pending operations complete with "operation aborted".
    pub fn cancel(&self) {
        self.core.cancel()
    }

    /// Closes the descriptor; pending operations complete with "operation
    /// aborted".
    pub fn close(&self) -> io::Result<()> {
        self.core.close()
    }

    /// True while the descriptor is open.
    pub fn is_open(&self) -> bool {
        self.core.is_open()
    }

    /// The executor the handlers run on.
    pub fn executor(&self) -> &IoExecutor {
        self.core.executor()
    }
}

impl Drop for StreamDescriptor {
    fn drop(&mut self) {
        let _ = self.core.close();
    }
}

impl fmt::Debug for StreamDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamDescriptor").finish_non_exhaustive()
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
