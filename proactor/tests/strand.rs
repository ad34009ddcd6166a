//! `Strand`: the rules of API.md and the checks of Asio's strand unit test.

mod common;

use common::{contexts, Counter, DropProbe, HANG};
use proactor::{make_work_guard, Executor, IoContext, Strand, ThreadPool};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

#[test]
fn running_in_this_thread() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        let other = Strand::new(ctx.executor());
        assert!(!s.running_in_this_thread(), "{mode}");
        let n = Counter::new();
        let (s2, o2, n2, ex) = (s.clone(), other.clone(), n.clone(), ctx.executor());
        s.post(move || {
            assert!(s2.running_in_this_thread());
            assert!(!o2.running_in_this_thread());
            assert!(
                ex.running_in_this_thread(),
                "a strand handler runs inside the context"
            );
            n2.inc();
        });
        let s3 = s.clone();
        ctx.executor()
            .post(move || assert!(!s3.running_in_this_thread()));
        ctx.run();
        assert_eq!(n.get(), 1, "{mode}");
        assert!(!s.running_in_this_thread());
    }
}

#[test]
fn post_never_runs_inline_even_inside_the_strand() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        let n = Counter::new();
        let (s2, n2) = (s.clone(), n.clone());
        s.post(move || {
            let n3 = n2.clone();
            s2.post(move || n3.inc());
            assert_eq!(n2.get(), 0);
            let n4 = n2.clone();
            s2.defer(move || n4.inc());
            assert_eq!(n2.get(), 0);
        });
        assert_eq!(n.get(), 0, "{mode}: nothing runs before run()");
        ctx.run();
        assert_eq!(n.get(), 2, "{mode}");
    }
}

#[test]
fn dispatch_runs_inline_when_the_strand_is_idle() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        let n = Counter::new();
        let (s2, n2) = (s.clone(), n.clone());
        ctx.executor().post(move || {
            let (s3, n3) = (s2.clone(), n2.clone());
            s2.dispatch(move || {
                assert!(s3.running_in_this_thread());
                n3.inc();
            });
            assert_eq!(
                n2.get(),
                1,
                "idle strand + inside run(): dispatch is inline"
            );
            assert!(!s2.running_in_this_thread(), "the strand is left again");
        });
        ctx.run();
        assert_eq!(n.get(), 1, "{mode}");
    }
}

#[test]
fn dispatch_inside_the_strand_runs_inline() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        let n = Counter::new();
        let (s2, n2) = (s.clone(), n.clone());
        s.post(move || {
            let n3 = n2.clone();
            s2.dispatch(move || n3.inc());
            assert_eq!(n2.get(), 1);
        });
        ctx.run();
        assert_eq!(n.get(), 1, "{mode}");
    }
}

#[test]
fn dispatch_queues_when_the_strand_is_busy_or_outside_run() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        // Outside run(): queued.
        let n = Counter::new();
        s.dispatch(n.bump());
        assert_eq!(n.get(), 0, "{mode}");
        ctx.run();
        assert_eq!(n.get(), 1, "{mode}");

        // Inside run(), but the strand has a handler queued: the dispatched
        // one goes behind it.
        ctx.restart();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s2, log2) = (s.clone(), log.clone());
        ctx.executor().post(move || {
            let l = log2.clone();
            s2.dispatch(move || l.lock().unwrap().push("dispatched"));
            log2.lock().unwrap().push("after dispatch");
        });
        let l = log.clone();
        s.post(move || l.lock().unwrap().push("queued first"));
        ctx.run();
        assert_eq!(
            *log.lock().unwrap(),
            ["after dispatch", "queued first", "dispatched"],
            "{mode}"
        );
    }
}

#[test]
fn handlers_run_in_the_order_they_were_posted() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        let log = Arc::new(Mutex::new(Vec::new()));
        for i in 0..1000 {
            let log = log.clone();
            if i % 3 == 0 {
                s.defer(move || log.lock().unwrap().push(i));
            } else {
                s.post(move || log.lock().unwrap().push(i));
            }
        }
        ctx.run();
        assert_eq!(
            *log.lock().unwrap(),
            (0..1000).collect::<Vec<_>>(),
            "{mode}"
        );
    }
}

/// Marks the strand busy for the duration of a handler; a second handler
/// inside at the same time is an overlap.
#[derive(Default)]
struct Exclusion {
    busy: AtomicBool,
    overlaps: AtomicU64,
}

impl Exclusion {
    fn enter(&self) {
        if self.busy.swap(true, SeqCst) {
            self.overlaps.fetch_add(1, SeqCst);
        }
        // Stay inside long enough for a broken strand to be caught.
        for _ in 0..50 {
            std::hint::spin_loop();
        }
        self.busy.store(false, SeqCst);
    }
}

#[test]
fn strictly_serial_and_ordered_under_several_threads() {
    let pool = ThreadPool::new(4).unwrap();
    let strands: Vec<_> = (0..3).map(|_| Strand::new(pool.executor())).collect();
    let checks: Arc<Vec<(Exclusion, AtomicU64)>> =
        Arc::new((0..3).map(|_| Default::default()).collect());
    const PER_STRAND: u64 = 20_000;
    // Two posting threads per strand; each poster's handlers must stay in
    // order, so each carries (poster, seq).
    let posters: Vec<_> = (0..2)
        .map(|p| {
            let (strands, checks) = (strands.clone(), checks.clone());
            thread::spawn(move || {
                let last: Arc<Vec<[AtomicU64; 2]>> =
                    Arc::new((0..3).map(|_| Default::default()).collect());
                for seq in 1..=PER_STRAND / 2 {
                    for (k, s) in strands.iter().enumerate() {
                        let (checks, last) = (checks.clone(), last.clone());
                        s.post(move || {
                            checks[k].0.enter();
                            let prev = last[k][p].swap(seq, SeqCst);
                            assert_eq!(prev + 1, seq, "strand {k}, poster {p}: out of order");
                            checks[k].1.fetch_add(1, SeqCst);
                        });
                    }
                }
            })
        })
        .collect();
    for p in posters {
        p.join().unwrap();
    }
    pool.join();
    for (k, (excl, ran)) in checks.iter().enumerate() {
        assert_eq!(
            excl.overlaps.load(SeqCst),
            0,
            "strand {k} ran two handlers at once"
        );
        assert_eq!(ran.load(SeqCst), PER_STRAND, "strand {k}");
    }
}

