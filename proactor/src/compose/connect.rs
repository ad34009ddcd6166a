//! [`async_connect`]: try endpoints in turn.

use crate::executor::{Executor, IoExecutor};
use crate::token::{
    composed_slot, with_cancellation_slot, CancellationSlot, CompletionHandler, CompletionToken,
    Initiation,
};
use std::io;

/// A socket that can connect to an endpoint (TCP, Unix stream).
pub trait AsyncConnect: Send + Sync {
    /// Where it connects to.
    type Endpoint: Clone + Send + 'static;
    /// What the composed operation holds to continue.
    type ConnectRef: AsyncConnect<Endpoint = Self::Endpoint> + Clone + Send + Sync + 'static;

    /// A reference to this socket for continuing.
    fn connect_ref(&self) -> Self::ConnectRef;

    /// Connects to one endpoint, opening the socket if it is closed.
    fn async_connect_one<T: CompletionToken<(io::Result<()>,)>>(
        &self,
        ep: Self::Endpoint,
        token: T,
    ) -> T::Output;

    /// Closes the socket (between failed attempts).
    fn close_for_retry(&self) -> io::Result<()>;

    /// Where completions that need no operation are posted.
    fn connect_executor(&self) -> IoExecutor;
}

/// Connects `s` to the first of `endpoints` that accepts, trying them in
/// order (closing the socket between attempts), and gives that endpoint to
/// the token. With no endpoints, or if all fail, the token gets the last
/// error.
///
/// ```no_run
/// use proactor::{async_connect, net::{Resolver, TcpSocket}, IoContext};
///
/// let ctx = IoContext::new()?;
/// let addrs = Resolver::new(&ctx.executor()).resolve("localhost", 8080)?;
/// let socket = TcpSocket::new(&ctx.executor());
/// async_connect(&socket, addrs, |r: std::io::Result<std::net::SocketAddr>| {
///     println!("connected to {:?}", r);
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn async_connect<S, I, T>(s: &S, endpoints: I, token: T) -> T::Output
where
    S: AsyncConnect + ?Sized,
    I: IntoIterator<Item = S::Endpoint>,
    T: CompletionToken<(io::Result<S::Endpoint>,)>,
{
    token.launch(ConnectAny {
        socket: s.connect_ref(),
        endpoints: endpoints.into_iter().collect::<Vec<_>>().into_iter(),
    })
}

struct ConnectAny<C: AsyncConnect> {
    socket: C,
    endpoints: std::vec::IntoIter<C::Endpoint>,
}

impl<C> Initiation<(io::Result<C::Endpoint>,)> for ConnectAny<C>
where
    C: AsyncConnect + Clone + Send + Sync + 'static,
{
    fn initiate<H: CompletionHandler<(io::Result<C::Endpoint>,)>>(self, handler: H) {
        let no_endpoints = io::Error::new(io::ErrorKind::NotFound, "no endpoints to connect to");
        let slot = composed_slot(&handler);
        attempt(self.socket, self.endpoints, no_endpoints, handler, slot);
    }
}

fn attempt<C, H>(
    socket: C,
    mut rest: std::vec::IntoIter<C::Endpoint>,
    last: io::Error,
    handler: H,
    slot: Option<CancellationSlot>,
) where
    C: AsyncConnect + Clone + Send + Sync + 'static,
    H: CompletionHandler<(io::Result<C::Endpoint>,)>,
{
    let Some(ep) = rest.next() else {
        return socket
            .connect_executor()
            .post(move || handler.complete((Err(last),)));
    };
    let _ = socket.close_for_retry();
    let next = socket.clone();
    let tried = ep.clone();
    let token = with_cancellation_slot(slot.clone(), move |r: io::Result<()>| match r {
        Ok(()) => handler.complete((Ok(tried),)),
        // A cancelled attempt ends the whole operation.
        Err(e) if crate::error::is_operation_aborted(&e) => handler.complete((Err(e),)),
        Err(e) => attempt(next, rest, e, handler, slot),
    });
    socket.async_connect_one(ep, token);
}
