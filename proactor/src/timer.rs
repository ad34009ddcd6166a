//! Timers: [`SteadyTimer`] (monotonic clock) and [`SystemTimer`] (wall
//! clock), as Asio's `steady_timer` and `system_timer`.

use crate::executor::IoExecutor;
use crate::op::recycle;
use crate::op::slab;
use crate::reactor::op::{Home, Progress, RawFd, Reactive, ReactorOp, ReactorOpHeader};
use crate::reactor::timer_queue::{steady_origin, TimerEntry};
use crate::reactor::{Clock, Reactor, Steady, System};
use crate::sync::{self, AtomicUsize, Mutex, Ordering};
use crate::token::{CompletionHandler, CompletionToken, Initiation};
use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::time::{Duration, Instant, SystemTime};

/// What timers share with their pending operations.
struct Shared<C: Clock> {
    /// Dropped last, by [`SharedRef`], once the block is back in the slab
    /// of the reactor that `ex` keeps alive.
    ex: ManuallyDrop<IoExecutor>,
    /// The context's reactor (which lives as long as the context, which
    /// `ex` keeps alive), or why it could not be created. Kept here so
    /// that no timer call looks it up again.
    reactor: Result<NonNull<Reactor>, io::ErrorKind>,
    /// Touched under the reactor's timer lock, or under `no_reactor` when
    /// there is no reactor.
    entry: UnsafeCell<TimerEntry<C::Time>>,
    no_reactor: Mutex<()>,
}

// SAFETY: `entry` is only accessed under a lock (see the field); the
// reactor is `Sync` and outlives `self`; everything else is thread-safe.
unsafe impl<C: Clock> Send for Shared<C> {}
// SAFETY: as for `Send`.
unsafe impl<C: Clock> Sync for Shared<C> {}

impl<C: Clock> Shared<C> {
    fn entry(&self) -> NonNull<TimerEntry<C::Time>> {
        // SAFETY: the pointer comes from a live UnsafeCell.
        unsafe { NonNull::new_unchecked(self.entry.get()) }
    }

    /// The context's reactor (created when the timer was).
    #[inline]
    fn reactor(&self) -> Result<&Reactor, io::ErrorKind> {
        // SAFETY: the reactor lives as long as the scheduler, which `ex`
        // keeps alive for as long as `self` lives.
        self.reactor.map(|r| unsafe { r.as_ref() })
    }

    /// Runs `f` on the entry under the right lock.
    fn with_entry<R>(&self, f: impl FnOnce(&mut TimerEntry<C::Time>) -> R) -> R {
        match self.reactor() {
            // SAFETY: the entry lives as long as `self`.
            Ok(r) => unsafe { r.timer_entry::<C, _>(self.entry(), f) },
            Err(_) => {
                let _g = sync::lock(&self.no_reactor);
                // SAFETY: without a reactor, `no_reactor` guards the entry.
                f(unsafe { &mut *self.entry.get() })
            }
        }
    }

    fn cancel(&self) -> usize {
        match self.reactor() {
            // SAFETY: the entry lives as long as `self`.
            Ok(r) => unsafe { r.timer_cancel::<C>(self.entry()) },
            // Without a reactor no wait is ever pending.
            Err(_) => 0,
        }
    }

    fn expiry(&self) -> C::Time {
        self.with_entry(|e| e.expiry)
    }

    fn set_expiry(&self, t: C::Time) -> usize {
        match self.reactor() {
            // SAFETY: the entry lives as long as `self`.
            Ok(r) => unsafe { r.timer_set_expiry::<C>(self.entry(), t) },
            Err(_) => self.with_entry(|e| {
                e.expiry = t;
                0
            }),
        }
    }
}

/// A counted reference to a timer's shared state, as an `Arc` (whose
/// memory comes from the global allocator), in a block of its reactor's
/// timer slab (see `op/slab.rs`): a timer is made without a `malloc`.
/// Without a reactor, the block comes from the recycling lists.
struct SharedRef<C: Clock>(NonNull<Counted<C>>);

#[repr(C)]
struct Counted<C: Clock> {
    refs: AtomicUsize,
    shared: Shared<C>,
}

