//! Loom models of the task seat: a post reaches the thread blocked in the
//! backend, and the backend's completions reach the run loop.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test --profile loom --lib`

use super::fake_task::FakeBackend;
use crate::op::handler_op;
use crate::sync::Arc;
use crate::{Executor, IoContext};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
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
