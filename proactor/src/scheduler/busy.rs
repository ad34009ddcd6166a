//! Whether a context still has work: the *busy* count.
//!
//! Asio counts every queued handler as outstanding work. Here a queued
//! operation is work by being in the queue (so posting touches no counter),
//! and one atomic word counts everything else: work guards, pending I/O
//! operations, and threads busy inside a run-family call. The context is
//! out of work when the count is zero *and* the queue is empty.
//!
//! Work moves between the queue and the count in both directions: a thread
//! counts itself busy and then takes an operation out of the queue; an I/O
//! completion is queued and then its count released. Two separate loads
//! cannot see a consistent picture of that, so the word also carries a
//! generation, bumped by every increment: a checker reads the word (count
//! zero), then the queue (empty), then the word again, and only an
//! unchanged word proves that nothing moved in between.

use crate::sync::{AtomicU64, Ordering::SeqCst};

const COUNT_MASK: u64 = u32::MAX as u64;
const GENERATION: u64 = 1 << 32;

pub(crate) struct Busy(AtomicU64);

/// A reading of the busy word taken while its count was zero.
#[derive(Clone, Copy)]
pub(crate) struct Zero(u64);

impl Busy {
    pub(crate) fn new() -> Self {
        Busy(AtomicU64::new(0))
    }

    /// Counts one more unit (the generation wraps harmlessly).
    #[inline]
    pub(crate) fn inc(&self) {
        self.0.fetch_add(1 + GENERATION, SeqCst);
    }

    /// Releases `n` units; true if that brought the count to zero.
    #[inline]
    pub(crate) fn release(&self, n: u64) -> bool {
        let prev = self.0.fetch_sub(n, SeqCst);
        debug_assert!(prev & COUNT_MASK >= n, "busy count underflow");
        prev & COUNT_MASK == n
    }

    /// The current word, if its count is zero.
    #[inline]
    pub(crate) fn zero(&self) -> Option<Zero> {
        let w = self.0.load(SeqCst);
        (w & COUNT_MASK == 0).then_some(Zero(w))
    }

    /// True if nothing was counted or released since `z` was read.
    #[inline]
    pub(crate) fn unchanged_since(&self, z: Zero) -> bool {
        self.0.load(SeqCst) == z.0
    }
}
