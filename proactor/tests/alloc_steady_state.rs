//! With a counting global allocator: a steady chain of handlers (each one
//! queueing the next) allocates nothing per handler, on one thread, for
//! post, defer, dispatch, strand post and a yielding `co_spawn` task; and a
//! burst of timers, once one burst has warmed the memory up, allocates
//! nothing either.
//!
//! The allocator counts per thread, so the test harness's own threads do
//! not disturb the figures.

use proactor::{co_spawn, Detached, Executor, IoContext, SteadyTimer, Strand};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

// SAFETY: forwards to the system allocator; the counter is a const
// thread-local that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARM_UP: u64 = 1_000;
const MEASURED: u64 = 100_000;

/// Records the allocation count when the chain enters and leaves the
/// measured stretch.
#[derive(Default)]
struct Window {
    at_start: Cell<u64>,
    at_end: Cell<u64>,
}

impl Window {
    fn step(&self, i: u64) {
        if i == WARM_UP {
            self.at_start.set(allocations());
        } else if i == WARM_UP + MEASURED {
            self.at_end.set(allocations());
        }
    }
    fn per_handler(&self) -> f64 {
        (self.at_end.get() - self.at_start.get()) as f64 / MEASURED as f64
    }
}

// The chain's state lives on the test's stack; handlers reach it through a
// raw address, so that the closures themselves capture nothing that
// allocates. Everything runs on this one thread.
struct Chain<E: 'static> {
    ex: E,
    i: Cell<u64>,
    window: Window,
    how: fn(&E, Link<E>),
}

struct Link<E: 'static>(*const Chain<E>);
// SAFETY: the chain is only ever touched on the test thread.
unsafe impl<E> Send for Link<E> {}

impl<E: Executor> Link<E> {
    fn call(self) {
        // SAFETY: the chain outlives the run() that calls its links.
        let chain = unsafe { &*self.0 };
        let i = chain.i.get() + 1;
        chain.i.set(i);
        chain.window.step(i);
        if i < WARM_UP + MEASURED + 10 {
            (chain.how)(&chain.ex, self);
        }
    }
}

fn chain_allocations<E: Executor>(ctx: &IoContext, ex: E, how: fn(&E, Link<E>)) -> f64 {
    let chain = Chain {
        ex,
        i: Cell::new(0),
        window: Window::default(),
        how,
    };
    let link = Link(&chain as *const Chain<E>);
    chain.ex.post(move || link.call());
    ctx.run();
    ctx.restart();
    assert!(
        chain.i.get() >= WARM_UP + MEASURED,
        "the chain ran to the end"
    );
    chain.window.per_handler()
}

/// How a chain queues its next link.
type Step<E> = fn(&E, Link<E>);

fn post<E: Executor>(ex: &E, l: Link<E>) {
    ex.post(move || l.call());
}
fn defer<E: Executor>(ex: &E, l: Link<E>) {
    ex.defer(move || l.call());
}
fn dispatch_then_post<E: Executor>(ex: &E, l: Link<E>) {
    // Dispatch runs inline; recurse a little, then unwind through a post.
    // SAFETY: see `Link::call`.
    let depth = unsafe { (*l.0).i.get() } % 32;
    if depth == 0 {
        ex.post(move || l.call());
    } else {
        ex.dispatch(move || l.call());
    }
}

