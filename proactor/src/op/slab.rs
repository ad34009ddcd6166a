//! Blocks of one size for timers' shared state and their waits, cut from
//! pages: each reactor has a [`Slab`] (under a lock of its own), and the
//! process keeps the empty pages.
//!
//! A timer's state stays at one address while a wait is pending (the heap
//! points at it), and a timer can move, so the state lives apart from it;
//! a wait is a block of its own too. Both come and go in bursts (a hundred
//! thousand timers made, then fired). From glibc each would cost a
//! `malloc`, about a third of a timer's set-up; here each is a pop from a
//! page's free list.
//!
//! A block's address is 16-aligned and preceded by a word pointing to its
//! page. Each page keeps its own free list and count of blocks in use; the
//! pages with room are linked in a list that allocation takes from. A
//! page's blocks are cut in address order, which the processor's
//! prefetcher expects of a burst. A page whose last block is freed leaves
//! its slab, unless it is the only page with room (so that a timer made
//! and dropped in a loop does not take a page each time): a slab holds
//! memory for the timers alive now, not for the most that ever were.
//!
//! Pages that leave a slab (and every page of a dropped slab) are kept for
//! any slab of the process, up to [`SPARE_PAGES`]; beyond that they go back
//! to the global allocator. A page taken again is cut afresh, in address
//! order (its free list was in the order its blocks were freed: scattered,
//! for a burst of timers that fired in expiry order). Given back at once, a
//! burst's pages would be mapped in again, page fault by page fault, by the
//! next burst: glibc returns the top of its heap to the system as soon as
//! it is free.
//!
//! Pages are plain allocations, not aligned to their size: glibc serves an
//! over-aligned request by cutting it from a larger one, which leaves a hole
//! next to every page.

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

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
/// Empty pages kept, process-wide (32 MiB).
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

/// A free block's first word links it to the next in its page's list.
struct Free {
    next: *mut Free,
}

fn page_layout() -> Layout {
    // SAFETY: PAGE is a non-zero multiple of the alignment, a power of
    // two, and far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked(PAGE, ALIGN) }
}

/// A reactor's pages. Not synchronised: its reactor keeps it under a lock.
pub(crate) struct Slab {
    /// The first page with room, or null.
    avail: *mut Header,
}

// SAFETY: the slab owns its pages (and the blocks not handed out); moving
// it between threads moves that ownership.
unsafe impl Send for Slab {}

impl Slab {
    pub(crate) const fn new() -> Self {
        Slab {
            avail: ptr::null_mut(),
        }
    }

