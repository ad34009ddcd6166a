//! Loom models of the task seat: a post reaches the thread blocked in the
//! backend, and the backend's completions reach the run loop.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test --profile loom --lib`

use super::fake_task::FakeBackend;
use crate::op::handler_op;
use crate::sync::Arc;
use crate::{Executor, IoContext};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Condvar, Mutex};
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// The only runner blocks in the task (pending I/O keeps it there); a post
/// from another thread must interrupt it. A lost interrupt is a deadlock.
#[test]
fn a_post_reaches_the_thread_blocked_in_the_task() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let backend = Arc::new(FakeBackend::default());
        assert!(ctx.scheduler().init_task(Box::new(backend.clone())));
        ctx.scheduler().work_started(); // a pending "I/O operation"
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        let c = ctx.clone();
        ctx.executor().post(move || c.stop());
        assert_eq!(runner.join().unwrap(), 1);
        ctx.scheduler().work_finished(1);
    });
}

/// A completion delivered by the backend runs, releases its work, and the
/// context then stops for lack of work.
#[test]
fn a_completion_is_harvested_and_ends_the_work() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let backend = Arc::new(FakeBackend::default());
        assert!(ctx.scheduler().init_task(Box::new(backend.clone())));
        ctx.scheduler().work_started();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let op = handler_op(move || {
            r.fetch_add(1, SeqCst);
        });
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        backend.complete(op);
        assert_eq!(runner.join().unwrap(), 1);
        assert_eq!(ran.load(SeqCst), 1);
        assert!(ctx.stopped());
    });
}

/// A multi-thread context that defers wake-ups to rescuers.
fn rescuing_context() -> Arc<IoContext> {
    super::loom_rescue::ON.with(|on| on.set(true));
    let ctx = Arc::new(IoContext::new().unwrap());
    super::loom_rescue::ON.with(|on| on.set(false));
    assert!(ctx.scheduler().flags.rescue);
    ctx
}

fn two_runners(ctx: &Arc<IoContext>) -> Vec<thread::JoinHandle<usize>> {
    (0..2)
        .map(|_| {
            let c = ctx.clone();
            thread::spawn(move || c.run())
        })
        .collect()
}

/// The handlers the runners ran.
fn join(runners: Vec<thread::JoinHandle<usize>>) -> usize {
    runners.into_iter().map(|r| r.join().unwrap()).sum()
}

/// A handler blocks until an operation it completed at once has run. That
/// completion's wake-up is deferred to the other thread, a rescuer (whose
/// timed waits loom times out at once, in every interleaving); loom reports
/// a deadlock if the rescue can be lost: a rescuer that stops being one as
/// the wake-up is deferred, a look that misses the queued work.
#[test]
fn a_deferred_completion_is_rescued() {
    model(|| {
        let ctx = rescuing_context();
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let (c, d) = (ctx.clone(), done.clone());
        ctx.executor().post(move || {
            let sched = c.scheduler();
            sched.work_started();
            let d2 = d.clone();
            sched.post_completion(handler_op(move || {
                *d2.0.lock().unwrap() = true;
                d2.1.notify_one();
            }));
            let mut g = d.0.lock().unwrap();
            while !*g {
                g = d.1.wait(g).unwrap();
            }
        });
        let runners = two_runners(&ctx);
        assert_eq!(join(runners), 2);
    });
}

/// The handler of one backend completion, the only handler its thread took
/// from the task, blocks until a second completion has run. The wake-up for
/// the task's next turn is deferred to the other thread, a rescuer, which
/// must take the task from behind the blocked handler (loom reports a
/// deadlock if it can fail to).
#[test]
fn the_task_is_rescued_from_behind_a_blocking_handler() {
    model(|| {
        let ctx = rescuing_context();
        let backend = Arc::new(FakeBackend::default());
        assert!(ctx.scheduler().init_task(Box::new(backend.clone())));
        // Two pending "I/O operations".
        ctx.scheduler().work_started();
        ctx.scheduler().work_started();
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let d = done.clone();
        let second = handler_op(move || {
            *d.0.lock().unwrap() = true;
            d.1.notify_one();
        });
        let first = handler_op(move || {
            let mut g = done.0.lock().unwrap();
            while !*g {
                g = done.1.wait(g).unwrap();
            }
        });
        let runners = two_runners(&ctx);
        backend.complete(first);
        backend.complete(second);
        assert_eq!(join(runners), 2);
    });
}
