//! [`Deferred`]: an operation that starts only when given a token.

use super::{CancellationSlot, CompletionHandler, CompletionToken, Initiation};
use std::fmt;

/// Token: the initiating function returns a [`DeferredOp`], which starts
/// the operation when it is given a token later (Asio's `deferred`).
///
/// ```
/// use proactor::{Deferred, IoContext, SteadyTimer, UseFuture};
/// use std::time::Duration;
///
/// let ctx = IoContext::new()?;
/// let timer = SteadyTimer::new(&ctx.executor());
/// timer.expires_after(Duration::from_millis(1));
/// let op = timer.async_wait(Deferred); // nothing started yet
/// let fut = op.launch(UseFuture);        // started now, with any token
/// ctx.block_on(fut)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Deferred;

impl<Args: Send + 'static> CompletionToken<Args> for Deferred {
    type Output = DeferredOp<Args>;

    fn launch<I: Initiation<Args>>(self, init: I) -> DeferredOp<Args> {
        DeferredOp {
            init: Box::new(init),
        }
    }
}

/// An operation waiting for its token: launch it with
/// [`launch`](DeferredOp::launch), chain a next one with
/// [`then`](DeferredOp::then), or put it in a
/// [`parallel_group`](crate::parallel_group). It is itself an
/// [`Initiation`], so any token can start it.
#[must_use = "a deferred operation does nothing until launched"]
pub struct DeferredOp<Args> {
    init: Box<dyn ErasedInit<Args>>,
}

impl<Args: Send + 'static> DeferredOp<Args> {
    /// Starts the operation with `token`.
    ///
    /// ```
    /// # let ctx = proactor::IoContext::new()?;
    /// # let t = proactor::SteadyTimer::new(&ctx.executor());
    /// t.async_wait(proactor::Deferred).launch(|r: std::io::Result<()>| r.unwrap());
    /// # ctx.run();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn launch<T: CompletionToken<Args>>(self, token: T) -> T::Output {
        token.launch(self)
    }

    /// Chains: when this operation completes, `f` makes the next one from
    /// its result, and the next one's result is the chain's. A cancellation
    /// slot bound to the chain's token reaches whichever step is running.
    ///
    /// ```
    /// use proactor::{Deferred, DeferredOp, IoContext, SteadyTimer};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let ctx = IoContext::new()?;
    /// let (a, b) = (SteadyTimer::new(&ctx.executor()), Arc::new(SteadyTimer::new(&ctx.executor())));
    /// a.expires_after(Duration::from_millis(1));
    /// b.expires_after(Duration::from_millis(2));
    /// let b2 = b.clone();
    /// a.async_wait(Deferred)
    ///     .then(move |(r,): (std::io::Result<()>,)| { r.unwrap(); b2.async_wait(Deferred) })
    ///     .launch(|r: std::io::Result<()>| println!("both waited: {r:?}"));
    /// ctx.run();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn then<Args2, F>(self, f: F) -> DeferredOp<Args2>
    where
        Args2: Send + 'static,
        F: FnOnce(Args) -> DeferredOp<Args2> + Send + 'static,
    {
        DeferredOp {
            init: Box::new(Then {
                first: self,
                next: f,
            }),
        }
    }
}

impl<Args: Send + 'static> Initiation<Args> for DeferredOp<Args> {
    fn initiate<H: CompletionHandler<Args>>(self, handler: H) {
        self.init.start(ErasedHandler(Box::new(handler)));
    }
}

impl<Args> fmt::Debug for DeferredOp<Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredOp").finish_non_exhaustive()
    }
}

/// An initiation behind a box.
trait ErasedInit<Args>: Send {
    fn start(self: Box<Self>, handler: ErasedHandler<Args>);
}

impl<Args: Send + 'static, I: Initiation<Args>> ErasedInit<Args> for I {
    fn start(self: Box<Self>, handler: ErasedHandler<Args>) {
        (*self).initiate(handler)
    }
}

/// A handler behind a box (keeping its cancellation slot).
struct ErasedHandler<Args>(Box<dyn DynHandler<Args>>);

trait DynHandler<Args>: Send {
    fn complete_boxed(self: Box<Self>, args: Args);
    fn slot(&self) -> Option<CancellationSlot>;
}

impl<Args, H: CompletionHandler<Args>> DynHandler<Args> for H {
    fn complete_boxed(self: Box<Self>, args: Args) {
        (*self).complete(args)
    }
    fn slot(&self) -> Option<CancellationSlot> {
        self.cancellation_slot()
    }
}

impl<Args: Send + 'static> CompletionHandler<Args> for ErasedHandler<Args> {
    fn complete(self, args: Args) {
        self.0.complete_boxed(args)
    }
    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        self.0.slot()
    }
}

struct Then<Args, F> {
    first: DeferredOp<Args>,
    next: F,
}

impl<Args, Args2, F> Initiation<Args2> for Then<Args, F>
where
    Args: Send + 'static,
    Args2: Send + 'static,
    F: FnOnce(Args) -> DeferredOp<Args2> + Send + 'static,
{
    fn initiate<H: CompletionHandler<Args2>>(self, handler: H) {
        self.first.initiate(ThenHandler {
            next: self.next,
            handler,
            _args: std::marker::PhantomData,
        });
    }
}

struct ThenHandler<F, H, Args> {
    next: F,
    handler: H,
    _args: std::marker::PhantomData<fn(Args)>,
}

impl<Args, Args2, F, H> CompletionHandler<Args> for ThenHandler<F, H, Args2>
where
    Args: Send + 'static,
    Args2: Send + 'static,
    F: FnOnce(Args) -> DeferredOp<Args2> + Send + 'static,
    H: CompletionHandler<Args2>,
{
    fn complete(self, args: Args) {
        (self.next)(args).initiate(self.handler)
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        self.handler.cancellation_slot()
    }
}
