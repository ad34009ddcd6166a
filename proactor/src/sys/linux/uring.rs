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
//! * A request that finds the submission queue full, when submitting does
//!   not make room (the kernel refuses new work for now), waits in a
//!   backlog behind which later requests queue, so that they reach the
//!   kernel in the order they were made. Every turn moves the backlog into
//!   the queue as far as room allows. A cancelled request still in the
//!   backlog never reaches the kernel: it completes with `ECANCELED`, as
//!   the kernel would have ended it.
//!
//! Operations carry their block's address as user data; the ring's own
//! requests use the tags below, which no block address can equal.

use crate::busy_poll::{BusyPoll, Polled};
use crate::sync::{self, AtomicBool, AtomicUsize, Mutex, Ordering::Relaxed, Ordering::SeqCst};
use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The pending read of the eventfd.
const WAKE: u64 = 2;
/// Replies nobody waits for (cancellations, timeout removals).
const IGNORED: u64 = 4;
/// The low bits of a hand-over's no-op (see [`Ring::close_when_taken`]):
/// the rest is its descriptor, plus one (so that none is `IGNORED`).
const HANDED: u64 = 4;
/// Set in the user data of a timeout: the rest is its boxed `Timespec`.
const TIMER_BIT: u64 = 1;
/// Set in the user data of a multishot accept: the rest is the address
/// of its descriptor's state.
const ACCEPT_BIT: u64 = 2;
const ENTRIES: u32 = 1024;
/// Timeout boxes kept for reuse.
const SPARE_TIMEOUTS: usize = 4;
/// How long closing a descriptor waits for the kernel to take the requests
/// queued before it (it refuses submissions), before leaving it open.
const CLOSE_PATIENCE: Duration = Duration::from_secs(1);
/// How long a turn blocks while the kernel refuses the backlog.
const BACKLOG_RETRY: Duration = Duration::from_millis(1);
/// Completions the kernel can hold before it buffers them aside.
const CQ_ENTRIES: u32 = 16 * ENTRIES;
/// Completions copied out of the queue at a time by the reaper.
const REAP_BATCH: usize = 64;

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
    /// Requests that did not fit in the queue, oldest first, with the
    /// descriptor each is on (if any).
    backlog: VecDeque<(squeue::Entry, Option<RawFd>)>,
    /// Requests taken out of the backlog by a cancellation: the reaper
    /// completes them with `ECANCELED`.
    cancelled: Vec<u64>,
    /// Descriptors handed over by [`Ring::close_when_taken`], not closed
    /// yet.
    handed: Handed,
}

/// Descriptors the ring closes once the kernel has taken every request
/// queued before their hand-over. Those still here when the ring is gone
/// are closed then: the kernel takes nothing more from a closed ring (the
/// field drops after the ring's).
struct Handed(Vec<RawFd>);

