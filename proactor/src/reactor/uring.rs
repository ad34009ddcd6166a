//! The reactor on an io_uring (Linux): descriptors keep their states and
//! their three queues, but an operation is a request the kernel performs
//! (`io/submit.rs`), not an attempt made on readiness.
//!
//! Only the front operation of each queue is in the kernel. The next one
//! is submitted when its completion is reaped, so a stream's reads (and
//! writes) happen in the order they were started, as they do on epoll.
//!
//! Closing a descriptor first cancels what the kernel holds on it and waits
//! until those requests have ended (the kernel keeps a request's file open,
//! so a close alone would not end it); operations still queued behind them
//! end at once. Either way they complete with "operation aborted".

use super::descriptor::{DescriptorState, Guarded};
use super::op::{OpKind, RawFd};
use super::{Reactor, ReactorTask};
use crate::completion::{CompletionHeader, Flight, InFlight, Unstarted};
use crate::io::submit::{Native, Submit};
use crate::op::queue::OpQueue;
use crate::op::OpPtr;
use crate::sync;
use crate::sys::linux::uring::{Reaped, Ring};
use io_uring::squeue::Entry;
use std::io;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// How long a context being dropped waits for the completions of the
/// requests it cancelled (they come at once in practice).
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(5);
/// Connections a listener takes ahead of its accepts; at this many the
/// multishot accept stops, and the rest wait in the kernel's backlog.
const ACCEPTED_AHEAD: usize = 16;

/// A listener's multishot accept: one request in the kernel accepts every
/// connection, and each goes to the first waiting accept operation, or
/// waits here for the next one. Accept operations are queued (read kind)
/// but never in the kernel themselves: cancelling one only unqueues it.
#[derive(Default)]
pub(crate) struct Accepts {
    /// Accepted connections no operation has taken yet.
    ahead: std::collections::VecDeque<std::os::fd::OwnedFd>,
    /// Multishot requests that have not ended (one, or a cancelled one on
    /// its way out while its successor starts).
    live: u32,
}

impl Accepts {
    /// A multishot request has not ended.
    pub(crate) fn running(&self) -> bool {
        self.live > 0
    }
}

/// The ring's part of a completion operation: where it is queued, and how
/// to build and finish its request without knowing its type. Zero is a
/// valid value (the block is zeroed before the operation starts).
pub(crate) struct OpSlot {
    state: *const DescriptorState,
    kind: usize,
    /// Its request is in the kernel.
    submitted: bool,
    /// The `Native<O>` in the block.
    op: *mut (),
    prep: Option<PrepFn>,
    complete: Option<CompleteFn>,
}

/// [`Submit::prep`] of the operation at the pointer.
type PrepFn = unsafe fn(*mut (), RawFd) -> io::Result<Entry>;
/// [`Submit::complete`] of the operation at the pointer.
type CompleteFn = unsafe fn(*mut (), RawFd, io::Result<usize>) -> bool;

/// # Safety
/// `op` is a live `Native<O>` used by nobody else.
unsafe fn prep<O: Submit>(op: *mut (), fd: RawFd) -> io::Result<Entry> {
    // SAFETY: caller's contract.
    unsafe { (*op.cast::<Native<O>>()).0.prep(fd) }
}

/// # Safety
/// As for [`prep`].
unsafe fn complete<O: Submit>(op: *mut (), fd: RawFd, res: io::Result<usize>) -> bool {
    // SAFETY: caller's contract.
    unsafe { (*op.cast::<Native<O>>()).0.complete(fd, res) }
}

/// A kernel result as an operation's.
fn result_of(res: i32) -> io::Result<usize> {
    match res {
        r if r >= 0 => Ok(r as usize),
        r if r == -libc::ECANCELED => Err(crate::error::operation_aborted()),
        r => Err(io::Error::from_raw_os_error(-r)),
    }
}

