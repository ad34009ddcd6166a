//! The measuring harness shared by proactor's benchmark programs.
//!
//! Same method and output line as the Boost.Asio anchors
//! (`shared/anchors/asio-cpp/common.hpp`), so that results can be compared
//! line for line: one untimed warm-up run, then REPS runs, and one line for
//! the run with the median primary metric:
//! `<variant> <key>=<median> min=.. max=.. reps=.. <details of that run>`.

use std::io::Write;
use std::time::Instant;

mod alloc_count;
pub use alloc_count::allocations;

/// Nanoseconds from `a` to `b`.
#[inline]
pub fn elapsed_ns(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_nanos() as f64
}

/// Parses a non-negative integer argument, or exits with status 64.
pub fn parse_uint(text: &str, what: &str) -> u64 {
    text.parse().unwrap_or_else(|_| {
        eprintln!("invalid {what}: '{text}'");
        std::process::exit(64)
    })
}

/// `[N] [REPS]` from the command line, with defaults and a lower bound on N.
pub fn args(default_n: u64, default_reps: u64, min_n: u64, usage: &str) -> (u64, usize) {
    let a: Vec<String> = std::env::args().collect();
    let n = a.get(1).map_or(default_n, |s| parse_uint(s, "N"));
    let reps = a.get(2).map_or(default_reps, |s| parse_uint(s, "REPS"));
    if n < min_n || reps < 1 {
        eprintln!("Usage: {usage}");
        std::process::exit(64);
    }
    (n, reps as usize)
}

/// The ping-pong servers' command line, `PORT THREADS [BUFSIZE]` (BUFSIZE
/// default 65536), checked as the anchor checks it; exits with status 64
/// on bad input.
pub struct ServerArgs {
    pub port: u16,
    pub threads: usize,
    pub bufsize: usize,
}

impl ServerArgs {
    pub fn parse(program: &str) -> Self {
        let a: Vec<String> = std::env::args().collect();
        if a.len() != 3 && a.len() != 4 {
            eprintln!("Usage: {program} PORT THREADS [BUFSIZE]");
            std::process::exit(64);
        }
        let port = parse_uint(&a[1], "PORT");
        let threads = parse_uint(&a[2], "THREADS");
        let bufsize = a.get(3).map_or(65536, |s| parse_uint(s, "BUFSIZE"));
        if port == 0 || port > 65535 || threads == 0 || bufsize == 0 {
            eprintln!("PORT must be 1..65535, THREADS and BUFSIZE > 0");
            std::process::exit(64);
        }
        ServerArgs {
            port: port as u16,
            threads: threads as usize,
            bufsize: bufsize as usize,
        }
    }
}

/// One measured run: the primary metric and its `key=value` details.
pub struct Sample {
    pub primary: f64,
    pub details: String,
}

impl Sample {
    pub fn new(primary: f64, details: String) -> Self {
        Sample { primary, details }
    }

    /// A run that took `total_ns` for `ops` operations: ns per operation,
    /// with `total_ms=`, the `extra` fields and `ok=`.
    pub fn per_op(total_ns: f64, ops: u64, extra: &str, ok: bool) -> Self {
        let sep = if extra.is_empty() { "" } else { " " };
        Sample::new(
            total_ns / ops as f64,
            format!(
                "total_ms={:.3}{sep}{extra} ok={}",
                total_ns / 1e6,
                u8::from(ok)
            ),
        )
    }
}

/// Runs `f` once untimed, then `reps` times; prints the median run's line.
/// `BENCH_ONLY=a,b` limits the variants run (for profiling).
pub fn run_reps(name: &str, key: &str, reps: usize, mut f: impl FnMut() -> Sample) {
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        if !only.split(',').any(|v| v.trim() == name) {
            return;
        }
    }
    drop(f());
    let mut runs: Vec<Sample> = (0..reps)
        .map(|_| {
            let before = allocations();
            let mut s = f();
            if let (Some(a), Some(b)) = (before, allocations()) {
                // Everything the run allocated, set-up included.
                s.details.push_str(&format!(" allocs={}", b - a));
            }
            s
        })
        .collect();
    runs.sort_by(|a, b| a.primary.total_cmp(&b.primary));
    let med = &runs[runs.len() / 2];
    println!(
        "{name:<24} {key}={:.2} min={:.2} max={:.2} reps={reps} {}",
        med.primary,
        runs[0].primary,
        runs[runs.len() - 1].primary,
        med.details
    );
    std::io::stdout().flush().ok();
}

/// Makes the process multi-threaded before measuring, as the anchors do:
/// glibc malloc takes faster single-threaded paths until the first thread
/// exists, which would favour whichever variant runs first.
pub fn force_multithreaded_process() {
    std::thread::spawn(|| {}).join().unwrap();
}

/// A pointer to benchmark state that lives on the measuring thread's stack
/// for the whole run; handlers reach it without reference counting, as the
/// C++ programs do with plain pointers.
pub struct Shared<T>(*const T);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}

// SAFETY: benchmarks only share `Sync` state through it, and the state
// outlives every handler (each run joins its threads before returning).
unsafe impl<T: Sync> Send for Shared<T> {}

impl<T> Shared<T> {
    pub fn new(t: &T) -> Self {
        Shared(t)
    }

    /// # Safety
    /// The state must still be alive.
    pub unsafe fn get(&self) -> &T {
        // SAFETY: forwarded to the caller.
        unsafe { &*self.0 }
    }
}

/// The anchors' deterministic PRNG (xorshift64*), so both sides draw the
/// same sequence.
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish value in `[0, bound)`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// CPU time consumed by the calling thread, in ns (NaN where the platform
/// gives no per-thread clock here).
#[cfg(target_os = "linux")]
pub fn thread_cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// CPU time consumed by the calling thread, in ns (NaN where the platform
/// gives no per-thread clock here).
#[cfg(not(target_os = "linux"))]
pub fn thread_cpu_ns() -> f64 {
    f64::NAN
}
