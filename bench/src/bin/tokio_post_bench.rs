//! tokio's counterparts of `post_bench`'s variants, where tokio has one: a
//! spawned task stands for a posted handler. Same output lines.
//!
//! Usage: tokio_post_bench [N] [REPS]     (defaults N = 1000000, REPS = 5)
//!
//! `a_post_then_run`: N tasks spawned from outside a current-thread runtime,
//! then the runtime runs them. `b_chain_post`: each task spawns the next
//! (current-thread runtime). `c_mt_chains_2thr`: two such chains on a
//! two-worker runtime. `c_xthread_stream`: a task on runtime A spawns N tasks
//! on runtime B (one thread each). `c_xthread_pingpong`: a token bounces
//! between two runtimes, N/50 hops. (`hint1`, `defer` and `dispatch` have no
//! tokio counterpart; nor does pre-posting to a multi-thread runtime whose
//! workers are not yet running.)

use proactor_bench::{elapsed_ns, force_multithreaded_process, run_reps, Sample};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::Instant;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::Notify;

fn current_thread() -> Runtime {
    Builder::new_current_thread().build().expect("runtime")
}

/// A countdown whose last step wakes the waiter.
struct Countdown {
    left: AtomicU64,
    done: Notify,
}

impl Countdown {
    fn new(n: u64) -> Arc<Self> {
        Arc::new(Countdown {
            left: AtomicU64::new(n),
            done: Notify::new(),
        })
    }

    /// One step; true on the last.
    fn step(&self) -> bool {
        let left = self.left.load(Relaxed) - 1;
        self.left.store(left, Relaxed);
        if left == 0 {
            self.done.notify_one();
        }
        left == 0
    }
}

fn post_then_run(n: u64) -> Sample {
    let rt = current_thread();
    let cd = Countdown::new(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let cd = cd.clone();
        rt.spawn(async move {
            cd.step();
        });
    }
    let t1 = Instant::now();
    rt.block_on(cd.done.notified());
    let t2 = Instant::now();
    let total = elapsed_ns(t0, t2);
    Sample::new(
        total / n as f64,
        format!(
            "total_ms={:.3} post_ns_per_op={:.2} run_ns_per_op={:.2} ok={}",
            total / 1e6,
            elapsed_ns(t0, t1) / n as f64,
            elapsed_ns(t1, t2) / n as f64,
            u8::from(cd.left.load(Relaxed) == 0)
        ),
    )
}

fn link(cd: Arc<Countdown>) {
    if !cd.step() {
        tokio::spawn(async move { link(cd) });
    }
}

fn chain(n: u64) -> Sample {
    let rt = current_thread();
    let cd = Countdown::new(n);
    let t0 = Instant::now();
    let c = cd.clone();
    rt.block_on(async move {
        let done = c.done.notified();
        let c2 = c.clone();
        tokio::spawn(async move { link(c2) });
        done.await;
    });
    let total = elapsed_ns(t0, Instant::now());
    Sample::per_op(total, n, "", cd.left.load(Relaxed) == 0)
}

fn mt_link(left: u64, done: Arc<Countdown>) {
    if left == 0 {
        done.done.notify_one();
        return;
    }
    tokio::spawn(async move { mt_link(left - 1, done) });
}

fn mt_chains(n: u64) -> Sample {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let t0 = Instant::now();
    rt.block_on(async {
        let (a, b) = (Countdown::new(1), Countdown::new(1));
        let (wa, wb) = (a.done.notified(), b.done.notified());
        let (a2, b2) = (a.clone(), b.clone());
        tokio::spawn(async move { mt_link(n / 2 - 1, a2) });
        tokio::spawn(async move { mt_link(n - n / 2 - 1, b2) });
        wa.await;
        wb.await;
    });
    let total = elapsed_ns(t0, Instant::now());
    Sample::new(
        total / n as f64,
        format!("total_ms={:.3} ok=1", total / 1e6),
    )
}

fn xthread_stream(n: u64) -> Sample {
    let (a, b) = (current_thread(), current_thread());
    let cd = Countdown::new(n);
    let hb: Handle = b.handle().clone();
    let c = cd.clone();
    let (end, t0) = thread::scope(|sc| {
        let tb = sc.spawn(move || {
            b.block_on(c.done.notified());
            Instant::now()
        });
        let t0 = Instant::now();
        let c = cd.clone();
        a.block_on(async move {
            for _ in 0..n {
                let c = c.clone();
                hb.spawn(async move {
                    c.step();
                });
            }
        });
        (tb.join().unwrap(), t0)
    });
    let total = elapsed_ns(t0, end);
    Sample::per_op(total, n, "", cd.left.load(Relaxed) == 0)
}

fn hop(handles: Arc<[Handle; 2]>, side: usize, cd: Arc<Countdown>) {
    if cd.step() {
        return;
    }
    let h = handles.clone();
    handles[1 - side].spawn(async move { hop(h, 1 - side, cd) });
}

fn xthread_pingpong(hops: u64) -> Sample {
    let (a, b) = (current_thread(), current_thread());
    let handles = Arc::new([a.handle().clone(), b.handle().clone()]);
    let cd = Countdown::new(hops);
    let stop_b = Arc::new(Notify::new());
    let t0 = thread::scope(|sc| {
        let sb = stop_b.clone();
        sc.spawn(move || b.block_on(sb.notified()));
        let t0 = Instant::now();
        let (h, c) = (handles.clone(), cd.clone());
        a.block_on(async move {
            let done = c.done.notified();
            let c2 = c.clone();
            tokio::spawn(async move { hop(h, 0, c2) });
            done.await;
        });
        stop_b.notify_one();
        t0
    });
    let total = elapsed_ns(t0, Instant::now());
    Sample::per_op(
        total,
        hops,
        &format!("hops={hops}"),
        cd.left.load(Relaxed) == 0,
    )
}

fn main() {
    let (n, reps) = proactor_bench::args(1_000_000, 5, 20, "tokio_post_bench [N>=20] [REPS>=1]");
    println!("post_bench N={n} reps={reps} tokio=1");
    force_multithreaded_process();
    run_reps("a_post_then_run", "ns_per_op", reps, || post_then_run(n));
    run_reps("b_chain_post", "ns_per_op", reps, || chain(n));
    run_reps("c_mt_chains_2thr", "ns_per_op", reps, || mt_chains(n));
    run_reps("c_xthread_stream", "ns_per_op", reps, || xthread_stream(n));
    run_reps("c_xthread_pingpong", "ns_per_op", reps, || {
        xthread_pingpong(n / 50)
    });
}
