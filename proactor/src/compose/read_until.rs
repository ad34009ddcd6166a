//! [`async_read_until`]: read up to a delimiter.

use super::views::Capped;
use crate::stream::AsyncReadStream;
use crate::token::{
    composed_slot, with_cancellation_slot, CancellationSlot, CompletionHandler, CompletionToken,
    Initiation,
};
use std::io;

/// What [`async_read_until`] looks for: a byte or a byte string.
///
/// ```
/// use proactor::Delimiter;
/// let _ = b'\n'.into_pattern();
/// let _ = "\r\n".into_pattern();
/// ```
pub trait Delimiter {
    /// The delimiter's bytes, owned.
    fn into_pattern(self) -> Vec<u8>;
}

impl Delimiter for u8 {
    fn into_pattern(self) -> Vec<u8> {
        vec![self]
    }
}
impl Delimiter for &[u8] {
    fn into_pattern(self) -> Vec<u8> {
        self.to_vec()
    }
}
impl<const N: usize> Delimiter for &[u8; N] {
    fn into_pattern(self) -> Vec<u8> {
        self.to_vec()
    }
}
impl Delimiter for &str {
    fn into_pattern(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}
impl Delimiter for Vec<u8> {
    fn into_pattern(self) -> Vec<u8> {
        self
    }
}
impl Delimiter for String {
    fn into_pattern(self) -> Vec<u8> {
        self.into_bytes()
    }
}

/// Reads into `buf` (appending) until it holds `delim`. The token receives
/// the length up to and including the delimiter (more bytes may follow
/// it) and the buffer. End of stream first fails with
/// [`io::ErrorKind::UnexpectedEof`]. The buffer grows as needed; see
/// [`async_read_until_max`] for a bound.
///
/// ```no_run
/// use proactor::{async_read_until, net::TcpSocket, IoContext};
///
/// let ctx = IoContext::new()?;
/// let socket = TcpSocket::new(&ctx.executor());
/// // ... connect ...
/// async_read_until(&socket, Vec::new(), b'\n', |r: std::io::Result<usize>, buf: Vec<u8>| {
///     let n = r.unwrap();
///     println!("line: {:?}", String::from_utf8_lossy(&buf[..n]));
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn async_read_until<S, D, T>(s: &S, buf: Vec<u8>, delim: D, token: T) -> T::Output
where
    S: AsyncReadStream + ?Sized,
    D: Delimiter,
    T: CompletionToken<(io::Result<usize>, Vec<u8>)>,
{
    async_read_until_max(s, buf, delim, usize::MAX, token)
}

/// As [`async_read_until`], but the buffer never holds more than `max`
/// bytes: if `max` bytes hold no delimiter, the operation fails with
/// [`io::ErrorKind::InvalidData`] ("delimiter not found within the size
/// limit") instead of growing further. The buffer holds what was read.
///
/// ```no_run
/// # use proactor::{async_read_until_max, net::TcpSocket, IoContext};
/// # let ctx = IoContext::new()?;
/// # let socket = TcpSocket::new(&ctx.executor());
/// async_read_until_max(&socket, Vec::new(), "\r\n", 8192, |r: std::io::Result<usize>, _: Vec<u8>| {
///     if let Err(e) = r { eprintln!("bad request line: {e}"); }
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn async_read_until_max<S, D, T>(
    s: &S,
    buf: Vec<u8>,
    delim: D,
    max: usize,
    token: T,
) -> T::Output
where
    S: AsyncReadStream + ?Sized,
    D: Delimiter,
    T: CompletionToken<(io::Result<usize>, Vec<u8>)>,
{
    token.launch(ReadUntil {
        stream: s.read_ref(),
        buf,
        pattern: delim.into_pattern(),
        max,
    })
}

struct ReadUntil<R> {
    stream: R,
    buf: Vec<u8>,
    pattern: Vec<u8>,
    max: usize,
}

/// How much room to add when the buffer is full.
const GROW: usize = 512;

/// Where `pattern` ends in `hay`, looking only at matches that end at or
/// after `from`.
fn find_end(hay: &[u8], pattern: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(pattern.len().saturating_sub(1));
    if pattern.is_empty() {
        return Some(start.min(hay.len()));
    }
    hay[start..]
        .windows(pattern.len())
        .position(|w| w == pattern)
        .map(|i| start + i + pattern.len())
}

impl<R> Initiation<(io::Result<usize>, Vec<u8>)> for ReadUntil<R>
where
    R: AsyncReadStream + Clone + Send + Sync + 'static,
{
    fn initiate<H: CompletionHandler<(io::Result<usize>, Vec<u8>)>>(self, handler: H) {
        let found = find_end(&self.buf, &self.pattern, 0);
        let st = State {
            stream: self.stream,
            pattern: self.pattern,
            max: self.max,
            searched: self.buf.len(),
            slot: composed_slot(&handler),
        };
        match found {
            // Already there: complete through a zero-length read, so that
            // the handler does not run inside this call.
            Some(end) => st.finish(self.buf, Ok(end), handler),
            None => st.step(self.buf, handler),
        }
    }
}

struct State<R> {
    stream: R,
    pattern: Vec<u8>,
    max: usize,
    /// Bytes already searched (no delimiter ends before here).
    searched: usize,
    slot: Option<CancellationSlot>,
}

impl<R: AsyncReadStream + Clone + Send + Sync + 'static> State<R> {
    /// Completes with `result` through a zero-length read (never inline).
    fn finish<H: CompletionHandler<(io::Result<usize>, Vec<u8>)>>(
        self,
        buf: Vec<u8>,
        result: io::Result<usize>,
        handler: H,
    ) {
        self.stream
            .async_read_some(Vec::new(), move |_: io::Result<usize>, _: Vec<u8>| {
                handler.complete((result, buf))
            });
    }

