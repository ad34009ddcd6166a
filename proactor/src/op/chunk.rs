//! Memory for posted handlers: blocks cut in sequence from aligned chunks.
//!
//! Posted handlers live briefly and come in bursts (a thousand posts, then
//! a drain). Served by the global allocator, a burst larger than the
//! per-thread lists ([`super::recycle`]) gets its blocks from free lists
//! whose order is whatever order earlier bursts were freed in: after
//! strands on two threads have freed interleaved blocks, the next burst is
//! scattered over memory, and draining it misses the cache on every
//! handler. Here a thread cuts blocks one after another from its current
//! chunk (a bump pointer), so a burst is contiguous in posting order, and a
//! chunk is reused only whole, once every block cut from it is freed.
//!
//! A chunk is [`CHUNK`] bytes aligned to its size, so a block finds its
//! chunk's header by rounding its address down. The header counts the
//! blocks still out: it starts at [`OPEN`] and each free subtracts one;
//! when its thread moves on to a new chunk it subtracts `OPEN - cut`. So
//! the count reaches zero exactly once, after the last free or at the
//! move, and whoever brings it there owns the empty chunk: it keeps it for
//! its next chunk or gives it back to the global allocator.
//!
//! Operations that may stay pending for long (I/O) do not come from here: a
//! long-lived block keeps its whole chunk alive.

use std::alloc::{self, Layout};
use std::cell::UnsafeCell;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Bytes per chunk (a power of two).
const CHUNK: usize = 16 * 1024;
/// The header's share of a chunk: a cache line of its own, so that frees
/// from other threads do not contend with the first blocks.
const HEADER: usize = 64;
/// The count of an open chunk before anything is freed (far above any
/// number of blocks a chunk holds).
const OPEN: usize = 1 << (usize::BITS - 2);
/// Empty chunks a thread keeps for later.
const KEEP: usize = 4;
/// The largest block served.
pub(crate) const MAX_BLOCK: usize = 1024;
// A block always fits in a fresh chunk, and every block the recycling
// lists hand out is one this module serves.
const _: () = assert!(MAX_BLOCK <= CHUNK - HEADER);
const _: () = assert!(super::recycle::MAX_SIZE <= MAX_BLOCK);

#[repr(C)]
struct Header {
    out: AtomicUsize,
}

fn chunk_layout() -> Layout {
    // SAFETY: CHUNK is a non-zero power of two, far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked(CHUNK, CHUNK) }
}

/// A thread's cutting state.
struct Cutter {
    /// The chunk being cut, or null.
    chunk: *mut u8,
    /// Offset of the next block in `chunk`.
    next: usize,
    /// Blocks cut from `chunk`.
    cut: usize,
    kept: [*mut u8; KEEP],
    nkept: usize,
}

// SAFETY: the raw pointers are chunks this cutter owns (its current chunk's
// unfreed part, and empty chunks); moving the cutter moves that ownership.
unsafe impl Send for Cutter {}

impl Cutter {
    const fn new() -> Self {
        Cutter {
            chunk: ptr::null_mut(),
            next: CHUNK,
            cut: 0,
            kept: [ptr::null_mut(); KEEP],
            nkept: 0,
        }
    }

    /// Cuts a block of `size` bytes (a multiple of 16, at most
    /// [`MAX_BLOCK`]).
    #[inline]
    fn cut(&mut self, size: usize) -> NonNull<u8> {
        if self.next + size > CHUNK {
            self.open_new();
        }
        // SAFETY: `next + size <= CHUNK`: the block lies inside the chunk.
        let p = unsafe { self.chunk.add(self.next) };
        self.next += size;
        self.cut += 1;
        // SAFETY: derived from a non-null chunk pointer.
        unsafe { NonNull::new_unchecked(p) }
    }

    #[cold]
    fn open_new(&mut self) {
        self.close_current();
        let chunk = if self.nkept > 0 {
            self.nkept -= 1;
            self.kept[self.nkept]
        } else {
            // SAFETY: the layout is non-zero-sized.
            let p = unsafe { alloc::alloc(chunk_layout()) };
            if p.is_null() {
                alloc::handle_alloc_error(chunk_layout());
            }
            p
        };
        // SAFETY: a fresh or empty chunk, ours alone; the header fits.
        unsafe {
            chunk.cast::<Header>().write(Header {
                out: AtomicUsize::new(OPEN),
            })
        };
        self.chunk = chunk;
        self.next = HEADER;
        self.cut = 0;
    }

    /// Stops cutting from the current chunk.
    fn close_current(&mut self) {
        let chunk = std::mem::replace(&mut self.chunk, ptr::null_mut());
        if chunk.is_null() {
            return;
        }
        // SAFETY: the header of a live chunk.
        let header = unsafe { &*chunk.cast::<Header>() };
        let delta = OPEN - self.cut;
        if header.out.fetch_sub(delta, Ordering::AcqRel) == delta {
            // Every block was already back: the chunk is ours again.
            self.keep(chunk);
        }
    }