// SAFETY: a `SharedRef` is a counted `&Shared` (which is `Send + Sync`);
// the count is atomic.
unsafe impl<C: Clock> Send for SharedRef<C> {}
// SAFETY: as for `Send`.
unsafe impl<C: Clock> Sync for SharedRef<C> {}

// Every timer's state fits a slab block.
const _: () = assert!(
    std::mem::size_of::<Counted<Steady>>() <= slab::BLOCK
        && std::mem::size_of::<Counted<System>>() <= slab::BLOCK
        && std::mem::align_of::<Counted<Steady>>() <= slab::ALIGN
        && std::mem::align_of::<Counted<System>>() <= slab::ALIGN
);

impl<C: Clock> SharedRef<C> {
    const LAYOUT: Layout = Layout::new::<Counted<C>>();

    fn new(shared: Shared<C>) -> Self {
        let block = match shared.reactor() {
            Ok(r) => r.timer_block(),
            Err(_) => recycle::alloc(Self::LAYOUT),
        };
        let p = block.cast::<Counted<C>>();
        // SAFETY: a fresh block, big and aligned enough for `Counted<C>`.
        unsafe {
            p.as_ptr().write(Counted {
                refs: AtomicUsize::new(1),
                shared,
            })
        };
        SharedRef(p)
    }

    /// Drops the state and gives its block back (the last reference went).
    ///
    /// # Safety
    /// `p` is a live `Counted` that nothing references any more.
    #[inline(never)]
    unsafe fn drop_slow(p: NonNull<Counted<C>>) {
        // SAFETY: caller's contract: ours alone now.
        unsafe {
            let shared = &mut (*p.as_ptr()).shared;
            // The heap may not keep a pointer to a freed entry.
            shared.cancel();
            let reactor = shared.reactor;
            // Kept until the block is back: it keeps the reactor alive.
            let ex = ManuallyDrop::take(&mut shared.ex);
            ptr::drop_in_place(p.as_ptr());
            match reactor {
                Ok(r) => r.as_ref().free_timer_block(p.cast()),
                Err(_) => recycle::dealloc(p.cast(), Self::LAYOUT),
            }
            drop(ex);
        }
    }
}

impl<C: Clock> Deref for SharedRef<C> {
    type Target = Shared<C>;

    #[inline]
    fn deref(&self) -> &Shared<C> {
        // SAFETY: the block lives while a reference counts it.
        unsafe { &(*self.0.as_ptr()).shared }
    }
}

impl<C: Clock> Clone for SharedRef<C> {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: as for `deref`.
        let refs = unsafe { &(*self.0.as_ptr()).refs };
        // Relaxed as `Arc`'s: the new reference comes from a live one.
        if refs.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            std::process::abort();
        }
        SharedRef(self.0)
    }
}

impl<C: Clock> Drop for SharedRef<C> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: as for `deref`.
        let refs = unsafe { &(*self.0.as_ptr()).refs };
        if refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other reference's last use happens before the drop.
        refs.load(Ordering::Acquire);
        // SAFETY: that was the last reference.
        unsafe { Self::drop_slow(self.0) }
    }
}

/// The wait operation: nothing to perform; completes when its timer expires
/// (success) or is cancelled (operation aborted).
struct Wait(io::Result<()>);

impl Reactive for Wait {
    type Args = (io::Result<()>,);

    fn perform(&mut self, _fd: RawFd) -> Progress {
        Progress::Done
    }

    fn fail(&mut self, e: io::Error) {
        self.0 = Err(e);
    }

    fn into_args(self) -> (io::Result<()>,) {
        (self.0,)
    }
}

struct WaitInit<C: Clock>(SharedRef<C>);

