//! An intrusive multi-producer, single-consumer FIFO of operations
//! (Dmitry Vyukov's design).
//!
//! Producers never block and never retry: a push is one atomic exchange of
//! the tail plus one store into the previous node's link. That makes posting
//! from any thread cheap and lock-free. The consumer side must be exclusive;
//! the scheduler guards it with its consumer lock, a strand with its
//! "locked" count.
//!
//! Between a producer's exchange and its link store the queue is briefly
//! *inconsistent*: the consumer can see that something was pushed but cannot
//! reach it yet. [`Mpsc::pop`] reports that as [`Pop::Busy`];
//! [`Mpsc::pop_wait`] spins (yielding after a while) until the producer
//! finishes its two-instruction window.

use super::queue::Chain;
use super::{OpFn, OpHeader, OpPtr};
use crate::sync::{spin_wait, AtomicPtr, Ordering, UnsafeCell};
use std::ptr::{self, NonNull};

/// What [`Mpsc::pop`] found.
pub(crate) enum Pop {
    Item(OpPtr),
    Empty,
    /// A producer is half-way through a push; try again shortly.
    Busy,
}

pub(crate) struct Mpsc {
    /// Last node pushed (or the stub). Producers swap it.
    tail: AtomicPtr<OpHeader>,
    /// Next node to pop (or the stub). Consumer only.
    head: UnsafeCell<*mut OpHeader>,
    /// The stub node that keeps the list non-empty; boxed so that its
    /// address survives moves of the queue.
    stub: NonNull<OpHeader>,
}

// SAFETY: the queue owns `Send` operations; producers only touch `tail` and
// links through atomics, and the consumer side is exclusive by contract
// (`pop` is unsafe).
unsafe impl Send for Mpsc {}
unsafe impl Sync for Mpsc {}

/// The stub is never run or destroyed through its function.
unsafe fn stub_func(_: NonNull<OpHeader>, _: super::Action) {}
const STUB_FUNC: OpFn = stub_func;

impl Mpsc {
    pub(crate) fn new() -> Self {
        let stub = NonNull::from(Box::leak(Box::new(OpHeader::new(STUB_FUNC))));
        Mpsc {
            tail: AtomicPtr::new(stub.as_ptr()),
            head: UnsafeCell::new(stub.as_ptr()),
            stub,
        }
    }

    /// Appends `op`. Any thread, any time.
    #[inline]
    pub(crate) fn push(&self, op: OpPtr) {
        let p = op.into_raw();
        self.push_raw(p, p);
    }

    /// Appends an owned chain in one step.
    #[inline]
    pub(crate) fn push_chain(&self, chain: Chain) {
        self.push_raw(chain.first, chain.last);
    }

    #[inline]
    fn push_raw(&self, first: NonNull<OpHeader>, last: NonNull<OpHeader>) {
        // SAFETY: `last` is owned by us until it is published below.
        unsafe { last.as_ref().next.store(ptr::null_mut(), Ordering::Relaxed) };
        // SeqCst: posters pair this exchange with a later SeqCst load of the
        // sleepers' state (Dekker-style), so that a sleeper that registers
        // and then finds the queue empty cannot miss this push.
        let prev = self.tail.swap(last.as_ptr(), Ordering::SeqCst);
        // SAFETY: `prev` stays alive until the consumer can reach past it,
        // which needs this very store.
        unsafe { (*prev).next.store(first.as_ptr(), Ordering::Release) };
    }

    /// True when no push has started since the queue was last drained.
    /// Any thread; exact only in the absence of concurrent pushes.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.tail.load(Ordering::SeqCst) == self.stub.as_ptr()
    }

    /// Pops the oldest operation.
    ///
    /// # Safety
    /// Only one thread at a time may be inside `pop`/`pop_wait` on a queue.
    pub(crate) unsafe fn pop(&self) -> Pop {
        let stub = self.stub.as_ptr();
        // SAFETY: the consumer side is exclusive (caller contract); every
        // node reachable from `head` is alive and owned by the queue.
        unsafe {
            self.head.with_mut(|head_slot| {
                let mut head = *head_slot;
                let mut next = (*head).next.load(Ordering::Acquire);
                if head == stub {
                    if next.is_null() {
                        return if self.tail.load(Ordering::Acquire) == stub {
                            Pop::Empty
                        } else {
                            Pop::Busy
                        };
                    }
                    *head_slot = next;
                    head = next;
                    next = (*head).next.load(Ordering::Acquire);
                }
                if !next.is_null() {
                    *head_slot = next;
                    return Pop::Item(OpPtr::from_raw(NonNull::new_unchecked(head)));
                }
                if self.tail.load(Ordering::Acquire) != head {
                    return Pop::Busy;
                }
                // `head` is the last node: put the stub behind it so that
                // `head` can be handed out without emptying the list.
                let stub_nn = self.stub;
                self.push_raw(stub_nn, stub_nn);
                next = (*head).next.load(Ordering::Acquire);
                if !next.is_null() {
                    *head_slot = next;
                    return Pop::Item(OpPtr::from_raw(NonNull::new_unchecked(head)));
                }
                Pop::Busy
            })
        }
    }

    /// Pops the oldest operation, waiting out a producer's half-finished
    /// push.
    ///
    /// # Safety
    /// As for [`Mpsc::pop`].
    #[inline]
    pub(crate) unsafe fn pop_wait(&self) -> Option<OpPtr> {
        let mut round = 0;
        loop {
            // SAFETY: forwarded caller contract.
            match unsafe { self.pop() } {
                Pop::Item(op) => return Some(op),
                Pop::Empty => return None,
                Pop::Busy => {
                    spin_wait(round);
                    round += 1;
                }
            }
        }
    }
}

impl Drop for Mpsc {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no producer or consumer is left.
        while let Some(op) = unsafe { self.pop_wait() } {
            drop(op);
        }
        // SAFETY: the stub was leaked from a box in `new` and is unlinked.
        drop(unsafe { Box::from_raw(self.stub.as_ptr()) });
    }
}
