//! Completion tokens: how an asynchronous operation delivers its result
//! (Asio's `async_result` / `async_initiate`).
//!
//! Every initiating function (`async_*`, [`co_spawn`](crate::co_spawn))
//! takes a *token* as its last argument and hands the token an
//! [`Initiation`]: the operation, ready to start once it knows its
//! [`CompletionHandler`]. The token decides what that handler is and what
//! the initiating function returns:
//!
//! * a closure is the handler itself, called once with the result;
//! * [`UseFuture`] makes the function return a future of the result
//!   (dropping the future cancels the operation);
//! * [`Detached`] drops the result;
//! * [`Deferred`] returns the operation, to start later with any token;
//! * adapters wrap a token: [`bind_executor`] (run the handler on another
//!   executor), [`bind_cancellation_slot`] (cancel the operation through a
//!   [`CancellationSignal`]), [`as_result`] (one `Result` for `?`).
//!
//! The result is a tuple of arguments, `Args`: `(T,)` for one value, `(A,
//! B)` for two (a closure then takes two parameters). Handlers are never
//! called inside the initiating function. [`parallel_group`] waits for
//! several operations at once.
//!
//! **Dropping a `UseFuture` future** cancels its operation. For reads the
//! rule is: a read not yet performed is removed and consumes nothing; a
//! read already performed, whose future is dropped before it was polled to
//! completion, takes the bytes it read with it. To race a read against
//! something else without that risk, use [`parallel_group`], which hands
//! back every member's result.
//!
//! The guide, [`crate::guide::tokens`], explains all of this for Asio and
//! tokio users, with code side by side.
//!
//! ```
//! use proactor::{co_spawn, Detached, IoContext, UseFuture};
//!
//! let ctx = IoContext::new()?;
//! let ex = ctx.executor();
//! co_spawn(&ex, async { 1 }, |r: std::thread::Result<i32>| assert_eq!(r.unwrap(), 1));
//! co_spawn(&ex, async { 2 }, Detached);
//! let fut = co_spawn(&ex, async { 3 }, UseFuture);
//! assert_eq!(ctx.block_on(fut).unwrap(), 3);
//! # Ok::<(), std::io::Error>(())
//! ```

mod as_result;
mod bind;
mod cancel;
mod deferred;
mod group;
mod oneshot;

pub use as_result::{as_result, AsResult};
pub use bind::{bind_cancellation_slot, bind_executor, BindCancellationSlot, BindExecutor};
pub use bind::{composed_slot, with_cancellation_slot, WithCancellationSlot};
pub(crate) use cancel::next_id;
pub use cancel::{CancellationSignal, CancellationSlot, CancellationType};
pub use deferred::{Deferred, DeferredOp};
pub use group::{parallel_group, ParallelGroup, WaitForAll, WaitForOne};
pub use oneshot::OpFuture;

/// Receives an operation's result, once.
///
/// Closures taking the result's values as parameters are handlers:
/// `FnOnce()`, `FnOnce(A)` and `FnOnce(A, B)` for `()`, `(A,)` and `(A, B)`.
///
/// ```
/// use proactor::CompletionHandler;
///
/// let h = |n: u32| assert_eq!(n, 7);
/// h.complete((7,));
/// ```
pub trait CompletionHandler<Args>: Send + 'static {
    /// Delivers the result.
    fn complete(self, args: Args);

    /// The cancellation slot bound to this handler, if any (see
    /// [`bind_cancellation_slot`]): an operation that can be cancelled
    /// installs its cancellation handler there when it starts.
    ///
    /// ```
    /// use proactor::CompletionHandler;
    /// let h = |_: u32| ();
    /// assert!(CompletionHandler::<(u32,)>::cancellation_slot(&h).is_none());
    /// ```
    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        None
    }
}

impl<F: FnOnce() + Send + 'static> CompletionHandler<()> for F {
    fn complete(self, (): ()) {
        self()
    }
}

impl<A, F: FnOnce(A) + Send + 'static> CompletionHandler<(A,)> for F {
    fn complete(self, (a,): (A,)) {
        self(a)
    }
}

impl<A, B, F: FnOnce(A, B) + Send + 'static> CompletionHandler<(A, B)> for F {
    fn complete(self, (a, b): (A, B)) {
        self(a, b)
    }
}

impl<A, B, C, F: FnOnce(A, B, C) + Send + 'static> CompletionHandler<(A, B, C)> for F {
    fn complete(self, (a, b, c): (A, B, C)) {
        self(a, b, c)
    }
}

impl<A, B, C, D, F: FnOnce(A, B, C, D) + Send + 'static> CompletionHandler<(A, B, C, D)> for F {
    fn complete(self, (a, b, c, d): (A, B, C, D)) {
        self(a, b, c, d)
    }
}