/// The slot of a live operation.
///
/// # Safety
/// `h` is a live completion operation on a ring; the caller holds its
/// descriptor's lock (or owns it outright).
unsafe fn slot<'a>(h: NonNull<CompletionHeader>) -> &'a mut OpSlot {
    // SAFETY: caller's contract.
    unsafe { &mut *CompletionHeader::slot(h) }
}

impl Reactor {
    fn ring(&self) -> &Ring {
        self.poller.ring().expect("an io_uring backend")
    }

    /// Starts `op` (holding one unit of work) on the descriptor: in the
    /// kernel at once if nothing of its kind is ahead of it, else when the
    /// operations ahead have completed. A closed descriptor or an earlier
    /// cancellation request fails it (posted).
    pub(crate) fn start_submission<O: Submit>(
        &self,
        d: &DescriptorState,
        kind: OpKind,
        mut op: Unstarted<Native<O>>,
    ) {
        let g = d.lock();
        let flight = op.flight.clone();
        // Held until the operation is on record: a cancellation request
        // waits, and so does the reaping of its completion (`land`).
        let mut on_record = flight.as_ref().map(|f| f.lock());
        let early = if g.shutdown {
            Some(io::Error::from_raw_os_error(libc::EBADF))
        } else if matches!(on_record.as_deref(), Some(Flight::Cancelled)) {
            Some(crate::error::operation_aborted())
        } else {
            None
        };
        let header = op.header();
        let (o, s) = op.parts();
        // SAFETY: the block is ours until it is queued below.
        unsafe {
            s.write(OpSlot {
                state: d,
                kind: kind as usize,
                submitted: false,
                op: (o as *mut Native<O>).cast(),
                prep: Some(prep::<O>),
                complete: Some(complete::<O>),
            })
        };
        let k = kind as usize;
        if O::ACCEPT && early.is_none() {
            drop(on_record);
            let mut g = g;
            if let Some(fd) = g.accepts.ahead.pop_front() {
                drop(g);
                // SAFETY: ours; never queued nor in the kernel.
                let done = unsafe { Self::end_with(header, -1, Ok(into_raw(fd))) };
                op.launched();
                return self.sched().post_completion(done);
            }
            // SAFETY: handed over to the queue; `launched` forgets ours.
            g.queues[k].push(unsafe { OpPtr::from_raw(header.cast()) });
            self.keep_accepting(&mut g, d);
            drop(g);
            return op.launched();
        }
        let early = early.or_else(|| {
            if !g.queues[k].is_empty() {
                return None;
            }
            // SAFETY: ours, and the descriptor lock is held.
            match unsafe { self.submit(&g, header) } {
                Ok(()) => {
                    if let Some(f) = on_record.as_deref_mut() {
                        *f = Flight::On(g.fd, header.as_ptr() as usize);
                    }
                    None
                }
                Err(e) => Some(e),
            }
        });
        if let Some(e) = early {
            drop((on_record, g));
            o_fail::<O>(&mut op, e);
            return self.sched().post_completion(op.finish(Ok(0)));
        }
        // SAFETY: the block is handed over to the queue (and perhaps the
        // kernel); `launched` below forgets our handle.
        g.queues[k].push(unsafe { OpPtr::from_raw(header.cast()) });
        drop((on_record, g));
        op.launched();
    }

    /// Builds and pushes the request of the queued (or about to be)
    /// operation `h`.
    ///
    /// # Safety
    /// `h` is a live operation on this descriptor, not in the kernel; `g`
    /// is its descriptor's guard.
    unsafe fn submit(&self, g: &Guarded, h: NonNull<CompletionHeader>) -> io::Result<()> {
        // SAFETY: caller's contract.
        let s = unsafe { slot(h) };
        let prep = s.prep.expect("a prepared slot");
        // SAFETY: `s.op` is the block's operation, which nobody else uses
        // under the descriptor lock.
        let entry = unsafe { prep(s.op, g.fd) }?;
        s.submitted = true;
        // SAFETY: the entry points into the block, which only its
        // completion frees.
        unsafe {
            self.ring()
                .push_op(entry.user_data(h.as_ptr() as u64), g.fd)
        };
        Ok(())
    }