impl Drop for Handed {
    fn drop(&mut self) {
        for &fd in &self.0 {
            // SAFETY: handed over to the ring, which alone closes them.
            unsafe { libc::close(fd) };
        }
    }
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
    /// Operations the kernel holds (those in the backlog included).
    in_flight: AtomicUsize,
    /// `cancelled` is not empty (read without the submission lock by the
    /// reaper, which takes the lock only then).
    any_cancelled: AtomicBool,
    /// When [`Ring::cancel_fd`] last stopped waiting for the kernel.
    gave_up: Mutex<Option<Instant>>,
    /// Tests: submitting does nothing, as when the kernel refuses work.
    #[cfg(test)]
    refuse: AtomicBool,
    /// Tests: how many times [`Ring::cancel_fd`] waited for the kernel.
    #[cfg(test)]
    naps: AtomicUsize,
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
                backlog: VecDeque::new(),
                cancelled: Vec::new(),
                handed: Handed(Vec::new()),
            }),
            cq: Mutex::new(()),
            // SAFETY: just created, owned by nobody else.
            wake: unsafe { OwnedFd::from_raw_fd(wake) },
            wake_buf: Box::new(UnsafeCell::new(0)),
            in_flight: AtomicUsize::new(0),
            any_cancelled: AtomicBool::new(false),
            gave_up: Mutex::new(None),
            #[cfg(test)]
            refuse: AtomicBool::new(false),
            #[cfg(test)]
            naps: AtomicUsize::new(0),
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

    /// Pushes `entry`, on descriptor `fd` if any (sq lock held); submits at
    /// once if a thread waits in the kernel. A full queue is submitted to
    /// make room; if the kernel takes nothing, the entry joins the backlog.
    fn push(&self, sq: &mut Submissions, entry: &squeue::Entry, fd: Option<RawFd>) {
        if !(self.refill(sq) && self.try_push(entry)) {
            self.submit_now();
            if !(self.refill(sq) && self.try_push(entry)) {
                sq.backlog.push_back((entry.clone(), fd));
                if sq.blocked {
                    // The thread in the kernel moves it in when it returns.
                    self.interrupt();
                }
                return;
            }
        }
        if sq.blocked && self.submit_now() == 0 {
            // Refused: the thread in the kernel submits it when it returns.
            self.interrupt();
        }
    }

    /// Puts `entry` in the queue if there is room (sq lock held).
    fn try_push(&self, entry: &squeue::Entry) -> bool {
        // SAFETY: the submission lock is held, so this is the only handle
        // on the queue; `entry`'s pointers are the caller's (see
        // `push_op`).
        unsafe { self.ring.submission_shared().push(entry) }.is_ok()
    }

    /// Moves the backlog into the queue as far as room allows (sq lock
    /// held); true if the backlog is empty.
    fn refill(&self, sq: &mut Submissions) -> bool {
        while let Some((entry, _)) = sq.backlog.front() {
            if !self.try_push(entry) {
                return false;
            }
            sq.backlog.pop_front();
        }
        true
    }

    /// Submits the queue; how many entries the kernel took.
    fn submit_now(&self) -> usize {
        #[cfg(test)]
        if self.refuse.load(SeqCst) {
            return 0;
        }
        loop {
            match self.ring.submitter().submit() {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Ok(n) => return n,
                // EBUSY, EAGAIN: the kernel takes nothing for now; the
                // entries stay queued for a later turn, which reaps first.
                Err(_) => return 0,
            }
        }
    }

    /// Waits for one completion (for at most `timeout`, if any),
    /// submitting nothing.
    fn wait_only(&self, timeout: Option<Duration>) -> io::Result<usize> {
        use io_uring::EnterFlags;
        let submitter = self.ring.submitter();
        match timeout {
            Some(d) => {
                let ts = types::Timespec::from(d);
                let args = types::SubmitArgs::new().timespec(&ts);
                let flags = EnterFlags::GETEVENTS | EnterFlags::EXT_ARG;
                // SAFETY: a wait for one completion, for at most `d`
                // (`args`, alive across the call), with nothing to submit.
                unsafe { submitter.enter(0, 1, flags.bits(), Some(&args)) }
            }
            // SAFETY: a wait for one completion, with no argument and
            // nothing to submit.
            None => unsafe {
                submitter.enter::<libc::sigset_t>(0, 1, EnterFlags::GETEVENTS.bits(), None)
            },
        }
    }

    /// Whether entries wait in the queue, and whether completions wait in
    /// task work (`_held`: the submission lock's guard).
    fn queued(&self, _held: &Submissions) -> (bool, bool) {
        // SAFETY: the submission lock is held for the look. The handle is
        // dropped here, under it: dropping one writes its view of the
        // tail back, which would undo pushes made after the lock is
        // released.
        let q = unsafe { self.ring.submission_shared() };
        (!q.is_empty(), q.taskrun())
    }

    /// Submits what was pushed, and the backlog as far as the kernel takes
    /// it. True if it entered the kernel.
    fn submit_pending(&self) -> bool {
        let mut sq = sync::lock(&self.sq);
        if sq.backlog.is_empty() {
            let (entries, taskrun) = self.queued(&sq);
            let needed = entries || taskrun;
            drop(sq);
            if needed {
                self.submit_now();
            }
            return needed;
        }
        self.drain_backlog(&mut sq);
        true
    }

    /// Submits until the backlog is empty or the kernel takes nothing
    /// (sq lock held).
    fn drain_backlog(&self, sq: &mut Submissions) {
        loop {
            let empty = self.refill(sq);
            if self.submit_now() == 0 || empty {
                return;
            }
        }
    }

    /// Submits every pushed entry (before a descriptor is closed: its
    /// operations must be in the kernel to be cancelled; those left in the
    /// backlog are taken out by [`Ring::cancel_fd`]).
    pub(crate) fn flush(&self) {
        self.submit_pending();
    }

    /// Takes the backlog's requests that `hit` picks out of it: they will
    /// complete with `ECANCELED` without reaching the kernel (sq lock
    /// held). True if there were any.
    fn purge(&self, sq: &mut Submissions, hit: impl Fn(u64, Option<RawFd>) -> bool) -> bool {
        let Submissions {
            backlog, cancelled, ..
        } = sq;
        let before = cancelled.len();
        backlog.retain(|(entry, fd)| {
            let ud = entry.get_user_data();
            let gone = hit(ud, *fd);
            if gone {
                cancelled.push(ud);
            }
            !gone
        });
        if cancelled.len() == before {
            return false;
        }
        self.any_cancelled.store(true, Relaxed);
        // The reaper completes them on its next turn: make it come.
        self.interrupt();
        true
    }

    /// Hands an operation on descriptor `fd` to the kernel.
    ///
    /// # Safety
    /// Everything `entry` points to stays where it is, and the block its
    /// user data names stays alive, until its completion is reaped.
    pub(crate) unsafe fn push_op(&self, entry: squeue::Entry, fd: RawFd) {
        debug_assert!(entry.get_user_data() & 7 == 0 && entry.get_user_data() != 0);
        self.in_flight.fetch_add(1, SeqCst);
        let mut sq = sync::lock(&self.sq);
        self.push(&mut sq, &entry, Some(fd));
    }

    /// Asks the kernel to cancel the operation whose block is `user_data`
    /// (it completes with `ECANCELED`, unless it finishes first).
    pub(crate) fn cancel(&self, user_data: u64) {
        let mut sq = sync::lock(&self.sq);
        if self.purge(&mut sq, |ud, _| ud == user_data) {
            return;
        }
        let entry = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(IGNORED);
        self.push(&mut sq, &entry, None);
        // Not left for the next turn, which may be far off (`push` has
        // submitted it if a thread waits in the kernel).
        if !sq.blocked {
            self.submit_now();
        }
    }

    /// Cancels every operation the kernel holds on `fd` and waits until
    /// they have completed (their completions are reaped as usual);
    /// requests on it still in the backlog end with `ECANCELED`.
    ///
    /// False if a request on `fd` may still be waiting in the queue for
    /// the kernel to take it (it refused submissions for [`CLOSE_PATIENCE`]):
    /// the caller must not close `fd` then, or the request would reach
    /// whatever file is given the number next.
    pub(crate) fn cancel_fd(&self, fd: RawFd) -> bool {
        let start = Instant::now();
        // After a give-up, the next descriptors do not wait again (a
        // context's shutdown closes them all).
        let deadline = match *sync::lock(&self.gave_up) {
            Some(t) if start.duration_since(t) < CLOSE_PATIENCE => start,
            _ => start + CLOSE_PATIENCE,
        };
        let handed = loop {
            // One hold of the lock: no push can come between the purge,
            // the submission and the look.
            let mut sq = sync::lock(&self.sq);
            self.purge(&mut sq, |_, on| on == Some(fd));
            if self.queued(&sq).0 || !sq.backlog.is_empty() {
                self.drain_backlog(&mut sq);
            }
            if !self.queued(&sq).0 {
                break true;
            }
            if Instant::now() >= deadline {
                *sync::lock(&self.gave_up) = Some(Instant::now());
                // Behind whatever the kernel has not taken: when it takes
                // them, this ends the descriptor's requests among them.
                let entry =
                    opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
                        .build()
                        .user_data(IGNORED);
                self.push(&mut sq, &entry, None);
                break false;
            }
            drop(sq);
            #[cfg(test)]
            self.naps.fetch_add(1, SeqCst);
            std::thread::sleep(Duration::from_millis(1));
        };
        let patience = types::Timespec::new().sec(1);
        let _ = self.ring.submitter().register_sync_cancel(
            Some(patience),
            types::CancelBuilder::fd(types::Fd(fd)).all(),
        );
        handed
    }

    /// Takes over `fd`, which [`Ring::cancel_fd`] said must not be closed
    /// yet, and closes it once the kernel has taken every request queued
    /// before now: a no-op queued behind them (the kernel takes the queue
    /// in order) closes it when it completes. The descriptor was the
    /// caller's, and is the ring's from now on.
    pub(crate) fn close_when_taken(&self, fd: RawFd) {
        let tag = ((fd as u64 + 1) << 3) | HANDED;
        let mut sq = sync::lock(&self.sq);
        sq.handed.0.push(fd);
        let entry = opcode::Nop::new().build().user_data(tag);
        self.push(&mut sq, &entry, None);
    }

    /// The hand-over no-op of `tag` completed: closes its descriptor.
    fn close_handed(&self, tag: u64) {
        let fd = ((tag >> 3) - 1) as RawFd;
        let handed = &mut sync::lock(&self.sq).handed.0;
        if let Some(i) = handed.iter().position(|&h| h == fd) {
            handed.swap_remove(i);
            // SAFETY: handed over to the ring, closed once, here.
            unsafe { libc::close(fd) };
        }
    }

    /// Starts accepting connections on `fd` until cancelled or failed;
    /// each comes as [`Reaped::Accepted`] for `state`.
    pub(crate) fn accept_multishot(&self, fd: RawFd, state: u64) {
        debug_assert!(state & 7 == 0);
        let entry = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(state | ACCEPT_BIT);
        self.push(&mut sync::lock(&self.sq), &entry, Some(fd));
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
        self.push(sq, &entry, None);
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
            self.push(&mut sq, &remove, None);
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
        self.push(&mut sq, &entry, None);
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
            if self.submit_pending() {
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
            self.submit_pending();
            // A window cut short by the caller's timeout says nothing
            // about whether polling pays.
            let cut = timeout.is_some_and(|t| t <= window);
            let mut first = true;
            loop {
                let mut found = self.reap(&mut on);
                if found == 0 && self.submit_pending() {
                    // Completions wait in task work, run by an enter.
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
        let refused = {
            let mut sq = sync::lock(&self.sq);
            // The blocking enter submits the queue, but not the backlog.
            let mut refused = false;
            if !sq.backlog.is_empty() {
                self.drain_backlog(&mut sq);
                refused = !sq.backlog.is_empty();
                if refused {
                    // The kernel refuses work: come back soon to try
                    // again (what is left may be the wake-up read or the
                    // timer, which would otherwise end this wait).
                    timeout = Some(timeout.map_or(BACKLOG_RETRY, |t| t.min(BACKLOG_RETRY)));
                }
            }
            sq.blocked = true;
            refused
        };
        let r = match timeout {
            // Tests: a kernel that refuses submissions takes none here
            // either.
            #[cfg(test)]
            _ if self.refuse.load(SeqCst) => self.wait_only(timeout),
            // An enter that submits returns at once when the kernel
            // refuses the submission: this one only waits, or the turns
            // would spin until the kernel takes work again.
            Some(_) if refused => self.wait_only(timeout),
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
            // aside: reaping makes room), EAGAIN (the kernel took no new
            // work): nothing to do but reap.
            debug_assert!(
                matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR) | Some(libc::ETIME) | Some(libc::EBUSY) | Some(libc::EAGAIN)
                ),
                "io_uring_enter: {e}"
            );
        }
        let found = self.reap(&mut on);
        if found > 0 {
            busy.woke(idle_since.elapsed(), found, max_poll_ns);
            busy.reported(found);
        }
    }

    /// Hands the completion of an operation, or of a multishot accept, to
    /// `on`.
    fn deliver(&self, ud: u64, res: i32, more: bool, on: &mut impl FnMut(Reaped)) {
        if ud & ACCEPT_BIT != 0 {
            on(Reaped::Accepted(ud & !ACCEPT_BIT, res, more));
        } else {
            debug_assert!(!more);
            self.in_flight.fetch_sub(1, SeqCst);
            on(Reaped::Op(ud, res));
        }
    }

    /// Hands every completion in the queue to `on`; returns how many were
    /// operations', the timer's or an interrupt's (cq lock held).
    fn reap(&self, on: &mut impl FnMut(Reaped)) -> usize {
        let mut found = 0;
        let mut rearm_wake = false;
        if self.any_cancelled.load(Relaxed) {
            let gone = {
                let mut sq = sync::lock(&self.sq);
                self.any_cancelled.store(false, Relaxed);
                std::mem::take(&mut sq.cancelled)
            };
            for ud in gone {
                found += 1;
                // As the kernel would have ended them.
                self.deliver(ud, -libc::ECANCELED, false, on);
            }
        }
        loop {
            let (batch, n) = self.take_completions();
            for &c in &batch[..n] {
                match self.sort_completion(c, on) {
                    Sorted::Reported => found += 1,
                    Sorted::Interrupt => {
                        found += 1;
                        rearm_wake = true;
                    }
                    Sorted::Settled => {}
                }
            }
            if n < REAP_BATCH {
                break;
            }
        }
        if rearm_wake {
            self.push_wake_read(&mut sync::lock(&self.sq));
        }
        found
    }

    /// Copies up to [`REAP_BATCH`] completions out of the queue and gives
    /// their room back to the kernel (cq lock held), before any of them is
    /// handled: the handlers take descriptor locks, and a thread closing a
    /// descriptor holds one while it waits for the kernel to take its
    /// submissions, which the kernel may refuse until the queue has room.
    fn take_completions(&self) -> ([Completion; REAP_BATCH], usize) {
        let mut batch = [(0, 0, 0); REAP_BATCH];
        // SAFETY: the completion lock is held by the caller, so this is
        // the only handle on the queue. Dropping it (here) writes the new
        // head back.
        let cq = unsafe { self.ring.completion_shared() };
        let mut n = 0;
        for cqe in cq.take(REAP_BATCH) {
            batch[n] = (cqe.user_data(), cqe.result(), cqe.flags());
            n += 1;
        }
        (batch, n)
    }

    /// Hands one completion to `on`, or settles it here (the wake-up read,
    /// timeouts, hand-overs, replies nobody waits for).
    fn sort_completion(&self, (ud, res, flags): Completion, on: &mut impl FnMut(Reaped)) -> Sorted {
        match ud {
            WAKE => Sorted::Interrupt,
            IGNORED => Sorted::Settled,
            _ if ud & 7 == HANDED => {
                self.close_handed(ud);
                Sorted::Settled
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
                if res == -libc::ETIME && sq.armed == Some(ud) {
                    sq.armed = None;
                    drop(sq);
                    on(Reaped::Timer);
                    return Sorted::Reported;
                }
                Sorted::Settled
            }
            _ => {
                self.deliver(ud, res, cqueue::more(flags), on);
                Sorted::Reported
            }
        }
    }
}