    /// A block of [`BLOCK`] bytes aligned to [`ALIGN`], uninitialised.
    pub(crate) fn alloc(&mut self) -> NonNull<u8> {
        if self.avail.is_null() {
            // SAFETY: a fresh page is in no list.
            unsafe { self.push(fresh_page()) };
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
    pub(crate) unsafe fn free(&mut self, block: NonNull<u8>) {
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
            if (*page).used == 0 && !(self.avail == page && (*page).next.is_null()) {
                self.unlink(page);
                spare::give(page);
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

impl Drop for Slab {
    fn drop(&mut self) {
        // Every block's owner keeps the reactor, and so the slab, alive:
        // by now every page is empty, so every page is in the list.
        let mut p = self.avail;
        while !p.is_null() {
            // SAFETY: listed pages are live and ours; none is used again.
            unsafe {
                debug_assert_eq!((*p).used, 0);
                let next = (*p).next;
                spare::give(p);
                p = next;
            }
        }
    }
}

/// A page with all its blocks uncut, in no list: a spare, or a new one.
fn fresh_page() -> *mut Header {
    let page = spare::take().unwrap_or_else(|| {
        // SAFETY: the layout is not zero-sized.
        let page = unsafe { alloc::alloc(page_layout()) }.cast::<Header>();
        if page.is_null() {
            alloc::handle_alloc_error(page_layout());
        }
        page
    });
    // SAFETY: a page-sized allocation that nothing uses, with room for the
    // header.
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

/// The process's empty pages. A lock of std's, not the runtime's facade:
/// it guards a cache of memory, with nothing for loom to explore.
mod spare {
    use super::{page_layout, Header, SPARE_PAGES};
    use std::alloc;
    use std::ptr;
    use std::sync::{Mutex, PoisonError};

    /// Pages linked through their headers' `next`.
    struct Spare {
        head: *mut Header,
        count: usize,
    }

    // SAFETY: the cache owns the pages it links.
    unsafe impl Send for Spare {}

    static SPARE: Mutex<Spare> = Mutex::new(Spare {
        head: ptr::null_mut(),
        count: 0,
    });

    /// An empty page from the cache, if it has one.
    pub(super) fn take() -> Option<*mut Header> {
        let mut s = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
        let page = s.head;
        if page.is_null() {
            return None;
        }
        // SAFETY: cached pages are live and the cache's.
        s.head = unsafe { (*page).next };
        s.count -= 1;
        Some(page)
    }

    /// Keeps an empty page, or gives it back if the cache is full.
    ///
    /// # Safety
    /// `page` is a page (of `page_layout()`) that nothing uses any more.
    pub(super) unsafe fn give(page: *mut Header) {
        let mut s = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
        if s.count == SPARE_PAGES {
            drop(s);
            // SAFETY: caller's contract.
            return unsafe { alloc::dealloc(page.cast(), page_layout()) };
        }
        // SAFETY: caller's contract: the page is ours to link.
        unsafe { (*page).next = s.head };
        s.head = page;
        s.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed_pages(slab: &Slab) -> usize {
        let (mut n, mut p) = (0, slab.avail);
        while !p.is_null() {
            n += 1;
            // SAFETY: listed pages are live.
            p = unsafe { (*p).next };
        }
        n
    }

    #[test]
    fn blocks_are_distinct_aligned_and_in_address_order_within_a_page() {
        let mut slab = Slab::new();
        let blocks: Vec<_> = (0..3 * PER_PAGE).map(|_| slab.alloc()).collect();
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
        assert_eq!(listed_pages(&slab), 0);
        for b in blocks {
            // SAFETY: each block came from `slab` and is freed once.
            unsafe { slab.free(b) };
        }
        // Emptied pages leave, except the last one with room.
        assert_eq!(listed_pages(&slab), 1);
    }

    #[test]
    fn a_freed_block_is_handed_out_again_before_a_fresh_one() {
        let mut slab = Slab::new();
        let a = slab.alloc();
        let b = slab.alloc();
        // SAFETY: `a` came from `slab`.
        unsafe { slab.free(a) };
        assert_eq!(slab.alloc(), a);
        // SAFETY: both came from `slab`, freed once each.
        unsafe {
            slab.free(a);
            slab.free(b);
        }
    }

    #[test]
    fn a_page_with_room_again_is_listed_and_an_emptied_one_leaves_unless_it_is_the_last() {
        let mut slab = Slab::new();
        let first: Vec<_> = (0..PER_PAGE).map(|_| slab.alloc()).collect();
        let second: Vec<_> = (0..PER_PAGE).map(|_| slab.alloc()).collect();
        assert_eq!(listed_pages(&slab), 0);
        // SAFETY (this and the frees below): from `slab`, freed once.
        unsafe { slab.free(first[0]) };
        assert_eq!(listed_pages(&slab), 1);
        // SAFETY: as above.
        unsafe { slab.free(second[0]) };
        assert_eq!(listed_pages(&slab), 2);
        for &b in &first[1..] {
            // SAFETY: as above.
            unsafe { slab.free(b) };
        }
        // The first page emptied while the second had room: it left.
        assert_eq!(listed_pages(&slab), 1);
        // The next block comes from the page left, from its free list.
        assert_eq!(slab.alloc(), second[0]);
        for &b in second.iter().rev() {
            // SAFETY: as above (`second[0]` was handed out again).
            unsafe { slab.free(b) };
        }
        // The last page with room stays, though empty.
        assert_eq!(listed_pages(&slab), 1);
    }
}
