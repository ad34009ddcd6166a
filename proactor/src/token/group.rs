//! Waiting for several operations: [`parallel_group`] (Asio's
//! `make_parallel_group`).

use super::{
    CancellationSignal, CancellationSlot, CancellationType, CompletionHandler, CompletionToken,
    DeferredOp, Initiation,
};
use crate::sync::{self, Arc, Mutex};
use std::fmt;

/// Groups deferred operations (a tuple of two to four [`DeferredOp`]s) to
/// run at once; see [`ParallelGroup::async_wait`].
///
/// ```
/// use proactor::{parallel_group, Deferred, IoContext, SteadyTimer, WaitForOne};
/// use std::time::Duration;
///
/// let ctx = IoContext::new()?;
/// let (fast, slow) = (SteadyTimer::new(&ctx.executor()), SteadyTimer::new(&ctx.executor()));
/// fast.expires_after(Duration::from_millis(1));
/// slow.expires_after(Duration::from_secs(60));
/// parallel_group((fast.async_wait(Deferred), slow.async_wait(Deferred))).async_wait(
///     WaitForOne::default(),
///     |order: [usize; 2], (a,): (std::io::Result<()>,), (b,): (std::io::Result<()>,)| {
///         assert_eq!(order, [0, 1]); // the fast one first; the slow one was cancelled
///         assert!(a.is_ok());
///         assert!(proactor::error::is_operation_aborted(&b.unwrap_err()));
///     },
/// );
/// ctx.run(); // returns at once: no 60 s wait
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn parallel_group<G>(ops: G) -> ParallelGroup<G> {
    ParallelGroup { ops }
}

/// Operations to run at once; made by [`parallel_group`].
pub struct ParallelGroup<G> {
    ops: G,
}

impl<G> fmt::Debug for ParallelGroup<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParallelGroup").finish_non_exhaustive()
    }
}

/// When a group is done.
pub trait WaitCondition: Send + Sync + 'static {
    /// After the first operation completes: the cancellation to send the
    /// others, if any.
    fn on_first(&self) -> Option<CancellationType>;
}

/// The group is done when every operation has completed.
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitForAll;

impl WaitCondition for WaitForAll {
    fn on_first(&self) -> Option<CancellationType> {
        None
    }
}

/// The group is done as soon as one operation completes: the others are
/// cancelled (with the given cancellation type, [`CancellationType::ALL`]
/// by default) and the group completes once they have.
#[derive(Clone, Copy, Debug)]
pub struct WaitForOne(pub CancellationType);

impl Default for WaitForOne {
    fn default() -> Self {
        WaitForOne(CancellationType::ALL)
    }
}

impl WaitCondition for WaitForOne {
    fn on_first(&self) -> Option<CancellationType> {
        Some(self.0)
    }
}

/// Cancellation signals for the members, and the group's own installation
/// in its handler's slot.
struct Signals<const N: usize> {
    members: [CancellationSignal; N],
}

impl<const N: usize> Signals<N> {
    fn cancel_others(&self, except: usize, ty: CancellationType) {
        for (i, s) in self.members.iter().enumerate() {
            if i != except {
                s.emit(ty);
            }
        }
    }
}

macro_rules! group_impl {
    ($n:literal; $($i:tt $A:ident $a:ident),+) => {
        impl<$($A: Send + 'static),+> ParallelGroup<($(DeferredOp<$A>,)+)> {
            /// Starts every operation and completes when `condition` says:
            /// the token receives the order in which the operations
            /// completed, then each one's result (every operation
            /// completes, the cancelled ones with "operation aborted").
            /// A cancellation slot bound to the token cancels them all.
            pub fn async_wait<C, T>(self, condition: C, token: T) -> T::Output
            where
                C: WaitCondition,
                T: CompletionToken<([usize; $n], $($A),+)>,
            {
                token.launch(GroupInit { ops: self.ops, condition })
            }
        }

        impl<C: WaitCondition, $($A: Send + 'static),+> Initiation<([usize; $n], $($A),+)> for GroupInit<($(DeferredOp<$A>,)+), C> {
            fn initiate<H: CompletionHandler<([usize; $n], $($A),+)>>(self, handler: H) {
                fn deliver<H: CompletionHandler<([usize; $n], $($A),+)>, $($A),+>(
                    handler: H,
                    order: [usize; $n],
                    ($($a,)+): ($(Option<$A>,)+),
                ) {
                    handler.complete((order, $($a.expect("every member completed")),+));
                }
                let signals = Arc::new(Signals::<$n> { members: std::array::from_fn(|_| CancellationSignal::new()) });
                let parent = handler.cancellation_slot();
                let parent_id = parent.as_ref().map(|slot| {
                    let s = signals.clone();
                    slot.install(move |ty| s.cancel_others(usize::MAX, ty))
                });
                let state = Arc::new(Mutex::new(GroupState::<$n, ($(Option<$A>,)+), H> {
                    order: [0; $n],
                    done: 0,
                    results: ($(None::<$A>,)+),
                    handler: Some(handler),
                    parent: parent.zip(parent_id),
                }));
                let condition = Arc::new(self.condition);
                $(
                    {
                        let (state, signals, condition) = (state.clone(), signals.clone(), condition.clone());
                        let member = Member {
                            slot: signals.members[$i].slot(),
                            on_done: move |args: $A| {
                                let (first, finished) = {
                                    let mut g = sync::lock(&state);
                                    g.results.$i = Some(args);
                                    let k = g.done;
                                    g.order[k] = $i;
                                    g.done += 1;
                                    (k == 0, (g.done == $n).then(|| g.finish()).flatten())
                                };
                                if first {
                                    if let Some(ty) = condition.on_first() {
                                        signals.cancel_others($i, ty);
                                    }
                                }
                                if let Some((handler, order, results)) = finished {
                                    deliver(handler, order, results);
                                }
                            },
                            _args: std::marker::PhantomData,
                        };
                        self.ops.$i.initiate(member);
                    }
                )+
            }
        }
    };
}

struct GroupInit<G, C> {
    ops: G,
    condition: C,
}

struct GroupState<const N: usize, R, H> {
    order: [usize; N],
    done: usize,
    results: R,
    handler: Option<H>,
    parent: Option<(CancellationSlot, u64)>,
}

impl<const N: usize, R: Default, H> GroupState<N, R, H> {
    /// Everything the final completion needs, once.
    fn finish(&mut self) -> Option<(H, [usize; N], R)> {
        if let Some((slot, id)) = self.parent.take() {
            slot.clear_if(id);
        }
        Some((
            self.handler.take()?,
            self.order,
            std::mem::take(&mut self.results),
        ))
    }
}

/// One member's handler: records its result in the group.
struct Member<F, A> {
    slot: CancellationSlot,
    on_done: F,
    _args: std::marker::PhantomData<fn(A)>,
}

impl<A: Send + 'static, F: FnOnce(A) + Send + 'static> CompletionHandler<A> for Member<F, A> {
    fn complete(self, args: A) {
        (self.on_done)(args)
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        Some(self.slot.clone())
    }
}

group_impl!(2; 0 A0 a0, 1 A1 a1);
group_impl!(3; 0 A0 a0, 1 A1 a1, 2 A2 a2);
group_impl!(4; 0 A0 a0, 1 A1 a1, 2 A2 a2, 3 A3 a3);
