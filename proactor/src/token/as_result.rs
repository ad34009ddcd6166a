//! [`as_result`]: one `Result` instead of a result and a buffer.

use super::{CancellationSlot, CompletionHandler, CompletionToken, Initiation};
use std::fmt;
use std::io;

/// Folds an operation's `(io::Result<T>, B)` into one `io::Result<(T, B)>`
/// for `token`, so that `?` works on it. On error the buffer is dropped
/// with the error: keep the plain two-value form where you want the buffer
/// back after a failure (to retry with it, or to see a partial read).
///
/// This is the Rust counterpart of Asio's `as_tuple` and `redirect_error`:
/// those reshape a handler's `(error_code, T)` arguments; here the error
/// already travels inside `io::Result`, and the one reshaping worth having
/// is this one.
///
/// ```
/// use proactor::token::as_result;
/// use proactor::{async_write, co_spawn, IoContext, UseFuture};
/// use proactor::net::{TcpAcceptor, TcpSocket};
///
/// async fn greet(s: &TcpSocket) -> std::io::Result<Vec<u8>> {
///     let (_, buf) = async_write(s, b"hello".to_vec(), as_result(UseFuture)).await?;
///     Ok(buf)
/// }
/// # let ctx = IoContext::new()?;
/// # let a = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap())?;
/// # let s = TcpSocket::new(&ctx.executor());
/// # ctx.block_on(s.async_connect(a.local_addr()?, UseFuture))?;
/// # let _peer = ctx.block_on(a.async_accept(UseFuture))?;
/// assert_eq!(ctx.block_on(greet(&s))?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn as_result<T>(token: T) -> AsResult<T> {
    AsResult { token }
}

/// The token [`as_result`] makes.
#[derive(Clone, Copy, Default)]
pub struct AsResult<T> {
    token: T,
}

impl<T> fmt::Debug for AsResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsResult").finish_non_exhaustive()
    }
}

impl<A, B, T> CompletionToken<(io::Result<A>, B)> for AsResult<T>
where
    A: Send + 'static,
    B: Send + 'static,
    T: CompletionToken<(io::Result<(A, B)>,)>,
{
    type Output = T::Output;

    fn launch<I: Initiation<(io::Result<A>, B)>>(self, init: I) -> T::Output {
        self.token.launch(Folded(init))
    }
}

/// The operation, seen as completing with one `Result`.
struct Folded<I>(I);

impl<A, B, I> Initiation<(io::Result<(A, B)>,)> for Folded<I>
where
    A: Send + 'static,
    B: Send + 'static,
    I: Initiation<(io::Result<A>, B)>,
{
    fn initiate<H: CompletionHandler<(io::Result<(A, B)>,)>>(self, handler: H) {
        self.0.initiate(Folding(handler));
    }
}

/// Receives the two values, hands on the one.
struct Folding<H>(H);

impl<A, B, H> CompletionHandler<(io::Result<A>, B)> for Folding<H>
where
    A: Send + 'static,
    B: Send + 'static,
    H: CompletionHandler<(io::Result<(A, B)>,)>,
{
    fn complete(self, (r, b): (io::Result<A>, B)) {
        self.0.complete((r.map(|a| (a, b)),));
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        self.0.cancellation_slot()
    }
}