impl<C: Clock> Initiation<(io::Result<()>,)> for WaitInit<C> {
    fn initiate<H: CompletionHandler<(io::Result<()>,)>>(self, handler: H) {
        let shared = &self.0;
        // No unit of work is taken here: the reactor's timers hold one for
        // all their waits.
        let reactor = shared.reactor();
        let home = reactor.map_or(Home::RECYCLED, Home::timer_slab);
        let (op, cancellable) = ReactorOp::new_cancellable(Wait(Ok(())), handler, home);
        match reactor {
            Ok(r) => {
                if let Some(c) = cancellable {
                    let (shared, ticket) = (self.0.clone(), c.ticket.clone());
                    c.install(move || {
                        if let Ok(r) = shared.reactor() {
                            // SAFETY: `shared` keeps the entry alive.
                            unsafe { r.timer_cancel_one::<C>(shared.entry(), &ticket) }
                        }
                    });
                }
                // SAFETY: the entry lives as long as `shared`, whose drop
                // cancels it (removing it from the heap).
                unsafe { r.timer_wait::<C>(shared.entry(), op) }
            }
            Err(kind) => {
                // SAFETY: `op` is a reactor operation we own exclusively.
                unsafe {
                    ReactorOpHeader::fail(
                        ReactorOpHeader::from_op(NonNull::new_unchecked(op.as_ptr())),
                        io::Error::from(kind),
                    )
                };
                // Queued, it is work by being there.
                shared.ex.sched.post(op);
            }
        }
    }
}

/// The shared implementation of both timers.
struct Timer<C: Clock>(SharedRef<C>);

impl<C: Clock> Timer<C> {
    fn new(ex: &IoExecutor, expiry: C::Time) -> Self {
        let reactor = match ex.sched.reactor() {
            Ok(r) => Ok(NonNull::from(&**r)),
            Err(e) => Err(e.kind()),
        };
        Timer(SharedRef::new(Shared {
            ex: ManuallyDrop::new(ex.clone()),
            reactor,
            entry: UnsafeCell::new(TimerEntry::new(expiry)),
            no_reactor: Mutex::new(()),
        }))
    }

    fn async_wait<T: CompletionToken<(io::Result<()>,)>>(&self, token: T) -> T::Output {
        token.launch(WaitInit(self.0.clone()))
    }

    fn wait(&self) -> io::Result<()> {
        if let Err(kind) = self.0.reactor {
            return Err(kind.into());
        }
        loop {
            let (expiry, now) = (self.0.expiry(), C::now());
            if expiry <= now {
                return Ok(());
            }
            std::thread::sleep(C::until(expiry, now));
        }
    }
}

impl<C: Clock> Drop for Timer<C> {
    fn drop(&mut self) {
        // Dropping the timer aborts its waits, even if an unlaunched
        // operation still holds the shared state.
        self.0.cancel();
    }
}

