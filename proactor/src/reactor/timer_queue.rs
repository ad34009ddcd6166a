//! A heap of timers (Asio's `timer_queue`), for any backend.
//!
//! Each timer object owns a [`TimerEntry`] at a stable address: its expiry,
//! its waiting operations, and its index in the heap. The heap holds
//! pointers to entries, so removing one timer (cancel, new expiry, drop) is
//! `O(log n)`. Every access, to the heap and to entries, happens under the
//! reactor's timer lock.
//!
//! The heap is 4-ary and each slot carries its timer's expiry as a `u64`
//! ([`HeapKey`]): sifting compares integers without reading the entries
//! (scattered in memory), and a node's four children fill one cache line.

use crate::op::queue::OpQueue;
use crate::sys::prefetch::prefetch;
use std::ptr::NonNull;
use std::time::{Instant, SystemTime};

const NOT_IN_HEAP: usize = usize::MAX;
/// Children per node.
const ARITY: usize = 4;

/// A point in time as an integer with the same order, for heap keys. Times
/// too early or too late to represent saturate: they are all due, or none
/// is due before the far future, so nothing fires early or late.
pub(crate) trait HeapKey: Copy {
    fn heap_key(self) -> u64;
}

/// An instant in the past, the same for the whole process: taken once, the
/// first time it is asked for. Steady heap keys count from it (earlier
/// instants are in the past for every later `now`), and new steady timers
/// expire at it.
pub(crate) fn steady_origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// `d` in nanoseconds, saturating (after 584 years), without the 128-bit
/// arithmetic of `Duration::as_nanos`: keys are made on every insert.
#[inline]
fn saturating_nanos(d: std::time::Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

impl HeapKey for Instant {
    #[inline]
    fn heap_key(self) -> u64 {
        saturating_nanos(self.saturating_duration_since(steady_origin()))
    }
}

impl HeapKey for SystemTime {
    #[inline]
    fn heap_key(self) -> u64 {
        match self.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => saturating_nanos(d),
            Err(_) => 0,
        }
    }
}

impl HeapKey for u64 {
    #[inline]
    fn heap_key(self) -> u64 {
        self
    }
}

/// A timer's part of the queue. Only touched under the timer lock.
pub(crate) struct TimerEntry<T> {
    pub(crate) expiry: T,
    /// Waiting operations, in the order they started.
    pub(crate) ops: OpQueue,
    heap_index: usize,
}

impl<T> TimerEntry<T> {
    pub(crate) fn new(expiry: T) -> Self {
        TimerEntry {
            expiry,
            ops: OpQueue::new(),
            heap_index: NOT_IN_HEAP,
        }
    }
}

/// One heap slot: the timer's key, copied here so that sifting never
/// reads the entries.
struct Slot<T> {
    key: u64,
    entry: NonNull<TimerEntry<T>>,
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Slot<T> {}

/// Four slots on one cache line: the children of one node.
#[repr(C, align(64))]
struct Line<T>([Slot<T>; ARITY]);

impl<T> Clone for Line<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Line<T> {}

impl<T> Drop for TimerQueue<T> {
    fn drop(&mut self) {
        spare_lines::give(std::mem::take(&mut self.lines));
    }
}

/// The heap storage of a dropped queue, kept (the largest one, up to
/// [`spare_lines::MAX_BYTES`]) for the next queue that grows. A program may
/// make a context per job or per test: each one's heap would grow again
/// into memory that the system maps in page by page (glibc unmaps a large
/// block when it is freed, or trims it off its heap).
///
/// A line's layout does not depend on the clock (its slots hold a `u64`
/// and a pointer), so storage moves between queues of either clock. A
/// lock of std's, not the runtime's facade: it guards a cache of memory,
/// with nothing for loom to explore.
mod spare_lines {
    use super::Line;
    use std::ptr::NonNull;
    use std::sync::{Mutex, PoisonError};

    /// The largest storage kept.
    pub(super) const MAX_BYTES: usize = 4 << 20;

    /// An empty allocation of `Line`s: its address and capacity.
    struct Storage(NonNull<u8>, usize);

    // SAFETY: the cache owns the allocation.
    unsafe impl Send for Storage {}

    static SPARE: Mutex<Option<Storage>> = Mutex::new(None);

