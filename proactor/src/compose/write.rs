//! [`async_write`]: write a whole buffer.

use super::views::Tail;
use crate::buf::IoBuf;
use crate::stream::AsyncWriteStream;
use crate::token::{CompletionHandler, CompletionToken, Initiation};
use std::io;

/// Writes all of `buf[..len]`, and gives the number of bytes written and
/// the buffer to the token. On failure, the bytes before the failing write
/// were written (and stay so); the error says why the rest was not.
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

struct WriteAll<W, B> {
    stream: W,
    buf: B,
}

impl<W, B> Initiation<(io::Result<usize>, B)> for WriteAll<W, B>
where
    W: AsyncWriteStream + Clone + Send + Sync + 'static,
    B: IoBuf,
{
    fn initiate<H: CompletionHandler<(io::Result<usize>, B)>>(self, handler: H) {
        step(
            self.stream,
            Tail {
                buf: self.buf,
                offset: 0,
            },
            handler,
        );
    }
}

fn step<W, B, H>(stream: W, tail: Tail<B>, handler: H)
where
    W: AsyncWriteStream + Clone + Send + Sync + 'static,
    B: IoBuf,
    H: CompletionHandler<(io::Result<usize>, B)>,
{
    let next = stream.clone();
    stream.async_write_some(
        tail,
        move |r: io::Result<usize>, mut tail: Tail<B>| match r {
            Ok(n) => {
                tail.offset += n;
                if tail.offset >= tail.buf.bytes_init() {
                    handler.complete((Ok(tail.offset), tail.buf));
                } else if n == 0 {
                    handler.complete((Err(io::ErrorKind::WriteZero.into()), tail.buf));
                } else {
                    step(next, tail, handler);
                }
            }
            Err(e) => handler.complete((Err(e), tail.buf)),
        },
    );
}
