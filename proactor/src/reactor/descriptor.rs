//! Per-descriptor state (Asio's `epoll_reactor::descriptor_state`).
//!
//! Each registered descriptor has three queues of waiting operations (read,
//! write, except) under its own lock, and is itself a scheduler operation:
//! when the backend reports readiness, the state is queued once on the
//! scheduler, and running it (`perform_io`) performs the ready operations in
//! order. The first one finished completes right there; the others are
//! handed to the scheduler in one batch.
//!
//! States live in a pool owned by the reactor and are reused, never freed,
//! while the reactor lives: an event the backend reported just before a
//! descriptor was closed may still name its state, which then only gets a
//! harmless extra attempt (operations retry their non-blocking call).
// Readiness is only reported on Unix (Windows sockets use the states for
// their lock, open/closed life and block caches, not their queues).
#![cfg_attr(not(unix), allow(dead_code))]

use super::op::{OpKind, Progress, RawFd, ReactorOpHeader};
use crate::op::queue::OpQueue;
use crate::op::recycle::Spare;
use crate::op::{Action, OpHeader, OpPtr};
use crate::scheduler::Scheduler;
use crate::sync::{self, AtomicBool, AtomicU32, Mutex, MutexGuard, Ordering::SeqCst};
use std::io;
use std::ptr::NonNull;

/// Readiness, as reported by any backend.
pub(crate) mod ready {
    pub(crate) const READ: u32 = 1;
    pub(crate) const WRITE: u32 = 2;
    pub(crate) const EXCEPT: u32 = 4;
    /// Error or hang-up: every kind of operation should retry.
    pub(crate) const ERROR: u32 = 8;
    /// The peer sends nothing more: reads never block again.
    pub(crate) const READ_CLOSED: u32 = 16;
}

const KINDS: [OpKind; 3] = [OpKind::Read, OpKind::Write, OpKind::Except];

fn ready_bit(kind: OpKind) -> u32 {
    match kind {
        OpKind::Read => ready::READ,
        OpKind::Write => ready::WRITE,
        OpKind::Except => ready::EXCEPT,
    }
}

/// What the descriptor lock protects.
pub(crate) struct Guarded {
    pub(crate) fd: RawFd,
    pub(crate) queues: [OpQueue; 3],
    /// The backend's registered interest (backend-specific bits).
    pub(crate) registered: u32,
    /// Try an operation at once when its queue is empty (cleared after a
    /// short read or partial write, set again by the next readiness).
    pub(crate) try_speculative: [bool; 3],
    /// The backend reported the end of the peer's stream. A short read is
    /// then no sign of a drained descriptor: the end of stream may have
    /// come with the last bytes, in the same readiness event, and no other
    /// event will follow.
    pub(crate) read_closed: bool,
    /// Deregistered: new operations fail, readiness is ignored.
    pub(crate) shutdown: bool,
    /// Closed without closing the descriptor, whose requests a ring may
    /// still hold: the ring closes it later (see `Reactor::end_fd`). The
    /// state is never opened or pooled again.
    pub(crate) left_open: bool,
    /// Released by its object while requests of its were still in the
    /// kernel (a ring): it goes back to the pool when the last one ends.
    pub(crate) pool_when_idle: bool,
    /// A ring's accepts (see `reactor/uring.rs`).
    #[cfg(target_os = "linux")]
    pub(crate) accepts: super::uring::Accepts,
}

impl Guarded {
    /// An operation of kind `k` finished short: wait for readiness before
    /// trying the next one at once (unless reads can no longer block).
    /// True if the next one should wait.
    pub(crate) fn exhausted(&mut self, k: usize) -> bool {
        if k == OpKind::Read as usize && self.read_closed {
            return false;
        }
        self.try_speculative[k] = false;
        true
    }

    /// Nothing of the descriptor's is queued, or (on a ring) in the
    /// kernel.
    pub(crate) fn idle(&self) -> bool {
        #[cfg(target_os = "linux")]
        if self.accepts.running() {
            return false;
        }
        self.queues.iter().all(OpQueue::is_empty)
    }

    /// True (once) when a state released while busy has become idle: the
    /// caller gives it back to the pool after dropping the lock.
    pub(crate) fn released_now(&mut self) -> bool {
        let now = self.pool_when_idle && self.idle();
        if now {
            self.pool_when_idle = false;
        }
        now
    }

    /// Ready to be opened again with a new descriptor.
    pub(crate) fn reset(&mut self, fd: RawFd, registered: u32) {
        self.fd = fd;
        self.registered = registered;
        self.try_speculative = [true; 3];
        self.read_closed = false;
        self.shutdown = false;
    }
}

#[repr(C)]
pub(crate) struct DescriptorState {
    /// Queued on the scheduler when the descriptor becomes ready.
    op: OpHeader,
    sched: *const Scheduler,
    /// Readiness accumulated since the last `perform_io`.
    ready: AtomicU32,
    /// `op` is in the scheduler's queue.
    queued: AtomicBool,
    guarded: Mutex<Guarded>,
    /// Operation blocks kept for the next read, write and except
    /// operation: they follow the state through its owners.
    spares: [Spare; 3],
}

// SAFETY: `sched` points to the scheduler that owns (through its reactor)
// this state and outlives it; everything else is synchronised.
unsafe impl Send for DescriptorState {}
unsafe impl Sync for DescriptorState {}

