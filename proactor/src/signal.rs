//! [`SignalSet`]: waiting for signals (Asio's `signal_set`).
//!
//! Signal handlers are process-wide, sets belong to contexts. So, as in
//! Asio, a process-wide registry records which sets want which signals. The
//! handler itself (installed through `signal-hook-registry`, which chains
//! with other handlers) only writes the signal number to a pipe; a
//! dispatcher thread reads the pipe and completes the waits of every set
//! that wants the signal, each on its own context. A signal that arrives
//! while a set has no wait pending is kept (once per signal number) for its
//! next wait.

use crate::executor::IoExecutor;
use crate::op::OpPtr;
use crate::reactor::op::{
    CancelTicket, Home, Progress, RawFd, Reactive, ReactorOp, ReactorOpHeader,
};
use crate::scheduler::Scheduler;
use crate::sync::{self, Arc, Mutex};
use crate::token::{CompletionHandler, CompletionToken, Initiation};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::{OnceLock, Weak};

/// Waits for signals: `SIGINT`, `SIGTERM`, `SIGHUP`, `SIGUSR1`, ...
///
/// ```no_run
/// use proactor::{IoContext, SignalSet};
///
/// let ctx = IoContext::new()?;
/// let signals = SignalSet::new(&ctx.executor());
/// signals.add(libc::SIGINT)?;
/// signals.add(libc::SIGTERM)?;
/// signals.async_wait(|r: std::io::Result<i32>| {
///     println!("got signal {}", r.unwrap());
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SignalSet {
    shared: Arc<SetShared>,
}

struct SetShared {
    ex: IoExecutor,
    state: Mutex<SetState>,
}

#[derive(Default)]
struct SetState {
    signals: BTreeSet<i32>,
    /// Signals that arrived with no wait pending, in arrival order.
    pending: VecDeque<i32>,
    /// Waiting operations (reactor operations holding a unit of work).
    waiters: VecDeque<OpPtr>,
}

impl SignalSet {
    /// An empty set on `ex`'s context.
    pub fn new(ex: &IoExecutor) -> SignalSet {
        SignalSet {
            shared: Arc::new(SetShared {
                ex: ex.clone(),
                state: Mutex::new(SetState::default()),
            }),
        }
    }

    /// Adds `signal` to the set (installing the process's handler for it
    /// the first time). Signals that cannot be caught (`SIGKILL`,
    /// `SIGSTOP`) or that the runtime must not take over (`SIGSEGV`,
    /// `SIGILL`, `SIGFPE`, `SIGBUS`) fail with `InvalidInput`.
    pub fn add(&self, signal: i32) -> io::Result<()> {
        registry()?.add(&self.shared, signal)?;
        sync::lock(&self.shared.state).signals.insert(signal);
        Ok(())
    }

    /// Removes `signal` from the set.
    pub fn remove(&self, signal: i32) -> io::Result<()> {
        let mut g = sync::lock(&self.shared.state);
        g.signals.remove(&signal);
        g.pending.retain(|&s| s != signal);
        drop(g);
        if let Ok(r) = registry() {
            r.remove(&self.shared, signal);
        }
        Ok(())
    }

    /// Removes every signal from the set.
    pub fn clear(&self) -> io::Result<()> {
        let signals: Vec<i32> = sync::lock(&self.shared.state)
            .signals
            .iter()
            .copied()
            .collect();
        for s in signals {
            self.remove(s)?;
        }
        Ok(())
    }

    /// Waits for one of the set's signals; the token receives its number.
    /// A signal that arrived earlier, with no wait pending, completes the
    /// wait at once (posted, never inline).
    pub fn async_wait<T: CompletionToken<(io::Result<i32>,)>>(&self, token: T) -> T::Output {
        token.launch(WaitInit(self.shared.clone()))
    }

    /// Pending waits complete with "operation aborted"; returns how many.
    pub fn cancel(&self) -> usize {
        let waiters = std::mem::take(&mut sync::lock(&self.shared.state).waiters);
        let n = waiters.len();
        for op in waiters {
            finish(
                &self.shared.ex.sched,
                op,
                Err(crate::error::operation_aborted()),
            );
        }
        n
    }
}

impl Drop for SignalSet {
    fn drop(&mut self) {
        self.cancel();
        let _ = self.clear();
    }
}

impl fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalSet")
            .field("signals", &sync::lock(&self.shared.state).signals)
            .finish()
    }
}

/// A wait: completes with the signal number (delivered through `perform`,
/// whose descriptor argument carries it) or an error.
struct Wait(io::Result<i32>);

impl Reactive for Wait {
    type Args = (io::Result<i32>,);

    fn perform(&mut self, signal: RawFd) -> Progress {
        self.0 = Ok(signal);
        Progress::Done
    }

    fn fail(&mut self, e: io::Error) {
        self.0 = Err(e);
    }

    fn into_args(self) -> Self::Args {
        (self.0,)
    }
}

struct WaitInit(Arc<SetShared>);

impl Initiation<(io::Result<i32>,)> for WaitInit {
    fn initiate<H: CompletionHandler<(io::Result<i32>,)>>(self, handler: H) {
        let sched = &self.0.ex.sched;
        sched.work_started();
        let (op, cancellable) = ReactorOp::new_cancellable(
            Wait(Err(io::ErrorKind::Other.into())),
            handler,
            Home::RECYCLED,
        );
        if let Some(c) = cancellable {
            let (shared, ticket) = (self.0.clone(), c.ticket.clone());
            c.install(move || shared.cancel_one(&ticket));
        }
        let mut g = sync::lock(&self.0.state);
        // SAFETY: `op` is a reactor operation we own.
        if unsafe {
            ReactorOpHeader::cancel_requested(ReactorOpHeader::from_op(NonNull::new_unchecked(
                op.as_ptr(),
            )))
        } {
            drop(g);
            return finish(sched, op, Err(crate::error::operation_aborted()));
        }
        match g.pending.pop_front() {
            Some(signal) => {
                drop(g);
                finish(sched, op, Ok(signal));
            }
            None => g.waiters.push_back(op),
        }
    }
}