/// A completion copied out of the queue: user data, result, flags.
type Completion = (u64, i32, u32);

/// What [`Ring::sort_completion`] did with a completion.
enum Sorted {
    /// Reported to the caller's `on`.
    Reported,
    /// The wake-up read: it ends the wait like a completion, and is
    /// queued again.
    Interrupt,
    /// Nothing for the caller.
    Settled,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring whose kernel takes nothing until `refuse` is cleared, or
    /// `None` if this kernel refuses io_uring.
    fn refusing_ring() -> Option<Ring> {
        match Ring::new() {
            Ok(r) => {
                r.refuse.store(true, SeqCst);
                Some(r)
            }
            Err(e) => {
                eprintln!("io_uring refused ({e}): nothing to test here");
                None
            }
        }
    }

    /// A new pipe's read and write ends.
    fn pipe() -> (RawFd, RawFd) {
        let mut fds = [0; 2];
        // SAFETY: writes two new descriptors into `fds`.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        (fds[0], fds[1])
    }

    fn backlog_len(r: &Ring) -> usize {
        sync::lock(&r.sq).backlog.len()
    }

    /// Pushes no-ops (user data 8, 16, ...) until one waits in the
    /// backlog, then `extra` more; returns their user data, in order.
    fn fill(r: &Ring, extra: usize) -> Vec<u64> {
        let mut uds = Vec::new();
        let mut left = extra;
        loop {
            let ud = 8 * (uds.len() as u64 + 1);
            // SAFETY: a no-op points at nothing.
            unsafe { r.push_op(opcode::Nop::new().build().user_data(ud), -1) };
            uds.push(ud);
            if backlog_len(r) > 0 {
                if left == 0 {
                    return uds;
                }
                left -= 1;
            }
        }
    }