    fn step<H: CompletionHandler<(io::Result<usize>, Vec<u8>)>>(
        self,
        mut buf: Vec<u8>,
        handler: H,
    ) {
        if buf.len() >= self.max {
            let e = io::Error::new(
                io::ErrorKind::InvalidData,
                "delimiter not found within the size limit",
            );
            return self.finish(buf, Err(e), handler);
        }
        if buf.capacity() == buf.len() {
            buf.reserve(GROW.max(buf.len()).min(self.max - buf.len()));
        }
        let limit = self.max;
        let stream = self.stream.clone();
        let token = with_cancellation_slot(
            self.slot.clone(),
            move |r: io::Result<usize>, capped: Capped<Vec<u8>>| {
                let buf = capped.buf;
                match r {
                    Ok(0) => handler.complete((Err(io::ErrorKind::UnexpectedEof.into()), buf)),
                    Ok(_) => match find_end(&buf, &self.pattern, self.searched) {
                        Some(end) => handler.complete((Ok(end), buf)),
                        None => State {
                            searched: buf.len(),
                            ..self
                        }
                        .step(buf, handler),
                    },
                    Err(e) => handler.complete((Err(e), buf)),
                }
            },
        );
        stream.async_read_some(Capped { buf, limit }, token);
    }
}

#[cfg(test)]
mod tests {
    use super::find_end;

    #[test]
    fn finds_delimiters_split_across_reads() {
        assert_eq!(find_end(b"ab\r\ncd", b"\r\n", 0), Some(4));
        // "\r" was searched already, "\n" arrived: still found.
        assert_eq!(find_end(b"ab\r\n", b"\r\n", 3), Some(4));
        assert_eq!(find_end(b"ab\r", b"\r\n", 0), None);
        assert_eq!(find_end(b"x\n", b"\n", 0), Some(2));
        assert_eq!(find_end(b"", b"\n", 0), None);
    }
}
