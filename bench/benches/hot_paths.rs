//! Criterion micro-benchmarks of proactor's hot paths, for development:
//! quick before/after figures for one code path while changing it, with
//! criterion's statistics and its comparison with the previous run. The
//! programs in `src/bin/` stay the reference figures (the same variants and
//! output lines as the Boost.Asio anchors); these are smaller and narrower.
//!
//! Run them all (about 50 s; `-- --quick` takes a few seconds):
//!
//! ```text
//! cargo bench -p proactor-bench --bench hot_paths
//! cargo bench -p proactor-bench --bench hot_paths -- --quick
//! ```
//!
//! or one group, or one benchmark, by a regular expression on its id
//! (`group/function/parameter`):
//!
//! ```text
//! cargo bench -p proactor-bench --bench hot_paths -- '^post/'
//! cargo bench -p proactor-bench --bench hot_paths -- '^timer/expired_fire'
//! ```
//!
//! Every context is run by the measuring thread alone, with the default
//! concurrency hint unless the id says `hint1`. Throughput is in elements:
//! handlers, timers or awaits per measured iteration, so criterion's `thrpt`
//! line is per operation and `time` is for the whole batch. Each iteration
//! checks what it ran, so a benchmark that stops measuring its path (a
//! `dispatch` that queues, a wait that does not abort) panics instead.
//!
//! Groups and what they isolate:
//!
//! - `post` (1000 handlers an iteration)
//!   - `post_then_run/{default,hint1}`: 1000 `post`s from outside `run()`
//!     (so onto the shared queue), then one `run()`: the push, then the
//!     scheduler's pop-and-call loop and running out of work. `hint1` takes
//!     the scheduler's one-thread mode (`with_concurrency_hint(1)`: popping
//!     without a lock).
//!   - `one_post_one_run/{default,hint1}` (1 handler an iteration): one
//!     `post`, one `run()`: the fixed cost of a `run()` call (entering,
//!     finding the queue empty, stopping and waking any sleepers), which
//!     the batch above spreads over 1000 handlers. Read `future/co_spawn_run`
//!     and `timer/arm_cancel` against it.
//!   - `chain/{post,post_hint1,defer}`: each handler posts (or defers) the
//!     next, so the queue never holds more than one handler: a push from
//!     inside `run()`. `post` takes the shared queue; `defer`, and `post`
//!     in one-thread mode, take the running thread's private queue.
//!   - `dispatch_inline`: one handler calls `dispatch` 1000 times; each
//!     runs inline. Isolates `running_in_this_thread()` (the call-stack
//!     look-up) and the inline call, without the queue.
//! - `strand` (1000 handlers an iteration)
//!   - `post_then_run`: 1000 `Strand::post`s, then `run()`: the strand's own
//!     queue and its handing batches to the scheduler.
//!   - `chain`: each strand handler posts the next through the strand: a
//!     strand that goes idle and is rescheduled for every handler.
//!   - `dispatch_inline`: `Strand::dispatch` 1000 times from inside a
//!     strand handler: the "already inside this strand" check and the
//!     inline call.
//! - `timer`
//!   - `arm_cancel` (100 timers an iteration): per timer `SteadyTimer::new`,
//!     `expires_after(1 h)`, `async_wait`, `cancel`, drop; then one `run()`
//!     delivers the 100 aborted completions. The timer queue's insert and
//!     removal and the cancelled operation's completion, never its firing.
//!   - `expired_fire` (1000 timers an iteration): only `run()` is timed,
//!     with 1000 timers already armed to `Instant::now()` and waited on (set
//!     up untimed, the same timers re-armed each iteration): collecting due
//!     timers from the timer queue and calling their handlers.
//! - `future`
//!   - `co_spawn_block_on` (1 an iteration): `block_on(co_spawn(.., async
//!     { .. }, UseFuture))`: spawning a task, its first poll from a posted
//!     handler, the result crossing a `UseFuture` and waking `block_on`.
//!   - `co_spawn_run` (1 an iteration): the same task with a closure token,
//!     driven by `run()`: the task machinery without `UseFuture`/`block_on`.
//!   - `await_expired_timer` (100 awaits an iteration): one task awaits
//!     `timer.async_wait(UseFuture)` on an already expired timer 100 times:
//!     per await, an operation's `UseFuture` completion, the wake that
//!     posts the task back, and its re-poll.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use proactor::error::is_operation_aborted;
use proactor::{co_spawn, Executor, IoContext, IoExecutor, SteadyTimer, Strand, UseFuture};
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Handlers per iteration in the `post` and `strand` groups.
const HANDLERS: u64 = 1000;
/// Timers per iteration in `timer/arm_cancel`.
const ARM_CANCEL_TIMERS: u64 = 100;
/// Timers per iteration in `timer/expired_fire`.
const FIRE_TIMERS: u64 = 1000;
/// Awaits per iteration in `future/await_expired_timer`.
const AWAITS: u64 = 100;

