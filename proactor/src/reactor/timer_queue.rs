//! A heap of timers (Asio's `timer_queue`), for any backend.
//!
//! Each timer object owns a [`TimerEntry`] at a stable address: its expiry,
//! its waiting operations, and its index in the heap. The heap holds
//! pointers to entries, so removing one timer (cancel, new expiry, drop) is
//! `O(log n)`. Every access, to the heap and to entries, happens under the
//! reactor's timer lock.

use crate::op::queue::OpQueue;
use std::ptr::NonNull;

const NOT_IN_HEAP: usize = usize::MAX;

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

pub(crate) struct TimerQueue<T> {
    heap: Vec<NonNull<TimerEntry<T>>>,
}

// SAFETY: the queue only holds pointers to entries that their timers keep
// alive until removed, and is only used under the timer lock.
unsafe impl<T: Send> Send for TimerQueue<T> {}

impl<T: Ord + Copy> TimerQueue<T> {
    pub(crate) const fn new() -> Self {
        TimerQueue { heap: Vec::new() }
    }

    #[inline]
    fn key(&self, i: usize) -> T {
        // SAFETY: entries in the heap are alive (type invariant).
        unsafe { self.heap[i].as_ref().expiry }
    }

    #[inline]
    fn set_index(&mut self, i: usize) {
        // SAFETY: as in `key`; we hold the timer lock, so no other access.
        unsafe { self.heap[i].as_mut().heap_index = i };
    }

    /// The earliest expiry, if any timer waits.
    pub(crate) fn earliest(&self) -> Option<T> {
        (!self.heap.is_empty()).then(|| self.key(0))
    }

    /// Adds `e` (if not in the heap yet). True if it became the earliest.
    ///
    /// # Safety
    /// `e` stays alive until removed from the queue.
    pub(crate) unsafe fn insert(&mut self, mut e: NonNull<TimerEntry<T>>) -> bool {
        // SAFETY: caller's contract; timer lock held.
        if unsafe { e.as_ref().heap_index } != NOT_IN_HEAP {
            return false;
        }
        let i = self.heap.len();
        self.heap.push(e);
        // SAFETY: as above.
        unsafe { e.as_mut().heap_index = i };
        self.sift_up(i) == 0
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
        let last = self.heap.len() - 1;
        if i != last {
            self.heap.swap(i, last);
            self.heap.pop();
            self.set_index(i);
            let j = self.sift_up(i);
            self.sift_down(j);
        } else {
            self.heap.pop();
        }
        i == 0
    }

    /// Moves the operations of every timer due at `now` into `out`.
    /// Returns how many operations moved.
    pub(crate) fn take_due(&mut self, now: T, out: &OpQueue) -> usize {
        let mut n = 0;
        while let Some(&top) = self.heap.first() {
            // SAFETY: heap entries are alive.
            if unsafe { top.as_ref().expiry } > now {
                break;
            }
            // SAFETY: `top` is in the heap, hence alive.
            unsafe { self.remove(top) };
            // SAFETY: as above; timer lock held.
            let ops = unsafe { &top.as_ref().ops };
            while let Some(op) = ops.pop() {
                out.push(op);
                n += 1;
            }
        }
        n
    }

    /// Empties the heap, moving every waiting operation into `out`
    /// (shutdown).
    pub(crate) fn take_all(&mut self, out: &OpQueue) {
        for mut e in self.heap.drain(..) {
            // SAFETY: heap entries are alive; timer lock held.
            let e = unsafe { e.as_mut() };
            e.heap_index = NOT_IN_HEAP;
            while let Some(op) = e.ops.pop() {
                out.push(op);
            }
        }
    }

    fn sift_up(&mut self, mut i: usize) -> usize {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.key(i) >= self.key(parent) {
                break;
            }
            self.heap.swap(i, parent);
            self.set_index(i);
            self.set_index(parent);
            i = parent;
        }
        i
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut min = i;
            if l < self.heap.len() && self.key(l) < self.key(min) {
                min = l;
            }
            if r < self.heap.len() && self.key(r) < self.key(min) {
                min = r;
            }
            if min == i {
                return;
            }
            self.heap.swap(i, min);
            self.set_index(i);
            self.set_index(min);
            i = min;
        }
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
            let top = q.heap[0];
            // SAFETY: alive.
            unsafe { q.remove(top) };
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
}
