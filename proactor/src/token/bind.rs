//! Token adapters: [`bind_executor`] and [`bind_cancellation_slot`].

use super::{CancellationSlot, CompletionHandler, CompletionToken, Initiation};
use crate::executor::Executor;
use crate::work_guard::WorkGuard;
use std::fmt;

/// Runs the handler on `ex` (Asio's `bind_executor`): when the operation
/// completes, its result is dispatched to `ex` (a strand, another context,
/// ...). While the operation is pending it counts as work on `ex`, so `ex`'s
/// context does not run out of work before the handler arrives.
///
/// ```
/// use proactor::{bind_executor, Executor, IoContext, SteadyTimer, Strand};
///
/// let ctx = IoContext::new()?;
/// let strand = Strand::new(ctx.executor());
/// let s = strand.clone();
/// let timer = SteadyTimer::new(&ctx.executor());
/// timer.async_wait(bind_executor(strand.clone(), move |r: std::io::Result<()>| {
///     assert!(s.running_in_this_thread());
///     r.unwrap();
/// }));
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_executor<E: Executor, T>(ex: E, token: T) -> BindExecutor<E, T> {
    BindExecutor { ex, token }
}

/// The token [`bind_executor`] makes.
pub struct BindExecutor<E, T> {
    ex: E,
    token: T,
}

impl<Args, E, T> CompletionToken<Args> for BindExecutor<E, T>
where
    Args: Send + 'static,
    E: Executor,
    T: CompletionToken<Args>,
{
    type Output = T::Output;

    fn launch<I: Initiation<Args>>(self, init: I) -> T::Output {
        self.token.launch(OnExecutor { init, ex: self.ex })
    }
}

struct OnExecutor<I, E> {
    init: I,
    ex: E,
}

impl<Args, I, E> Initiation<Args> for OnExecutor<I, E>
where
    Args: Send + 'static,
    I: Initiation<Args>,
    E: Executor,
{
    fn initiate<H: CompletionHandler<Args>>(self, handler: H) {
        self.init.initiate(Dispatching {
            handler,
            work: WorkGuard::new(self.ex),
        });
    }
}

struct Dispatching<H, E: Executor> {
    handler: H,
    work: WorkGuard<E>,
}

impl<Args, H, E> CompletionHandler<Args> for Dispatching<H, E>
where
    Args: Send + 'static,
    H: CompletionHandler<Args>,
    E: Executor,
{
    fn complete(self, args: Args) {
        let Dispatching { handler, work } = self;
        work.executor().dispatch(move || handler.complete(args));
        // The dispatched handler is queued (or has run): the pending
        // operation's work on `ex` ends here.
        drop(work);
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        self.handler.cancellation_slot()
    }
}

/// Binds a cancellation slot to the handler (Asio's
/// `bind_cancellation_slot`): the operation installs its cancellation
/// handler in `slot` when it starts, and emitting the slot's signal
/// cancels it.
///
/// ```
/// use proactor::{bind_cancellation_slot, CancellationSignal, CancellationType, IoContext, SteadyTimer};
///
/// let ctx = IoContext::new()?;
/// let timer = SteadyTimer::new(&ctx.executor());
/// timer.expires_after(std::time::Duration::from_secs(60));
/// let signal = CancellationSignal::new();
/// timer.async_wait(bind_cancellation_slot(signal.slot(), |r: std::io::Result<()>| {
///     assert!(r.is_err());
/// }));
/// signal.emit(CancellationType::ALL);
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_cancellation_slot<T>(slot: CancellationSlot, token: T) -> BindCancellationSlot<T> {
    BindCancellationSlot { slot, token }
}

/// The token [`bind_cancellation_slot`] makes.
pub struct BindCancellationSlot<T> {
    slot: CancellationSlot,
    token: T,
}

impl<Args, T: CompletionToken<Args>> CompletionToken<Args> for BindCancellationSlot<T> {
    type Output = T::Output;

    fn launch<I: Initiation<Args>>(self, init: I) -> T::Output {
        self.token.launch(WithSlot {
            init,
            slot: self.slot,
        })
    }
}

struct WithSlot<I> {
    init: I,
    slot: CancellationSlot,
}

impl<Args, I: Initiation<Args>> Initiation<Args> for WithSlot<I> {
    fn initiate<H: CompletionHandler<Args>>(self, handler: H) {
        self.init.initiate(SlotBound {
            handler,
            slot: self.slot,
        });
    }
}

/// A handler with a cancellation slot.
pub(crate) struct SlotBound<H> {
    pub(crate) handler: H,
    pub(crate) slot: CancellationSlot,
}

impl<Args, H: CompletionHandler<Args>> CompletionHandler<Args> for SlotBound<H> {
    fn complete(self, args: Args) {
        self.handler.complete(args)
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        Some(self.slot.clone())
    }
}

impl<E: fmt::Debug, T> fmt::Debug for BindExecutor<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindExecutor")
            .field("executor", &self.ex)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for BindCancellationSlot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindCancellationSlot")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

/// The token [`with_cancellation_slot`] makes.
pub struct WithCancellationSlot<T> {
    slot: Option<CancellationSlot>,
    token: T,
}

/// Binds `slot` to `token` if there is one: what a composed operation gives
/// the operations it starts, so that a cancellation requested of it reaches
/// whichever inner operation is running. Pair it with [`composed_slot`].
///
/// ```
/// use proactor::token::{composed_slot, with_cancellation_slot};
/// use proactor::{CompletionHandler, CompletionToken, Initiation, SteadyTimer};
/// use std::io;
///
/// /// Waits on a timer twice in a row, as one operation.
/// struct TwoWaits(std::sync::Arc<SteadyTimer>);
///
/// impl Initiation<(io::Result<()>,)> for TwoWaits {
///     fn initiate<H: CompletionHandler<(io::Result<()>,)>>(self, handler: H) {
///         let slot = composed_slot(&handler);
///         let (t, again) = (self.0.clone(), slot.clone());
///         self.0.async_wait(with_cancellation_slot(slot, move |r: io::Result<()>| match r {
///             Ok(()) => t.async_wait(with_cancellation_slot(again, move |r| handler.complete((r,)))),
///             Err(e) => handler.complete((Err(e),)),
///         }));
///     }
/// }
/// ```
pub fn with_cancellation_slot<T>(
    slot: Option<CancellationSlot>,
    token: T,
) -> WithCancellationSlot<T> {
    WithCancellationSlot { slot, token }
}

/// The slot a composed operation passes on to the operations it starts:
/// its handler's, showing only the kinds of request a composed operation
/// can honour (terminal and partial; see [`CancellationType`]).
///
/// [`CancellationType`]: super::CancellationType
///
/// ```
/// // A plain closure has no slot: nothing to pass on.
/// let handler = |_: u8| ();
/// assert!(proactor::token::composed_slot::<(u8,), _>(&handler).is_none());
/// ```
pub fn composed_slot<Args, H: CompletionHandler<Args>>(handler: &H) -> Option<CancellationSlot> {
    use super::CancellationType as C;
    handler
        .cancellation_slot()
        .map(|s| s.filtered(C::TERMINAL | C::PARTIAL))
}

impl<Args, T: CompletionToken<Args>> CompletionToken<Args> for WithCancellationSlot<T> {
    type Output = T::Output;

    fn launch<I: Initiation<Args>>(self, init: I) -> T::Output {
        match self.slot {
            Some(slot) => self.token.launch(WithSlot { init, slot }),
            None => self.token.launch(init),
        }
    }
}

impl<T> fmt::Debug for WithCancellationSlot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithCancellationSlot")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}