/// What a benchmark's handlers reach: a context, its executor, a strand on
/// it and a counter. Each benchmark leaks its own (a few hundred bytes and
/// one context for the process's lifetime) so that handlers capture a plain
/// `&'static Bed`: no reference counting in the measured path, as the C++
/// anchors reach their state through plain pointers.
struct Bed {
    ctx: IoContext,
    ex: IoExecutor,
    strand: Strand<IoExecutor>,
    count: AtomicU64,
}

fn new_bed(hint: Option<usize>) -> &'static Bed {
    let ctx = match hint {
        None => IoContext::new(),
        Some(h) => IoContext::with_concurrency_hint(h),
    }
    .expect("io context");
    let ex = ctx.executor();
    Box::leak(Box::new(Bed {
        strand: Strand::new(ex.clone()),
        ex,
        ctx,
        count: AtomicU64::new(0),
    }))
}

impl Bed {
    /// The handlers' work: a plain (non-RMW) increment, as the anchors'
    /// handlers increment a plain integer.
    #[inline]
    fn bump(&self) {
        self.count.store(self.count.load(Relaxed) + 1, Relaxed);
    }

    /// Runs the context until it is out of work, makes it runnable again,
    /// and checks that `expect` handlers bumped the counter.
    fn run_expecting(&self, expect: u64) -> usize {
        let ran = self.ctx.run();
        self.ctx.restart();
        assert_eq!(self.count.swap(0, Relaxed), expect, "handlers that ran");
        ran
    }
}

/// glibc's malloc takes faster paths until a process has a second thread;
/// make one first, as the anchor programs do, so figures do not depend on
/// whether criterion or a benchmark happened to start a thread.
fn multithreaded() {
    proactor_bench::force_multithreaded_process();
}

fn chain_link<const DEFER: bool>(bed: &'static Bed, left: u64) {
    bed.bump();
    if left > 1 {
        if DEFER {
            bed.ex.defer(move || chain_link::<DEFER>(bed, left - 1));
        } else {
            bed.ex.post(move || chain_link::<DEFER>(bed, left - 1));
        }
    }
}

fn post(c: &mut Criterion) {
    multithreaded();
    let mut g = c.benchmark_group("post");
    g.throughput(Throughput::Elements(HANDLERS));

    for (name, hint) in [("default", None), ("hint1", Some(1))] {
        let bed = new_bed(hint);
        g.bench_function(BenchmarkId::new("post_then_run", name), |b| {
            b.iter(|| {
                for _ in 0..HANDLERS {
                    bed.ex.post(move || bed.bump());
                }
                assert_eq!(bed.run_expecting(HANDLERS), HANDLERS as usize);
            })
        });
    }

    // One handler a run: what a `run()` call costs around its handlers.
    g.throughput(Throughput::Elements(1));
    for (name, hint) in [("default", None), ("hint1", Some(1))] {
        let bed = new_bed(hint);
        g.bench_function(BenchmarkId::new("one_post_one_run", name), |b| {
            b.iter(|| {
                bed.ex.post(move || bed.bump());
                assert_eq!(bed.run_expecting(1), 1);
            })
        });
    }
    g.throughput(Throughput::Elements(HANDLERS));

    for (name, hint, defer) in [
        ("post", None, false),
        ("post_hint1", Some(1), false),
        ("defer", None, true),
    ] {
        let bed = new_bed(hint);
        g.bench_function(BenchmarkId::new("chain", name), |b| {
            b.iter(|| {
                if defer {
                    bed.ex.post(move || chain_link::<true>(bed, HANDLERS));
                } else {
                    bed.ex.post(move || chain_link::<false>(bed, HANDLERS));
                }
                bed.run_expecting(HANDLERS);
            })
        });
    }

    let bed = new_bed(None);
    g.bench_function("dispatch_inline", |b| {
        b.iter(|| {
            bed.ex.post(move || {
                for _ in 0..HANDLERS {
                    bed.ex.dispatch(move || bed.bump());
                }
            });
            // Only the posted handler went through the scheduler: every
            // dispatch ran inline.
            assert_eq!(bed.run_expecting(HANDLERS), 1);
        })
    });
    g.finish();
}