    /// The kept storage as an empty `Vec`, if its capacity is above `than`.
    pub(super) fn take<T>(than: usize) -> Option<Vec<Line<T>>> {
        let mut s = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
        match &*s {
            Some(Storage(_, cap)) if *cap > than => {
                let Storage(p, cap) = s.take()?;
                // SAFETY: `give` kept a `Vec<Line<U>>`'s allocation of
                // `cap` lines; `Line<T>` has the same layout for every
                // `T`, and no line is live.
                Some(unsafe { Vec::from_raw_parts(p.as_ptr().cast(), 0, cap) })
            }
            _ => None,
        }
    }

    /// Keeps `v`'s storage if it is the largest yet (and not too large);
    /// frees what is not kept.
    pub(super) fn give<T>(mut v: Vec<Line<T>>) {
        let cap = v.capacity();
        if cap == 0 || cap * std::mem::size_of::<Line<T>>() > MAX_BYTES {
            return;
        }
        v.clear();
        let mut s = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(&*s, Some(Storage(_, kept)) if *kept >= cap) {
            return;
        }
        let mut v = std::mem::ManuallyDrop::new(v);
        // SAFETY: a `Vec`'s pointer is non-null.
        let p = unsafe { NonNull::new_unchecked(v.as_mut_ptr().cast::<u8>()) };
        let old = s.replace(Storage(p, cap));
        drop(s);
        if let Some(Storage(p, cap)) = old {
            // SAFETY: as in `take`: the allocation of a `Vec` of `cap`
            // lines, none live, freed as one.
            drop(unsafe { Vec::<Line<T>>::from_raw_parts(p.as_ptr().cast(), 0, cap) });
        }
    }
}

/// Slots before the root, so that the children of node `i` (`4i + 1` to
/// `4i + 4`) are the whole line `i + 1`.
const LEAD: usize = ARITY - 1;

pub(crate) struct TimerQueue<T> {
    /// The heap, `LEAD` unused slots first.
    lines: Vec<Line<T>>,
    len: usize,
}

// SAFETY: the queue only holds pointers to entries that their timers keep
// alive until removed, and is only used under the timer lock.
unsafe impl<T: Send> Send for TimerQueue<T> {}

impl<T: HeapKey> TimerQueue<T> {
    pub(crate) const fn new() -> Self {
        TimerQueue {
            lines: Vec::new(),
            len: 0,
        }
    }

    /// The slot at `i` (< len).
    #[inline(always)]
    fn slot(&self, i: usize) -> Slot<T> {
        debug_assert!(i < self.len);
        let p = i + LEAD;
        // SAFETY: `i < len`, and `lines` holds `len + LEAD` slots.
        unsafe {
            *self
                .lines
                .get_unchecked(p / ARITY)
                .0
                .get_unchecked(p % ARITY)
        }
    }

    /// Puts `slot` at `i` (< len) and records the position in its entry.
    #[inline(always)]
    fn place(&mut self, i: usize, mut slot: Slot<T>) {
        debug_assert!(i < self.len);
        let p = i + LEAD;
        // SAFETY: entries in the heap are alive (type invariant); we hold
        // the timer lock, so nothing else touches them. `i < len` as for
        // `slot`.
        unsafe {
            slot.entry.as_mut().heap_index = i;
            *self
                .lines
                .get_unchecked_mut(p / ARITY)
                .0
                .get_unchecked_mut(p % ARITY) = slot;
        }
    }

    /// The earliest expiry, if any timer waits.
    pub(crate) fn earliest(&self) -> Option<T> {
        (self.len > 0).then(|| {
            // SAFETY: heap entries are alive; timer lock held.
            unsafe { self.slot(0).entry.as_ref().expiry }
        })
    }