    /// Ends the unsubmitted operation `h` with `e`: it is ready to queue.
    ///
    /// # Safety
    /// `h` is a live operation, in no queue and not in the kernel, whose
    /// descriptor's lock the caller holds (if it has one).
    unsafe fn end(h: NonNull<CompletionHeader>, fd: RawFd, e: io::Error) -> OpPtr {
        // SAFETY: forwarded.
        unsafe { Self::end_with(h, fd, Err(e)) }
    }

    /// Ends the unsubmitted operation `h` with `res` (see [`Reactor::end`]).
    ///
    /// # Safety
    /// As for [`Reactor::end`].
    unsafe fn end_with(h: NonNull<CompletionHeader>, fd: RawFd, res: io::Result<usize>) -> OpPtr {
        // SAFETY: caller's contract.
        unsafe {
            let s = slot(h);
            let done = s.complete.expect("a prepared slot")(s.op, fd, res);
            debug_assert!(done);
            CompletionHeader::land(h, Ok(0))
        }
    }

    /// Starts the listener's multishot accept if accepts wait and none is
    /// running (nor one ending, whose end starts the next).
    fn keep_accepting(&self, g: &mut Guarded, d: &DescriptorState) {
        let waiting = !g.queues[OpKind::Read as usize].is_empty();
        if waiting && g.accepts.live == 0 && !g.shutdown {
            g.accepts.live = 1;
            self.ring()
                .accept_multishot(g.fd, d as *const DescriptorState as u64);
        }
    }