macro_rules! timer_type {
    ($(#[$doc:meta])* $name:ident, $clock:ty, $time:ty, $now:expr, $past:expr) => {
        $(#[$doc])*
        pub struct $name(Timer<$clock>);

        impl $name {
            /// A timer on `ex`'s context, already expired: its expiry is a
            /// fixed instant in the past (as a default-constructed Asio
            /// timer's), so a wait completes at once until an expiry is set.
            ///
            /// ```
            #[doc = concat!("let ctx = proactor::IoContext::new()?;\nlet t = proactor::", stringify!($name), "::new(&ctx.executor());")]
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn new(ex: &IoExecutor) -> Self {
                $name(Timer::new(ex, $past))
            }

            /// Sets the expiry to `d` from now. Pending waits complete with
            /// "operation aborted"; returns how many there were.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let ctx = proactor::IoContext::new()?;\nlet t = proactor::", stringify!($name), "::new(&ctx.executor());")]
            /// assert_eq!(t.expires_after(Duration::from_secs(1)), 0);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn expires_after(&self, d: Duration) -> usize {
                self.expires_at($now + d)
            }

            /// Sets the expiry to `t`. Pending waits complete with
            /// "operation aborted"; returns how many there were.
            ///
            /// ```
            #[doc = concat!("let ctx = proactor::IoContext::new()?;\nlet t = proactor::", stringify!($name), "::new(&ctx.executor());")]
            #[doc = concat!("let when = std::time::", stringify!($now), " + std::time::Duration::from_millis(5);")]
            /// t.expires_at(when);
            /// assert_eq!(t.expiry(), when);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn expires_at(&self, t: $time) -> usize {
                self.0 .0.set_expiry(t)
            }

            /// The expiry, exactly as last set.
            ///
            /// ```
            #[doc = concat!("let ctx = proactor::IoContext::new()?;\nlet t = proactor::", stringify!($name), "::new(&ctx.executor());")]
            /// let _ = t.expiry();
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn expiry(&self) -> $time {
                self.0 .0.expiry()
            }

            /// Waits for the expiry, asynchronously: the token receives
            /// `Ok(())` when the timer expires, or "operation aborted" if it
            /// is cancelled, given a new expiry, or dropped first. The
            /// handler never runs inside `async_wait`, even if the timer has
            /// already expired.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let ctx = proactor::IoContext::new()?;\nlet t = proactor::", stringify!($name), "::new(&ctx.executor());")]
            /// t.expires_after(Duration::from_millis(10));
            /// t.async_wait(|r: std::io::Result<()>| assert!(r.is_ok()));
            /// ctx.run();
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn async_wait<T: CompletionToken<(io::Result<()>,)>>(&self, token: T) -> T::Output {
                self.0.async_wait(token)
            }

            /// Blocks the calling thread until the expiry.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let ctx = proactor::IoContext::new()?;\nlet t = proactor::", stringify!($name), "::new(&ctx.executor());")]
            /// t.expires_after(Duration::from_millis(1));
            /// t.wait()?;
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn wait(&self) -> io::Result<()> {
                self.0.wait()
            }

            /// Completes pending waits with "operation aborted"; returns how
            /// many there were. The expiry is unchanged.
            ///
            /// ```
            #[doc = concat!("let ctx = proactor::IoContext::new()?;\nlet t = proactor::", stringify!($name), "::new(&ctx.executor());")]
            /// t.expires_after(std::time::Duration::from_secs(60));
            /// t.async_wait(|r: std::io::Result<()>| assert!(proactor::error::is_operation_aborted(&r.unwrap_err())));
            /// assert_eq!(t.cancel(), 1);
            /// ctx.run();
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn cancel(&self) -> usize {
                self.0 .0.cancel()
            }

            /// The executor the timer's handlers run on.
            pub fn executor(&self) -> &IoExecutor {
                &self.0 .0.ex
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("expiry", &self.expiry()).finish()
            }
        }
    };
}

timer_type!(
    /// A timer on the monotonic clock (Asio's `steady_timer`).
    ///
    /// ```
    /// use proactor::{IoContext, SteadyTimer};
    /// use std::time::Duration;
    ///
    /// let ctx = IoContext::new()?;
    /// let timer = SteadyTimer::new(&ctx.executor());
    /// timer.expires_after(Duration::from_millis(20));
    /// timer.async_wait(|r: std::io::Result<()>| {
    ///     r.unwrap();
    ///     println!("20 ms later");
    /// });
    /// ctx.run();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    SteadyTimer,
    Steady,
    Instant,
    Instant::now(),
    // The same past instant for every new timer (reading the clock for
    // every timer costs more).
    steady_origin()
);

timer_type!(
    /// A timer on the system (wall) clock (Asio's `system_timer`).
    ///
    /// ```
    /// use proactor::{IoContext, SystemTimer};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let ctx = IoContext::new()?;
    /// let timer = SystemTimer::new(&ctx.executor());
    /// timer.expires_at(SystemTime::now() + Duration::from_millis(5));
    /// timer.async_wait(|r: std::io::Result<()>| r.unwrap());
    /// ctx.run();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    SystemTimer,
    System,
    SystemTime,
    SystemTime::now(),
    SystemTime::UNIX_EPOCH
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::op::ReactorOp;

    fn block_size<H: CompletionHandler<(io::Result<()>,)>>(_: &H) -> usize {
        std::mem::size_of::<ReactorOp<Wait, H>>()
    }

    #[test]
    fn a_wait_whose_handler_holds_two_words_fits_a_slab_block() {
        // One word more, and every such wait would come from the global
        // allocator: a `malloc` per wait, a third of a timer's set-up in
        // `timer_bench` (whose handler holds two words).
        let (a, b) = (1usize, 2usize);
        let handler = move |_: io::Result<()>| {
            let _ = (a, b);
        };
        assert!(
            block_size(&handler) <= slab::BLOCK,
            "{}",
            block_size(&handler)
        );
    }
}
