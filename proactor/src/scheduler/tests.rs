//! The task seat, exercised with the fake backend of [`super::fake_task`].

use super::fake_task::FakeBackend;
use crate::op::{handler_op, OpPtr};
use crate::sync::{self, Arc};
use crate::{Executor, IoContext};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const HANG: Duration = Duration::from_secs(30);

fn context_with_backend(hint: usize) -> (Arc<IoContext>, Arc<FakeBackend>) {
    let ctx = Arc::new(IoContext::without_backend(hint));
    let backend = Arc::new(FakeBackend::default());
    assert!(ctx.scheduler().init_task(Box::new(backend.clone())));
    assert!(
        !ctx.scheduler().init_task(Box::new(backend.clone())),
        "one task per context"
    );
    (ctx, backend)
}

/// Starts an "I/O operation" whose handler bumps `n`: counted as work until
/// the backend harvests its completion.
fn start_io(ctx: &IoContext, n: &Arc<AtomicUsize>) -> OpPtr {
    ctx.scheduler().work_started();
    let n = n.clone();
    handler_op(move || {
        n.fetch_add(1, SeqCst);
    })
}

/// Waits until a runner is inside the backend (polling its state: the
/// backend has no other way to say so).
fn wait_until_blocked(backend: &FakeBackend) {
    let t0 = Instant::now();
    while sync::lock(&backend.state).inside == 0 {
        assert!(t0.elapsed() < HANG, "no runner entered the backend");
        thread::yield_now();
    }
}

#[test]
fn pending_io_keeps_run_alive_and_its_completion_runs() {
    for hint in [0, 1] {
        let (ctx, backend) = context_with_backend(hint);
        let n = Arc::new(AtomicUsize::new(0));
        let op = start_io(&ctx, &n);
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        backend.complete(op);
        assert_eq!(runner.join().unwrap(), 1, "hint {hint}");
        assert_eq!(n.load(SeqCst), 1);
        assert!(
            ctx.stopped(),
            "hint {hint}: out of work once the completion ran"
        );
    }
}

#[test]
fn only_one_thread_at_a_time_waits_in_the_task() {
    let (ctx, backend) = context_with_backend(0);
    let n = Arc::new(AtomicUsize::new(0));
    const OPS: usize = 2000;
    let ops: Vec<OpPtr> = (0..OPS).map(|_| start_io(&ctx, &n)).collect();
    // Posting from outside: without a guard, the last completion could let
    // the context run out of work before the last post (as in Asio).
    let guard = crate::make_work_guard(&ctx.executor());
    let runners: Vec<_> = (0..4)
        .map(|_| {
            let c = ctx.clone();
            thread::spawn(move || c.run())
        })
        .collect();
    for op in ops {
        backend.complete(op);
        // Posted handlers mixed in, so runners alternate between the task
        // and the queue.
        let n = n.clone();
        ctx.executor().post(move || {
            n.fetch_add(1, SeqCst);
        });
    }
    drop(guard);
    let total: usize = runners.into_iter().map(|r| r.join().unwrap()).sum();
    assert_eq!(total, 2 * OPS);
    assert_eq!(n.load(SeqCst), 2 * OPS);
    assert_eq!(sync::lock(&backend.state).max_inside, 1);
}

#[test]
fn a_post_interrupts_the_thread_blocked_in_the_task() {
    for hint in [0, 1] {
        let (ctx, backend) = context_with_backend(hint);
        let n = Arc::new(AtomicUsize::new(0));
        let op = start_io(&ctx, &n);
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        wait_until_blocked(&backend);
        let (tx, rx) = mpsc::channel();
        ctx.executor().post(move || tx.send(()).unwrap());
        rx.recv_timeout(HANG)
            .expect("the post did not interrupt the blocked task");
        assert!(sync::lock(&backend.state).interrupts >= 1, "hint {hint}");
        backend.complete(op);
        assert_eq!(runner.join().unwrap(), 2, "hint {hint}");
    }
}

