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
use crate::sync::{spin_wait, AtomicPtr, CachePadded, Ordering};
use crate::sys::prefetch::prefetch;
use std::ptr::{self, NonNull};

/// What [`Mpsc::pop`] found.
pub(crate) enum Pop {
    Item(OpPtr),
    Empty,
    /// A producer is half-way through a push; try again shortly.
    Busy,
}

/// The queue sits on two cache lines: one that producers write, one that
/// the consumer writes.
pub(crate) struct Mpsc {
    /// Last node pushed (or the stub). Producers swap it.
    tail: CachePadded<AtomicPtr<OpHeader>>,
    consumer: CachePadded<ConsumerSide>,
}

struct ConsumerSide {
    /// Next node to pop (or the stub). Written by the consumer only; read by
    /// others for [`Mpsc::is_empty`].
    head: AtomicPtr<OpHeader>,
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
            tail: CachePadded(AtomicPtr::new(stub.as_ptr())),
            consumer: CachePadded(ConsumerSide {
                head: AtomicPtr::new(stub.as_ptr()),
                stub,
            }),
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

    /// True when the queue holds nothing and no push has started. Any
    /// thread; exact in the absence of concurrent pushes and pops.
    ///
    /// The stub at the tail alone does not prove emptiness: when the
    /// consumer re-inserts the stub just after a producer's push, the list is
    /// `node -> stub`. The head tells those apart, and a reader that sees the
    /// consumer's re-insertion (release/acquire on `tail`) also sees the head
    /// the consumer had moved past the stub before it.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        let stub = self.consumer.stub.as_ptr();
        self.tail.load(Ordering::SeqCst) == stub
            && self.consumer.head.load(Ordering::Acquire) == stub
    }

    /// True if `op` is the only operation queued (a hint, racing with
    /// producers and the consumer).
    #[inline]
    pub(crate) fn holds_only(&self, op: NonNull<OpHeader>) -> bool {
        let stub = self.consumer.stub.as_ptr();
        if self.tail.load(Ordering::SeqCst) != op.as_ptr() {
            return false;
        }
        let head = self.consumer.head.load(Ordering::Acquire);
        // SAFETY: the stub lives as long as the queue, and only its link is
        // read.
        head == op.as_ptr()
            || (head == stub && unsafe { (*stub).next.load(Ordering::Acquire) } == op.as_ptr())
    }

    /// Pops the oldest operation.
    ///
    /// # Safety
    /// Only one thread at a time may be inside `pop`/`pop_wait` on a queue.
    pub(crate) unsafe fn pop(&self) -> Pop {
        let side = &*self.consumer;
        let stub = side.stub.as_ptr();
        // SAFETY: the consumer side is exclusive (caller contract), so only
        // we write `head`; every node reachable from it is alive and owned
        // by the queue.
        unsafe {
            let mut head = side.head.load(Ordering::Relaxed);
            let mut next = (*head).next.load(Ordering::Acquire);
            if head == stub {
                if next.is_null() {
                    return if self.tail.load(Ordering::Acquire) == stub {
                        Pop::Empty
                    } else {
                        Pop::Busy
                    };
                }
                side.head.store(next, Ordering::Release);
                head = next;
                next = (*head).next.load(Ordering::Acquire);
            }
            if !next.is_null() {
                side.head.store(next, Ordering::Release);
                // The next pop starts by reading `next`: fetch it while
                // this operation runs.
                prefetch(next);
                return Pop::Item(OpPtr::from_raw(NonNull::new_unchecked(head)));
            }
            if self.tail.load(Ordering::Acquire) != head {
                return Pop::Busy;
            }
            // `head` is the last node: put the stub behind it so that
            // `head` can be handed out without emptying the list.
            self.push_raw(side.stub, side.stub);
            next = (*head).next.load(Ordering::Acquire);
            if !next.is_null() {
                side.head.store(next, Ordering::Release);
                return Pop::Item(OpPtr::from_raw(NonNull::new_unchecked(head)));
            }
            Pop::Busy
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
        drop(unsafe { Box::from_raw(self.consumer.stub.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::handler_op;
    #[cfg(loom)]
    use crate::sync::Arc;
    #[cfg(not(loom))]
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    fn counting_op(log: &std::sync::Arc<std::sync::Mutex<Vec<usize>>>, k: usize) -> OpPtr {
        let log = log.clone();
        handler_op(move || log.lock().unwrap().push(k))
    }

    #[cfg(not(loom))]
    #[test]
    fn fifo_and_empty() {
        let q = Mpsc::new();
        let log = Default::default();
        assert!(q.is_empty());
        for k in 0..5 {
            q.push(counting_op(&log, k));
            assert!(!q.is_empty());
        }
        // SAFETY: single-threaded test: the only consumer.
        while let Some(op) = unsafe { q.pop_wait() } {
            op.complete();
        }
        assert!(q.is_empty());
        assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
        // Refill after draining through the stub.
        q.push(counting_op(&log, 5));
        assert!(!q.is_empty());
        // SAFETY: as above.
        unsafe { q.pop_wait() }.unwrap().complete();
        assert!(q.is_empty());
    }

    #[cfg(not(loom))]
    #[test]
    fn dropping_the_queue_destroys_its_operations_unrun() {
        let dropped = std::sync::Arc::new(AtomicUsize::new(0));
        struct Probe(std::sync::Arc<AtomicUsize>);
        impl Drop for Probe {
            fn drop(&mut self) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let q = Mpsc::new();
        for _ in 0..3 {
            let p = Probe(dropped.clone());
            q.push(handler_op(move || {
                let _ = &p;
                panic!("must not run");
            }));
        }
        drop(q);
        assert_eq!(dropped.load(SeqCst), 3);
    }

    /// The consumer pops the last node while a producer pushes: whatever
    /// the interleaving, once both are done the queue holds the new node
    /// and says so. (An emptiness test on the tail alone fails here: the
    /// consumer's stub can land behind the producer's node.)
    #[cfg(loom)]
    #[test]
    fn is_empty_survives_a_push_racing_the_last_pop() {
        loom::model(|| {
            let q = Arc::new(Mpsc::new());
            let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            q.push(counting_op(&log, 0));
            let producer = {
                let (q, log) = (q.clone(), log.clone());
                loom::thread::spawn(move || q.push(counting_op(&log, 1)))
            };
            // SAFETY: this thread is the only consumer.
            let first = unsafe { q.pop_wait() }.expect("node 0 was queued");
            producer.join().unwrap();
            assert!(!q.is_empty(), "node 1 is queued");
            first.complete();
            // SAFETY: as above.
            unsafe { q.pop_wait() }.expect("node 1").complete();
            assert!(q.is_empty());
            assert_eq!(*log.lock().unwrap(), [0, 1]);
        });
    }
}
