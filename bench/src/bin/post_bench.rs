//! post/dispatch/defer throughput: proactor's side of
//! `shared/anchors/asio-cpp/post_bench.cpp`, variant for variant.
//!
//! Usage: post_bench [N] [REPS]     (defaults N = 1000000, REPS = 5)
//!
//! Handlers are trivial. Counters live in plain (relaxed, non-RMW) atomics
//! reached through a pointer, as the C++ handlers use plain integers.

use proactor::{make_work_guard, Executor, IoContext};
use proactor_bench::{elapsed_ns, force_multithreaded_process, run_reps, Sample, Shared};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::thread;
use std::time::Instant;

/// `IoContext::new()` is Asio's default hint.
fn context(hint: Option<usize>) -> IoContext {
    match hint {
        None => IoContext::new(),
        Some(h) => IoContext::with_concurrency_hint(h),
    }
    .expect("io context")
}

fn bump(c: &AtomicU64) -> u64 {
    let v = c.load(Relaxed) + 1;
    c.store(v, Relaxed);
    v
}

fn post_then_run(n: u64, hint: Option<usize>) -> Sample {
    let ctx = context(hint);
    let ex = ctx.executor();
    let count = AtomicU64::new(0);
    let c = Shared::new(&count);
    let t0 = Instant::now();
    for _ in 0..n {
        // SAFETY: `count` outlives run().
        ex.post(move || {
            bump(unsafe { c.get() });
        });
    }
    let t1 = Instant::now();
    let ran = ctx.run();
    let t2 = Instant::now();
    let total = elapsed_ns(t0, t2);
    Sample::new(
        total / n as f64,
        format!(
            "total_ms={:.3} post_ns_per_op={:.2} run_ns_per_op={:.2} ran={ran} ok={}",
            total / 1e6,
            elapsed_ns(t0, t1) / n as f64,
            elapsed_ns(t1, t2) / n as f64,
            u8::from(count.load(Relaxed) == n && ran as u64 == n)
        ),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Post,
    Defer,
}

struct Chain {
    ex: proactor::IoExecutor,
    left: AtomicU64,
    kind: Kind,
}

fn chain_link(s: Shared<Chain>) {
    // SAFETY: the chain state outlives run().
    let st = unsafe { s.get() };
    let left = st.left.load(Relaxed) - 1;
    st.left.store(left, Relaxed);
    if left == 0 {
        return;
    }
    match st.kind {
        Kind::Post => st.ex.post(move || chain_link(s)),
        Kind::Defer => st.ex.defer(move || chain_link(s)),
    }
}

fn chain(n: u64, hint: Option<usize>, kind: Kind) -> Sample {
    let ctx = context(hint);
    let st = Chain {
        ex: ctx.executor(),
        left: AtomicU64::new(n),
        kind,
    };
    let s = Shared::new(&st);
    let t0 = Instant::now();
    ctx.executor().post(move || chain_link(s));
    let ran = ctx.run();
    let total = elapsed_ns(t0, Instant::now());
    Sample::per_op(total, n, &format!("ran={ran}"), ran as u64 == n)
}

struct DispatchChain {
    ex: proactor::IoExecutor,
    left: AtomicU64,
    inline_runs: AtomicU64,
    depth: AtomicU64,
}

fn dispatch_link(s: Shared<DispatchChain>) {
    // SAFETY: the chain state outlives run().
    let st = unsafe { s.get() };
    let left = st.left.load(Relaxed) - 1;
    st.left.store(left, Relaxed);
    if left == 0 {
        return;
    }
    let depth = st.depth.load(Relaxed);
    if depth < 64 {
        st.depth.store(depth + 1, Relaxed);
        st.ex.dispatch(move || dispatch_link(s));
        if st.left.load(Relaxed) != left {
            bump(&st.inline_runs); // it already ran, inline
        }
        st.depth.store(st.depth.load(Relaxed) - 1, Relaxed);
    } else {
        st.ex.post(move || dispatch_link(s));
    }
}

fn chain_dispatch(n: u64) -> Sample {
    let ctx = context(None);
    let st = DispatchChain {
        ex: ctx.executor(),
        left: AtomicU64::new(n),
        inline_runs: AtomicU64::new(0),
        depth: AtomicU64::new(0),
    };
    let s = Shared::new(&st);
    let t0 = Instant::now();
    ctx.executor().post(move || dispatch_link(s));
    let ran = ctx.run();
    let total = elapsed_ns(t0, Instant::now());
    let inline = st.inline_runs.load(Relaxed);
    Sample::per_op(
        total,
        n,
        &format!("ran_by_scheduler={ran} ran_inline={inline}"),
        ran as u64 + inline == n,
    )
}

fn run_two(ctx: &IoContext) -> (usize, usize) {
    thread::scope(|sc| {
        let other = sc.spawn(|| ctx.run());
        let mine = ctx.run();
        (mine, other.join().unwrap())
    })
}

fn mt_drain(n: u64) -> Sample {
    let ctx = context(None);
    let ex = ctx.executor();
    for _ in 0..n {
        ex.post(|| {});
    }
    let t0 = Instant::now();
    let (r0, r1) = run_two(&ctx);
    let total = elapsed_ns(t0, Instant::now());
    Sample::per_op(
        total,
        n,
        &format!("ran_thread0={r0} ran_thread1={r1}"),
        (r0 + r1) as u64 == n,
    )
}

fn mt_chain_link(ex: proactor::IoExecutor, remaining: u64) {
    if remaining == 0 {
        return;
    }
    let ex2 = ex.clone();
    ex.post(move || mt_chain_link(ex2, remaining - 1));
}

fn mt_chains(n: u64) -> Sample {
    let ctx = context(None);
    let t0 = Instant::now();
    for len in [n / 2 - 1, n - n / 2 - 1] {
        let ex = ctx.executor();
        ctx.executor().post(move || mt_chain_link(ex, len));
    }
    let (r0, r1) = run_two(&ctx);
    let total = elapsed_ns(t0, Instant::now());
    Sample::per_op(
        total,
        n,
        &format!("ran_thread0={r0} ran_thread1={r1}"),
        (r0 + r1) as u64 == n,
    )
}

struct Stream {
    consumed: AtomicU64,
    n: u64,
    end: Mutex<Option<Instant>>,
    guard_b: Mutex<Option<proactor::WorkGuard<proactor::IoExecutor>>>,
}

fn xthread_stream(n: u64) -> Sample {
    let a = context(Some(1));
    let b = context(Some(1));
    let st = Stream {
        consumed: AtomicU64::new(0),
        n,
        end: Mutex::new(None),
        guard_b: Mutex::new(Some(make_work_guard(&b.executor()))),
    };
    let s = Shared::new(&st);
    let t0 = thread::scope(|sc| {
        sc.spawn(|| b.run());
        let t0 = Instant::now();
        let bex = b.executor();
        a.executor().post(move || {
            for _ in 0..n {
                bex.post(move || {
                    // SAFETY: the state outlives both threads' run().
                    let st = unsafe { s.get() };
                    if bump(&st.consumed) == st.n {
                        *st.end.lock().unwrap() = Some(Instant::now());
                        st.guard_b.lock().unwrap().take();
                    }
                });
            }
        });
        a.run();
        t0
    });
    let end = st.end.lock().unwrap().unwrap_or(t0);
    let total = elapsed_ns(t0, end);
    Sample::per_op(total, n, "", st.consumed.load(Relaxed) == n)
}

struct PingPong {
    ctx: [IoContext; 2],
    left: AtomicU64,
}

fn hop(s: Shared<PingPong>, side: usize) {
    // SAFETY: the state outlives both threads' run().
    let st = unsafe { s.get() };
    let left = st.left.load(Relaxed) - 1;
    st.left.store(left, Relaxed);
    if left == 0 {
        st.ctx[0].stop();
        st.ctx[1].stop();
        return;
    }
    st.ctx[1 - side].executor().post(move || hop(s, 1 - side));
}

fn xthread_pingpong(hops: u64) -> Sample {
    let st = PingPong {
        ctx: [context(Some(1)), context(Some(1))],
        left: AtomicU64::new(hops),
    };
    let _ga = make_work_guard(&st.ctx[0].executor());
    let _gb = make_work_guard(&st.ctx[1].executor());
    let s = Shared::new(&st);
    let t0 = thread::scope(|sc| {
        sc.spawn(|| st.ctx[1].run());
        let t0 = Instant::now();
        st.ctx[0].executor().post(move || hop(s, 0));
        st.ctx[0].run();
        t0
    });
    let total = elapsed_ns(t0, Instant::now());
    Sample::per_op(
        total,
        hops,
        &format!("hops={hops}"),
        st.left.load(Relaxed) == 0,
    )
}

fn main() {
    let (n, reps) = proactor_bench::args(1_000_000, 5, 20, "post_bench [N>=20] [REPS>=1]");
    println!(
        "post_bench N={n} reps={reps} proactor_version={}",
        env!("CARGO_PKG_VERSION")
    );
    force_multithreaded_process();
    run_reps("a_post_then_run", "ns_per_op", reps, || {
        post_then_run(n, None)
    });
    run_reps("a_post_then_run_hint1", "ns_per_op", reps, || {
        post_then_run(n, Some(1))
    });
    run_reps("b_chain_post", "ns_per_op", reps, || {
        chain(n, None, Kind::Post)
    });
    run_reps("b_chain_post_hint1", "ns_per_op", reps, || {
        chain(n, Some(1), Kind::Post)
    });
    run_reps("b_chain_defer", "ns_per_op", reps, || {
        chain(n, None, Kind::Defer)
    });
    run_reps("b_chain_dispatch", "ns_per_op", reps, || chain_dispatch(n));
    run_reps("c_mt_drain_2thr", "ns_per_op", reps, || mt_drain(n));
    run_reps("c_mt_chains_2thr", "ns_per_op", reps, || mt_chains(n));
    run_reps("c_xthread_stream", "ns_per_op", reps, || xthread_stream(n));
    run_reps("c_xthread_pingpong", "ns_per_op", reps, || {
        xthread_pingpong(n / 50)
    });
}
