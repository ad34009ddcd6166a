//! Loom models of the scheduler: its queue with the wake-up handshake, and
//! work counting together with stop.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test --profile loom --test loom_scheduler`
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use proactor::{make_work_guard, Executor, IoContext};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// A post from another thread reaches a runner that may be going to sleep
/// at that very moment: no lost wake-up (loom reports a deadlock if one is
/// lost).
fn post_wakes_a_sleeping_runner(hint: usize) {
    let ctx = Arc::new(IoContext::with_concurrency_hint(hint).unwrap());
    let guard = make_work_guard(&ctx.executor());
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    let ran = counter();
    let (r, c) = (ran.clone(), ctx.clone());
    ctx.executor().post(move || {
        r.fetch_add(1, SeqCst);
        c.stop();
    });
    assert_eq!(runner.join().unwrap(), 1);
    assert_eq!(ran.load(SeqCst), 1);
    drop(guard);
}

#[test]
fn queue_and_wake_up() {
    model(|| post_wakes_a_sleeping_runner(0));
}

#[test]
fn queue_and_wake_up_one_thread_mode() {
    model(|| post_wakes_a_sleeping_runner(1));
}

/// Two producers race each other and the consumer through the MPSC queue;
/// the consumer's view stays consistent and nothing is lost or run twice.
#[test]
fn two_producers_one_consumer() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let guard = make_work_guard(&ctx.executor());
        let ran = counter();
        let producer = {
            let (ex, r) = (ctx.executor(), ran.clone());
            thread::spawn(move || {
                ex.post(move || {
                    r.fetch_add(1, SeqCst);
                })
            })
        };
        let r = ran.clone();
        ctx.executor().post(move || {
            r.fetch_add(1, SeqCst);
        });
        producer.join().unwrap();
        drop(guard);
        // This thread is the consumer: both handlers run, then the context
        // stops for lack of work.
        assert_eq!(ctx.run(), 2);
        assert_eq!(ran.load(SeqCst), 2);
        assert!(ctx.stopped());
    });
}

/// Releasing the last work races a runner going idle: the context stops
/// and `run()` returns, after the queued handler ran.
#[test]
fn work_count_and_stop() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let mut guard = make_work_guard(&ctx.executor());
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        let ran = counter();
        let r = ran.clone();
        ctx.executor().post(move || {
            r.fetch_add(1, SeqCst);
        });
        guard.reset();
        assert_eq!(runner.join().unwrap(), 1);
        assert_eq!(ran.load(SeqCst), 1);
        assert!(ctx.stopped());
    });
}

/// Two runners and a guard released concurrently: both runners return, the
/// handler runs exactly once, and the context ends up stopped.
#[test]
fn work_count_and_stop_two_runners() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let mut guard = make_work_guard(&ctx.executor());
        let ran = counter();
        let r = ran.clone();
        ctx.executor().post(move || {
            r.fetch_add(1, SeqCst);
        });
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        let releaser = thread::spawn(move || guard.reset());
        let mine = ctx.run();
        releaser.join().unwrap();
        let theirs = runner.join().unwrap();
        assert_eq!(mine + theirs, 1);
        assert_eq!(ran.load(SeqCst), 1);
        assert!(ctx.stopped());
    });
}

/// A poster outside the context (holding work while it posts, as code that
/// posts from outside must) races the release of the other work while the
/// runner may be asleep. The runner may wake, take the handler and be
/// running it at the very moment the count hits zero: the context must not
/// stop then, or the handler's follow-up would be stranded. This is the
/// race the busy word's generation check exists for.
#[test]
fn work_count_and_stop_with_a_racing_post() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let mut guard = make_work_guard(&ctx.executor());
        let (first, second) = (counter(), counter());
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        let poster = {
            let (ex, f, s) = (ctx.executor(), first.clone(), second.clone());
            let held = make_work_guard(&ex);
            thread::spawn(move || {
                let ex2 = ex.clone();
                ex.post(move || {
                    f.fetch_add(1, SeqCst);
                    ex2.post(move || {
                        s.fetch_add(1, SeqCst);
                    });
                });
                drop(held);
            })
        };
        guard.reset();
        poster.join().unwrap();
        runner.join().unwrap();
        assert_eq!(first.load(SeqCst), 1);
        assert_eq!(second.load(SeqCst), 1);
    });
}

/// `stop()` from another thread ends a run that a guard keeps alive.
#[test]
fn stop_from_another_thread() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let guard = make_work_guard(&ctx.executor());
        let c = ctx.clone();
        let stopper = thread::spawn(move || c.stop());
        assert_eq!(ctx.run(), 0);
        stopper.join().unwrap();
        assert!(ctx.stopped());
        drop(guard);
    });
}
