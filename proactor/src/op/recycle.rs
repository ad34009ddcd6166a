//! The per-thread recycling allocator for operations (Asio's
//! `recycling_allocator` and `thread_info_base` memory cache).
//!
//! Operation sizes are rounded up to a size class (a multiple of
//! [`GRANULE`] bytes up to [`MAX_SIZE`]); each thread keeps a short free list
//! per class. A block freed on a thread goes to that thread's list when it
//! has room, and the next allocation of that class on the thread takes it
//! back, so a steady chain of handlers (each posting the next) allocates
//! nothing. Larger or over-aligned operations go straight to the global
//! allocator. A block may be freed on another thread than the one that
//! allocated it.
//!
//! Blocks come from one of two [`Pool`]s, each with its own lists: posted
//! handlers, short-lived and bursty, are cut from chunks in sequence
//! ([`super::chunk`]); operations that may stay pending (I/O) come from the
//! global allocator.
//!
//! Under `--cfg loom` the cache is bypassed: loom models the queues, not
//! memory reuse.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Size-class granularity in bytes.
const GRANULE: usize = 32;
/// Number of size classes: blocks of 32, 64, ..., 512 bytes.
const CLASSES: usize = 16;
/// The largest operation the cache serves.
pub(crate) const MAX_SIZE: usize = GRANULE * CLASSES;
/// Alignment of every cached block.
const ALIGN: usize = 16;
// A `Spare` keeps a block's class in its address's alignment bits.
const _: () = assert!(CLASSES <= ALIGN);

/// The size class serving `layout`, if any.
#[inline(always)]
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() <= ALIGN && layout.size() <= MAX_SIZE {
        Some(layout.size().saturating_sub(1) / GRANULE)
    } else {
        None
    }
}

#[inline(always)]
fn class_layout(class: usize) -> Layout {
    // SAFETY: the size is a non-zero multiple of the alignment, a power of
    // two, and far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked((class + 1) * GRANULE, ALIGN) }
}

/// Where a class's blocks come from when the thread's list is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pool {
    /// The global allocator: for operations that may stay pending long.
    #[cfg_attr(loom, allow(dead_code))] // used by the I/O layers
    Heap = 0,
    /// Chunks cut in sequence: for posted handlers.
    Chunk = 1,
}

/// Allocates a block for `layout` (never zero-sized here) from `pool`.
#[inline(always)]
pub(crate) fn alloc_in(pool: Pool, layout: Layout) -> NonNull<u8> {
    match class_of(layout) {
        Some(class) => match cache::take(pool, class) {
            Some(block) => block,
            None => fresh(pool, class),
        },
        None => heap_alloc(layout),
    }
}

/// A new block of `pool` and `class` (the thread's list is empty).
#[cold]
#[inline(never)]
fn fresh(pool: Pool, class: usize) -> NonNull<u8> {
    #[cfg(not(loom))]
    if pool == Pool::Chunk {
        return super::chunk::alloc(class_layout(class).size());
    }
    let _ = pool;
    heap_alloc(class_layout(class))
}

fn heap_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: operation layouts are never zero-sized (they hold a header).
    let p = unsafe { alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Frees a block that [`alloc_in`] returned for the same `pool` and
/// `layout`.
///
/// # Safety
/// `p` came from `alloc_in(pool, layout)` and is not used afterwards.
#[inline(always)]
pub(crate) unsafe fn dealloc_in(pool: Pool, p: NonNull<u8>, layout: Layout) {
    match class_of(layout) {
        Some(class) => {
            if !cache::give(pool, class, p) {
                // SAFETY: forwarded: a block of this pool and class.
                unsafe { release(pool, class, p) }
            }
        }
        // SAFETY: uncached blocks are allocated with their own layout.
        None => unsafe { alloc::dealloc(p.as_ptr(), layout) },
    }
}

/// Gives an unused block of `pool` and `class` back to where it came from.
///
/// # Safety
/// As for [`dealloc_in`].
#[cold]
#[inline(never)]
unsafe fn release(pool: Pool, class: usize, p: NonNull<u8>) {
    #[cfg(not(loom))]
    if pool == Pool::Chunk {
        // SAFETY: chunk-pool blocks of a class are cut from chunks.
        return unsafe { super::chunk::dealloc(p) };
    }
    let _ = pool;
    // SAFETY: heap blocks of a class are allocated with its layout.
    unsafe { alloc::dealloc(p.as_ptr(), class_layout(class)) }
}

/// Allocates a heap-pool block for `layout` (never zero-sized here).
#[cfg_attr(loom, allow(dead_code))] // used by the I/O layers
#[inline]
pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
    alloc_in(Pool::Heap, layout)
}

