//! A tour of proactor's core runtime: a context run by several threads,
//! posts and dispatches, a strand keeping shared state consistent without a
//! lock, a work guard, a panicking handler, and futures on the context.
//!
//! Run it with `cargo run --example tour`.

use proactor::{co_spawn, make_work_guard, Executor, IoContext, Strand, ThreadPool, UseFuture};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

/// Deposits are a read followed by a write, not an atomic increment:
/// concurrent deposits would lose updates. On one strand they never run
/// concurrently, so none is lost.
struct Account {
    balance: AtomicI64,
}

impl Account {
    fn deposit(&self, amount: i64) {
        let b = self.balance.load(Ordering::Relaxed);
        self.balance.store(b + amount, Ordering::Relaxed);
    }
}

fn main() -> std::io::Result<()> {
    println!("1. One context, four threads, 10,000 handlers");
    let ctx = Arc::new(IoContext::new()?);
    let ex = ctx.executor();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..10_000 {
        let ran = ran.clone();
        ex.post(move || {
            ran.fetch_add(1, Ordering::Relaxed);
        });
    }
    let runners: Vec<_> = (0..4)
        .map(|_| {
            let ctx = ctx.clone();
            thread::spawn(move || ctx.run())
        })
        .collect();
    let per_thread: Vec<usize> = runners.into_iter().map(|t| t.join().unwrap()).collect();
    println!(
        "   ran {} handlers; per thread {per_thread:?}; stopped: {}",
        ran.load(Ordering::Relaxed),
        ctx.stopped()
    );

    println!("2. post queues, dispatch runs inline inside run()");
    ctx.restart();
    let ex2 = ex.clone();
    ex.post(move || {
        ex2.post(|| println!("   posted: runs after the handler that posted it"));
        ex2.dispatch(|| println!("   dispatched: runs inline, first"));
        println!("   the outer handler returns");
    });
    ctx.run();

    println!("3. A strand serialises 100,000 deposits across a pool of 4 threads");
    let pool = ThreadPool::new(4)?;
    let strand = Strand::new(pool.executor());
    let account = Arc::new(Account {
        balance: AtomicI64::new(0),
    });
    for _ in 0..100_000 {
        let account = account.clone();
        strand.post(move || account.deposit(1));
    }
    pool.join();
    println!("   balance: {}", account.balance.load(Ordering::Relaxed));

    println!("4. A work guard keeps run() waiting for work from another thread");
    let ctx = Arc::new(IoContext::new()?);
    let mut guard = make_work_guard(&ctx.executor());
    let runner = {
        let ctx = ctx.clone();
        thread::spawn(move || ctx.run())
    };
    ctx.executor()
        .post(|| println!("   handler posted from main, run on the runner thread"));
    guard.reset();
    println!("   run() returned {}", runner.join().unwrap());

    println!("5. A panicking handler unwinds out of run(); run() carries on");
    ctx.restart();
    ctx.executor().post(|| panic!("this handler panics"));
    ctx.executor()
        .post(|| println!("   the next handler still runs"));
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let first = panic::catch_unwind(AssertUnwindSafe(|| ctx.run()));
    panic::set_hook(default_hook);
    println!("   first run() panicked: {}", first.is_err());
    ctx.run();

    println!("6. Futures: co_spawn on a strand, awaited with block_on");
    let ctx = IoContext::new()?;
    let strand = Strand::new(ctx.executor());
    let s = strand.clone();
    let task = co_spawn(
        &strand,
        async move {
            let inside = s.running_in_this_thread();
            (inside, 6 * 7)
        },
        UseFuture,
    );
    let (inside, answer) = ctx.block_on(task).expect("task panicked");
    println!("   answer {answer}, computed inside the strand: {inside}");
    Ok(())
}