    /// A completion of the multishot accept of the state at `state`: the
    /// connection goes to the first waiting accept, or waits for one.
    /// Returns how many operations went to `out`.
    ///
    /// # Safety
    /// `state` is the address of a pooled state of this reactor.
    unsafe fn accepted(&self, state: u64, res: i32, more: bool, out: &mut OpQueue) -> usize {
        // SAFETY: pooled states live as long as the reactor.
        let d = unsafe { &*(state as *const DescriptorState) };
        let mut g = d.lock();
        if !more {
            g.accepts.live -= 1;
        }
        let q = &g.queues[OpKind::Read as usize];
        let mut n = 0;
        match result_of(res) {
            Ok(new) => {
                use std::os::fd::FromRawFd;
                // SAFETY: the kernel gave us a new descriptor.
                let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(new as RawFd) };
                if g.shutdown {
                    drop(fd);
                } else if let Some(op) = q.pop() {
                    let h = op.into_raw().cast::<CompletionHeader>();
                    // SAFETY: a queued accept, never in the kernel.
                    out.push(unsafe { Self::end_with(h, g.fd, Ok(into_raw(fd))) });
                    n += 1;
                } else {
                    g.accepts.ahead.push_back(fd);
                    if g.accepts.ahead.len() >= ACCEPTED_AHEAD && more {
                        self.ring().stop_accepting(state);
                    }
                }
            }
            // Ended by a close, a cancellation or `stop_accepting`; or a
            // connection that went away before it was taken: nothing for
            // the waiting accepts.
            Err(e)
                if crate::error::is_operation_aborted(&e)
                    || crate::io::ops::is_transient_accept_error(&e) => {}
            // Out of descriptors, and the like: the first waiting accept
            // says so; the others wait for the next attempt.
            Err(e) => {
                if let Some(op) = q.pop() {
                    let h = op.into_raw().cast::<CompletionHeader>();
                    // SAFETY: as above.
                    out.push(unsafe { Self::end(h, g.fd, e) });
                    n += 1;
                }
            }
        }
        self.keep_accepting(&mut g, d);
        self.unlock_and_repool(d, g);
        n
    }

    /// Submits the front operation of queue `k` if it is not in the kernel
    /// yet; operations that cannot start (cancelled, refused) end and go to
    /// `out`. Returns how many did.
    fn submit_next(&self, g: &mut Guarded, k: usize, out: &mut OpQueue) -> usize {
        let mut ended = 0;
        while let Some(front) = g.queues[k].front() {
            let h = front.cast::<CompletionHeader>();
            // SAFETY: queued operations are live; the lock is held.
            if unsafe { slot(h) }.submitted {
                break;
            }
            // SAFETY: as above.
            let flight = unsafe { CompletionHeader::flight(h) };
            let mut record = flight.map(InFlight::lock);
            let cancelled = matches!(record.as_deref(), Some(Flight::Cancelled));
            let failed = if cancelled {
                Some(crate::error::operation_aborted())
            } else {
                // SAFETY: as above.
                match unsafe { self.submit(g, h) } {
                    Ok(()) => {
                        if let Some(f) = record.as_deref_mut() {
                            *f = Flight::On(g.fd, h.as_ptr() as usize);
                        }
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            drop(record);
            let Some(e) = failed else { break };
            g.queues[k].pop().map(OpPtr::into_raw);
            // SAFETY: just taken out of the queue, never in the kernel.
            out.push(unsafe { Self::end(h, g.fd, e) });
            ended += 1;
        }
        ended
    }

    /// A completion was reaped for the block `ud`: the operation ends (or
    /// is submitted again), and the next one of its kind starts. Returns
    /// how many operations went to `out`.
    ///
    /// # Safety
    /// `ud` is the user data of an operation's completion from this
    /// reactor's ring.
    unsafe fn reaped(&self, ud: u64, res: i32, out: &mut OpQueue) -> usize {
        // SAFETY: the user data of an operation is its block's address;
        // the block lives until it is landed below.
        let h = unsafe { NonNull::new_unchecked(ud as *mut CompletionHeader) };
        // SAFETY: as above; its state is pooled and outlives it.
        let d = unsafe { &*slot(h).state };
        let mut g = d.lock();
        // SAFETY: the lock is held.
        let s = unsafe { slot(h) };
        let k = s.kind;
        s.submitted = false;
        let complete = s.complete.expect("a prepared slot");
        // SAFETY: the kernel is done with the operation; the lock is held.
        let mut done = unsafe { complete(s.op, g.fd, result_of(res)) };
        if !done {
            // SAFETY: back out of the kernel, still queued at the front.
            let again = if g.shutdown {
                Err(crate::error::operation_aborted())
            } else {
                unsafe { self.submit(&g, h) }
            };
            match again {
                Ok(()) => return 0,
                // SAFETY: as above.
                Err(e) => done = unsafe { complete(s.op, g.fd, Err(e)) },
            }
            debug_assert!(done);
        }
        let taken = g.queues[k].remove_first(|op| op == h.cast());
        debug_assert!(taken.is_some(), "a submitted operation stays queued");
        taken.map(OpPtr::into_raw);
        // SAFETY: out of the kernel and of the queue: ours.
        out.push(unsafe { CompletionHeader::land(h, Ok(0)) });
        let mut n = 1;
        if !g.shutdown {
            n += self.submit_next(&mut g, k, out);
        }
        self.unlock_and_repool(d, g);
        n
    }

    /// What a cancellation request does to one operation on a ring: a
    /// queued one ends at once; one in the kernel is asked to end.
    pub(crate) fn cancel_submission(
        &self,
        d: &DescriptorState,
        kind: OpKind,
        block: usize,
        flight: &InFlight,
    ) {
        let g = d.lock();
        let mut f = flight.lock();
        match *f {
            Flight::Ready => {
                let found =
                    g.queues[kind as usize].remove_first(|op| op.as_ptr() as usize == block);
                let Some(op) = found else {
                    // Not started yet: it must not start.
                    *f = Flight::Cancelled;
                    return;
                };
                op.into_raw();
                drop(f);
                // SAFETY: a queued operation that was not in the kernel
                // (its record says so), now out of the queue.
                let ended = unsafe {
                    Self::end(
                        NonNull::new_unchecked(block as *mut CompletionHeader),
                        g.fd,
                        crate::error::operation_aborted(),
                    )
                };
                drop(g);
                self.sched().post_completion(ended);
            }
            Flight::On(_, block) => self.ring().cancel(block as u64),
            Flight::Cancelled | Flight::Landed => {}
        }
    }

    /// Ends every operation of the descriptor (closing or cancelling): the
    /// kernel's are cancelled, and have completed when this returns (their
    /// completions are reaped as usual); the queued ones are returned,
    /// ended with "operation aborted". False with them if the descriptor
    /// must not be closed (see `Ring::cancel_fd`).
    pub(crate) fn abort_submissions(&self, g: &mut Guarded) -> (OpQueue, bool) {
        let closable = self.ring().cancel_fd(g.fd);
        // Connections accepted ahead of their accepts are refused now.
        g.accepts.ahead.clear();
        let aborted = OpQueue::new();
        for q in &g.queues {
            let kept = OpQueue::new();
            while let Some(op) = q.pop() {
                // SAFETY: queued operations are live blocks.
                let h = unsafe { NonNull::new_unchecked(op.as_ptr()) }.cast::<CompletionHeader>();
                // SAFETY: as above; the lock is held.
                if unsafe { slot(h) }.submitted {
                    kept.push(op);
                } else {
                    op.into_raw();
                    // SAFETY: out of the queue, never in the kernel.
                    aborted.push(unsafe { Self::end(h, g.fd, crate::error::operation_aborted()) });
                }
            }
            while let Some(op) = kept.pop() {
                q.push(op);
            }
        }
        (aborted, closable)
    }
}

impl ReactorTask {
    /// [`crate::scheduler::task::Task::run`] on a ring.
    pub(super) fn run_ring(&self, timeout: Option<Duration>, ops: &mut OpQueue) -> usize {
        let r = &self.0;
        let (mut n, mut fired) = (0, false);
        let max_poll_ns = r.sched().busy_poll_ns();
        r.ring().wait(timeout, &r.busy, max_poll_ns, |c| match c {
            // SAFETY: the ring reports operations' completions as such.
            Reaped::Op(ud, res) => n += unsafe { r.reaped(ud, res, ops) },
            // SAFETY: the ring reports a multishot accept's completions
            // with the state it was started for.
            Reaped::Accepted(state, res, more) => n += unsafe { r.accepted(state, res, more, ops) },
            Reaped::Timer => fired = true,
        });
        // Harvested operations and timer waits carry their unit of work.
        n + r.take_due_timers(ops, fired)
    }

    /// [`crate::scheduler::task::Task::shutdown`] on a ring: every
    /// descriptor is closed, and the kernel's requests are waited for.
    pub(super) fn shutdown_ring(&self, ops: &mut OpQueue) {
        let r = &self.0;
        for d in sync::lock(&r.pool).all() {
            let mut g = d.lock();
            if !g.shutdown {
                let (queued, closable) = r.abort_submissions(&mut g);
                while let Some(op) = queued.pop() {
                    ops.push(op);
                }
                let _ = r.end_fd(&mut g, closable);
            }
        }
        let deadline = Instant::now() + SHUTDOWN_PATIENCE;
        while r.ring().in_flight() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            r.ring().wait(Some(left), &r.busy, 0, |c| match c {
                // SAFETY: as in `run_ring`.
                Reaped::Op(ud, res) => {
                    let _ = unsafe { r.reaped(ud, res, ops) };
                }
                // SAFETY: as in `run_ring`.
                Reaped::Accepted(state, res, more) => {
                    let _ = unsafe { r.accepted(state, res, more, ops) };
                }
                Reaped::Timer => {}
            });
        }
        r.abandon_timers(ops);
    }
}

/// Fails the operation in `op` with `e` (its outcome is kept in it).
fn o_fail<O: Submit>(op: &mut Unstarted<Native<O>>, e: io::Error) {
    op.parts().0 .0.fail(e);
}

/// A new descriptor as an operation's result.
fn into_raw(fd: std::os::fd::OwnedFd) -> usize {
    std::os::fd::IntoRawFd::into_raw_fd(fd) as usize
}
