//! [`StreamDescriptor`]: pipes, ttys and other stream-like descriptors.

use crate::executor::IoExecutor;
use crate::io::object::io_object;
use crate::io::ops::Io;
use crate::io::IoCore;
use crate::stream::impl_stream;
use crate::sync::Arc;
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

impl_stream!(
    StreamDescriptor,
    "proactor::posix::StreamDescriptor",
    Io::Descriptor
);

impl StreamDescriptor {
    /// Takes ownership of `fd` (made non-blocking) on `ex`'s context.
    ///
    /// Regular files and directories are refused with `EPERM`, whatever
    /// the backend (epoll cannot wait on them; files have their own types).
    pub fn new(ex: &IoExecutor, fd: OwnedFd) -> io::Result<StreamDescriptor> {
        refuse_files(&fd)?;
        set_nonblocking(&fd)?;
        Ok(StreamDescriptor {
            core: Arc::new(IoCore::with_fd(ex, fd)?),
        })
    }
}

io_object!(StreamDescriptor, "proactor::posix::StreamDescriptor");

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

/// Fails with `EPERM` for a regular file or a directory.
fn refuse_files(fd: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: zero is a valid `stat`, which `fstat` fills in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a live descriptor and a live buffer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFDIR => Err(io::Error::from_raw_os_error(libc::EPERM)),
        _ => Ok(()),
    }
}