    /// Keeps an empty chunk, or frees it.
    fn keep(&mut self, chunk: *mut u8) {
        if self.nkept < KEEP {
            self.kept[self.nkept] = chunk;
            self.nkept += 1;
        } else {
            // SAFETY: an empty chunk allocated with this layout.
            unsafe { alloc::dealloc(chunk, chunk_layout()) };
        }
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.close_current();
        for &chunk in &self.kept[..self.nkept] {
            // SAFETY: empty chunks allocated with this layout.
            unsafe { alloc::dealloc(chunk, chunk_layout()) };
        }
    }
}

std::thread_local! {
    static CUTTER: UnsafeCell<Cutter> = const { UnsafeCell::new(Cutter::new()) };
}

/// Where threads whose thread-locals are gone (or going) cut blocks. (Chunks
/// that such threads empty by freeing go back to the global allocator.)
static SHARED: Mutex<Cutter> = Mutex::new(Cutter::new());

/// A block of `size` bytes (a multiple of 16, at most [`MAX_BLOCK`]),
/// 16-aligned.
#[inline]
pub(crate) fn alloc(size: usize) -> NonNull<u8> {
    debug_assert!(size % 16 == 0 && size <= MAX_BLOCK);
    CUTTER
        .try_with(|c| {
            // SAFETY: the cutter belongs to this thread, and nothing it
            // calls comes back here.
            unsafe { &mut *c.get() }.cut(size)
        })
        .unwrap_or_else(|_| crate::sync::lock(&SHARED).cut(size))
}

/// Frees a block that [`alloc`] returned.
///
/// # Safety
/// `p` came from [`alloc`] and is not used afterwards.
#[inline]
pub(crate) unsafe fn dealloc(p: NonNull<u8>) {
    let offset = p.as_ptr() as usize & (CHUNK - 1);
    let chunk = p.as_ptr().wrapping_sub(offset);
    // SAFETY: blocks lie inside their chunk, whose header is at its start
    // and stays alive while any block is out.
    let header = unsafe { &*chunk.cast::<Header>() };
    if header.out.fetch_sub(1, Ordering::AcqRel) == 1 {
        // The last block of a closed chunk: it is ours now.
        let _ = CUTTER
            .try_with(|c| {
                // SAFETY: as in `alloc`.
                unsafe { &mut *c.get() }.keep(chunk)
            })
            .map_err(|_| crate::sync::lock(&SHARED).keep(chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn chunk_of(p: NonNull<u8>) -> usize {
        p.as_ptr() as usize & !(CHUNK - 1)
    }

    #[test]
    fn blocks_are_cut_in_sequence_and_chunks_come_back_whole() {
        // Three chunks' worth: within what a thread keeps.
        let n = 3 * (CHUNK - HEADER) / 32;
        let blocks: Vec<_> = (0..n).map(|_| alloc(32)).collect();
        let distinct: HashSet<_> = blocks.iter().map(|b| b.as_ptr() as usize).collect();
        assert_eq!(distinct.len(), n);
        let steps = blocks
            .windows(2)
            .filter(|w| w[1].as_ptr() as usize != w[0].as_ptr() as usize + 32)
            .count();
        assert!(
            steps <= 4,
            "only the steps to new chunks break the sequence"
        );
        let chunks: HashSet<_> = blocks.iter().map(|&b| chunk_of(b)).collect();
        for b in blocks {
            // SAFETY: from `alloc`, not used again.
            unsafe { dealloc(b) };
        }
        // The emptied chunks are kept and cut again; nothing new is needed.
        let again: Vec<_> = (0..n).map(|_| alloc(32)).collect();
        assert!(again.iter().all(|&b| chunks.contains(&chunk_of(b))));
        for b in again {
            // SAFETY: as above.
            unsafe { dealloc(b) };
        }
    }

    struct Blocks(Vec<NonNull<u8>>);
    // SAFETY: unused blocks, handed to the other thread whole.
    unsafe impl Send for Blocks {}

    #[test]
    fn blocks_freed_on_other_threads() {
        let blocks = Blocks((0..5000).map(|_| alloc(48)).collect());
        let chunks: HashSet<_> = blocks.0.iter().map(|&b| chunk_of(b)).collect();
        std::thread::spawn(move || {
            let blocks = blocks;
            for b in blocks.0 {
                // SAFETY: as above.
                unsafe { dealloc(b) };
            }
        })
        .join()
        .unwrap();
        // The chunks emptied over there were kept (or freed) there; this
        // thread's open chunk stays usable.
        let b = alloc(48);
        assert!(chunks.contains(&chunk_of(b)));
        // SAFETY: as above.
        unsafe { dealloc(b) };
    }
}