    /// Lets the kernel take work again and reaps until `n` operations have
    /// completed (a bounded number of turns).
    fn reap_all(r: &Ring, n: usize) -> Vec<(u64, i32)> {
        reap_until(r, |done| done.len() >= n)
    }

    /// Lets the kernel take work again and reaps, for a bounded number of
    /// turns, until `enough` says so of the operations completed so far.
    fn reap_until(r: &Ring, mut enough: impl FnMut(&[(u64, i32)]) -> bool) -> Vec<(u64, i32)> {
        r.refuse.store(false, SeqCst);
        let busy = BusyPoll::new();
        let mut done = Vec::new();
        for _ in 0..100 {
            r.wait(Some(Duration::ZERO), &busy, 0, |c| {
                if let Reaped::Op(ud, res) = c {
                    done.push((ud, res));
                }
            });
            if enough(&done) {
                break;
            }
        }
        done
    }

    #[test]
    fn requests_the_kernel_refuses_wait_in_the_backlog_and_keep_their_order() {
        let Some(r) = refusing_ring() else { return };
        let uds = fill(&r, 99);
        assert_eq!(backlog_len(&r), 100);
        assert_eq!(r.in_flight(), uds.len());
        let done = reap_all(&r, uds.len());
        assert_eq!(backlog_len(&r), 0);
        assert_eq!(done, uds.iter().map(|&ud| (ud, 0)).collect::<Vec<_>>());
        assert_eq!(r.in_flight(), 0);
    }