#[test]
fn steady_handler_chains_allocate_nothing() {
    for hint in [None, Some(1)] {
        let ctx = match hint {
            None => IoContext::new().unwrap(),
            Some(h) => IoContext::with_concurrency_hint(h).unwrap(),
        };
        let ex = ctx.executor();
        let cases: [(&str, Step<_>); 3] = [
            ("post", post),
            ("defer", defer),
            ("dispatch", dispatch_then_post),
        ];
        for (name, how) in cases {
            let per = chain_allocations(&ctx, ex.clone(), how);
            assert_eq!(
                per, 0.0,
                "{name} chain, hint {hint:?}: {per} allocations per handler"
            );
        }
        let strand = Strand::new(ctx.executor());
        let cases: [(&str, Step<_>); 3] = [
            ("strand post", post),
            ("strand defer", defer),
            ("strand dispatch", dispatch_then_post),
        ];
        for (name, how) in cases {
            let per = chain_allocations(&ctx, strand.clone(), how);
            assert_eq!(
                per, 0.0,
                "{name} chain, hint {hint:?}: {per} allocations per handler"
            );
        }
    }
}

/// Yields `n` times, recording the allocation window as it goes.
struct Yielder {
    i: u64,
    window: Arc<Mutex<(u64, u64)>>,
}

impl Future for Yielder {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.i += 1;
        if self.i == WARM_UP {
            self.window.lock().unwrap().0 = allocations();
        } else if self.i == WARM_UP + MEASURED {
            self.window.lock().unwrap().1 = allocations();
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_yielding_task_allocates_nothing_per_poll() {
    let ctx = IoContext::new().unwrap();
    let window = Arc::new(Mutex::new((0, 0)));
    co_spawn(
        &ctx.executor(),
        Yielder {
            i: 0,
            window: window.clone(),
        },
        Detached,
    );
    ctx.run();
    let (a, b) = *window.lock().unwrap();
    assert!(b > 0, "the task ran to the end");
    assert_eq!(b - a, 0, "{} allocations over {MEASURED} polls", b - a);
}

static FIRED: AtomicUsize = AtomicUsize::new(0);

/// Makes `n` timers, waits on each (due within a millisecond), runs them
/// all and drops them; returns the allocations made meanwhile.
fn timer_burst(ctx: &IoContext, timers: &mut Vec<SteadyTimer>, n: usize) -> u64 {
    let before = allocations();
    for i in 0..n {
        timers.push(SteadyTimer::new(&ctx.executor()));
        let t = timers.last().unwrap();
        t.expires_after(Duration::from_micros((i % 1000) as u64));
        t.async_wait(|r: std::io::Result<()>| {
            r.unwrap();
            FIRED.fetch_add(1, Ordering::Relaxed);
        });
    }
    ctx.run();
    ctx.restart();
    timers.clear();
    allocations() - before
}

// One test, not two: the memory a dropped context leaves is the process's,
// and tests run at once would take it from each other.
#[test]
fn a_burst_of_timers_allocates_nothing_once_one_has_run_in_any_context() {
    const N: usize = 20_000;
    let ctx = IoContext::new().unwrap();
    let mut timers = Vec::with_capacity(N);
    // The first burst takes the memory: the timers' blocks, the heap.
    timer_burst(&ctx, &mut timers, N);
    let fired = FIRED.load(Ordering::Relaxed);
    let allocs = timer_burst(&ctx, &mut timers, N);
    assert_eq!(FIRED.load(Ordering::Relaxed) - fired, N, "every wait fired");
    assert!(
        allocs <= ring_slack(),
        "{allocs} allocations for {N} timers"
    );

    // A new context (once it has run, which sets its backend up) uses
    // what the dropped one left: the blocks and the heap's storage.
    drop(ctx);
    let ctx = IoContext::new().unwrap();
    timer_burst(&ctx, &mut timers, 1);
    let allocs = timer_burst(&ctx, &mut timers, N);
    assert!(
        allocs <= ring_slack(),
        "{allocs} allocations for {N} timers in a new context"
    );
}

/// Allocations a burst may make outside the timers: none on epoll. The
/// ring boxes the time of each timeout request it has in flight (reused
/// once the kernel reports it), and how many are in flight at once depends
/// on the kernel's timing.
fn ring_slack() -> u64 {
    match std::env::var("PROACTOR_BACKEND").as_deref() {
        Ok("io_uring") => 32,
        _ => 0,
    }
}