/// Frees a block that [`alloc`] returned for the same `layout`.
///
/// # Safety
/// `p` came from `alloc(layout)` and is not used afterwards.
#[cfg_attr(loom, allow(dead_code))] // used by the I/O layers
#[inline]
pub(crate) unsafe fn dealloc(p: NonNull<u8>, layout: Layout) {
    // SAFETY: forwarded.
    unsafe { dealloc_in(Pool::Heap, p, layout) }
}

/// A one-block cache kept by an I/O object for the operations of one kind
/// it starts (its reads, say): an operation's block goes back here when it
/// completes, and the object's next operation of that kind takes it. So a
/// steady stream of operations on many objects allocates nothing, however
/// their completions interleave across threads and batches (the per-thread
/// lists alone cannot promise that: a batch of reads completing frees more
/// read blocks than a list keeps).
///
/// The word holds the block's address with its size class in the low bits
/// (blocks are 16-aligned), or 0.
#[cfg(not(loom))]
pub(crate) struct Spare(std::sync::atomic::AtomicUsize);

#[cfg(not(loom))]
impl Spare {
    pub(crate) const fn new() -> Self {
        Spare(std::sync::atomic::AtomicUsize::new(0))
    }

    /// Takes the block if it is of `class`; a block of another class is
    /// freed (the object's operations changed shape).
    #[inline]
    fn take(&self, class: usize) -> Option<NonNull<u8>> {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        if self.0.load(Relaxed) == 0 {
            return None;
        }
        let word = self.0.swap(0, Acquire);
        let block = NonNull::new((word & !(ALIGN - 1)) as *mut u8)?;
        if word & (ALIGN - 1) == class {
            return Some(block);
        }
        // SAFETY: a spare block is an unused block of its recorded class.
        unsafe { dealloc_class(block, word & (ALIGN - 1)) };
        None
    }

    /// Keeps `p` (an unused block of `class`) if the spare is empty.
    #[inline]
    fn give(&self, class: usize, p: NonNull<u8>) -> bool {
        use std::sync::atomic::Ordering::{Relaxed, Release};
        self.0.load(Relaxed) == 0
            && self
                .0
                .compare_exchange(0, p.as_ptr() as usize | class, Release, Relaxed)
                .is_ok()
    }
}

#[cfg(not(loom))]
impl Drop for Spare {
    fn drop(&mut self) {
        let word = *self.0.get_mut();
        if let Some(block) = NonNull::new((word & !(ALIGN - 1)) as *mut u8) {
            // SAFETY: as in `take`; nothing else can reach it any more.
            unsafe { dealloc_class(block, word & (ALIGN - 1)) };
        }
    }
}

/// As [`alloc`], trying `spare` first.
#[cfg(not(loom))]
#[inline]
pub(crate) fn alloc_with(layout: Layout, spare: Option<&Spare>) -> NonNull<u8> {
    if let (Some(spare), Some(class)) = (spare, class_of(layout)) {
        if let Some(block) = spare.take(class) {
            return block;
        }
    }
    alloc(layout)
}

