//! Loom model of the strand's lock hand-off: an invoker finishing its turn
//! races posters locking the strand, on two running threads.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test --profile loom --test loom_strand`
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use proactor::{make_work_guard, Executor, IoContext, Strand};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

#[derive(Default)]
struct Check {
    busy: AtomicBool,
    ran: AtomicUsize,
    /// Bit k set when handler k ran; handlers record their order here.
    order: AtomicUsize,
}

fn handler(check: &Arc<Check>, k: usize) -> impl FnOnce() + Send + 'static {
    let check = check.clone();
    move || {
        assert!(
            !check.busy.swap(true, SeqCst),
            "two strand handlers at once"
        );
        let n = check.ran.fetch_add(1, SeqCst);
        check.order.fetch_or(k << (n * 2), SeqCst);
        check.busy.store(false, SeqCst);
    }
}

/// A poster thread and this thread post to one strand while another thread
/// runs the context, and this thread joins in running it afterwards.
#[test]
fn lock_hand_off() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let guard = make_work_guard(&ctx.executor());
        let strand = Strand::new(ctx.executor());
        let check = Arc::new(Check::default());
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        let poster = {
            let (s, h) = (strand.clone(), handler(&check, 1));
            thread::spawn(move || s.post(h))
        };
        strand.post(handler(&check, 2));
        poster.join().unwrap();
        drop(guard);
        let mine = ctx.run();
        let theirs = runner.join().unwrap();
        assert!(mine + theirs >= 1);
        assert_eq!(check.ran.load(SeqCst), 2);
    });
}

/// Two handlers from one poster, posted while the strand's first turn may
/// be ending on another thread, run in posting order.
#[test]
fn hand_off_keeps_order() {
    model(|| {
        let ctx = Arc::new(IoContext::new().unwrap());
        let guard = make_work_guard(&ctx.executor());
        let strand = Strand::new(ctx.executor());
        let check = Arc::new(Check::default());
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        strand.post(handler(&check, 1));
        strand.post(handler(&check, 2));
        drop(guard);
        runner.join().unwrap();
        ctx.run();
        assert_eq!(check.ran.load(SeqCst), 2);
        // Handler 1 first (bits 0-1), then handler 2 (bits 2-3).
        assert_eq!(check.order.load(SeqCst), 1 | (2 << 2));
    });
}
