//! The Linux completion source: an io_uring (as Asio's `io_uring_service`).
//!
//! * Any thread may start an operation: it pushes a submission under the
//!   submission lock. Pushes made while no thread waits in the kernel are
//!   left for the next turn of the task, which submits them all and waits
//!   in one `io_uring_enter`; a push made while a thread waits there is
//!   submitted at once, or it would wait as long as that thread does.
//! * Only the thread in the scheduler's task seat reaps completions.
//! * Cross-thread wake-ups: a read of an eventfd is always pending in the
//!   ring; [`Ring::interrupt`] writes the eventfd, which completes it.
//! * The earliest timer is an `IORING_OP_TIMEOUT` on the monotonic clock;
//!   arming an earlier one removes the previous one in the same batch.
//!
//! Operations carry their block's address as user data; the ring's own
//! requests use the tags below, which no block address can equal.

use crate::busy_poll::{BusyPoll, Polled};
use crate::sync::{self, AtomicUsize, Mutex, Ordering::SeqCst};
use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};
use std::cell::UnsafeCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The pending read of the eventfd.
const WAKE: u64 = 2;
/// Replies nobody waits for (cancellations, timeout removals).
const IGNORED: u64 = 4;
/// Set in the user data of a timeout: the rest is its boxed `Timespec`.
const TIMER_BIT: u64 = 1;
/// Set in the user data of a multishot accept: the rest is the address
/// of its descriptor's state.
const ACCEPT_BIT: u64 = 2;
const ENTRIES: u32 = 1024;
/// Timeout boxes kept for reuse.
const SPARE_TIMEOUTS: usize = 4;
/// Completions the kernel can hold before it buffers them aside.
const CQ_ENTRIES: u32 = 16 * ENTRIES;

/// What the submission lock protects.
struct Submissions {
    /// A thread waits in the kernel: pushes are submitted at once.
    blocked: bool,
    /// The user data of the armed timeout, if any.
    armed: Option<u64>,
    /// The user data of every timeout whose box is not freed yet (its
    /// last completion has not been reaped).
    timeouts: Vec<u64>,
    /// Boxes of ended timeouts, for the next ones: arming a timer costs
    /// no allocation at steady state. (Boxes: the kernel is given their
    /// addresses, which must not move.)
    #[allow(clippy::vec_box)]
    spare: Vec<Box<types::Timespec>>,
}

/// One completion, as the task sees it.
pub(crate) enum Reaped {
    /// An operation's: its block's address and the kernel's result.
    Op(u64, i32),
    /// The armed timer went off.
    Timer,
    /// A multishot accept's: its descriptor state's address, the result,
    /// and whether more will come.
    Accepted(u64, i32, bool),
}

pub(crate) struct Ring {
    ring: IoUring,
    sq: Mutex<Submissions>,
    /// Serialises the reapers (the task, and a context's shutdown).
    cq: Mutex<()>,
    wake: OwnedFd,
    /// Where the kernel puts each eventfd read: it is only ever written
    /// by the kernel, never read.
    wake_buf: Box<UnsafeCell<u64>>,
    /// Operations the kernel holds.
    in_flight: AtomicUsize,
}

