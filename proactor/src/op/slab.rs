//! Blocks of one size for timers' shared state and their waits, cut from
//! pages that the process keeps: the source of [`super::recycle`]'s
//! [`Pool::Slab`](super::recycle::Pool::Slab).
//!
//! A timer's state stays at one address while a wait is pending (the heap
//! points at it), and a timer can move, so the state lives apart from it;
//! a wait is a block of its own too. Both come and go in bursts (a hundred
//! thousand timers made, then fired). From glibc, each costs a `malloc`
//! whose multi-threaded path takes an atomic step or two; here the
//! per-thread lists in front take a batch of blocks per lock, and give a
//! batch back per lock.
//!
//! A block's address is 16-aligned and preceded by a word pointing to its
//! page. Each page keeps its own free list and count of blocks in use. The
//! pages with room and a block in use are linked in a list that allocation
//! takes from; then come the empty pages, the last emptied first. A page's
//! blocks are cut in address order, which the processor's prefetcher
//! expects of a burst, and cut again that way once all are free (its free
//! list is in the order the blocks were freed: scattered, for a burst of
//! timers that fired in expiry order). The slab keeps up to
//! [`SPARE_PAGES`] empty pages; beyond that they go back to the global
//! allocator. Given back at once, a burst's pages would be mapped in again,
//! page fault by page fault, by the next burst: glibc returns the top of its
//! heap to the system as soon as it is free.
//!
//! Pages are plain allocations, not aligned to their size: glibc serves an
//! over-aligned request by cutting it from a larger one, which leaves a hole
//! next to every page.

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};
use std::sync::{Mutex, PoisonError};

/// Bytes per block: a timer's state, or a wait whose handler holds up to
/// two words (`timer.rs` checks both).
pub(crate) const BLOCK: usize = 88;
/// Alignment of every block.
pub(crate) const ALIGN: usize = 16;
const WORD: usize = std::mem::size_of::<*mut Header>();
/// A block and the word before it (its page).
const STRIDE: usize = BLOCK + WORD;
/// Bytes per page: below glibc's threshold for mapping an allocation on
/// its own.
const PAGE: usize = 16 * 1024;
/// Empty pages kept (32 MiB).
pub(crate) const SPARE_PAGES: usize = 2048;
/// The header's share of a page: the first block's page word ends on an
/// `ALIGN` boundary.
const HEADER: usize = 40;
/// Blocks per page.
const PER_PAGE: usize = (PAGE - HEADER) / STRIDE;
const _: () = assert!(std::mem::size_of::<Header>() <= HEADER);
const _: () = assert!((HEADER + WORD) % ALIGN == 0 && STRIDE % ALIGN == 0 && PER_PAGE > 1);

#[repr(C)]
struct Header {
    /// Freed blocks of this page.
    free: *mut Free,
    /// Blocks cut so far (the next one to cut is at this index).
    cut: usize,
    /// Blocks handed out and not freed.
    used: usize,
    /// Neighbours in the list of pages with room (null at the ends).
    prev: *mut Header,
    next: *mut Header,
}

/// A free block's first word links it to the next: in a page's free list,
/// and in the chains handed to and from the per-thread lists (which link
/// their blocks the same way).
#[repr(C)]
pub(crate) struct Free {
    pub(crate) next: *mut Free,
}

fn page_layout() -> Layout {
    // SAFETY: PAGE is a non-zero multiple of the alignment, a power of
    // two, and far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked(PAGE, ALIGN) }
}

/// The pages. Not synchronised itself: the process's slab is kept under a
/// lock of std's, not the runtime's facade: it guards a cache of memory,
/// with nothing for loom to explore.
struct Slab {
    /// The first page with room and a block in use, or null.
    avail: *mut Header,
    /// Pages with no block in use, last emptied first, linked through
    /// their headers' `next`.
    spares: *mut Header,
    /// How many.
    empty: usize,
}

// SAFETY: the slab owns its pages (and the blocks not handed out); moving
// it between threads moves that ownership.
unsafe impl Send for Slab {}

static SLAB: Mutex<Slab> = Mutex::new(Slab::new());