impl DescriptorState {
    fn new(sched: *const Scheduler) -> Self {
        DescriptorState {
            op: OpHeader::new(Self::func),
            sched,
            ready: AtomicU32::new(0),
            queued: AtomicBool::new(false),
            guarded: Mutex::new(Guarded {
                fd: -1,
                queues: [OpQueue::new(), OpQueue::new(), OpQueue::new()],
                registered: 0,
                try_speculative: [true; 3],
                read_closed: false,
                shutdown: true,
                left_open: false,
                pool_when_idle: false,
                #[cfg(target_os = "linux")]
                accepts: Default::default(),
            }),
            spares: [Spare::new(), Spare::new(), Spare::new()],
        }
    }

    /// The block cache for operations of `kind`.
    pub(crate) fn spare(&self, kind: OpKind) -> &Spare {
        &self.spares[kind as usize]
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Guarded> {
        sync::lock(&self.guarded)
    }

    /// The scheduler this descriptor's completions go to.
    pub(crate) fn scheduler(&self) -> &Scheduler {
        // SAFETY: see the `Send`/`Sync` impls.
        unsafe { &*self.sched }
    }

    /// Records readiness reported by the backend; returns the state's
    /// scheduler operation if it must be queued (it is not queued already).
    pub(crate) fn set_ready(&self, bits: u32) -> Option<OpPtr> {
        self.ready.fetch_or(bits, SeqCst);
        if self.queued.swap(true, SeqCst) {
            return None;
        }
        // SAFETY: the header is pool-owned; its function ignores `Destroy`,
        // and `queued` guarantees it sits in at most one queue.
        Some(unsafe { OpPtr::from_raw(NonNull::from(&self.op)) })
    }

    /// Fails and removes every waiting operation; returns them.
    pub(crate) fn take_all(g: &mut Guarded, e: impl Fn() -> io::Error) -> OpQueue {
        let out = OpQueue::new();
        for q in &g.queues {
            while let Some(op) = q.pop() {
                // SAFETY: queued operations are reactor operations; we hold
                // the descriptor lock.
                unsafe {
                    ReactorOpHeader::fail(
                        ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())),
                        e(),
                    )
                };
                out.push(op);
            }
        }
        out
    }

    /// The scheduler runs this when the descriptor is ready.
    unsafe fn func(p: NonNull<OpHeader>, action: Action) {
        if action == Action::Run {
            // SAFETY: the header is the first field of a pooled, live state.
            unsafe { p.cast::<DescriptorState>().as_ref() }.perform_io();
        }
    }

    fn perform_io(&self) {
        // Clear `queued` before taking the readiness: an event arriving in
        // between queues the state again instead of being lost.
        self.queued.store(false, SeqCst);
        let ready = self.ready.swap(0, SeqCst);
        let done = OpQueue::new();
        let mut count = 0;
        {
            let mut g = self.lock();
            if g.shutdown {
                return;
            }
            let fd = g.fd;
            if ready & ready::READ_CLOSED != 0 {
                g.read_closed = true;
            }
            // Exceptional data first, as Asio does, then writes, then reads.
            for kind in KINDS.iter().rev() {
                if ready & (ready_bit(*kind) | ready::ERROR) == 0 {
                    continue;
                }
                let k = *kind as usize;
                g.try_speculative[k] = true;
                while let Some(front) = g.queues[k].front() {
                    // SAFETY: queued operations are reactor operations and
                    // we hold the descriptor lock.
                    let progress =
                        unsafe { ReactorOpHeader::perform(ReactorOpHeader::from_op(front), fd) };
                    if progress == Progress::Pending {
                        break;
                    }
                    if let Some(op) = g.queues[k].pop() {
                        done.push(op);
                        count += 1;
                    }
                    if progress == Progress::DoneExhausted && g.exhausted(k) {
                        break;
                    }
                }
            }
        }
        let sched = self.scheduler();
        let first = done.pop();
        if count > 1 {
            sched.post_completions(done, count - 1);
        }
        if let Some(op) = first {
            sched.complete_inline(op);
        }
    }
}

/// Descriptor states, reused and never freed while the reactor lives.
pub(crate) struct Pool {
    sched: *const Scheduler,
    /// Boxed: the backend holds the states' addresses, which must not move
    /// when the vector grows.
    #[allow(clippy::vec_box)]
    all: Vec<Box<DescriptorState>>,
    free: Vec<NonNull<DescriptorState>>,
}

// SAFETY: the pool owns its states; `sched` as for `DescriptorState`.
unsafe impl Send for Pool {}

impl Pool {
    pub(crate) fn new(sched: *const Scheduler) -> Self {
        Pool {
            sched,
            all: Vec::new(),
            free: Vec::new(),
        }
    }

    /// A closed state with empty queues.
    pub(crate) fn take(&mut self) -> NonNull<DescriptorState> {
        let state = match self.free.pop() {
            Some(s) => s,
            None => {
                let b = Box::new(DescriptorState::new(self.sched));
                let p = NonNull::from(&*b);
                self.all.push(b);
                p
            }
        };
        // SAFETY: pooled states live as long as the pool.
        let mut g = unsafe { state.as_ref() }.lock();
        debug_assert!(g.shutdown && g.queues.iter().all(OpQueue::is_empty));
        g.fd = -1;
        g.registered = 0;
        drop(g);
        state
    }

    /// Returns a shut-down state for reuse.
    pub(crate) fn give(&mut self, state: NonNull<DescriptorState>) {
        self.free.push(state);
    }

    /// Every state ever handed out (for shutdown).
    pub(crate) fn all(&self) -> impl Iterator<Item = &DescriptorState> {
        self.all.iter().map(|b| &**b)
    }
}
