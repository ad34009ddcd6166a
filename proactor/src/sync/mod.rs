//! The one door through which the runtime reaches its synchronisation
//! primitives.
//!
//! Every atomic, lock, condition variable, shared pointer and thread-local
//! of the scheduler, the operation queues and the
//! strands comes from here, so that building with `RUSTFLAGS="--cfg loom"`
//! swaps in [loom](https://docs.rs/loom)'s models and the loom tests in
//! `tests/loom_*.rs` explore every interleaving of the real code.
//!
//! Locks here never poison: a handler that panics while a lock is held (the
//! one-thread consumer lock is held across handlers) must leave the
//! scheduler usable, exactly as an exception does in Asio.

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Back-off inside a lock-free retry loop.
    pub(crate) fn spin_wait(_round: u32) {
        loom::thread::yield_now();
    }
}

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
    };
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Back-off inside a lock-free retry loop: spin briefly, then give the
    /// core away (the thread we wait for may have been preempted).
    #[inline]
    pub(crate) fn spin_wait(round: u32) {
        if round < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

mod parking_lock;

pub(crate) use imp::*;
pub(crate) use parking_lock::{ParkingGuard, ParkingLock};
pub(crate) use std::sync::atomic::Ordering;
/// Write-once cells are std's in both builds: the scheduler's is written
/// before anything can read it (the task's sentinel is published through
/// the queue afterwards), so there is nothing for loom to explore.
pub(crate) use std::sync::OnceLock;
pub(crate) use std::time::Instant;

use std::sync::PoisonError;
use std::time::Duration;

/// Orders a Dekker-style handshake: "publish mine, then look at yours".
///
/// The runtime's handshakes (a producer publishes work then looks for
/// sleepers; a sleeper registers then looks for work; and the like) are
/// written with SeqCst read-modify-writes followed by SeqCst loads, which
/// the Rust (C++20) memory model totally orders, so no fence is needed and
/// this is a no-op. Loom models SeqCst accesses only as AcqRel (its
/// documented limitation) but models SeqCst fences exactly, so under loom
/// this is `fence(SeqCst)` and the models check the same handshake.
#[inline(always)]
pub(crate) fn handshake_fence() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// A scheduling point for the loom models, at a place where a preemption
/// matters but loom's bounded search would not otherwise branch (between
/// the two halves of a check that must see a consistent picture). Nothing
/// outside loom.
#[inline(always)]
pub(crate) fn model_yield() {
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Keeps `T` on cache lines of its own, so that a field written by one set
/// of threads does not slow down readers of its neighbours (false sharing).
/// 128 bytes: Intel's adjacent-line prefetcher pulls lines in pairs.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Locks `m`, ignoring poisoning (see the module documentation).
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv`, ignoring poisoning.
#[inline]
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g).unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` for at most `d`, ignoring poisoning.
#[inline]
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    g: MutexGuard<'a, T>,
    d: Duration,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout(g, d) {
        Ok((g, _)) => g,
        Err(p) => p.into_inner().0,
    }
}

/// Waits on `cv` (whose lock is `m`, held as `g`) for at most `d`: a
/// thread that looks again soon by itself. Loom's own timed wait never times
/// out, so under loom the timeout is taken to pass at once: the thread lets
/// go of the lock, gives way, and takes it again (every interleaving of a
/// timeout is then explored, a notification may find nobody waiting, and
/// the looks that follow must make up for it).
#[inline]
pub(crate) fn wait_briefly<'a, T>(
    cv: &Condvar,
    m: &'a Mutex<T>,
    g: MutexGuard<'a, T>,
    d: Duration,
) -> MutexGuard<'a, T> {
    #[cfg(loom)]
    {
        let _ = (cv, d);
        drop(g);
        loom::thread::yield_now();
        lock(m)
    }
    #[cfg(not(loom))]
    {
        let _ = m;
        wait_timeout(cv, g, d)
    }
}

/// Declares a thread-local through the facade: `const`-initialised with std
/// (no lazy-initialisation check on the hot path), loom's model under loom.
macro_rules! facade_thread_local {
    ($vis:vis static $name:ident : $t:ty = $init:expr;) => {
        #[cfg(not(loom))]
        std::thread_local! { $vis static $name: $t = const { $init }; }
        #[cfg(loom)]
        loom::thread_local! { $vis static $name: $t = $init; }
    };
}
pub(crate) use facade_thread_local;
