//! [`async_write`]: write a whole buffer.

use super::views::Tail;
use crate::buf::IoBuf;
use crate::error::after_transfer;
use crate::stream::AsyncWriteStream;
use crate::token::{
    composed_slot, with_cancellation_slot, CancellationSlot, CompletionHandler, CompletionToken,
    Initiation,
};
use std::io;

/// Writes all of `buf[..len]`, and gives the number of bytes written and
/// the buffer to the token. On failure, the bytes before the failing write
/// were written (and stay so): [`error::bytes_transferred`] tells how many,
/// and the error says why the rest was not.
///
/// [`error::bytes_transferred`]: crate::error::bytes_transferred
///
/// ```no_run
/// use proactor::{async_write, net::TcpSocket, IoContext};
///
/// let ctx = IoContext::new()?;
/// let socket = TcpSocket::new(&ctx.executor());
/// // ... connect ...
/// async_write(&socket, b"hello, world".to_vec(), |r: std::io::Result<usize>, _buf: Vec<u8>| {
///     assert_eq!(r.unwrap(), 12);
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn async_write<S, B, T>(s: &S, buf: B, token: T) -> T::Output
where
    S: AsyncWriteStream + ?Sized,
    B: IoBuf,
    T: CompletionToken<(io::Result<usize>, B)>,
{
    token.launch(WriteAll {
        stream: s.write_ref(),
        buf,
    })
}

/// Where each write of a whole-buffer write goes: a stream's next bytes,
/// or (files) the bytes at an offset past those written so far.
pub(crate) trait WritePart: Clone + Send + Sync + 'static {
    /// Writes some of `buf`; `done` bytes were written before.
    fn write_part<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        done: usize,
        token: T,
    ) -> T::Output;
}

impl<W: AsyncWriteStream + Clone + Send + Sync + 'static> WritePart for W {
    fn write_part<B: IoBuf, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        _done: usize,
        token: T,
    ) -> T::Output {
        self.async_write_some(buf, token)
    }
}

/// Writes all of `buf` (see [`async_write`]).
pub(crate) struct WriteAll<W, B> {
    pub(crate) stream: W,
    pub(crate) buf: B,
}

impl<W, B> Initiation<(io::Result<usize>, B)> for WriteAll<W, B>
where
    W: WritePart,
    B: IoBuf,
{
    fn initiate<H: CompletionHandler<(io::Result<usize>, B)>>(self, handler: H) {
        let slot = composed_slot(&handler);
        let tail = Tail {
            buf: self.buf,
            offset: 0,
        };
        step(self.stream, tail, handler, slot);
    }
}

fn step<W, B, H>(stream: W, tail: Tail<B>, handler: H, slot: Option<CancellationSlot>)
where
    W: WritePart,
    B: IoBuf,
    H: CompletionHandler<(io::Result<usize>, B)>,
{
    let next = stream.clone();
    let token = with_cancellation_slot(
        slot.clone(),
        move |r: io::Result<usize>, mut tail: Tail<B>| match r {
            Ok(n) => {
                tail.offset += n;
                if tail.offset >= tail.buf.bytes_init() {
                    handler.complete((Ok(tail.offset), tail.buf));
                } else if n == 0 {
                    handler.complete((Err(io::ErrorKind::WriteZero.into()), tail.buf));
                } else {
                    step(next, tail, handler, slot);
                }
            }
            Err(e) => handler.complete((Err(after_transfer(e, tail.offset)), tail.buf)),
        },
    );
    let done = tail.offset;
    stream.write_part(tail, done, token);
}