#[test]
fn dispatch_keeps_exclusion_under_several_threads() {
    let pool = ThreadPool::new(3).unwrap();
    let s = Strand::new(pool.executor());
    let excl = Arc::new(Exclusion::default());
    let n = Counter::new();
    for _ in 0..5000 {
        let (s2, excl, n) = (s.clone(), excl.clone(), n.clone());
        pool.executor().post(move || {
            s2.dispatch(move || {
                excl.enter();
                n.inc();
            })
        });
    }
    pool.join();
    assert_eq!(excl.overlaps.load(SeqCst), 0);
    assert_eq!(n.get(), 5000);
}

#[test]
fn panics_propagate_and_the_strand_carries_on() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        let n = Counter::new();
        s.post(|| panic!("strand panic 1"));
        s.post(n.bump());
        s.post(n.bump());
        s.post(|| panic!("strand panic 2"));
        s.post(n.bump());
        assert_eq!(n.get(), 0);
        let mut panics = 0;
        while panic::catch_unwind(AssertUnwindSafe(|| ctx.run())).is_err() {
            panics += 1;
        }
        assert_eq!(panics, 2, "{mode}");
        assert_eq!(n.get(), 3, "{mode}");
        // The strand is usable afterwards.
        ctx.restart();
        s.post(n.bump());
        ctx.run();
        assert_eq!(n.get(), 4, "{mode}");
    }
}

#[test]
fn a_panic_in_an_inline_dispatch_unlocks_the_strand() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        let n = Counter::new();
        let s2 = s.clone();
        ctx.executor()
            .post(move || s2.dispatch(|| panic!("inline strand panic")));
        assert!(panic::catch_unwind(AssertUnwindSafe(|| ctx.run())).is_err());
        s.post(n.bump());
        ctx.run();
        assert_eq!(n.get(), 1, "{mode}: strand still works after the panic");
    }
}

#[test]
fn handlers_of_a_dropped_strand_still_run() {
    for (mode, ctx) in contexts() {
        let n = Counter::new();
        {
            let s = Strand::new(ctx.executor());
            for _ in 0..3 {
                s.post(n.bump());
            }
        }
        assert_eq!(n.get(), 0);
        ctx.run();
        assert_eq!(n.get(), 3, "{mode}");
    }
}

#[test]
fn handlers_of_a_dropped_strand_are_dropped_with_the_context() {
    for (mode, ctx) in contexts() {
        let dropped = Counter::new();
        let ran = Counter::new();
        {
            let s = Strand::new(ctx.executor());
            for _ in 0..3 {
                // Each handler holds its strand: no cycle may survive.
                let (p, r, s2) = (DropProbe(dropped.clone()), ran.clone(), s.clone());
                s.post(move || {
                    let _ = (&p, &s2);
                    r.inc();
                });
            }
        }
        drop(ctx);
        assert_eq!(dropped.get(), 3, "{mode}");
        assert_eq!(ran.get(), 0, "{mode}");
    }
}

#[test]
fn a_strand_whose_context_is_gone_drops_new_handlers() {
    for (mode, ctx) in contexts() {
        let s = Strand::new(ctx.executor());
        drop(ctx);
        let dropped = Counter::new();
        for _ in 0..2 {
            let p = DropProbe(dropped.clone());
            s.post(move || {
                let _ = &p;
                panic!("must not run");
            });
        }
        assert_eq!(dropped.get(), 2, "{mode}");
    }
}

#[test]
fn strand_of_a_strand() {
    let ctx = IoContext::new().unwrap();
    let outer = Strand::new(ctx.executor());
    let inner = Strand::new(outer.clone());
    let n = Counter::new();
    let (o2, i2, n2) = (outer.clone(), inner.clone(), n.clone());
    inner.post(move || {
        assert!(i2.running_in_this_thread());
        assert!(o2.running_in_this_thread());
        n2.inc();
    });
    ctx.run();
    assert_eq!(n.get(), 1);
}

#[test]
fn strand_work_counting_reaches_the_context() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let s = Strand::new(ctx.executor());
    let mut guard = make_work_guard(&s);
    let c = ctx.clone();
    let (tx, rx) = mpsc::channel();
    let runner = thread::spawn(move || c.run());
    s.post(move || tx.send(()).unwrap());
    rx.recv_timeout(HANG).unwrap();
    assert!(
        !runner.is_finished(),
        "a guard on the strand keeps the context running"
    );
    guard.reset();
    assert_eq!(runner.join().unwrap(), 1);
}

#[test]
fn strands_compare_by_identity() {
    let ctx = IoContext::new().unwrap();
    let a = Strand::new(ctx.executor());
    let b = Strand::new(ctx.executor());
    assert_eq!(a.clone(), a);
    assert_ne!(a, b);
    assert_eq!(*a.inner(), ctx.executor());
}
