//! Strand throughput: proactor's side of
//! `shared/anchors/asio-cpp/strand_bench.cpp`, variant for variant.
//!
//! Usage: strand_bench [N] [REPS]   (defaults N = 1000000, REPS = 5)
//!
//! Every handler checks the strand guarantees: it marks its strand busy (a
//! second handler inside at the same time counts as an `overlap`) and checks
//! that it runs in posting order (`order_errors`). Both must be 0.
//! proactor has one strand type: `prepost_legacy_2thr` (Asio's older
//! `io_context::strand`) runs the same strand as `prepost_1strand_2thr`.

use proactor::{Executor, IoContext, IoExecutor, Strand};
use proactor_bench::{elapsed_ns, force_multithreaded_process, run_reps, Sample, Shared};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::thread;
use std::time::Instant;

#[derive(Default)]
struct Check {
    busy: AtomicBool,
    /// Only touched inside the strand.
    next_seq: AtomicU64,
    overlap: AtomicU64,
    /// Only touched inside the strand.
    order_errors: AtomicU64,
}

#[inline]
fn checked_body(c: &Check, seq: u64) {
    if c.busy.swap(true, Acquire) {
        c.overlap.fetch_add(1, Relaxed);
    }
    if seq != c.next_seq.load(Relaxed) {
        c.order_errors
            .store(c.order_errors.load(Relaxed) + 1, Relaxed);
    }
    c.next_seq.store(seq + 1, Relaxed);
    c.busy.store(false, Release);
}

fn run_threads(ctx: &IoContext, n: usize) -> usize {
    thread::scope(|sc| {
        let others: Vec<_> = (1..n).map(|_| sc.spawn(|| ctx.run())).collect();
        let mine = ctx.run();
        mine + others.into_iter().map(|t| t.join().unwrap()).sum::<usize>()
    })
}

fn report(n: u64, ran: usize, post_ns: f64, run_ns: f64, checks: &[&Check]) -> Sample {
    let overlap: u64 = checks.iter().map(|c| c.overlap.load(Relaxed)).sum();
    let order: u64 = checks.iter().map(|c| c.order_errors.load(Relaxed)).sum();
    let executed: u64 = checks.iter().map(|c| c.next_seq.load(Relaxed)).sum();
    let ok = overlap == 0 && order == 0 && executed == n;
    if !ok {
        eprintln!("strand_bench: strand guarantee violated");
        std::process::exit(1);
    }
    Sample::new(
        (post_ns + run_ns) / n as f64,
        format!(
            "post_ns_per_op={:.2} run_ns_per_op={:.2} ops={executed} scheduler_runs={ran} \
             overlap={overlap} order_errors={order} ok=1",
            post_ns / n as f64,
            run_ns / n as f64
        ),
    )
}

fn prepost(n: u64, nstrands: usize, nthreads: usize) -> Sample {
    let ctx = IoContext::new().expect("io context");
    let strands: Vec<Strand<IoExecutor>> =
        (0..nstrands).map(|_| Strand::new(ctx.executor())).collect();
    // One allocation per strand's check, as the anchor has it.
    let checks: Vec<Box<Check>> = (0..nstrands).map(|_| Box::default()).collect();
    let mut seq = vec![0u64; nstrands];
    let t0 = Instant::now();
    for i in 0..n {
        let k = (i % nstrands as u64) as usize;
        let c = Shared::new(&checks[k]);
        let s = seq[k];
        seq[k] += 1;
        // SAFETY: `checks` outlives the run below.
        strands[k].post(move || checked_body(unsafe { c.get() }, s));
    }
    let t1 = Instant::now();
    let ran = run_threads(&ctx, nthreads);
    let t2 = Instant::now();
    let checks: Vec<&Check> = checks.iter().map(|c| &**c).collect();
    report(n, ran, elapsed_ns(t0, t1), elapsed_ns(t1, t2), &checks)
}

struct ChainCtx {
    strand: Strand<IoExecutor>,
    check: Check,
    n: u64,
}

fn chain_step(cx: Shared<ChainCtx>, seq: u64) {
    // SAFETY: the chain state outlives the run.
    let c = unsafe { cx.get() };
    checked_body(&c.check, seq);
    if seq + 1 < c.n {
        c.strand.post(move || chain_step(cx, seq + 1));
    }
}

fn chain(n: u64, nthreads: usize) -> Sample {
    let ctx = IoContext::new().expect("io context");
    let cx = ChainCtx {
        strand: Strand::new(ctx.executor()),
        check: Check::default(),
        n,
    };
    let shared = Shared::new(&cx);
    let t0 = Instant::now();
    cx.strand.post(move || chain_step(shared, 0));
    let ran = run_threads(&ctx, nthreads);
    let t1 = Instant::now();
    report(n, ran, 0.0, elapsed_ns(t0, t1), &[&cx.check])
}

fn main() {
    let (n, reps) = proactor_bench::args(1_000_000, 5, 4, "strand_bench [N>=4] [REPS>=1]");
    println!(
        "strand_bench N={n} reps={reps} proactor_version={}",
        env!("CARGO_PKG_VERSION")
    );
    force_multithreaded_process();
    run_reps("prepost_1strand_1thr", "ns_per_op", reps, || {
        prepost(n, 1, 1)
    });
    run_reps("prepost_1strand_2thr", "ns_per_op", reps, || {
        prepost(n, 1, 2)
    });
    run_reps("chain_1strand_2thr", "ns_per_op", reps, || chain(n, 2));
    run_reps("prepost_4strands_2thr", "ns_per_op", reps, || {
        prepost(n, 4, 2)
    });
    run_reps("prepost_legacy_2thr", "ns_per_op", reps, || {
        prepost(n, 1, 2)
    });
}
