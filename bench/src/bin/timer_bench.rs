//! Timer scheduling throughput: proactor's side of
//! `shared/anchors/asio-cpp/timer_bench.cpp`, variant for variant.
//!
//! Usage: timer_bench [N] [REPS]   (defaults N = 100000, REPS = 3)
//!
//! `all_fire`: N timers with pseudo-random expiries in [0, 100 ms) (the
//! anchor's seeded sequence), one `async_wait` each, then `run()`.
//! `cancel_half`: the same, then `cancel()` every second timer first.

use proactor::{IoContext, SteadyTimer};
use proactor_bench::{
    elapsed_ns, force_multithreaded_process, run_reps, thread_cpu_ns, Prng, Sample, Shared,
};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Handler outcomes; touched only by the one thread running the context.
#[derive(Default)]
struct Stats {
    fired: Cell<u64>,
    aborted: Cell<u64>,
    other_errors: Cell<u64>,
    late_ns_sum: Cell<f64>,
    late_ns_max: Cell<f64>,
    last_expiry: Cell<Option<Instant>>,
    out_of_order: Cell<u64>,
}

/// The context runs on the measuring thread only, so the stats are never
/// touched by two threads.
struct OneThread<T>(T);
// SAFETY: see the type's comment.
unsafe impl<T> Sync for OneThread<T> {}

fn on_wait(st: &Stats, timer: &SteadyTimer, r: std::io::Result<()>) {
    match r {
        Ok(()) => {
            let now = Instant::now();
            let exp = timer.expiry();
            let late = elapsed_ns(exp, now);
            st.late_ns_sum.set(st.late_ns_sum.get() + late);
            st.late_ns_max.set(st.late_ns_max.get().max(late));
            match st.last_expiry.get() {
                Some(last) if exp < last => st.out_of_order.set(st.out_of_order.get() + 1),
                _ => st.last_expiry.set(Some(exp)),
            }
            st.fired.set(st.fired.get() + 1);
        }
        Err(e) if proactor::error::is_operation_aborted(&e) => st.aborted.set(st.aborted.get() + 1),
        Err(_) => st.other_errors.set(st.other_errors.get() + 1),
    }
}

fn run_variant(n: u64, cancel_half: bool, all_ok: &Cell<bool>) -> Sample {
    let ctx = IoContext::new().expect("io context");
    let ex = ctx.executor();
    let st = OneThread(Stats::default());
    let mut rng = Prng::new(12345);
    let offsets_us: Vec<u64> = (0..n).map(|_| rng.below(100_000)).collect();
    let mut timers: Vec<SteadyTimer> = Vec::with_capacity(n as usize);

    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    for &off in &offsets_us {
        timers.push(SteadyTimer::new(&ex));
        let t = timers.last().expect("just pushed");
        t.expires_after(Duration::from_micros(off));
        // Timers never move: the vector was sized up front.
        let (s, tp) = (Shared::new(&st), Shared::new(t));
        // SAFETY: the stats and the timers outlive `run()` below.
        t.async_wait(move |r: std::io::Result<()>| unsafe { on_wait(&s.get().0, tp.get(), r) });
    }
    let t1 = Instant::now();
    let mut cancelled = 0u64;
    if cancel_half {
        for t in timers.iter().skip(1).step_by(2) {
            cancelled += t.cancel() as u64;
        }
    }
    let t2 = Instant::now();
    let ran = ctx.run() as u64;
    let t3 = Instant::now();
    let cpu1 = thread_cpu_ns();

    let st = &st.0;
    let expect_aborted = if cancel_half { n / 2 } else { 0 };
    let ok = st.fired.get() == n - expect_aborted
        && st.aborted.get() == expect_aborted
        && st.other_errors.get() == 0
        && ran == n
        && cancelled == expect_aborted;
    if !ok {
        all_ok.set(false);
    }
    let total = elapsed_ns(t0, t3);
    let fired = st.fired.get();
    Sample::new(
        total / n as f64,
        format!(
            "N={n} total_ms={:.3} cpu_ns_per_timer={:.1} setup_ns_per_timer={:.1} \
             cancel_ns_per_timer={:.1} run_ms={:.3} fired={fired} aborted={} \
             late_us_mean={:.1} late_us_max={:.1} out_of_order={} ok={}",
            total / 1e6,
            (cpu1 - cpu0) / n as f64,
            elapsed_ns(t0, t1) / n as f64,
            if cancelled > 0 {
                elapsed_ns(t1, t2) / cancelled as f64
            } else {
                0.0
            },
            elapsed_ns(t2, t3) / 1e6,
            st.aborted.get(),
            if fired > 0 {
                st.late_ns_sum.get() / fired as f64 / 1e3
            } else {
                0.0
            },
            st.late_ns_max.get() / 1e3,
            st.out_of_order.get(),
            u8::from(ok),
        ),
    )
}

fn main() {
    let (n, reps) = proactor_bench::args(100_000, 3, 2, "timer_bench [N>=2] [REPS>=1]");
    println!(
        "timer_bench N={n} reps={reps} proactor_version={}",
        env!("CARGO_PKG_VERSION")
    );
    force_multithreaded_process();
    let ok = Cell::new(true);
    run_reps("all_fire", "total_ns_per_timer", reps, || {
        run_variant(n, false, &ok)
    });
    run_reps("cancel_half", "total_ns_per_timer", reps, || {
        run_variant(n, true, &ok)
    });
    std::process::exit(if ok.get() { 0 } else { 1 });
}