fn strand_link(bed: &'static Bed, left: u64) {
    bed.bump();
    if left > 1 {
        bed.strand.post(move || strand_link(bed, left - 1));
    }
}

fn strand(c: &mut Criterion) {
    multithreaded();
    let mut g = c.benchmark_group("strand");
    g.throughput(Throughput::Elements(HANDLERS));

    let bed = new_bed(None);
    g.bench_function("post_then_run", |b| {
        b.iter(|| {
            for _ in 0..HANDLERS {
                bed.strand.post(move || bed.bump());
            }
            bed.run_expecting(HANDLERS);
        })
    });

    let bed = new_bed(None);
    g.bench_function("chain", |b| {
        b.iter(|| {
            bed.strand.post(move || strand_link(bed, HANDLERS));
            bed.run_expecting(HANDLERS);
        })
    });

    let bed = new_bed(None);
    g.bench_function("dispatch_inline", |b| {
        b.iter(|| {
            bed.strand.post(move || {
                for _ in 0..HANDLERS {
                    bed.strand.dispatch(move || bed.bump());
                }
                // Every dispatch ran inline, inside this strand handler.
                assert_eq!(bed.count.load(Relaxed), HANDLERS);
            });
            bed.run_expecting(HANDLERS);
        })
    });
    g.finish();
}

fn timer(c: &mut Criterion) {
    multithreaded();
    let mut g = c.benchmark_group("timer");

    let bed = new_bed(None);
    g.throughput(Throughput::Elements(ARM_CANCEL_TIMERS));
    g.bench_function("arm_cancel", |b| {
        b.iter(|| {
            for _ in 0..ARM_CANCEL_TIMERS {
                let t = SteadyTimer::new(&bed.ex);
                t.expires_after(Duration::from_secs(3600));
                t.async_wait(move |r: io::Result<()>| {
                    if matches!(&r, Err(e) if is_operation_aborted(e)) {
                        bed.bump();
                    }
                });
                assert_eq!(t.cancel(), 1);
            }
            bed.run_expecting(ARM_CANCEL_TIMERS);
        })
    });

    let bed = new_bed(None);
    let timers: Vec<SteadyTimer> = (0..FIRE_TIMERS)
        .map(|_| SteadyTimer::new(&bed.ex))
        .collect();
    g.throughput(Throughput::Elements(FIRE_TIMERS));
    g.bench_function("expired_fire", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let now = Instant::now();
                for t in &timers {
                    t.expires_at(now);
                    t.async_wait(move |r: io::Result<()>| {
                        if r.is_ok() {
                            bed.bump();
                        }
                    });
                }
                let t0 = Instant::now();
                let ran = bed.ctx.run();
                timed += t0.elapsed();
                bed.ctx.restart();
                assert_eq!(bed.count.swap(0, Relaxed), FIRE_TIMERS, "timers fired");
                black_box(ran);
            }
            timed
        })
    });
    g.finish();
}

fn future(c: &mut Criterion) {
    multithreaded();
    let mut g = c.benchmark_group("future");

    let bed = new_bed(None);
    g.throughput(Throughput::Elements(1));
    g.bench_function("co_spawn_block_on", |b| {
        b.iter(|| {
            let answer = co_spawn(&bed.ex, async { black_box(6u64) * 7 }, UseFuture);
            assert_eq!(bed.ctx.block_on(answer).expect("no panic"), 42);
        })
    });

    let bed = new_bed(None);
    g.bench_function("co_spawn_run", |b| {
        b.iter(|| {
            co_spawn(
                &bed.ex,
                async { black_box(6u64) * 7 },
                move |r: std::thread::Result<u64>| {
                    if r.ok() == Some(42) {
                        bed.bump();
                    }
                },
            );
            bed.run_expecting(1);
        })
    });

    let bed = new_bed(None);
    let timer = Arc::new(SteadyTimer::new(&bed.ex));
    g.throughput(Throughput::Elements(AWAITS));
    g.bench_function("await_expired_timer", |b| {
        b.iter(|| {
            let t = timer.clone();
            let awaited = co_spawn(
                &bed.ex,
                async move {
                    let mut ok = 0;
                    for _ in 0..AWAITS {
                        t.expires_at(Instant::now());
                        if t.async_wait(UseFuture).await.is_ok() {
                            ok += 1;
                        }
                    }
                    ok
                },
                UseFuture,
            );
            assert_eq!(bed.ctx.block_on(awaited).expect("no panic"), AWAITS);
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = hot_paths;
    config = config();
    targets = post, strand, timer, future
}
criterion_main!(hot_paths);