    #[test]
    fn a_push_queues_behind_the_backlog_when_the_queue_has_room_again() {
        let Some(r) = refusing_ring() else { return };
        let mut uds = fill(&r, 9);
        // The kernel takes the queue; the backlog stays where it is.
        r.refuse.store(false, SeqCst);
        r.submit_now();
        assert_eq!(backlog_len(&r), 10);
        let last = 8 * (uds.len() as u64 + 1);
        // SAFETY: as in `fill`.
        unsafe { r.push_op(opcode::Nop::new().build().user_data(last), -1) };
        uds.push(last);
        let done = reap_all(&r, uds.len());
        assert_eq!(done, uds.iter().map(|&ud| (ud, 0)).collect::<Vec<_>>());
    }

    /// Reaps with a blocking turn (no timeout) until `n` operations have
    /// completed.
    fn reap_blocking(r: &Ring, n: usize) -> Vec<(u64, i32)> {
        let busy = BusyPoll::new();
        let mut done = Vec::new();
        while done.len() < n {
            r.wait(None, &busy, 0, |c| {
                if let Reaped::Op(ud, res) = c {
                    done.push((ud, res));
                }
            });
        }
        done
    }

    #[test]
    fn a_blocking_turn_submits_the_backlog_before_it_blocks() {
        let Some(r) = refusing_ring() else { return };
        let uds = fill(&r, 9);
        // The kernel takes the queue (and completes it); only the backlog
        // is left, which the blocking enter itself would not submit.
        r.refuse.store(false, SeqCst);
        r.submit_now();
        let mut done = Vec::new();
        {
            // Reaped without a turn, which would submit the backlog.
            let _cq = sync::lock(&r.cq);
            r.reap(&mut |c| {
                if let Reaped::Op(ud, res) = c {
                    done.push((ud, res));
                }
            });
        }
        assert_eq!((done.len(), backlog_len(&r)), (uds.len() - 10, 10));
        done.extend(reap_blocking(&r, 10));
        assert_eq!(done, uds.iter().map(|&ud| (ud, 0)).collect::<Vec<_>>());
    }