#[test]
fn stop_interrupts_the_task() {
    let (ctx, backend) = context_with_backend(0);
    let n = Arc::new(AtomicUsize::new(0));
    let op = start_io(&ctx, &n);
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    wait_until_blocked(&backend);
    ctx.stop();
    assert_eq!(runner.join().unwrap(), 0);
    assert_eq!(n.load(SeqCst), 0);
    drop(op);
    ctx.scheduler().work_finished(1);
}

#[test]
fn poll_gives_the_task_one_non_blocking_turn() {
    let (ctx, backend) = context_with_backend(0);
    let n = Arc::new(AtomicUsize::new(0));
    let op = start_io(&ctx, &n);
    assert_eq!(ctx.poll(), 0, "nothing completed yet: poll returns at once");
    backend.complete(op);
    let n2 = n.clone();
    ctx.executor().post(move || {
        n2.fetch_add(1, SeqCst);
    });
    assert_eq!(
        ctx.poll(),
        2,
        "the posted handler and the harvested completion"
    );
    assert_eq!(n.load(SeqCst), 2);
    assert_eq!(
        sync::lock(&backend.state).blocking_runs,
        0,
        "poll never blocks"
    );
}

#[test]
fn run_for_returns_at_the_deadline_while_io_is_pending() {
    let (ctx, _backend) = context_with_backend(0);
    let n = Arc::new(AtomicUsize::new(0));
    let op = start_io(&ctx, &n);
    let t0 = Instant::now();
    assert_eq!(ctx.run_for(Duration::from_millis(30)), 0);
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert!(!ctx.stopped());
    drop(op);
    ctx.scheduler().work_finished(1);
}

#[test]
fn shutdown_destroys_the_tasks_operations_unrun() {
    struct Probe(Arc<AtomicUsize>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let (ctx, backend) = context_with_backend(0);
    let dropped = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let (p, r) = (Probe(dropped.clone()), ran.clone());
        ctx.scheduler().work_started();
        sync::lock(&backend.state).pending.push(handler_op(move || {
            let _ = &p;
            r.fetch_add(1, SeqCst);
        }));
    }
    let (p, r) = (Probe(dropped.clone()), ran.clone());
    backend.complete(handler_op(move || {
        let _ = &p;
        r.fetch_add(1, SeqCst);
    }));
    assert_eq!(Arc::strong_count(&ctx), 1, "sole owner");
    drop(ctx);
    assert_eq!(dropped.load(SeqCst), 4);
    assert_eq!(ran.load(SeqCst), 0);
}

#[test]
fn polling_stops_once_the_contexts_threads_fill_the_processors() {
    use std::sync::Barrier;
    let ctx = Arc::new(IoContext::new().unwrap());
    ctx.set_busy_poll(Duration::from_micros(40));
    let cpus = ctx.scheduler().flags.cpus;
    assert_eq!(
        ctx.scheduler().poll_limit_ns(),
        40_000,
        "no thread in run()"
    );
    // Each handler keeps its thread inside run() until `release`.
    let (inside, release) = (Arc::new(Barrier::new(cpus)), Arc::new(Barrier::new(cpus)));
    let mut runners = Vec::new();
    for _ in 1..cpus {
        let (i, r) = (inside.clone(), release.clone());
        ctx.executor().post(move || {
            i.wait();
            r.wait();
        });
        let c = ctx.clone();
        runners.push(thread::spawn(move || c.run()));
    }
    inside.wait();
    assert_eq!(
        ctx.scheduler().poll_limit_ns(),
        40_000,
        "{} threads on {cpus} processors: one left for a peer",
        cpus - 1
    );
    let (tx, rx) = mpsc::channel();
    let c = ctx.clone();
    ctx.executor()
        .post(move || tx.send(c.scheduler().poll_limit_ns()).unwrap());
    let c = ctx.clone();
    runners.push(thread::spawn(move || c.run()));
    assert_eq!(
        rx.recv_timeout(HANG).unwrap(),
        0,
        "{cpus} threads on {cpus} processors"
    );
    release.wait();
    for r in runners {
        r.join().unwrap();
    }
    assert_eq!(ctx.scheduler().poll_limit_ns(), 40_000, "all threads left");
}
