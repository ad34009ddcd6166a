//! Timers: a periodic tick that re-arms itself from its own expiry (no
//! drift), a one-shot that cancels it, and a wait that is cut short by a new
//! expiry.
//!
//! ```sh
//! cargo run --example timers
//! ```

use proactor::error::is_operation_aborted;
use proactor::{IoContext, SteadyTimer};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn tick(t: Arc<SteadyTimer>, n: u32, start: Instant) {
    let t2 = t.clone();
    t.async_wait(move |r: io::Result<()>| match r {
        Ok(()) => {
            println!("tick {n} at {:?}", start.elapsed());
            // From the previous expiry, not from now: no drift.
            t2.expires_at(t2.expiry() + Duration::from_millis(100));
            tick(t2, n + 1, start);
        }
        Err(e) if is_operation_aborted(&e) => println!("ticker cancelled after {n} ticks"),
        Err(e) => eprintln!("tick: {e}"),
    });
}

fn main() -> io::Result<()> {
    let ctx = IoContext::new()?;
    let start = Instant::now();

    let ticker = Arc::new(SteadyTimer::new(&ctx.executor()));
    ticker.expires_at(start + Duration::from_millis(100));
    tick(ticker.clone(), 1, start);

    let stopper = SteadyTimer::new(&ctx.executor());
    stopper.expires_after(Duration::from_millis(550));
    stopper.async_wait(move |r: io::Result<()>| {
        r.unwrap();
        println!("stopping the ticker: {} wait cancelled", ticker.cancel());
    });

    let moved = SteadyTimer::new(&ctx.executor());
    moved.expires_after(Duration::from_secs(3600));
    moved.async_wait(|r: io::Result<()>| {
        println!(
            "the hour-long wait ended early: aborted = {}",
            is_operation_aborted(&r.unwrap_err())
        );
    });
    // A new expiry cancels the pending wait (and says how many it cut).
    println!(
        "re-armed, cancelling {} wait",
        moved.expires_after(Duration::from_millis(50))
    );
    moved.async_wait(|r: io::Result<()>| println!("the 50 ms wait: {r:?}"));

    ctx.run();
    println!("done after {:?}", start.elapsed());
    Ok(())
}
