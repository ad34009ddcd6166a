//! Operations that wait for readiness: the reactor's side of an I/O
//! operation (Asio's `reactor_op`).
//!
//! A concrete operation (read some bytes, accept, connect, ...) implements
//! [`Reactive`]: try the non-blocking system call once, remember the
//! outcome, and turn it into the handler's arguments. [`ReactorOp`] wraps it
//! with its completion handler in one allocation that starts with a
//! scheduler [`OpHeader`], so the finished operation is queued on the
//! scheduler as it is, and completing it runs the handler.

#![cfg_attr(not(unix), allow(dead_code))]

use crate::op::{recycle, Action, OpHeader, OpPtr};
use crate::token::CompletionHandler;
use std::alloc::Layout;
use std::io;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

/// The three queues of a descriptor (Asio's `read_op`, `write_op`,
/// `except_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Read = 0,
    Write = 1,
    Except = 2,
}

/// What one attempt achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Would block: wait for readiness.
    Pending,
    /// Finished (with data, an error, or end of stream).
    Done,
    /// Finished, and the descriptor is drained for this kind (a short read,
    /// a partial write): trying the next operation of the kind before the
    /// next readiness event would only fail with "would block".
    DoneExhausted,
}

/// A non-blocking operation on a descriptor.
pub(crate) trait Reactive: Send + 'static {
    /// The completion handler's arguments.
    type Args: Send + 'static;

    /// Attempts the operation once on `fd`.
    fn perform(&mut self, fd: RawFd) -> Progress;

    /// Ends the operation with `e` without performing it (cancellation,
    /// closed descriptor, shutdown).
    fn fail(&mut self, e: io::Error);

    /// The outcome, as the handler's arguments. Called once, after
    /// `perform` returned a finished state or `fail` was called.
    fn into_args(self) -> Self::Args;
}

#[cfg(unix)]
pub(crate) type RawFd = std::os::fd::RawFd;
#[cfg(not(unix))]
pub(crate) type RawFd = i64;

/// The type-erased prefix of every [`ReactorOp`].
#[repr(C)]
pub(crate) struct ReactorOpHeader {
    pub(crate) op: OpHeader,
    perform: unsafe fn(NonNull<ReactorOpHeader>, RawFd) -> Progress,
    fail: unsafe fn(NonNull<ReactorOpHeader>, io::Error),
}

impl ReactorOpHeader {
    /// Attempts the operation.
    ///
    /// # Safety
    /// `this` is a live, queued [`ReactorOp`] that the caller may use
    /// exclusively (its descriptor's lock is held).
    pub(crate) unsafe fn perform(this: NonNull<ReactorOpHeader>, fd: RawFd) -> Progress {
        // SAFETY: forwarded to the caller.
        unsafe { (this.as_ref().perform)(this, fd) }
    }

    /// Ends the operation with an error.
    ///
    /// # Safety
    /// As for [`ReactorOpHeader::perform`].
    pub(crate) unsafe fn fail(this: NonNull<ReactorOpHeader>, e: io::Error) {
        // SAFETY: forwarded to the caller.
        unsafe { (this.as_ref().fail)(this, e) }
    }

    /// Views a queued scheduler operation as a reactor operation.
    ///
    /// # Safety
    /// `op` must be the header of a [`ReactorOp`].
    pub(crate) unsafe fn from_op(op: NonNull<OpHeader>) -> NonNull<ReactorOpHeader> {
        op.cast()
    }
}

/// An operation and its handler: one allocation.
#[repr(C)]
pub(crate) struct ReactorOp<O, H> {
    header: ReactorOpHeader,
    op: ManuallyDrop<O>,
    handler: ManuallyDrop<H>,
}

impl<O: Reactive, H: CompletionHandler<O::Args>> ReactorOp<O, H> {
    const LAYOUT: Layout = Layout::new::<Self>();

    /// Allocates the operation. Completing the returned [`OpPtr`] calls the
    /// handler with the outcome; dropping it drops both unrun.
    pub(crate) fn new_op(op: O, handler: H) -> OpPtr {
        let block = recycle::alloc(Self::LAYOUT).cast::<Self>();
        // SAFETY: fresh memory with the layout of `Self`.
        unsafe {
            block.as_ptr().write(ReactorOp {
                header: ReactorOpHeader {
                    op: OpHeader::new(Self::func),
                    perform: Self::perform,
                    fail: Self::fail,
                },
                op: ManuallyDrop::new(op),
                handler: ManuallyDrop::new(handler),
            });
            OpPtr::from_raw(block.cast())
        }
    }

    unsafe fn perform(this: NonNull<ReactorOpHeader>, fd: RawFd) -> Progress {
        // SAFETY: `this` is a live `Self` used exclusively (caller).
        unsafe { (*this.cast::<Self>().as_ptr()).op.perform(fd) }
    }

    unsafe fn fail(this: NonNull<ReactorOpHeader>, e: io::Error) {
        // SAFETY: as in `perform`.
        unsafe { (*this.cast::<Self>().as_ptr()).op.fail(e) }
    }

    unsafe fn func(p: NonNull<OpHeader>, action: Action) {
        let this = p.cast::<Self>().as_ptr();
        // SAFETY: we own the live operation. Its parts are moved out and the
        // header dropped in place before the block is freed; the handler
        // then runs on memory that is no longer the operation's.
        let (op, handler) = unsafe {
            let op = ManuallyDrop::into_inner(ptr::read(&(*this).op));
            let handler = ManuallyDrop::into_inner(ptr::read(&(*this).handler));
            ptr::drop_in_place(ptr::addr_of_mut!((*this).header.op));
            recycle::dealloc(p.cast(), Self::LAYOUT);
            (op, handler)
        };
        match action {
            Action::Run => handler.complete(op.into_args()),
            Action::Destroy => drop((op, handler)),
        }
    }
}
