//! Type-erased operations: the unit of work that every queue in the runtime
//! holds.
//!
//! An operation is one allocation that starts with an [`OpHeader`]: an
//! intrusive link and a single function pointer that either *completes* the
//! operation or *destroys* it without completing it (Asio's
//! `scheduler_operation::func_` with a null owner). Queues link operations
//! through the header, so queueing allocates nothing. A posted closure
//! becomes a [`HandlerOp`], whose memory comes from the per-thread
//! [`recycle`] cache and goes back to it *before* the closure runs, so that a
//! handler that posts its successor reuses the block it was running from.

#[cfg(not(loom))]
pub(crate) mod chunk;
pub(crate) mod mpsc;
pub(crate) mod queue;
pub(crate) mod recycle;
#[cfg(not(loom))]
pub(crate) mod slab;

use crate::sync::{AtomicPtr, Ordering};
use recycle::Pool;
use std::alloc::Layout;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

/// What an operation's function is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Complete the operation: invoke its handler, then release it.
    Run,
    /// Release the operation without invoking its handler (shutdown,
    /// cancellation of a queued handler, a dead context).
    Destroy,
}

/// The function behind every operation. It takes ownership of the operation.
pub(crate) type OpFn = unsafe fn(NonNull<OpHeader>, Action);

/// The first field of every operation (`#[repr(C)]` so that a pointer to an
/// operation is a pointer to its header).
#[repr(C)]
pub(crate) struct OpHeader {
    /// Intrusive link, owned by whichever queue holds the operation.
    pub(crate) next: AtomicPtr<OpHeader>,
    func: OpFn,
}

impl OpHeader {
    pub(crate) fn new(func: OpFn) -> Self {
        OpHeader {
            next: AtomicPtr::new(ptr::null_mut()),
            func,
        }
    }
}

/// Owning pointer to a queued or ready operation. Dropping it destroys the
/// operation without running it.
pub(crate) struct OpPtr(NonNull<OpHeader>);

// SAFETY: every operation type is built from `Send` parts (handlers are
// `Send + 'static`), and an `OpPtr` is the only owner of its operation.
unsafe impl Send for OpPtr {}

impl OpPtr {
    /// Takes ownership of a raw operation.
    ///
    /// # Safety
    /// `p` must point to a live operation that nobody else owns and whose
    /// function accepts both [`Action`]s.
    #[inline]
    pub(crate) unsafe fn from_raw(p: NonNull<OpHeader>) -> Self {
        OpPtr(p)
    }

    /// Gives up ownership; the caller must later rebuild the `OpPtr` (or
    /// call the function) exactly once.
    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<OpHeader> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut OpHeader {
        self.0.as_ptr()
    }

    /// Runs the operation, consuming it. A panic in the handler unwinds
    /// from here after the operation's memory has been released.
    #[inline]
    pub(crate) fn complete(self) {
        let p = self.into_raw();
        // SAFETY: we own the live operation (type invariant); its function
        // takes over that ownership.
        unsafe { (p.as_ref().func)(p, Action::Run) }
    }
}

impl Drop for OpPtr {
    fn drop(&mut self) {
        // SAFETY: we own the live operation (type invariant) and give it up
        // here; `Destroy` releases it without running the handler.
        unsafe { (self.0.as_ref().func)(self.0, Action::Destroy) }
    }
}

/// A posted closure: the operation behind `post`, `defer` and `dispatch`.
#[repr(C)]
pub(crate) struct HandlerOp<F> {
    header: OpHeader,
    handler: ManuallyDrop<F>,
}

impl<F: FnOnce() + Send + 'static> HandlerOp<F> {
    const LAYOUT: Layout = Layout::new::<Self>();

    /// Wraps `f` in an operation: one allocation, from the thread's cache
    /// when it has a block of the right size.
    #[inline]
    pub(crate) fn new_op(f: F) -> OpPtr {
        let block = recycle::alloc_in(Pool::Chunk, Self::LAYOUT).cast::<Self>();
        // SAFETY: `block` is fresh memory with the layout of `Self`.
        unsafe {
            block.as_ptr().write(HandlerOp {
                header: OpHeader::new(Self::func),
                handler: ManuallyDrop::new(f),
            });
            OpPtr::from_raw(block.cast())
        }
    }

    /// # Safety
    /// `p` is a live `HandlerOp<F>` owned by the caller.
    unsafe fn func(p: NonNull<OpHeader>, action: Action) {
        let this = p.cast::<Self>().as_ptr();
        // SAFETY: `this` is a live `HandlerOp<F>` we own. The handler is
        // moved out and the header dropped in place before the block is
        // freed, so nothing touches the block afterwards. Freeing before
        // invoking is what lets a handler's successor reuse the block.
        let f = unsafe {
            let f = ManuallyDrop::into_inner(ptr::read(&(*this).handler));
            ptr::drop_in_place(ptr::addr_of_mut!((*this).header));
            recycle::dealloc_in(Pool::Chunk, p.cast(), Self::LAYOUT);
            f
        };
        match action {
            Action::Run => f(),
            Action::Destroy => drop(f),
        }
    }
}

/// Wraps a closure in an operation.
#[inline]
pub(crate) fn handler_op<F: FnOnce() + Send + 'static>(f: F) -> OpPtr {
    HandlerOp::new_op(f)
}

/// Loads an operation's link (queues that are only touched by one thread at
/// a time use relaxed order; the MPSC queue orders its own links).
#[inline]
pub(crate) fn next_of(p: NonNull<OpHeader>) -> *mut OpHeader {
    // SAFETY: callers pass operations that are alive (owned by their queue).
    unsafe { p.as_ref().next.load(Ordering::Relaxed) }
}

#[inline]
pub(crate) fn set_next(p: NonNull<OpHeader>, next: *mut OpHeader) {
    // SAFETY: as for `next_of`.
    unsafe { p.as_ref().next.store(next, Ordering::Relaxed) }
}
