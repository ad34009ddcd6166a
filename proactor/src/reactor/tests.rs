//! Reactor behaviour that needs to see the scheduler's state.

use crate::{make_work_guard, IoContext, SteadyTimer};
use std::io;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const HANG: Duration = Duration::from_secs(30);

/// Waits until a runner is blocked in the reactor.
fn wait_until_blocked(ctx: &IoContext) {
    let t0 = Instant::now();
    while !ctx.scheduler().task_blocked() {
        assert!(
            t0.elapsed() < HANG,
            "the runner never blocked in the reactor"
        );
        thread::yield_now();
    }
}

#[test]
fn a_timer_wait_started_outside_run_wakes_the_blocked_reactor() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let guard = make_work_guard(&ctx.executor());
    let timer = SteadyTimer::new(&ctx.executor()); // creates the reactor
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    wait_until_blocked(&ctx);
    let (tx, rx) = mpsc::channel();
    timer.expires_after(Duration::from_millis(5));
    timer.async_wait(move |r: io::Result<()>| tx.send(r).unwrap());
    rx.recv_timeout(HANG)
        .expect("the blocked reactor woke for the new timer")
        .unwrap();
    drop(guard);
    runner.join().unwrap();
}

#[test]
fn a_post_from_outside_wakes_the_blocked_reactor() {
    use crate::Executor;
    let ctx = Arc::new(IoContext::new().unwrap());
    let guard = make_work_guard(&ctx.executor());
    let _timer = SteadyTimer::new(&ctx.executor());
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    wait_until_blocked(&ctx);
    let (tx, rx) = mpsc::channel();
    ctx.executor().post(move || tx.send(()).unwrap());
    rx.recv_timeout(HANG)
        .expect("the post interrupted epoll_wait");
    drop(guard);
    runner.join().unwrap();
}

#[test]
fn stop_wakes_the_thread_in_the_backend_and_every_sleeper() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let guard = make_work_guard(&ctx.executor());
    let _timer = SteadyTimer::new(&ctx.executor());
    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        let (c, tx) = (ctx.clone(), tx.clone());
        thread::spawn(move || tx.send(c.run()).unwrap());
    }
    // One runner holds the backend (the port, or epoll); the others sleep
    // or are about to: stop must reach all of them.
    wait_until_blocked(&ctx);
    ctx.stop();
    for _ in 0..3 {
        let ran = rx
            .recv_timeout(HANG)
            .expect("stop woke every runner, the one in the backend too");
        assert_eq!(ran, 0);
    }
    // After a restart the backend still blocks and wakes as before (a
    // wake-up left over from the stop does no harm).
    ctx.restart();
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    wait_until_blocked(&ctx);
    let (tx, rx) = mpsc::channel();
    crate::Executor::post(&ctx.executor(), move || tx.send(()).unwrap());
    rx.recv_timeout(HANG).expect("the post woke the backend");
    drop(guard);
    assert_eq!(runner.join().unwrap(), 1);
}
