//! A hint to the processor to bring a cache line in ahead of its use.
//!
//! Where the next node of a list or the next level of a heap is known
//! before the current one is done with, fetching it early overlaps two
//! cache misses that would otherwise come one after the other (a long
//! queue of operations scattered over memory, a heap of a million timers).

/// Starts loading the cache line at `p` for reading. Never faults, whatever
/// `p` is; does nothing where there is no such instruction (or under Miri
/// and loom, which model memory, not caches).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", not(miri), not(loom)))]
    // SAFETY: a prefetch is only a hint: it reads nothing the program can
    // see and cannot fault, even for an invalid address; SSE is part of
    // every x86_64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri), not(loom))))]
    let _ = p;
}