// SAFETY: the submission and completion queues are only used under their
// locks; `wake_buf` is only written by the kernel.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring, or why the kernel will not give one that has what the
    /// backend needs.
    pub(crate) fn new() -> io::Result<Ring> {
        let ring = IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .setup_clamp()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(ENTRIES)?;
        if !ring.params().is_feature_nodrop() || !ring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG",
            ));
        }
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        let needed = [
            opcode::Recv::CODE,
            opcode::Send::CODE,
            opcode::RecvMsg::CODE,
            opcode::SendMsg::CODE,
            opcode::Accept::CODE,
            opcode::Read::CODE,
            opcode::Write::CODE,
            opcode::PollAdd::CODE,
            opcode::Timeout::CODE,
            opcode::TimeoutRemove::CODE,
            opcode::AsyncCancel::CODE,
        ];
        if let Some(op) = needed.iter().find(|&&op| !probe.is_supported(op)) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring lacks opcode {op}"),
            ));
        }
        // SAFETY: a plain system call creating a new descriptor.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if wake < 0 {
            return Err(io::Error::last_os_error());
        }
        let r = Ring {
            ring,
            sq: Mutex::new(Submissions {
                blocked: false,
                armed: None,
                timeouts: Vec::new(),
                spare: Vec::new(),
            }),
            cq: Mutex::new(()),
            // SAFETY: just created, owned by nobody else.
            wake: unsafe { OwnedFd::from_raw_fd(wake) },
            wake_buf: Box::new(UnsafeCell::new(0)),
            in_flight: AtomicUsize::new(0),
        };
        // Sync cancellation (6.0) is what closing a descriptor relies on;
        // nothing is in the ring yet for it to find.
        match r
            .ring
            .submitter()
            .register_sync_cancel(Some(types::Timespec::new()), types::CancelBuilder::any())
        {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ETIME)) => {}
            Err(e) => return Err(e),
        }
        r.push_wake_read(&mut sync::lock(&r.sq));
        Ok(r)
    }

    /// Pushes `entry` (sq lock held); submits at once if a thread waits in
    /// the kernel, or if the queue is full.
    fn push(&self, sq: &mut Submissions, entry: &squeue::Entry) {
        loop {
            // SAFETY: the submission lock is held, so this is the only
            // handle on the queue; `entry`'s pointers are the caller's
            // (see `push_op`).
            let pushed = unsafe { self.ring.submission_shared().push(entry) };
            if pushed.is_ok() {
                break;
            }
            // Full: make room.
            self.submit_now();
        }
        if sq.blocked {
            self.submit_now();
        }
    }

    fn submit_now(&self) {
        loop {
            match self.ring.submitter().submit() {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                // EBUSY: completions are buffered aside; the submissions
                // stay queued for the task's next turn, which reaps first.
                _ => return,
            }
        }
    }

    /// Submits every pushed entry (before a descriptor is closed: its
    /// operations must be in the kernel to be cancelled).
    pub(crate) fn flush(&self) {
        if self.needs_enter() {
            self.submit_now();
        }
    }

    /// Hands an operation to the kernel.
    ///
    /// # Safety
    /// Everything `entry` points to stays where it is, and the block its
    /// user data names stays alive, until its completion is reaped.
    pub(crate) unsafe fn push_op(&self, entry: squeue::Entry) {
        debug_assert!(entry.get_user_data() & 7 == 0 && entry.get_user_data() != 0);
        self.in_flight.fetch_add(1, SeqCst);
        let mut sq = sync::lock(&self.sq);
        self.push(&mut sq, &entry);
    }

    /// Asks the kernel to cancel the operation whose block is `user_data`
    /// (it completes with `ECANCELED`, unless it finishes first).
    pub(crate) fn cancel(&self, user_data: u64) {
        let entry = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(IGNORED);
        let mut sq = sync::lock(&self.sq);
        self.push(&mut sq, &entry);
        // Not left for the next turn, which may be far off (`push` has
        // submitted it if a thread waits in the kernel).
        if !sq.blocked {
            self.submit_now();
        }
    }

    /// Cancels every operation the kernel holds on `fd` and waits until
    /// they have completed (their completions are reaped as usual).
    pub(crate) fn cancel_fd(&self, fd: RawFd) {
        self.flush();
        let patience = types::Timespec::new().sec(1);
        let _ = self.ring.submitter().register_sync_cancel(
            Some(patience),
            types::CancelBuilder::fd(types::Fd(fd)).all(),
        );
    }

    /// Starts accepting connections on `fd` until cancelled or failed;
    /// each comes as [`Reaped::Accepted`] for `state`.
    pub(crate) fn accept_multishot(&self, fd: RawFd, state: u64) {
        debug_assert!(state & 7 == 0);
        let entry = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(state | ACCEPT_BIT);
        self.push(&mut sync::lock(&self.sq), &entry);
    }

    /// Stops the multishot accept of `state` (it ends with `ECANCELED`).
    pub(crate) fn stop_accepting(&self, state: u64) {
        self.cancel(state | ACCEPT_BIT);
    }

    fn push_wake_read(&self, sq: &mut Submissions) {
        let entry = opcode::Read::new(
            types::Fd(self.wake.as_raw_fd()),
            self.wake_buf.get().cast(),
            8,
        )
        .build()
        .user_data(WAKE);
        self.push(sq, &entry);
    }

    /// Makes a current or the next [`Ring::wait`] return.
    pub(crate) fn interrupt(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Arms the timer to go off after `after` (`None` disarms it).
    pub(crate) fn set_timer(&self, after: Option<Duration>) {
        let mut sq = sync::lock(&self.sq);
        if let Some(old) = sq.armed.take() {
            let remove = opcode::TimeoutRemove::new(old).build().user_data(IGNORED);
            self.push(&mut sq, &remove);
        }
        let Some(after) = after else { return };
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes the current time into `now`.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let at = Duration::new(now.tv_sec as u64, now.tv_nsec as u32).saturating_add(after);
        // The kernel copies it when it takes the entry; the box is given
        // back with the timeout's completion.
        let time = types::Timespec::from(at);
        let spec = match sq.spare.pop() {
            Some(mut b) => {
                *b = time;
                Box::into_raw(b)
            }
            None => Box::into_raw(Box::new(time)),
        };
        let tag = spec as u64 | TIMER_BIT;
        let entry = opcode::Timeout::new(spec)
            .flags(types::TimeoutFlags::ABS)
            .build()
            .user_data(tag);
        sq.armed = Some(tag);
        sq.timeouts.push(tag);
        self.push(&mut sq, &entry);
    }

    /// Operations the kernel holds.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(SeqCst)
    }

    /// Submits what was pushed and harvests completions, blocking for at
    /// most `timeout` (`None`: until one arrives or [`Ring::interrupt`];
    /// `Some(ZERO)`: never) if none is there yet.
    ///
    /// Before blocking it may poll the completion queue for a while, as
    /// `busy` (the adaptive window) and `max_poll_ns` (the context's limit)
    /// say; polling costs no system call until something has completed.
    pub(crate) fn wait(
        &self,
        mut timeout: Option<Duration>,
        busy: &BusyPoll,
        max_poll_ns: u32,
        mut on: impl FnMut(Reaped),
    ) {
        let _cq = sync::lock(&self.cq);
        let found = self.reap(&mut on);
        if found > 0 || timeout == Some(Duration::ZERO) {
            if self.needs_enter() {
                self.submit_now();
                // Some complete inside the submission.
                self.reap(&mut on);
            }
            busy.reported(found);
            return;
        }
        let idle_since = Instant::now();
        if let Some(window) = busy.window(max_poll_ns, timeout) {
            // Requests go in first, so that their completions can come
            // while we look.
            if self.needs_enter() {
                self.submit_now();
            }
            // A window cut short by the caller's timeout says nothing
            // about whether polling pays.
            let cut = timeout.is_some_and(|t| t <= window);
            let mut first = true;
            loop {
                let mut found = self.reap(&mut on);
                if found == 0 && self.needs_enter() {
                    // Completions wait in task work, run by an enter.
                    self.submit_now();
                    found = self.reap(&mut on);
                }
                if found > 0 {
                    let how = if first { Polled::AtOnce } else { Polled::Later };
                    busy.polled(how, max_poll_ns);
                    busy.reported(found);
                    return;
                }
                first = false;
                if idle_since.elapsed() >= window {
                    break;
                }
                std::hint::spin_loop();
            }
            if !cut {
                busy.polled(Polled::Empty, max_poll_ns);
            }
            timeout = timeout.map(|t| t.saturating_sub(idle_since.elapsed()));
        }
        sync::lock(&self.sq).blocked = true;
        let r = match timeout {
            None => self.ring.submitter().submit_and_wait(1),
            Some(d) => {
                let ts = types::Timespec::from(d);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        sync::lock(&self.sq).blocked = false;
        if let Err(e) = r {
            // EINTR, ETIME (the timeout), EBUSY (completions buffered
            // aside: reaping makes room): nothing to do but reap.
            debug_assert!(
                matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR) | Some(libc::ETIME) | Some(libc::EBUSY)
                ),
                "io_uring_enter: {e}"
            );
        }
        let found = self.reap(&mut on);
        if found > 0 {
            busy.woke(idle_since.elapsed(), max_poll_ns);
            busy.reported(found);
        }
    }

    /// Requests wait to be submitted, or completions wait in task work.
    fn needs_enter(&self) -> bool {
        let _sq = sync::lock(&self.sq);
        // SAFETY: the submission lock is held for the look.
        let sq = unsafe { self.ring.submission_shared() };
        !sq.is_empty() || sq.taskrun()
    }

    /// Hands every completion in the queue to `on`; returns how many were
    /// operations', the timer's or an interrupt's (cq lock held).
    fn reap(&self, on: &mut impl FnMut(Reaped)) -> usize {
        let mut found = 0;
        let mut rearm_wake = false;
        // SAFETY: the completion lock is held by the caller, so this is
        // the only handle on the queue.
        let cq = unsafe { self.ring.completion_shared() };
        for cqe in cq {
            let ud = cqe.user_data();
            match ud {
                WAKE => {
                    // An interrupt ends the wait like a completion.
                    rearm_wake = true;
                    found += 1;
                }
                IGNORED => {}
                _ if ud & ACCEPT_BIT != 0 => {
                    found += 1;
                    let more = cqueue::more(cqe.flags());
                    on(Reaped::Accepted(ud & !ACCEPT_BIT, cqe.result(), more));
                }
                _ if ud & TIMER_BIT != 0 => {
                    let mut sq = sync::lock(&self.sq);
                    if let Some(i) = sq.timeouts.iter().position(|&t| t == ud) {
                        sq.timeouts.swap_remove(i);
                        let b = take_timeout(ud);
                        if sq.spare.len() < SPARE_TIMEOUTS {
                            sq.spare.push(b);
                        }
                    }
                    if cqe.result() == -libc::ETIME && sq.armed == Some(ud) {
                        sq.armed = None;
                        drop(sq);
                        found += 1;
                        on(Reaped::Timer);
                    }
                }
                _ => {
                    debug_assert!(!cqueue::more(cqe.flags()));
                    self.in_flight.fetch_sub(1, SeqCst);
                    found += 1;
                    on(Reaped::Op(ud, cqe.result()));
                }
            }
        }
        if rearm_wake {
            self.push_wake_read(&mut sync::lock(&self.sq));
        }
        found
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Nothing the kernel holds may write into the eventfd buffer once
        // it is freed: cancel everything, and wait.
        let cancelled = self.ring.submitter().register_sync_cancel(
            Some(types::Timespec::new().sec(1)),
            types::CancelBuilder::any(),
        );
        let held = match cancelled {
            Ok(()) => false,
            // ENOENT: nothing was left to cancel.
            Err(e) => e.raw_os_error() != Some(libc::ENOENT),
        };
        if held {
            // Still held (it would not end in time): leak the buffer.
            let buf = std::mem::replace(&mut self.wake_buf, Box::new(UnsafeCell::new(0)));
            Box::leak(buf);
        }
        // The kernel copies a timeout's time when it takes the request, and
        // never takes one from now on: every box can go.
        for tag in std::mem::take(&mut sync::lock(&self.sq).timeouts) {
            drop(take_timeout(tag));
        }
    }
}

/// The boxed `Timespec` of the timeout with user data `tag`, ours again.
fn take_timeout(tag: u64) -> Box<types::Timespec> {
    // SAFETY: `set_timer` leaked this box for the timeout, and its
    // record in `timeouts` was removed by the caller: taken back once.
    unsafe { Box::from_raw((tag & !TIMER_BIT) as *mut types::Timespec) }
}
