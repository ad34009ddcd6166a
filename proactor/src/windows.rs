//! Windows only: overlapped calls of your own on the context's completion
//! port (Asio's `windows::overlapped_ptr`).
//!
//! Associate the handle once with [`associate_handle`], then, for each
//! call, make an [`OverlappedPtr`] holding the handler, pass
//! [`get`](OverlappedPtr::get) to the call, and tell the pointer how the
//! call went: [`release`](OverlappedPtr::release) when the kernel will
//! queue a packet (the call returned `ERROR_IO_PENDING`, or succeeded: no
//! packet is skipped on handles associated this way),
//! [`complete`](OverlappedPtr::complete) when it failed at once. The
//! handler receives the byte count or the error, on the context, never
//! inside these calls.
//!
//! ```no_run
//! # #[cfg(windows)] fn f(ctx: &proactor::IoContext, file: &std::fs::File) -> std::io::Result<()> {
//! use proactor::windows::{associate_handle, OverlappedPtr};
//! use std::os::windows::io::AsHandle;
//!
//! // SAFETY: every overlapped call on `file` goes through an OverlappedPtr.
//! unsafe { associate_handle(&ctx.executor(), file.as_handle())? };
//! let mut ptr = OverlappedPtr::new(&ctx.executor(), |r: std::io::Result<usize>| {
//!     println!("read {r:?}");
//! })?;
//! let ovl = ptr.get();
//! // ... ReadFile(handle, buf, len, null, ovl) ...
//! # let pending = true;
//! if pending { ptr.release() } else { ptr.complete(Err(std::io::Error::last_os_error())) }
//! # Ok(()) }
//! ```
//!
//! The buffer the call uses must stay valid until the handler runs: the
//! kernel writes into it until then. A context dropped while such a call
//! is pending waits a while for its packet (proactor cannot cancel a
//! handle it does not own): cancel or close your handles first.

use crate::completion::{Completion, CompletionHeader, CompletionOp, Late, Unstarted};
use crate::executor::IoExecutor;
use crate::reactor::Reactor;
use crate::sync::Arc;
use crate::token::CompletionHandler;
use std::io;
use std::os::windows::io::{AsRawHandle, BorrowedHandle};

pub use windows_sys::Win32::System::IO::OVERLAPPED;

/// Associates `handle` (opened for overlapped I/O) with `ex`'s context, so
/// that the packets of calls made with an [`OverlappedPtr`] of that
/// context arrive there. A handle is associated once, for its whole life.
///
/// # Safety
/// From now on, every overlapped call on `handle` that queues a packet
/// must pass the `OVERLAPPED` of an [`OverlappedPtr`] of this context (or
/// none): the context takes each packet's `OVERLAPPED` for one of its own
/// operations, so a packet for any other `OVERLAPPED` (another library's
/// call on the same handle, for one) would make it write to and free
/// memory it does not own.
pub unsafe fn associate_handle(ex: &IoExecutor, handle: BorrowedHandle<'_>) -> io::Result<()> {
    ex.sched.reactor()?.associate_handle(handle.as_raw_handle())
}

/// The operation behind an [`OverlappedPtr`]: only a result.
struct UserCall;

impl Completion for UserCall {
    type Args = (io::Result<usize>,);

    fn into_args(self, result: io::Result<usize>) -> Self::Args {
        (result,)
    }

    // A message-mode pipe's `ERROR_MORE_DATA` means "read again": the
    // caller must see it.
    const KEEPS_WHAT_FITTED: bool = false;
}

/// An `OVERLAPPED` for one call of your own, and the handler its outcome
/// goes to. It holds outstanding work from its creation until the handler
/// runs (or it is dropped unused, which drops the handler unrun).
///
/// A call that ends with a message larger than its buffer (a read of a
/// message-mode pipe: `STATUS_BUFFER_OVERFLOW`) completes with
/// `ERROR_MORE_DATA`, the bytes that fitted recorded in the error
/// ([`error::bytes_transferred`](crate::error::bytes_transferred)): read
/// again for the rest.
pub struct OverlappedPtr {
    op: Option<Unstarted<UserCall>>,
    reactor: Arc<Reactor>,
    ex: IoExecutor,
}

// SAFETY: the operation block is owned by this value alone until it is
// handed over, and everything in it (the handler) is `Send`.
unsafe impl Send for OverlappedPtr {}

impl OverlappedPtr {
    /// A zeroed `OVERLAPPED` for a call whose outcome goes to `handler`.
    pub fn new<H: CompletionHandler<(io::Result<usize>,)>>(
        ex: &IoExecutor,
        handler: H,
    ) -> io::Result<OverlappedPtr> {
        let reactor = ex.sched.reactor()?.clone();
        ex.sched.work_started();
        let (op, _) = CompletionOp::alloc(UserCall, handler, None);
        // Counted in flight from the start: the user's call may queue its
        // packet, and the packet be taken, before `release` is called.
        reactor.user_call_launched();
        Ok(OverlappedPtr {
            op: Some(op),
            reactor,
            ex: ex.clone(),
        })
    }

    /// The `OVERLAPPED` to pass to the call. It stays where it is until
    /// the handler runs.
    ///
    /// Call [`release`](OverlappedPtr::release) or
    /// [`complete`](OverlappedPtr::complete) right after the call: a
    /// packet that comes before either waits for it, and so does the
    /// context's thread that took the packet (a pointer forgotten after
    /// its call, with `mem::forget`, would hold that thread for good).
    pub fn get(&mut self) -> *mut OVERLAPPED {
        match self.op.as_mut() {
            Some(op) => {
                // SAFETY: the block is ours until `release` or `complete`.
                // A packet that comes before either (the call may queue
                // one at once) waits for their verdict.
                unsafe { CompletionHeader::issuing(op.header()) };
                op.parts().1
            }
            None => unreachable!("only release and complete take the operation"),
        }
    }

    /// The call will queue a packet (it returned `ERROR_IO_PENDING`, or
    /// succeeded on a handle whose successes are not skipped): the kernel
    /// owns the `OVERLAPPED` now, and the packet runs the handler.
    pub fn release(mut self) {
        if let Some(op) = self.op.take() {
            // SAFETY: ours until this store lets the packet handler at it.
            unsafe { CompletionHeader::settle(op.header(), Late::SETTLED) };
            op.launched();
        }
    }

    /// The call failed at once (or was never made): the handler runs with
    /// `result`, posted.
    ///
    /// A call that "failed" with a warning (`ERROR_MORE_DATA`: the
    /// kernel's status in the `OVERLAPPED` says so) may queue a packet all
    /// the same; the handler then runs once, with `result`, and the packet
    /// is ignored when it comes.
    pub fn complete(mut self, result: io::Result<usize>) {
        if let Some(mut op) = self.op.take() {
            // SAFETY: the slot is the block's, ours until `settle`.
            let status = unsafe { (*op.parts().1).Internal } as u32;
            // SAFETY: as above; no packet handler has touched the block.
            unsafe { CompletionHeader::settle(op.header(), Late::after_call(status)) };
            self.reactor.user_call_landed();
            self.ex.sched.post_completion(op.finish(result));
        }
    }
}

impl Drop for OverlappedPtr {
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            self.reactor.user_call_landed();
            drop(op);
            self.ex.sched.work_finished(1);
        }
    }
}