fn slab() -> std::sync::MutexGuard<'static, Slab> {
    SLAB.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Up to `n` blocks (at least one), linked through their first words (the
/// last link is null), and how many.
pub(crate) fn take(n: usize) -> (NonNull<Free>, usize) {
    let mut s = slab();
    // Linked in the order cut (address order, mostly): the thread's list
    // hands them out from the front.
    let head = s.alloc().as_ptr().cast::<Free>();
    let mut tail = head;
    for _ in 1..n.max(1) {
        let b = s.alloc().as_ptr().cast::<Free>();
        // SAFETY: `tail` is a block we took; a block is large and aligned
        // enough for a link.
        unsafe { (*tail).next = b };
        tail = b;
    }
    // SAFETY: as above.
    unsafe { (*tail).next = ptr::null_mut() };
    // SAFETY: a block's address is not null.
    (unsafe { NonNull::new_unchecked(head) }, n.max(1))
}

/// Gives back a chain of blocks from [`take`], linked through their first
/// words and ending in null.
///
/// # Safety
/// Every block of the chain came from `take` and is not used afterwards.
pub(crate) unsafe fn give(chain: NonNull<Free>) {
    let mut s = slab();
    let mut p = chain.as_ptr();
    while !p.is_null() {
        // SAFETY: caller's contract: each block is ours to give, and its
        // link is read before the slab reuses it.
        unsafe {
            let next = (*p).next;
            s.free(NonNull::new_unchecked(p.cast()));
            p = next;
        }
    }
}

impl Slab {
    const fn new() -> Self {
        Slab {
            avail: ptr::null_mut(),
            spares: ptr::null_mut(),
            empty: 0,
        }
    }

    /// A block of [`BLOCK`] bytes aligned to [`ALIGN`], uninitialised.
    fn alloc(&mut self) -> NonNull<u8> {
        if self.avail.is_null() {
            let page = if self.spares.is_null() {
                new_page()
            } else {
                let page = self.spares;
                // SAFETY: spare pages are live and ours.
                self.spares = unsafe { (*page).next };
                self.empty -= 1;
                page
            };
            // SAFETY: the page is in no list now.
            unsafe { self.push(page) };
        }
        let page = self.avail;
        // SAFETY: pages in the list are live and ours; the slab's lock
        // (held by the caller through `&mut self`) covers their headers.
        unsafe {
            let h = &mut *page;
            let block = if !h.free.is_null() {
                let b = h.free;
                h.free = (*b).next;
                b.cast::<u8>()
            } else {
                debug_assert!(h.cut < PER_PAGE);
                let slot = page.cast::<u8>().add(HEADER + h.cut * STRIDE);
                h.cut += 1;
                slot.cast::<*mut Header>().write(page);
                slot.add(WORD)
            };
            h.used += 1;
            if h.free.is_null() && h.cut == PER_PAGE {
                self.unlink(page);
            }
            NonNull::new_unchecked(block)
        }
    }

    /// Gives back a block that [`Slab::alloc`] returned.
    ///
    /// # Safety
    /// `block` came from this slab's `alloc` and is not used afterwards.
    unsafe fn free(&mut self, block: NonNull<u8>) {
        // SAFETY: the block's page is live (it has a block in use) and the
        // word before the block names it; the caller gives the block up.
        unsafe {
            let page = block.as_ptr().sub(WORD).cast::<*mut Header>().read();
            // Through the raw pointer throughout: the list operations below
            // reach the same header through it.
            let was_full = (*page).free.is_null() && (*page).cut == PER_PAGE;
            let b = block.as_ptr().cast::<Free>();
            b.write(Free { next: (*page).free });
            (*page).free = b;
            (*page).used -= 1;
            if was_full {
                self.push(page);
            }
            if (*page).used == 0 {
                self.unlink(page);
                if self.empty == SPARE_PAGES {
                    alloc::dealloc(page.cast(), page_layout());
                } else {
                    // Cut afresh, in address order (see the module).
                    (*page).free = ptr::null_mut();
                    (*page).cut = 0;
                    (*page).next = self.spares;
                    self.spares = page;
                    self.empty += 1;
                }
            }
        }
    }

    /// Puts `page` first in the list of pages with room.
    ///
    /// # Safety
    /// `page` is live, ours, and not in the list.
    unsafe fn push(&mut self, page: *mut Header) {
        // SAFETY: caller's contract; listed pages are live.
        unsafe {
            (*page).prev = ptr::null_mut();
            (*page).next = self.avail;
            if !self.avail.is_null() {
                (*self.avail).prev = page;
            }
        }
        self.avail = page;
    }

    /// Takes `page` out of the list of pages with room.
    ///
    /// # Safety
    /// `page` is in the list.
    unsafe fn unlink(&mut self, page: *mut Header) {
        // SAFETY: caller's contract; listed pages are live.
        unsafe {
            let (prev, next) = ((*page).prev, (*page).next);
            if prev.is_null() {
                self.avail = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
        }
    }
}

/// A page with all its blocks uncut, in no list.
fn new_page() -> *mut Header {
    // SAFETY: the layout is not zero-sized.
    let page = unsafe { alloc::alloc(page_layout()) }.cast::<Header>();
    if page.is_null() {
        alloc::handle_alloc_error(page_layout());
    }
    // SAFETY: a fresh allocation with room for the header.
    unsafe {
        page.write(Header {
            free: ptr::null_mut(),
            cut: 0,
            used: 0,
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
        })
    };
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slab of its own, so that tests running at once do not share one.
    struct Local(Slab);

    impl Local {
        fn listed_pages(&self) -> usize {
            let (mut n, mut p) = (0, self.0.avail);
            while !p.is_null() {
                n += 1;
                // SAFETY: listed pages are live.
                p = unsafe { (*p).next };
            }
            n
        }
    }

    impl Drop for Local {
        fn drop(&mut self) {
            // The tests free every block before the drop: every page is a
            // spare.
            assert!(self.0.avail.is_null());
            let mut p = self.0.spares;
            while !p.is_null() {
                // SAFETY: spare pages are live, ours, and unused.
                unsafe {
                    assert_eq!((*p).used, 0);
                    let next = (*p).next;
                    alloc::dealloc(p.cast(), page_layout());
                    p = next;
                }
            }
        }
    }

    #[test]
    fn blocks_are_distinct_aligned_and_in_address_order_within_a_page() {
        let mut slab = Local(Slab::new());
        let blocks: Vec<_> = (0..3 * PER_PAGE).map(|_| slab.0.alloc()).collect();
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b.as_ptr() as usize % ALIGN, 0);
            // SAFETY: the block is ours and BLOCK bytes long.
            unsafe { ptr::write_bytes(b.as_ptr(), i as u8, BLOCK) };
        }
        for w in blocks[..PER_PAGE].windows(2) {
            assert_eq!(w[1].as_ptr() as usize - w[0].as_ptr() as usize, STRIDE);
        }
        for (i, b) in blocks.iter().enumerate() {
            // SAFETY: as above; no other block overlaps it.
            let bytes = unsafe { std::slice::from_raw_parts(b.as_ptr(), BLOCK) };
            assert!(bytes.iter().all(|&x| x == i as u8));
        }
        // Three full pages: none has room.
        assert_eq!(slab.listed_pages(), 0);
        for b in blocks {
            // SAFETY: each block came from `slab` and is freed once.
            unsafe { slab.0.free(b) };
        }
        // Empty pages stay, as spares for the next burst.
        assert_eq!((slab.listed_pages(), slab.0.empty), (0, 3));
    }

    #[test]
    fn a_freed_block_is_handed_out_again_before_a_fresh_one() {
        let mut slab = Local(Slab::new());
        let a = slab.0.alloc();
        let b = slab.0.alloc();
        // SAFETY: `a` came from `slab`.
        unsafe { slab.0.free(a) };
        assert_eq!(slab.0.alloc(), a);
        // SAFETY: both came from `slab`, freed once each.
        unsafe {
            slab.0.free(a);
            slab.0.free(b);
        }
    }

    #[test]
    fn a_page_with_room_again_is_listed_and_empty_pages_beyond_the_spares_go_back() {
        let mut slab = Local(Slab::new());
        let first: Vec<_> = (0..PER_PAGE).map(|_| slab.0.alloc()).collect();
        let second: Vec<_> = (0..PER_PAGE).map(|_| slab.0.alloc()).collect();
        assert_eq!((slab.listed_pages(), slab.0.empty), (0, 0));
        // SAFETY (all frees below): from `slab`, freed once.
        unsafe { slab.0.free(first[0]) };
        assert_eq!(slab.listed_pages(), 1);
        // With no room for spares, an emptied page goes back at once.
        slab.0.empty = SPARE_PAGES;
        for &b in &first[1..] {
            unsafe { slab.0.free(b) };
        }
        assert_eq!((slab.listed_pages(), slab.0.spares), (0, ptr::null_mut()));
        slab.0.empty = 0;
        for &b in second.iter().rev() {
            unsafe { slab.0.free(b) };
        }
        assert_eq!((slab.listed_pages(), slab.0.empty), (0, 1));
        // The spare is cut afresh: its first block comes first again,
        // whatever order the blocks were freed in.
        let again = slab.0.alloc();
        assert_eq!(again, second[0]);
        assert_eq!((slab.listed_pages(), slab.0.empty), (1, 0));
        unsafe { slab.0.free(again) };
    }

    #[test]
    fn chains_taken_and_given_back_hold_the_blocks_asked_for() {
        let (chain, n) = take(5);
        assert_eq!(n, 5);
        let mut seen = Vec::new();
        let mut p = chain.as_ptr();
        while !p.is_null() {
            seen.push(p as usize);
            // SAFETY: the chain's blocks are ours, linked by `take`.
            p = unsafe { (*p).next };
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 5);
        // SAFETY: the whole chain came from `take`.
        unsafe { give(chain) };
    }
}