    #[test]
    fn a_blocking_turn_comes_back_while_the_kernel_refuses_the_backlog() {
        let Some(r) = refusing_ring() else { return };
        let uds = fill(&r, 0);
        // Nothing can complete: without a bound this turn would never end.
        let busy = BusyPoll::new();
        r.wait(None, &busy, 0, |_| {});
        assert_eq!(backlog_len(&r), 1);
        assert_eq!(reap_all(&r, uds.len()).len(), uds.len());
    }

    #[test]
    fn the_wait_for_a_refusing_kernel_submits_nothing_and_ends_with_its_timeout() {
        let Some(r) = refusing_ring() else { return };
        r.refuse.store(false, SeqCst);
        // SAFETY: as in `fill`.
        unsafe { r.push_op(opcode::Nop::new().build().user_data(8), -1) };
        let e = r.wait_only(Some(Duration::from_millis(1))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ETIME));
        // The no-op is still queued, so nothing came: a turn submits it.
        assert_eq!(reap_all(&r, 1), vec![(8, 0)]);
    }

    /// A refusing ring with a read (user data 8) of a new pipe in its
    /// queue, the pipe's ends, and the read's buffer (boxed: it stays put
    /// until the read is reaped or the ring dropped).
    fn ring_with_a_queued_read() -> Option<(Ring, RawFd, RawFd, Box<[u8; 4]>)> {
        let r = refusing_ring()?;
        let (rd, wr) = pipe();
        let mut buf = Box::new([0u8; 4]);
        let entry = opcode::Read::new(types::Fd(rd), buf.as_mut_ptr(), 4)
            .build()
            .user_data(8);
        // SAFETY: the buffer is returned with the ring, and the tests keep
        // it until the read's completion is reaped.
        unsafe { r.push_op(entry, rd) };
        Some((r, rd, wr, buf))
    }

    #[test]
    fn a_descriptor_whose_requests_the_kernel_has_not_taken_must_stay_open() {
        let Some((r, rd, wr, buf)) = ring_with_a_queued_read() else {
            return;
        };
        assert_eq!(backlog_len(&r), 0, "in the queue, not the backlog");
        assert!(!r.cancel_fd(rd), "the read may still reach the kernel");
        // The next descriptor does not wait for the kernel again.
        let naps = r.naps.load(SeqCst);
        assert!(naps > 0);
        assert!(!r.cancel_fd(wr));
        assert_eq!(r.naps.load(SeqCst), naps);
        // Left open, the descriptor is the read's still: the kernel takes
        // the read now, and it reads from this pipe.
        // SAFETY: a plain system call on our pipe.
        assert_eq!(unsafe { libc::write(wr, b"pong".as_ptr().cast(), 4) }, 4);
        assert_eq!(reap_all(&r, 1), vec![(8, 4)]);
        assert_eq!(&*buf, b"pong");
        // With the kernel taking work, nothing is left behind.
        assert!(r.cancel_fd(rd));
        // SAFETY: our descriptors.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
    }

    /// Writes to the pipe whose write end is `wr`: its result, or the
    /// error number.
    fn write_to(wr: RawFd) -> Result<isize, i32> {
        // SAFETY: a plain system call on our pipe. (Rust ignores SIGPIPE.)
        let n = unsafe { libc::write(wr, b"ping".as_ptr().cast(), 4) };
        if n < 0 {
            Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(n)
        }
    }

    #[test]
    fn a_descriptor_left_open_is_closed_once_the_kernel_takes_the_requests_before_it() {
        let Some((r, rd, wr, buf)) = ring_with_a_queued_read() else {
            return;
        };
        assert!(!r.cancel_fd(rd));
        r.close_when_taken(rd);
        // Still open while the kernel holds the read's request: the pipe
        // has its reader. (The pipe's own ends tell, whatever number a
        // parallel test's descriptor takes.)
        assert_eq!(write_to(wr), Ok(4));
        // The kernel takes the read (which reads the bytes), then the
        // cancellation, then the hand-over, which closes the read end.
        let done = reap_until(&r, |_| sync::lock(&r.sq).handed.0.is_empty());
        assert_eq!(done, vec![(8, 4)]);
        assert_eq!(&*buf, b"ping");
        assert!(sync::lock(&r.sq).handed.0.is_empty(), "closed by the ring");
        assert_eq!(write_to(wr), Err(libc::EPIPE), "no reader left");
        // SAFETY: our descriptor.
        unsafe { libc::close(wr) };
    }

    #[test]
    fn descriptors_handed_over_are_closed_with_the_ring() {
        let Some(r) = refusing_ring() else { return };
        let (rd, wr) = pipe();
        r.close_when_taken(rd);
        assert_eq!(write_to(wr), Ok(4), "the kernel took nothing yet");
        drop(r);
        assert_eq!(write_to(wr), Err(libc::EPIPE));
        // SAFETY: our descriptor.
        unsafe { libc::close(wr) };
    }

    #[test]
    fn completions_give_their_room_back_before_any_is_handled() {
        let Some(r) = refusing_ring() else { return };
        r.refuse.store(false, SeqCst);
        for ud in [8, 16, 24] {
            // SAFETY: as in `fill`.
            unsafe { r.push_op(opcode::Nop::new().build().user_data(ud), -1) };
        }
        let _cq = sync::lock(&r.cq);
        // SAFETY (both looks): the cq lock is held; a look at the length.
        let queued = || unsafe { r.ring.completion_shared() }.len();
        for _ in 0..1000 {
            if queued() == 3 {
                break;
            }
            r.submit_now();
            std::thread::yield_now();
        }
        assert_eq!(queued(), 3);
        // A handler that waited for the kernel to take a submission (a
        // close does) would otherwise wait for room its own reaper holds.
        let mut left = Vec::new();
        r.reap(&mut |c| {
            if let Reaped::Op(..) = c {
                left.push(queued());
            }
        });
        assert_eq!(left, vec![0, 0, 0]);
    }

    #[test]
    fn a_request_cancelled_in_the_backlog_ends_with_ecanceled_and_never_runs() {
        let Some(r) = refusing_ring() else { return };
        let uds = fill(&r, 2);
        let victim = uds[uds.len() - 2];
        r.cancel(victim);
        assert_eq!(backlog_len(&r), 2, "taken out of the backlog");
        let done = reap_all(&r, uds.len());
        let expected: Vec<_> = uds
            .iter()
            .map(|&ud| (ud, if ud == victim { -libc::ECANCELED } else { 0 }))
            .collect();
        let mut sorted = done.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected);
        assert_eq!(r.in_flight(), 0);
    }

    #[test]
    fn closing_a_descriptor_takes_its_requests_out_of_the_backlog() {
        let Some(r) = refusing_ring() else { return };
        let (rd, wr) = pipe();
        let mut uds = fill(&r, 0);
        let mut bufs = [[0u8; 4]; 2];
        let mut reads = Vec::new();
        for b in &mut bufs {
            let ud = 8 * (uds.len() as u64 + 1);
            let entry = opcode::Read::new(types::Fd(rd), b.as_mut_ptr(), 4)
                .build()
                .user_data(ud);
            // SAFETY: the buffers outlive the ring's use of them (these
            // reads never reach the kernel; the test checks it).
            unsafe { r.push_op(entry, rd) };
            uds.push(ud);
            reads.push(ud);
        }
        let after = 8 * (uds.len() as u64 + 1);
        // SAFETY: as in `fill`.
        unsafe { r.push_op(opcode::Nop::new().build().user_data(after), -1) };
        uds.push(after);
        r.cancel_fd(rd);
        let done = reap_all(&r, uds.len());
        let mut sorted = done.clone();
        sorted.sort_unstable();
        let expected: Vec<_> = uds
            .iter()
            .map(|ud| {
                (
                    *ud,
                    if reads.contains(ud) {
                        -libc::ECANCELED
                    } else {
                        0
                    },
                )
            })
            .collect();
        assert_eq!(sorted, expected);
        // Neither read reached the kernel: the bytes written now are still
        // there for a plain read.
        // SAFETY: plain system calls on our pipe, with live buffers.
        unsafe {
            assert_eq!(libc::write(wr, b"ping".as_ptr().cast(), 4), 4);
            let mut got = [0u8; 4];
            assert_eq!(libc::read(rd, got.as_mut_ptr().cast(), 4), 4);
            assert_eq!(&got, b"ping");
            libc::close(rd);
            libc::close(wr);
        }
        assert_eq!(bufs, [[0; 4]; 2]);
    }
}
