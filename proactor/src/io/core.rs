//! [`IoCore`]: an I/O object's registration with its context's reactor.

use crate::executor::IoExecutor;
use crate::op::recycle::Spare;
#[cfg(unix)]
use crate::op::OpPtr;
use crate::reactor::descriptor::DescriptorState;
#[cfg(unix)]
use crate::reactor::op::{Home, Reactive, ReactorOp, ReactorOpHeader};
use crate::reactor::op::{OpKind, RawFd};
#[cfg(unix)]
use crate::reactor::StateRef;
use crate::reactor::{OwnedFd, Reactor};
use crate::sync::Arc;
#[cfg(unix)]
use crate::token::CompletionHandler;
use std::io;
use std::ptr::NonNull;

/// An I/O object's descriptor and its pending operations.
///
/// The object owns one descriptor state for its whole life; the descriptor
/// itself (opened, closed, opened again) lives in that state, and every use
/// of it happens under the state's lock. Objects share their core with the
/// stream references that composed operations hold (an `Arc`), but only
/// the object closes it: dropping the object closes the descriptor even
/// while references remain, and their operations then fail.
pub(crate) struct IoCore {
    ex: IoExecutor,
    io: Result<(Arc<Reactor>, NonNull<DescriptorState>), io::ErrorKind>,
}

// SAFETY: the state is pool-owned by the reactor we keep alive, and every
// access to it is synchronised by its lock.
unsafe impl Send for IoCore {}
unsafe impl Sync for IoCore {}

impl IoCore {
    /// A closed core on `ex`'s context (creating the reactor if needed).
    pub(crate) fn new(ex: &IoExecutor) -> Self {
        let io = ex
            .sched
            .reactor()
            .map(|r| (r.clone(), r.alloc_state()))
            .map_err(|e| e.kind());
        IoCore { ex: ex.clone(), io }
    }

    /// A core owning `fd`.
    pub(crate) fn with_fd(ex: &IoExecutor, fd: OwnedFd) -> io::Result<Self> {
        let core = Self::new(ex);
        core.open(fd)?;
        Ok(core)
    }

    pub(crate) fn executor(&self) -> &IoExecutor {
        &self.ex
    }

    pub(super) fn io(&self) -> io::Result<&(Arc<Reactor>, NonNull<DescriptorState>)> {
        self.io.as_ref().map_err(|k| io::Error::from(*k))
    }

    /// The block cache for operations of `kind` (none without a reactor).
    pub(super) fn spare(&self, kind: OpKind) -> Option<&Spare> {
        // SAFETY: the state is pool-owned and lives as long as the reactor
        // `self.io` holds.
        let state = |(_, s): &(_, NonNull<DescriptorState>)| unsafe { s.as_ref() }.spare(kind);
        self.io.as_ref().ok().map(state)
    }

    /// Takes ownership of `fd` and registers it.
    pub(crate) fn open(&self, fd: OwnedFd) -> io::Result<()> {
        let (r, s) = self.io()?;
        r.open(*s, fd)
    }

    /// Hands the operations started so far to the kernel, so that a
    /// synchronous call made next (a shutdown) comes after them, as it
    /// does where operations are attempted when they start. (Only a ring
    /// holds requests back, until the next turn of its task.)
    pub(crate) fn submit_started(&self) {
        #[cfg(target_os = "linux")]
        if let Ok((r, _)) = self.io() {
            r.submit_started();
        }
    }

    /// A core owning `fd`, a regular file (see
    /// [`Reactor::open_always_ready`]).
    #[cfg(unix)]
    pub(crate) fn with_file(ex: &IoExecutor, fd: OwnedFd) -> io::Result<Self> {
        let core = Self::new(ex);
        let (r, s) = core.io()?;
        r.open_always_ready(*s, fd)?;
        Ok(core)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.fd(|_| Ok(())).is_ok()
    }

    /// Runs `f` with the descriptor, which cannot be closed meanwhile.
    pub(crate) fn fd<R>(&self, f: impl FnOnce(RawFd) -> io::Result<R>) -> io::Result<R> {
        let (r, s) = self.io()?;
        r.with_fd(*s, f)
    }

    /// Starts `op`, whose completion calls `handler` on this object's
    /// context (never inside this call). `speculative`: try it at once if
    /// nothing of its kind is waiting. (Windows: `completion.rs`.)
    #[cfg(unix)]
    pub(crate) fn start<O: super::IoOp, H: CompletionHandler<O::Args>>(
        &self,
        kind: OpKind,
        op: O,
        handler: H,
        speculative: bool,
    ) {
        #[cfg(target_os = "linux")]
        if let Ok(io) = self.io() {
            if io.0.on_ring() {
                return self.start_on_ring(io, kind, op, handler);
            }
        }
        let sched = &self.ex.sched;
        sched.work_started();
        let (op, cancellable) =
            ReactorOp::new_cancellable(op, handler, Home::spare(self.spare(kind)));
        match self.io() {
            Ok((r, s)) => {
                if let Some(c) = cancellable {
                    let (reactor, state, ticket) = (r.clone(), StateRef(*s), c.ticket.clone());
                    // SAFETY: the state lives as long as `reactor`, held here.
                    c.install(move || reactor.cancel_op(unsafe { state.get() }, kind, &ticket));
                }
                // SAFETY: `s` is our pooled state, alive while `r` is.
                r.start_op(unsafe { s.as_ref() }, kind, op, speculative)
            }
            Err(e) => {
                fail(&op, e);
                sched.post_completion(op);
            }
        }
    }

    /// Completes `op` with `result` without attempting it (posted, never
    /// inline).
    #[cfg(unix)]
    pub(crate) fn complete_with<O: Reactive, H: CompletionHandler<O::Args>>(
        &self,
        op: O,
        handler: H,
        result: io::Result<()>,
    ) {
        let sched = &self.ex.sched;
        sched.work_started();
        let op = ReactorOp::new_op(op, handler);
        if let Err(e) = result {
            fail(&op, e);
        }
        sched.post_completion(op);
    }

    /// Pending operations complete with "operation aborted"; the object
    /// stays open.
    pub(crate) fn cancel(&self) {
        if let Ok((r, s)) = self.io() {
            // SAFETY: as in `start`.
            r.cancel_ops(unsafe { s.as_ref() });
        }
    }

    /// Pending operations complete with "operation aborted", and the
    /// descriptor is closed.
    pub(crate) fn close(&self) -> io::Result<()> {
        match self.io() {
            Ok((r, s)) => r.close(*s),
            Err(_) => Ok(()),
        }
    }
}

impl Drop for IoCore {
    fn drop(&mut self) {
        if let Ok((r, s)) = &self.io {
            r.release(*s);
        }
    }
}

#[cfg(unix)]
fn fail(op: &OpPtr, e: io::Error) {
    // SAFETY: `op` is a reactor operation owned by the caller and not
    // queued anywhere yet.
    unsafe {
        ReactorOpHeader::fail(
            ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())),
            e,
        )
    }
}
