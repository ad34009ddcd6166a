//! The channel behind [`UseFuture`](super::UseFuture): the operation's
//! handler sends, the returned future receives. The future owns a
//! cancellation signal bound to the handler, so dropping it before the
//! result arrives cancels the operation.

use super::{CancellationSignal, CancellationSlot, CancellationType, CompletionHandler, Signature};
use crate::sync::{self, Arc, Mutex};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

enum Slot<Args> {
    Waiting(Option<Waker>),
    Done(Args),
    Taken,
    Abandoned,
}

/// The future that [`UseFuture`](super::UseFuture) returns; yields the
/// operation's result.
///
/// Dropping it before it yields cancels the operation (every
/// [`CancellationType`]): an I/O operation that has not yet moved data is
/// removed and moves none, and the buffer it owned is dropped with the
/// result. An operation that cannot be cancelled (a spawned future, for
/// example) runs on and its result is dropped.
///
/// ```
/// use proactor::{co_spawn, IoContext, OpFuture, UseFuture};
///
/// let ctx = IoContext::new()?;
/// let fut: OpFuture<(std::thread::Result<u8>,)> = co_spawn(&ctx.executor(), async { 8 }, UseFuture);
/// assert_eq!(ctx.block_on(fut).unwrap(), 8);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "the result is only delivered if the future is awaited"]
pub struct OpFuture<Args> {
    slot: Arc<Mutex<Slot<Args>>>,
    cancel: CancellationSignal,
}

/// The handler half.
pub(super) struct Sender<Args> {
    slot: Option<Arc<Mutex<Slot<Args>>>>,
    cancel: CancellationSlot,
}

pub(super) fn channel<Args>() -> (Sender<Args>, OpFuture<Args>) {
    let slot = Arc::new(Mutex::new(Slot::Waiting(None)));
    let cancel = CancellationSignal::new();
    (
        Sender {
            slot: Some(slot.clone()),
            cancel: cancel.slot(),
        },
        OpFuture { slot, cancel },
    )
}

impl<Args> Sender<Args> {
    fn fill(&mut self, value: Slot<Args>) {
        let Some(slot) = self.slot.take() else { return };
        let old = std::mem::replace(&mut *sync::lock(&slot), value);
        if let Slot::Waiting(Some(w)) = old {
            w.wake();
        }
    }
}

impl<Args: Send + 'static> CompletionHandler<Args> for Sender<Args> {
    fn complete(mut self, args: Args) {
        self.fill(Slot::Done(args));
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        Some(self.cancel.clone())
    }
}

impl<Args> Drop for Sender<Args> {
    fn drop(&mut self) {
        self.fill(Slot::Abandoned);
    }
}

impl<Args: Signature> Future for OpFuture<Args> {
    type Output = Args::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Args::Output> {
        let mut slot = sync::lock(&self.slot);
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(args) => Poll::Ready(args.into_output()),
            Slot::Waiting(w) => {
                let w = match w {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                *slot = Slot::Waiting(Some(w));
                Poll::Pending
            }
            Slot::Taken => panic!("OpFuture polled after it completed"),
            Slot::Abandoned => {
                *slot = Slot::Abandoned;
                panic!("proactor: the operation was abandoned before it completed (its IoContext was dropped)")
            }
        }
    }
}

impl<Args> Drop for OpFuture<Args> {
    fn drop(&mut self) {
        let pending = matches!(*sync::lock(&self.slot), Slot::Waiting(_));
        // Emitted outside the result's lock: the operation's cancellation
        // handler may complete it at once, which takes that lock.
        if pending {
            self.cancel.emit(CancellationType::ALL);
        }
    }
}

impl<Args> fmt::Debug for OpFuture<Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpFuture").finish_non_exhaustive()
    }
}
