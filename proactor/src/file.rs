//! Regular files (Asio's `basic_random_access_file` and
//! `basic_stream_file`).
//!
//! * [`RandomAccessFile`]: reads and writes at offsets; any number may be
//!   started, and they complete in the order they were started.
//! * [`StreamFile`]: reads and writes at the file's position, which they
//!   advance; it is a stream, so `async_read`, `async_write` and
//!   `async_read_until` work on it.
//!
//! On the io_uring backend the kernel performs the operations, as Asio does
//! there. A readiness backend (epoll) cannot wait for a file, which is
//! always "ready": there each operation makes its system call when it
//! starts, which waits for the disk if the data is not cached, and
//! completes through the queue like any other (the handler never runs
//! inside the initiating call).

use crate::buf::{IoBuf, IoBufMut};
use crate::compose::{ReadAll, ReadPart, WriteAll, WritePart};
use crate::io::ops::Io;
use crate::io::{start_read, start_write, IoCore};
use crate::sync::Arc;
use crate::token::CompletionToken;
use crate::IoExecutor;
use std::fmt;
use std::fs::File;
use std::io::{self, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::Path;

/// A regular file read and written at offsets.
///
/// ```
/// use proactor::file::RandomAccessFile;
/// use proactor::IoContext;
///
/// let ctx = IoContext::new()?;
/// let path = std::env::temp_dir().join(format!("proactor-doc-raf-{}", std::process::id()));
/// let f = RandomAccessFile::create(&ctx.executor(), &path)?;
/// f.async_write_at(3, b"def", |r: std::io::Result<usize>, _: &'static [u8; 3]| {
///     assert_eq!(r.unwrap(), 3);
/// });
/// f.async_write_at(0, b"abc", |r: std::io::Result<usize>, _: &'static [u8; 3]| {
///     assert_eq!(r.unwrap(), 3);
/// });
/// ctx.run();
/// ctx.restart();
/// f.async_read_at(2, Vec::with_capacity(3), |r: std::io::Result<usize>, buf: Vec<u8>| {
///     assert_eq!(r.unwrap(), 3);
///     assert_eq!(buf, b"cde");
/// });
/// ctx.run();
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RandomAccessFile {
    core: Arc<IoCore>,
}

/// A regular file read and written at its position, as a stream.
///
/// ```
/// use proactor::file::StreamFile;
/// use proactor::{async_read, async_write, IoContext};
///
/// let ctx = IoContext::new()?;
/// let path = std::env::temp_dir().join(format!("proactor-doc-sf-{}", std::process::id()));
/// let f = StreamFile::create(&ctx.executor(), &path)?;
/// async_write(&f, b"hello, file", |r: std::io::Result<usize>, _: &'static [u8; 11]| {
///     assert_eq!(r.unwrap(), 11);
/// });
/// ctx.run();
/// f.seek(std::io::SeekFrom::Start(7))?;
/// ctx.restart();
/// async_read(&f, Vec::with_capacity(4), |r: std::io::Result<usize>, buf: Vec<u8>| {
///     assert_eq!(r.unwrap(), 4);
///     assert_eq!(buf, b"file");
/// });
/// ctx.run();
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StreamFile {
    core: Arc<IoCore>,
}

/// The members both file types share.
macro_rules! file_common {
    ($ty:ident, $path:literal) => {
        impl $ty {
            /// Takes ownership of an open file on `ex`'s context.
            ///
            /// ```no_run
            #[doc = concat!("use ", $path, ";")]
            /// let ctx = proactor::IoContext::new()?;
            #[doc = concat!("let f = ", stringify!($ty), "::from_std(&ctx.executor(), std::fs::File::open(\"/etc/hostname\")?)?;")]
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn from_std(ex: &IoExecutor, file: File) -> io::Result<$ty> {
                Ok($ty {
                    core: Arc::new(IoCore::with_file(ex, OwnedFd::from(file))?),
                })
            }

            /// Opens an existing file for reading (as [`File::open`]).
            ///
            /// ```no_run
            #[doc = concat!("use ", $path, ";")]
            /// let ctx = proactor::IoContext::new()?;
            #[doc = concat!("let f = ", stringify!($ty), "::open(&ctx.executor(), \"/etc/hostname\")?;")]
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn open(ex: &IoExecutor, path: impl AsRef<Path>) -> io::Result<$ty> {
                Self::from_std(ex, File::open(path)?)
            }

            /// Creates (or truncates) a file for reading and writing.
            ///
            /// ```no_run
            #[doc = concat!("use ", $path, ";")]
            /// let ctx = proactor::IoContext::new()?;
            #[doc = concat!("let f = ", stringify!($ty), "::create(&ctx.executor(), \"out.bin\")?;")]
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn create(ex: &IoExecutor, path: impl AsRef<Path>) -> io::Result<$ty> {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(path)?;
                Self::from_std(ex, f)
            }

            /// The file's size in bytes.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(f: &", $path, ") -> std::io::Result<()> {")]
            /// println!("{} bytes", f.size()?);
            /// # Ok(()) }
            /// ```
            pub fn size(&self) -> io::Result<u64> {
                self.with_file(|f| f.metadata().map(|m| m.len()))
            }

            /// Truncates or extends the file to `len` bytes.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(f: &", $path, ") -> std::io::Result<()> {")]
            /// f.resize(0)?;
            /// # Ok(()) }
            /// ```
            pub fn resize(&self, len: u64) -> io::Result<()> {
                self.with_file(|f| f.set_len(len))
            }

            /// Flushes the file's data and metadata to the device.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(f: &", $path, ") -> std::io::Result<()> {")]
            /// f.sync_all()?;
            /// # Ok(()) }
            /// ```
            pub fn sync_all(&self) -> io::Result<()> {
                self.with_file(|f| f.sync_all())
            }

            /// Flushes the file's data (not all its metadata) to the device.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(f: &", $path, ") -> std::io::Result<()> {")]
            /// f.sync_data()?;
            /// # Ok(()) }
            /// ```
            pub fn sync_data(&self) -> io::Result<()> {
                self.with_file(|f| f.sync_data())
            }

            /// Runs `f` with the descriptor as a `File` (not closed after).
            fn with_file<R>(&self, f: impl FnOnce(&File) -> io::Result<R>) -> io::Result<R> {
                self.core.fd(|fd| {
                    use std::os::fd::FromRawFd;
                    // SAFETY: the descriptor stays open for the call (the
                    // core's lock), and the `File` never closes it.
                    let file = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
                    f(&file)
                })
            }
        }

        crate::io::object::io_object!($ty, $path);

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    };
}

file_common!(RandomAccessFile, "proactor::file::RandomAccessFile");
file_common!(StreamFile, "proactor::file::StreamFile");

crate::stream::impl_stream!(StreamFile, "proactor::file::StreamFile", Io::File);

impl StreamFile {
    /// Moves the file's position (as [`std::io::Seek`]); returns the new
    /// one. Operations under way when it is called may use either.
    ///
    /// ```no_run
    /// # fn f(f: &proactor::file::StreamFile) -> std::io::Result<()> {
    /// f.seek(std::io::SeekFrom::End(0))?;
    /// # Ok(()) }
    /// ```
    pub fn seek(&self, pos: SeekFrom) -> io::Result<u64> {
        self.core.submit_started();
        self.with_file(|mut f| std::io::Seek::seek(&mut f, pos))
    }
}

impl RandomAccessFile {
    /// Reads at least one byte at `offset` into the spare capacity of
    /// `buf` (`Ok(0)` at or past the end of the file).
    ///
    /// ```no_run
    /// # fn f(f: &proactor::file::RandomAccessFile) {
    /// f.async_read_some_at(4096, Vec::with_capacity(512), |r: std::io::Result<usize>, buf: Vec<u8>| {
    ///     println!("{r:?}: {} bytes", buf.len());
    /// });
    /// # }
    /// ```
    pub fn async_read_some_at<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        offset: u64,
        buf: B,
        token: T,
    ) -> T::Output {
        start_read(&self.core, Io::At(offset), buf, token)
    }

    /// Writes at least one byte of `buf[..len]` at `offset`.
    ///
    /// ```no_run
    /// # fn f(f: &proactor::file::RandomAccessFile) {
    /// f.async_write_some_at(0, b"header".to_vec(), |r: std::io::Result<usize>, _: Vec<u8>| {
    ///     println!("wrote {r:?}");
    /// });
    /// # }
    /// ```
    pub fn async_write_some_at<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        offset: u64,
        buf: B,
        token: T,
    ) -> T::Output {
        start_write(&self.core, Io::At(offset), buf, token)
    }

    /// Reads at `offset` until `buf` is full (its whole capacity). The end
    /// of the file before that fails with [`io::ErrorKind::UnexpectedEof`];
    /// on any failure the buffer holds everything read, and
    /// [`error::bytes_transferred`](crate::error::bytes_transferred) says
    /// how much that was.
    ///
    /// ```no_run
    /// # fn f(f: &proactor::file::RandomAccessFile) {
    /// f.async_read_at(0, Vec::with_capacity(16), |r: std::io::Result<usize>, buf: Vec<u8>| {
    ///     assert_eq!(r.unwrap(), buf.len());
    /// });
    /// # }
    /// ```
    pub fn async_read_at<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        offset: u64,
        buf: B,
        token: T,
    ) -> T::Output {
        token.launch(ReadAll {
            stream: self.at(offset),
            buf,
        })
    }

    /// Writes all of `buf[..len]` at `offset`. On failure,
    /// [`error::bytes_transferred`](crate::error::bytes_transferred) says
    /// how much was written.
    ///
    /// ```no_run
    /// # fn f(f: &proactor::file::RandomAccessFile) {
    /// f.async_write_at(0, vec![0u8; 1 << 20], |r: std::io::Result<usize>, _: Vec<u8>| {
    ///     assert_eq!(r.unwrap(), 1 << 20);
    /// });
    /// # }
    /// ```
    pub fn async_write_at<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        offset: u64,
        buf: B,
        token: T,
    ) -> T::Output {
        token.launch(WriteAll {
            stream: self.at(offset),
            buf,
        })
    }
}

impl RandomAccessFile {
    /// The file from `offset` on, for the whole-buffer transfers.
    fn at(&self, offset: u64) -> Offset {
        Offset {
            core: self.core.clone(),
            offset,
        }
    }
}

/// A file from an offset on, for the whole-buffer transfers: each part
/// goes past the bytes already moved.
#[derive(Clone)]
struct Offset {
    core: Arc<IoCore>,
    offset: u64,
}

impl ReadPart for Offset {
    fn read_part<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        done: usize,
        token: T,
    ) -> T::Output {
        start_read(&self.core, Io::At(self.offset + done as u64), buf, token)
    }
}

impl WritePart for Offset {
    fn write_part<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        done: usize,
        token: T,
    ) -> T::Output {
        start_write(&self.core, Io::At(self.offset + done as u64), buf, token)
    }
}
