//! The stream traits that composed operations ([`async_read`](crate::async_read),
//! [`async_write`](crate::async_write), ...) are written against, so that
//! TCP and Unix sockets, stream descriptors, TLS streams and streams of
//! your own all get them.
//!
//! A composed operation continues from inside its handlers, after the
//! initiating call has returned, so it cannot borrow the stream: it takes a
//! *reference* ([`AsyncReadStream::ReadRef`]) instead. References are cheap
//! to clone and do not keep the stream open: dropping or closing the stream
//! makes the composed operation fail with "operation aborted" (or "bad file
//! descriptor") rather than hang.

use crate::buf::{IoBuf, IoBufMut};
use crate::token::CompletionToken;
use std::io;

#[cfg(any(unix, windows))]
pub use stream_ref::StreamRef;

/// A stream that reads some bytes at a time.
pub trait AsyncReadStream: Send + Sync {
    /// What composed operations hold to continue reading.
    type ReadRef: AsyncReadStream + Clone + Send + Sync + 'static;

    /// A reference to this stream for continuing reads.
    fn read_ref(&self) -> Self::ReadRef;

    /// Reads at least one byte (or reports end of stream as `Ok(0)`) into
    /// the spare capacity of `buf`, advancing its length.
    fn async_read_some<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        token: T,
    ) -> T::Output;
}

/// A stream that writes some bytes at a time.
pub trait AsyncWriteStream: Send + Sync {
    /// What composed operations hold to continue writing.
    type WriteRef: AsyncWriteStream + Clone + Send + Sync + 'static;

    /// A reference to this stream for continuing writes.
    fn write_ref(&self) -> Self::WriteRef;

    /// Writes at least one byte of `buf[..len]`.
    fn async_write_some<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        token: T,
    ) -> T::Output;
}

#[cfg(any(unix, windows))]
mod stream_ref {
    use super::{AsyncReadStream, AsyncWriteStream};
    use crate::buf::{IoBuf, IoBufMut};
    use crate::executor::IoExecutor;
    use crate::io::IoCore;
    use crate::sync::Arc;
    use crate::token::CompletionToken;
    use std::fmt;
    use std::io;

    /// A reference to one of proactor's streams (TCP or Unix socket, stream
    /// descriptor): what composed operations hold. It does not keep the stream
    /// open.
    ///
    /// ```
    /// use proactor::net::TcpSocket;
    /// use proactor::{AsyncReadStream, IoContext};
    ///
    /// let ctx = IoContext::new()?;
    /// let socket = TcpSocket::new(&ctx.executor());
    /// let r = socket.read_ref();
    /// drop(socket); // closes the socket; `r` now fails every operation
    /// r.async_read_some(Vec::with_capacity(8), |res: std::io::Result<usize>, _buf: Vec<u8>| {
    ///     assert!(res.is_err());
    /// });
    /// ctx.run();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Clone)]
    pub struct StreamRef {
        pub(crate) core: Arc<IoCore>,
        pub(crate) how: crate::io::ops::Io,
    }

    impl StreamRef {
        /// The executor the stream's handlers run on.
        pub fn executor(&self) -> &IoExecutor {
            self.core.executor()
        }
    }

    impl AsyncReadStream for StreamRef {
        type ReadRef = StreamRef;

        fn read_ref(&self) -> StreamRef {
            self.clone()
        }

        fn async_read_some<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
            &self,
            buf: B,
            token: T,
        ) -> T::Output {
            crate::io::start_read(&self.core, self.how, buf, token)
        }
    }

    impl AsyncWriteStream for StreamRef {
        type WriteRef = StreamRef;

        fn write_ref(&self) -> StreamRef {
            self.clone()
        }

        fn async_write_some<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
            &self,
            buf: B,
            token: T,
        ) -> T::Output {
            crate::io::start_write(&self.core, self.how, buf, token)
        }
    }

    impl fmt::Debug for StreamRef {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("StreamRef").finish_non_exhaustive()
        }
    }
}

#[cfg(any(unix, windows))]
/// Implements the stream traits for a type whose `core` field is an
/// `Arc<IoCore>`, reading and writing with `$how`.
macro_rules! impl_stream {
    ($ty:ty, $path:literal, $how:expr) => {
        impl $ty {
            /// Reads at least one byte into the spare capacity of `buf`
            /// (`Ok(0)` at end of stream); the token receives the count and
            /// the buffer, with everything read, also on error.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(s: &", $path, ") {")]
            /// s.async_read_some(Vec::with_capacity(4096), |r: std::io::Result<usize>, buf: Vec<u8>| {
            ///     println!("{r:?}: {:?}", &buf[..]);
            /// });
            /// # }
            /// ```
            pub fn async_read_some<
                B: $crate::IoBufMut,
                T: $crate::CompletionToken<(std::io::Result<usize>, B)>,
            >(
                &self,
                buf: B,
                token: T,
            ) -> T::Output {
                $crate::io::start_read(&self.core, $how, buf, token)
            }

            /// Writes at least one byte of `buf[..len]`; the token receives
            /// the count and the buffer.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(s: &", $path, ") {")]
            /// s.async_write_some(b"hello".to_vec(), |r: std::io::Result<usize>, _: Vec<u8>| {
            ///     println!("wrote {r:?}");
            /// });
            /// # }
            /// ```
            pub fn async_write_some<
                B: $crate::IoBuf,
                T: $crate::CompletionToken<(std::io::Result<usize>, B)>,
            >(
                &self,
                buf: B,
                token: T,
            ) -> T::Output {
                $crate::io::start_write(&self.core, $how, buf, token)
            }
        }

        impl $crate::stream::AsyncReadStream for $ty {
            type ReadRef = $crate::stream::StreamRef;

            fn read_ref(&self) -> $crate::stream::StreamRef {
                $crate::stream::StreamRef {
                    core: self.core.clone(),
                    how: $how,
                }
            }

            fn async_read_some<
                B: $crate::IoBufMut,
                T: $crate::CompletionToken<(std::io::Result<usize>, B)>,
            >(
                &self,
                buf: B,
                token: T,
            ) -> T::Output {
                $crate::io::start_read(&self.core, $how, buf, token)
            }
        }

        impl $crate::stream::AsyncWriteStream for $ty {
            type WriteRef = $crate::stream::StreamRef;

            fn write_ref(&self) -> $crate::stream::StreamRef {
                $crate::stream::StreamRef {
                    core: self.core.clone(),
                    how: $how,
                }
            }

            fn async_write_some<
                B: $crate::IoBuf,
                T: $crate::CompletionToken<(std::io::Result<usize>, B)>,
            >(
                &self,
                buf: B,
                token: T,
            ) -> T::Output {
                $crate::io::start_write(&self.core, $how, buf, token)
            }
        }
    };
}
#[cfg(any(unix, windows))]
pub(crate) use impl_stream;
