//! A single-threaded intrusive FIFO of operations (Asio's `op_queue`).
//!
//! Used for a thread's private queue and for batches of completions. It
//! lives on one thread at a time; interior mutability through `Cell` lets a
//! run loop and the handlers it calls share it by reference.

use super::{next_of, set_next, OpHeader, OpPtr};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// An owned chain of operations, first to last, linked through their
/// headers. `last`'s link is null.
pub(crate) struct Chain {
    pub(crate) first: NonNull<OpHeader>,
    pub(crate) last: NonNull<OpHeader>,
}

pub(crate) struct OpQueue {
    head: Cell<*mut OpHeader>,
    tail: Cell<*mut OpHeader>,
}

// SAFETY: the queue owns its operations, which are `Send`.
unsafe impl Send for OpQueue {}

impl Default for OpQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl OpQueue {
    pub(crate) const fn new() -> Self {
        OpQueue {
            head: Cell::new(ptr::null_mut()),
            tail: Cell::new(ptr::null_mut()),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.get().is_null()
    }

    #[inline]
    pub(crate) fn push(&self, op: OpPtr) {
        let p = op.into_raw();
        set_next(p, ptr::null_mut());
        match NonNull::new(self.tail.get()) {
            Some(tail) => set_next(tail, p.as_ptr()),
            None => self.head.set(p.as_ptr()),
        }
        self.tail.set(p.as_ptr());
    }

    /// The oldest operation, still queued.
    #[cfg_attr(loom, allow(dead_code))] // used by the reactor
    #[inline]
    pub(crate) fn front(&self) -> Option<NonNull<OpHeader>> {
        NonNull::new(self.head.get())
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<OpPtr> {
        let head = NonNull::new(self.head.get())?;
        let next = next_of(head);
        self.head.set(next);
        if next.is_null() {
            self.tail.set(ptr::null_mut());
        }
        // SAFETY: the queue owned `head` and has just unlinked it.
        Some(unsafe { OpPtr::from_raw(head) })
    }

    /// Removes and returns the first operation for which `pred` holds.
    pub(crate) fn remove_first(
        &self,
        mut pred: impl FnMut(NonNull<OpHeader>) -> bool,
    ) -> Option<OpPtr> {
        let mut prev: Option<NonNull<OpHeader>> = None;
        let mut cur = NonNull::new(self.head.get());
        while let Some(op) = cur {
            let next = next_of(op);
            if pred(op) {
                match prev {
                    Some(p) => set_next(p, next),
                    None => self.head.set(next),
                }
                if self.tail.get() == op.as_ptr() {
                    self.tail.set(prev.map_or(ptr::null_mut(), NonNull::as_ptr));
                }
                set_next(op, ptr::null_mut());
                // SAFETY: the queue owned `op` and has just unlinked it.
                return Some(unsafe { OpPtr::from_raw(op) });
            }
            prev = Some(op);
            cur = NonNull::new(next);
        }
        None
    }

    /// Removes every operation, as one chain.
    #[inline]
    pub(crate) fn take(&self) -> Option<Chain> {
        let first = NonNull::new(self.head.replace(ptr::null_mut()))?;
        let last = NonNull::new(self.tail.replace(ptr::null_mut()))?;
        Some(Chain { first, last })
    }
}

impl Drop for OpQueue {
    fn drop(&mut self) {
        // Destroy in order. If a handler's destructor panics, `rest` goes on
        // destroying the others while the panic unwinds.
        struct Rest<'a>(&'a OpQueue);
        impl Drop for Rest<'_> {
            fn drop(&mut self) {
                while let Some(op) = self.0.pop() {
                    drop(op);
                }
            }
        }
        let rest = Rest(self);
        while let Some(op) = rest.0.pop() {
            drop(op);
        }
    }
}