/// Gives a wait its outcome and posts it.
fn finish(sched: &Scheduler, op: OpPtr, r: io::Result<i32>) {
    // SAFETY: `op` is a signal wait (a reactor operation) that we own.
    let raw = unsafe { ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())) };
    match r {
        // SAFETY: as above.
        Ok(signal) => unsafe {
            ReactorOpHeader::perform(raw, signal);
        },
        // SAFETY: as above.
        Err(e) => unsafe { ReactorOpHeader::fail(raw, e) },
    }
    sched.post_completion(op);
}

impl SetShared {
    /// Cancels the one pending wait holding `ticket`.
    fn cancel_one(&self, ticket: &CancelTicket) {
        let mut g = sync::lock(&self.state);
        let i = g.waiters.iter().position(|op| {
            // SAFETY: pending waits are live reactor operations.
            unsafe {
                ReactorOpHeader::has_ticket(
                    ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())),
                    ticket,
                )
            }
        });
        let op = i.and_then(|i| g.waiters.remove(i));
        drop(g);
        if let Some(op) = op {
            finish(&self.ex.sched, op, Err(crate::error::operation_aborted()));
        }
    }

    fn deliver(&self, signal: i32) {
        let mut g = sync::lock(&self.state);
        if !g.signals.contains(&signal) {
            return;
        }
        match g.waiters.pop_front() {
            Some(op) => {
                drop(g);
                finish(&self.ex.sched, op, Ok(signal));
            }
            None => {
                if !g.pending.contains(&signal) {
                    g.pending.push_back(signal);
                }
            }
        }
    }
}

// ----- the process-wide registry -------------------------------------------

struct Registry {
    inner: Mutex<RegistryInner>,
    /// Written by the signal handlers, read by the dispatcher thread.
    pipe_write: OwnedFd,
}

#[derive(Default)]
struct RegistryInner {
    /// Sets per signal number.
    sets: HashMap<i32, Vec<Weak<SetShared>>>,
    /// Signals whose handler is installed (it stays installed).
    installed: BTreeSet<i32>,
}

static REGISTRY: OnceLock<Result<Registry, io::ErrorKind>> = OnceLock::new();

/// The registry, started (pipe and dispatcher thread) on first use.
fn registry() -> io::Result<&'static Registry> {
    match REGISTRY.get_or_init(|| Registry::start().map_err(|e| e.kind())) {
        Ok(r) => Ok(r),
        Err(kind) => Err((*kind).into()),
    }
}

/// Signals a library must not take over: they report faults of the
/// program itself, or cannot be caught at all.
const FORBIDDEN: &[i32] = &[
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGBUS,
];

impl Registry {
    fn start() -> io::Result<Registry> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are ours.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&read, &write] {
            // SAFETY: fcntl on descriptors we own.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // The handler must never block: a full pipe drops the wake-up
        // (the dispatcher has unread bytes for that signal anyway).
        // SAFETY: as above.
        unsafe {
            let flags = libc::fcntl(write.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(write.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        std::thread::Builder::new()
            .name("proactor-signals".into())
            .spawn(move || dispatch(read))?;
        Ok(Registry {
            inner: Mutex::new(RegistryInner::default()),
            pipe_write: write,
        })
    }

    fn add(&'static self, set: &Arc<SetShared>, signal: i32) -> io::Result<()> {
        if FORBIDDEN.contains(&signal) || signal <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this signal cannot be waited for",
            ));
        }
        let mut g = sync::lock(&self.inner);
        if !g.installed.contains(&signal) {
            let fd = self.pipe_write.as_raw_fd();
            let action = move || {
                let byte = signal as u8;
                // Async-signal-safe: one non-blocking write to a pipe.
                // SAFETY: writes one byte from a live local.
                unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
            };
            // SAFETY: the action only calls `write(2)`, which is
            // async-signal-safe, and touches no locks or allocations.
            unsafe { signal_hook_registry::register(signal, action) }?;
            g.installed.insert(signal);
        }
        let sets = g.sets.entry(signal).or_default();
        sets.retain(|w| w.strong_count() > 0);
        if !sets
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(set)))
        {
            sets.push(Arc::downgrade(set));
        }
        Ok(())
    }

    fn remove(&self, set: &Arc<SetShared>, signal: i32) {
        let mut g = sync::lock(&self.inner);
        if let Some(sets) = g.sets.get_mut(&signal) {
            sets.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(set)));
        }
    }

    fn sets_for(&self, signal: i32) -> Vec<Arc<SetShared>> {
        let g = sync::lock(&self.inner);
        g.sets
            .get(&signal)
            .map(|v| v.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }
}

/// The dispatcher thread: reads signal numbers from the pipe and delivers
/// them to the sets that want them.
fn dispatch(read: OwnedFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into a live buffer from our pipe.
        let n = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        let Ok(registry) = registry() else { return };
        for &byte in &buf[..n as usize] {
            let signal = i32::from(byte);
            for set in registry.sets_for(signal) {
                set.deliver(signal);
            }
        }
    }
}
