//! Starting completion operations on an [`IoCore`] (Windows): the same
//! entry points as the readiness ones in `core.rs`, issuing the operation
//! to the kernel instead of queueing it.

use super::IoCore;
use crate::completion::CompletionOp;
use crate::reactor::op::OpKind;
use crate::reactor::windows::cancel_flight;
use crate::sys::windows::ops::Overlapped;
use crate::token::CompletionHandler;
use std::io;

impl IoCore {
    /// Starts `op`, whose completion calls `handler` on this object's
    /// context (never inside this call). `kind` picks the block cache;
    /// every operation is issued at once (`speculative` only matters to
    /// readiness backends).
    pub(crate) fn start<O: Overlapped, H: CompletionHandler<O::Args>>(
        &self,
        kind: OpKind,
        op: O,
        handler: H,
        _speculative: bool,
    ) {
        let sched = &self.executor().sched;
        sched.work_started();
        let (op, install) = CompletionOp::alloc(op, handler, self.spare(kind));
        match self.io() {
            Ok((r, s)) => {
                if let (Some(i), Some(flight)) = (install, op.flight.clone()) {
                    i.slot.install_as(i.id, move |_| cancel_flight(&flight));
                }
                // SAFETY: `s` is our pooled state, alive while `r` is.
                r.start_overlapped(unsafe { s.as_ref() }, op)
            }
            Err(e) => sched.post_completion(op.finish(Err(e))),
        }
    }

    /// Completes `op` with `result` without issuing it (posted, never
    /// inline).
    pub(crate) fn complete_with<O: Overlapped, H: CompletionHandler<O::Args>>(
        &self,
        op: O,
        handler: H,
        result: io::Result<()>,
    ) {
        let sched = &self.executor().sched;
        sched.work_started();
        let (op, _) = CompletionOp::alloc(op, handler, None);
        sched.post_completion(op.finish(result.map(|()| 0)));
    }
}
