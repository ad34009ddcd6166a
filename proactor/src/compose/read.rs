//! [`async_read`]: fill a buffer.

use crate::buf::IoBufMut;
use crate::error::after_transfer;
use crate::stream::AsyncReadStream;
use crate::token::{
    composed_slot, with_cancellation_slot, CancellationSlot, CompletionHandler, CompletionToken,
    Initiation,
};
use std::io;

/// Reads until `buf` is full (its whole capacity), and gives the number of
/// bytes read and the buffer to the token. End of stream before the buffer
/// is full fails with [`io::ErrorKind::UnexpectedEof`]; on any failure the
/// buffer still holds everything read, and
/// [`error::bytes_transferred`](crate::error::bytes_transferred) tells how
/// much that was.
///
/// ```no_run
/// use proactor::{async_read, net::TcpSocket, IoContext};
///
/// let ctx = IoContext::new()?;
/// let socket = TcpSocket::new(&ctx.executor());
/// // ... connect ...
/// async_read(&socket, Vec::with_capacity(16), |r: std::io::Result<usize>, buf: Vec<u8>| {
///     assert_eq!(r.unwrap(), 16);
///     assert_eq!(buf.len(), 16);
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn async_read<S, B, T>(s: &S, buf: B, token: T) -> T::Output
where
    S: AsyncReadStream + ?Sized,
    B: IoBufMut,
    T: CompletionToken<(io::Result<usize>, B)>,
{
    token.launch(ReadAll {
        stream: s.read_ref(),
        buf,
    })
}

/// Where each read of a whole-buffer read goes: a stream's next bytes,
/// or (files) the bytes at an offset past those read so far.
pub(crate) trait ReadPart: Clone + Send + Sync + 'static {
    /// Reads some bytes into `buf`; `done` were read before.
    fn read_part<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        done: usize,
        token: T,
    ) -> T::Output;
}

impl<R: AsyncReadStream + Clone + Send + Sync + 'static> ReadPart for R {
    fn read_part<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        _done: usize,
        token: T,
    ) -> T::Output {
        self.async_read_some(buf, token)
    }
}

/// Reads until `buf` is full (see [`async_read`]).
pub(crate) struct ReadAll<R, B> {
    pub(crate) stream: R,
    pub(crate) buf: B,
}

impl<R, B> Initiation<(io::Result<usize>, B)> for ReadAll<R, B>
where
    R: ReadPart,
    B: IoBufMut,
{
    fn initiate<H: CompletionHandler<(io::Result<usize>, B)>>(self, handler: H) {
        let slot = composed_slot(&handler);
        step(self.stream, self.buf, 0, handler, slot);
    }
}

fn step<R, B, H>(stream: R, buf: B, total: usize, handler: H, slot: Option<CancellationSlot>)
where
    R: ReadPart,
    B: IoBufMut,
    H: CompletionHandler<(io::Result<usize>, B)>,
{
    let next = stream.clone();
    let token = with_cancellation_slot(slot.clone(), move |r: io::Result<usize>, buf: B| {
        let full = buf.bytes_init() == buf.bytes_total();
        match r {
            Ok(n) if full => handler.complete((Ok(total + n), buf)),
            Ok(0) => {
                let e = after_transfer(io::ErrorKind::UnexpectedEof.into(), total);
                handler.complete((Err(e), buf))
            }
            Ok(n) => step(next, buf, total + n, handler, slot),
            Err(e) => handler.complete((Err(after_transfer(e, total)), buf)),
        }
    });
    stream.read_part(buf, total, token);
}