/// An operation ready to start, waiting for its handler.
///
/// ```
/// use proactor::{CompletionHandler, CompletionToken, Initiation};
///
/// /// Completes at once with the answer.
/// struct Answer;
/// impl Initiation<(u32,)> for Answer {
///     fn initiate<H: CompletionHandler<(u32,)>>(self, handler: H) {
///         handler.complete((42,));
///     }
/// }
/// fn async_answer<T: CompletionToken<(u32,)>>(token: T) -> T::Output {
///     token.launch(Answer)
/// }
/// async_answer(|n: u32| assert_eq!(n, 42));
/// ```
pub trait Initiation<Args>: Send + 'static {
    /// Starts the operation; it completes by calling `handler`.
    fn initiate<H: CompletionHandler<Args>>(self, handler: H);
}

/// Decides how an operation's result is delivered, and what its initiating
/// function returns.
///
/// ```
/// use proactor::{CompletionHandler, CompletionToken, Initiation};
///
/// /// A token of our own: prints the result.
/// struct Print;
/// impl CompletionToken<(u32,)> for Print {
///     type Output = ();
///     fn launch<I: Initiation<(u32,)>>(self, init: I) {
///         init.initiate(|n: u32| println!("result: {n}"));
///     }
/// }
/// # struct Answer;
/// # impl Initiation<(u32,)> for Answer {
/// #     fn initiate<H: CompletionHandler<(u32,)>>(self, h: H) { h.complete((42,)) }
/// # }
/// Print.launch(Answer);
/// ```
pub trait CompletionToken<Args>: Sized {
    /// What the initiating function returns.
    type Output;

    /// Starts `init` the way this token wants.
    fn launch<I: Initiation<Args>>(self, init: I) -> Self::Output;
}

/// A closure is a token: it is the handler.
macro_rules! closure_tokens {
    ($( ($($arg:ident),*) )*) => {$(
        impl<$($arg,)* F: FnOnce($($arg),*) + Send + 'static> CompletionToken<($($arg,)*)> for F {
            type Output = ();

            fn launch<I: Initiation<($($arg,)*)>>(self, init: I) {
                init.initiate(self)
            }
        }
    )*};
}
closure_tokens! { () (A) (A, B) (A, B, C) (A, B, C, D) }

/// Maps a result tuple to the output of a [`UseFuture`] future: one value
/// stands alone, several stay a tuple.
///
/// ```
/// use proactor::token::Signature;
///
/// assert_eq!((5,).into_output(), 5);
/// assert_eq!((1, 'a').into_output(), (1, 'a'));
/// ```
pub trait Signature: Send + 'static {
    /// What a future of this result yields.
    type Output;

    /// Converts the tuple.
    fn into_output(self) -> Self::Output;
}

impl Signature for () {
    type Output = ();
    fn into_output(self) {}
}

impl<A: Send + 'static> Signature for (A,) {
    type Output = A;
    fn into_output(self) -> A {
        self.0
    }
}

impl<A: Send + 'static, B: Send + 'static> Signature for (A, B) {
    type Output = (A, B);
    fn into_output(self) -> (A, B) {
        self
    }
}

impl<A: Send + 'static, B: Send + 'static, C: Send + 'static> Signature for (A, B, C) {
    type Output = (A, B, C);
    fn into_output(self) -> (A, B, C) {
        self
    }
}

impl<A: Send + 'static, B: Send + 'static, C: Send + 'static, D: Send + 'static> Signature
    for (A, B, C, D)
{
    type Output = (A, B, C, D);
    fn into_output(self) -> (A, B, C, D) {
        self
    }
}

/// Token: the initiating function returns a future of the result.
///
/// The operation starts at once (not on the first poll). Polling the future
/// after the operation was abandoned without completing (its context was
/// dropped) panics with a message that says so.
///
/// ```
/// use proactor::{co_spawn, IoContext, UseFuture};
///
/// let ctx = IoContext::new()?;
/// let fut = co_spawn(&ctx.executor(), async { "done" }, UseFuture);
/// assert_eq!(ctx.block_on(fut).unwrap(), "done");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct UseFuture;

impl<Args: Signature> CompletionToken<Args> for UseFuture {
    type Output = OpFuture<Args>;

    fn launch<I: Initiation<Args>>(self, init: I) -> OpFuture<Args> {
        let (handler, future) = oneshot::channel();
        init.initiate(handler);
        future
    }
}

/// Token: the result is dropped.
///
/// ```
/// use proactor::{co_spawn, Detached, IoContext};
///
/// let ctx = IoContext::new()?;
/// co_spawn(&ctx.executor(), async { println!("fire and forget") }, Detached);
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Detached;

impl<Args: Send + 'static> CompletionToken<Args> for Detached {
    type Output = ();

    fn launch<I: Initiation<Args>>(self, init: I) {
        init.initiate(DropResult)
    }
}

/// The handler behind [`Detached`].
struct DropResult;

impl<Args> CompletionHandler<Args> for DropResult {
    fn complete(self, _: Args) {}
}