/// As [`dealloc`], keeping the block in `spare` if that is empty.
///
/// # Safety
/// As for [`dealloc`].
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn dealloc_with(p: NonNull<u8>, layout: Layout, spare: Option<&Spare>) {
    if let (Some(spare), Some(class)) = (spare, class_of(layout)) {
        if spare.give(class, p) {
            return;
        }
    }
    // SAFETY: forwarded.
    unsafe { dealloc(p, layout) }
}

/// Frees a block of `class` (to the thread's list or the allocator).
///
/// # Safety
/// `p` is an unused block of `class`.
#[cfg(not(loom))]
unsafe fn dealloc_class(p: NonNull<u8>, class: usize) {
    // SAFETY: forwarded; a block of a class has the class's layout.
    unsafe { dealloc(p, class_layout(class)) }
}

#[cfg(not(loom))]
mod cache {
    use super::{release, Pool, CLASSES};
    use std::cell::UnsafeCell;
    use std::ptr::{self, NonNull};

    /// Blocks kept per pool, class and thread.
    const PER_CLASS: u32 = 32;
    const POOLS: usize = 2;

    /// A free block's first word links it to the next free block.
    struct FreeBlock {
        next: *mut FreeBlock,
    }

    struct Cache {
        heads: [[*mut FreeBlock; CLASSES]; POOLS],
        counts: [[u32; CLASSES]; POOLS],
    }

    impl Drop for Cache {
        fn drop(&mut self) {
            for (pool, heads) in [Pool::Heap, Pool::Chunk].into_iter().zip(self.heads) {
                for (class, mut p) in heads.into_iter().enumerate() {
                    while !p.is_null() {
                        // SAFETY: every listed block is a live, unused block
                        // of this pool and class, owned by the list.
                        unsafe {
                            let next = (*p).next;
                            release(pool, class, NonNull::new_unchecked(p.cast()));
                            p = next;
                        }
                    }
                }
            }
        }
    }

    std::thread_local! {
        static CACHE: UnsafeCell<Cache> = const {
            UnsafeCell::new(Cache {
                heads: [[ptr::null_mut(); CLASSES]; POOLS],
                counts: [[0; CLASSES]; POOLS],
            })
        };
    }

    #[inline(always)]
    pub(super) fn take(pool: Pool, class: usize) -> Option<NonNull<u8>> {
        CACHE
            .try_with(|c| {
                // SAFETY: the cache belongs to this thread and these two
                // functions never re-enter each other.
                let c = unsafe { &mut *c.get() };
                let (heads, counts) = (&mut c.heads[pool as usize], &mut c.counts[pool as usize]);
                let head = heads[class];
                if head.is_null() {
                    return None;
                }
                // SAFETY: listed blocks are live and unused.
                heads[class] = unsafe { (*head).next };
                counts[class] -= 1;
                NonNull::new(head.cast())
            })
            .ok()
            .flatten()
    }

    #[inline(always)]
    pub(super) fn give(pool: Pool, class: usize, p: NonNull<u8>) -> bool {
        CACHE
            .try_with(|c| {
                // SAFETY: as in `take`.
                let c = unsafe { &mut *c.get() };
                let (heads, counts) = (&mut c.heads[pool as usize], &mut c.counts[pool as usize]);
                if counts[class] >= PER_CLASS {
                    return false;
                }
                let block = p.as_ptr().cast::<FreeBlock>();
                // SAFETY: the caller hands over an unused block of this
                // class, large and aligned enough for a link.
                unsafe { block.write(FreeBlock { next: heads[class] }) };
                heads[class] = block;
                counts[class] += 1;
                true
            })
            .unwrap_or(false)
    }
}

#[cfg(loom)]
mod cache {
    use super::Pool;
    use std::ptr::NonNull;

    pub(super) fn take(_pool: Pool, _class: usize) -> Option<NonNull<u8>> {
        None
    }

    pub(super) fn give(_pool: Pool, _class: usize, _p: NonNull<u8>) -> bool {
        false
    }
}