    /// Adds `e` (if not in the heap yet), keyed by its current expiry. True
    /// if it became the earliest.
    ///
    /// # Safety
    /// `e` stays alive until removed from the queue, and its expiry does
    /// not change while it is in.
    pub(crate) unsafe fn insert(&mut self, e: NonNull<TimerEntry<T>>) -> bool {
        // SAFETY: caller's contract; timer lock held.
        let entry = unsafe { e.as_ref() };
        if entry.heap_index != NOT_IN_HEAP {
            return false;
        }
        let slot = Slot {
            key: entry.expiry.heap_key(),
            entry: e,
        };
        if (self.len + LEAD) / ARITY == self.lines.len() {
            if self.lines.len() == self.lines.capacity() {
                self.grow();
            }
            // The new line's slots are written before they are read.
            self.lines.push(Line([slot; ARITY]));
        }
        self.len += 1;
        self.sift_up(self.len - 1, slot) == 0
    }

    /// Makes room for more lines: in the storage a dropped queue left, if
    /// that is larger, else as a `Vec` grows.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        match spare_lines::take::<T>(self.lines.capacity()) {
            Some(mut bigger) => {
                bigger.extend_from_slice(&self.lines);
                let old = std::mem::replace(&mut self.lines, bigger);
                spare_lines::give(old);
            }
            None => self.lines.reserve(1),
        }
    }

    /// Takes `e` out of the heap, if it is in. True if it was the earliest.
    ///
    /// # Safety
    /// `e` is alive.
    pub(crate) unsafe fn remove(&mut self, mut e: NonNull<TimerEntry<T>>) -> bool {
        // SAFETY: caller's contract; timer lock held.
        let i = unsafe { e.as_ref().heap_index };
        if i == NOT_IN_HEAP {
            return false;
        }
        // SAFETY: as above.
        unsafe { e.as_mut().heap_index = NOT_IN_HEAP };
        self.remove_at(i);
        i == 0
    }

    /// Removes the slot at `i` (< len, whose entry is already marked out).
    #[inline]
    fn remove_at(&mut self, i: usize) {
        let last = self.slot(self.len - 1);
        self.len -= 1;
        if i < self.len {
            // Refill the hole with the former last slot, moving it up or
            // down to where it belongs.
            if i > 0 && last.key < self.slot((i - 1) / ARITY).key {
                self.sift_up(i, last);
            } else {
                self.sift_down(i, last);
            }
        }
    }

    /// Takes the root's entry out of the heap (len > 0).
    fn pop_root(&mut self) -> NonNull<TimerEntry<T>> {
        let mut e = self.slot(0).entry;
        // SAFETY: `e` is in the heap, hence alive; timer lock held.
        unsafe { e.as_mut().heap_index = NOT_IN_HEAP };
        self.remove_at(0);
        e
    }

    /// Moves the operations of every timer due at `now` into `out`.
    /// Returns how many operations moved.
    pub(crate) fn take_due(&mut self, now: T, out: &OpQueue) -> usize {
        let now = now.heap_key();
        let mut n = 0;
        while self.len > 0 && self.slot(0).key <= now {
            let mut e = self.pop_root();
            // SAFETY: `e` was in the heap, hence alive; timer lock held.
            let entry = unsafe { e.as_mut() };
            while let Some(op) = entry.ops.pop() {
                out.push(op);
                n += 1;
            }
        }
        n
    }

    /// Empties the heap, moving every waiting operation into `out`
    /// (shutdown).
    pub(crate) fn take_all(&mut self, out: &OpQueue) {
        for i in 0..self.len {
            let mut e = self.slot(i).entry;
            // SAFETY: heap entries are alive; timer lock held.
            let e = unsafe { e.as_mut() };
            e.heap_index = NOT_IN_HEAP;
            while let Some(op) = e.ops.pop() {
                out.push(op);
            }
        }
        self.len = 0;
    }

    /// Places `slot` at hole `i` (< len) or above; returns where it landed.
    fn sift_up(&mut self, mut i: usize, slot: Slot<T>) -> usize {
        while i > 0 {
            let parent = (i - 1) / ARITY;
            let moved = self.slot(parent);
            if slot.key >= moved.key {
                break;
            }
            self.place(i, moved);
            i = parent;
        }
        self.place(i, slot);
        i
    }

    /// Places `slot` at hole `i` (< len) or below.
    fn sift_down(&mut self, mut i: usize, slot: Slot<T>) {
        let len = self.len;
        loop {
            let first = ARITY * i + 1;
            if first >= len {
                break;
            }
            // The next level down is one of the four lines after the
            // children's line: fetch them while the children are compared.
            let below = first + 1;
            for l in below..(below + ARITY).min(self.lines.len()) {
                // SAFETY: `l` is below the length.
                prefetch(unsafe { self.lines.as_ptr().add(l) });
            }
            // The smallest child (the first on ties).
            let mut child = first;
            let mut key = self.slot(first).key;
            for c in first + 1..(first + ARITY).min(len) {
                let k = self.slot(c).key;
                if k < key {
                    (child, key) = (c, k);
                }
            }
            if key >= slot.key {
                break;
            }
            let moved = self.slot(child);
            self.place(i, moved);
            i = child;
        }
        self.place(i, slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(keys: &[u64]) -> Vec<TimerEntry<u64>> {
        keys.iter().map(|&k| TimerEntry::new(k)).collect()
    }

    #[test]
    fn removal_anywhere_keeps_heap_order() {
        let keys: Vec<u64> = (0..200).map(|i| (i * 7919) % 211).collect();
        let mut es = entries(&keys);
        let mut q = TimerQueue::new();
        for e in &mut es {
            // SAFETY: entries outlive the queue's use here.
            unsafe { q.insert(NonNull::from(e)) };
        }
        // Remove every third entry, wherever it sits.
        for e in es.iter_mut().step_by(3) {
            // SAFETY: alive.
            unsafe { q.remove(NonNull::from(e)) };
        }
        let mut expect: Vec<u64> = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .map(|(_, &k)| k)
            .collect();
        expect.sort();
        let mut got = Vec::new();
        while let Some(k) = q.earliest() {
            got.push(k);
            q.pop_root();
        }
        assert_eq!(got, expect);
    }

    #[test]
    fn insert_reports_a_new_earliest_and_ignores_duplicates() {
        let mut es = entries(&[50, 10, 90]);
        let mut q = TimerQueue::new();
        let p: Vec<_> = es.iter_mut().map(NonNull::from).collect();
        // SAFETY: entries outlive the queue's use here.
        unsafe {
            assert!(q.insert(p[0]));
            assert!(q.insert(p[1]));
            assert!(!q.insert(p[2]));
            assert!(!q.insert(p[1]), "already queued");
            assert!(q.remove(p[1]), "was the earliest");
            assert!(!q.remove(p[1]), "no longer queued");
        }
        assert_eq!(q.earliest(), Some(50));
    }

    #[test]
    fn random_inserts_removes_and_expiries_match_a_model() {
        let mut es = entries(
            &(0..300u64)
                .map(|i| (i * 2654435761) % 1000)
                .collect::<Vec<_>>(),
        );
        let ptrs: Vec<_> = es.iter_mut().map(NonNull::from).collect();
        let mut q = TimerQueue::new();
        let mut model = std::collections::BTreeSet::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..5000u64 {
            let i = (next() % 300) as usize;
            // SAFETY: entries outlive the queue's use here.
            let key = unsafe { ptrs[i].as_ref().expiry };
            match next() % 3 {
                0 | 1 => {
                    let earliest = model.first().map(|&(k, _)| k);
                    // SAFETY: as above.
                    let became = unsafe { q.insert(ptrs[i]) };
                    if model.insert((key, i)) {
                        assert_eq!(became, earliest.map_or(true, |e| key < e), "step {step}");
                    }
                }
                _ => {
                    let was_first = model.first() == Some(&(key, i));
                    // SAFETY: as above.
                    let removed_first = unsafe { q.remove(ptrs[i]) };
                    if model.remove(&(key, i)) {
                        // Ties make "the earliest" ambiguous; compare keys.
                        assert!(!was_first || removed_first || q.earliest() == Some(key));
                    }
                }
            }
            assert_eq!(q.earliest(), model.first().map(|&(k, _)| k), "step {step}");
            if step % 500 == 499 {
                let now = next() % 1000;
                let out = OpQueue::new();
                q.take_due(now, &out);
                model.retain(|&(k, _)| k > now);
                assert_eq!(q.earliest(), model.first().map(|&(k, _)| k));
            }
        }
        let mut rest = Vec::new();
        while let Some(k) = q.earliest() {
            rest.push(k);
            q.pop_root();
        }
        assert_eq!(rest, model.iter().map(|&(k, _)| k).collect::<Vec<_>>());
    }
}
