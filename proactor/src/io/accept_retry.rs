//! Accepting on Windows: a connection that the peer reset or aborted
//! before `AcceptEx` completed is not the acceptor's failure. The accept
//! starts again and waits for the next connection, as Linux's accept does
//! (it retries `ECONNABORTED`) and as Asio's Windows acceptor does.

use super::ops::{AcceptAs, FromFd};
use super::IoCore;
use crate::reactor::op::OpKind;
use crate::sync::Arc;
use crate::token::{CancellationSlot, CompletionHandler, Initiation};
use std::io;
use std::marker::PhantomData;

/// Starts an accept of an `S` on `core` that outlasts connections reset
/// before they were accepted.
pub(crate) struct AcceptRetrying<S> {
    core: Arc<IoCore>,
    _socket: PhantomData<fn() -> S>,
}

impl<S> AcceptRetrying<S> {
    pub(crate) fn new(core: Arc<IoCore>) -> Self {
        AcceptRetrying {
            core,
            _socket: PhantomData,
        }
    }
}

impl<S: FromFd> Initiation<(io::Result<S>,)> for AcceptRetrying<S> {
    fn initiate<H: CompletionHandler<(io::Result<S>,)>>(self, handler: H) {
        start(self.core, handler);
    }
}

fn start<S: FromFd, H: CompletionHandler<(io::Result<S>,)>>(core: Arc<IoCore>, handler: H) {
    let op = AcceptAs::<S>::new(core.executor());
    core.start(OpKind::Read, op, Again::new(core.clone(), handler), true);
}

/// The user's handler, with what it takes to accept again.
pub(crate) struct Again<S, H> {
    core: Arc<IoCore>,
    handler: H,
    _socket: PhantomData<fn() -> S>,
}

impl<S, H> Again<S, H> {
    /// `handler`, for an accept on `core` (the listening socket's).
    pub(crate) fn new(core: Arc<IoCore>, handler: H) -> Self {
        Again {
            core,
            handler,
            _socket: PhantomData,
        }
    }
}

impl<S: FromFd, H: CompletionHandler<(io::Result<S>,)>> CompletionHandler<(io::Result<S>,)>
    for Again<S, H>
{
    fn complete(self, (r,): (io::Result<S>,)) {
        match r {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) =>
            {
                // Runs on the context (a handler), so the new accept's
                // handler still never runs inside an initiating call.
                start(self.core, self.handler)
            }
            r => self.handler.complete((r,)),
        }
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        self.handler.cancellation_slot()
    }
}
