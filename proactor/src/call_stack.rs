//! What this thread is running handlers for (Asio's `call_stack`).
//!
//! Every run-family call of a scheduler, and every turn of a strand, pushes
//! a [`Frame`] keyed by that object's address onto a thread-local stack for
//! its duration. The stack answers `running_in_this_thread()`. A
//! scheduler's frame also holds the thread's private queue: operations
//! deferred (or, in one-thread mode, posted) from inside a handler go there
//! without a lock or a wake-up.

use crate::op::queue::OpQueue;
use crate::sync::facade_thread_local;
use std::cell::Cell;
use std::ptr;

/// The objects that own frames: a frame is keyed by the object's address.
pub(crate) trait Key {}

pub(crate) struct Frame {
    key: *const (),
    /// Operations this thread queued for itself while running a handler
    /// (scheduler frames only).
    pub(crate) private: OpQueue,
    parent: *const Frame,
}

facade_thread_local! {
    static TOP: Cell<*const Frame> = Cell::new(ptr::null());
}

impl Frame {
    /// Runs `f` with a fresh frame for `key` on top of this thread's stack;
    /// the frame is popped again however `f` ends.
    #[inline]
    pub(crate) fn enter<K: Key, R>(key: &K, f: impl FnOnce(&Frame) -> R) -> R {
        struct Pop(*const Frame);
        impl Drop for Pop {
            #[inline]
            fn drop(&mut self) {
                TOP.with(|top| top.set(self.0));
            }
        }
        let frame = Frame {
            key: (key as *const K).cast(),
            private: OpQueue::new(),
            parent: TOP.with(Cell::get),
        };
        TOP.with(|top| top.set(&frame));
        let _pop = Pop(frame.parent);
        f(&frame)
    }

    /// Runs `f` with this thread's innermost frame for `key`, if any.
    #[inline]
    pub(crate) fn with_current<K: Key, R>(key: &K, f: impl FnOnce(Option<&Frame>) -> R) -> R {
        let key = (key as *const K).cast::<()>();
        let mut p = TOP.with(Cell::get);
        // SAFETY: frames on the stack are alive: each is popped (by `Pop`)
        // before the stack slot holding it goes away, and a thread only
        // reaches its own frames.
        unsafe {
            while let Some(frame) = p.as_ref() {
                if frame.key == key {
                    return f(Some(frame));
                }
                p = frame.parent;
            }
        }
        f(None)
    }

    /// True if this thread is inside a frame for `key`.
    #[inline]
    pub(crate) fn contains<K: Key>(key: &K) -> bool {
        Self::with_current(key, |f| f.is_some())
    }
}
