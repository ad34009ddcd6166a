//! `IoContext` and `IoExecutor`: API.md's "Context and executors" rules and
//! the checks of Asio's own `io_context` unit test. Every test runs in both
//! scheduler modes (default and concurrency hint 1) unless it needs several
//! threads.

mod common;

use common::{contexts, run_on_threads, Counter, DropProbe, HANG};
use proactor::{make_work_guard, Executor, IoContext, IoExecutor};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn run_returns_the_number_of_handlers_run() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let n = Counter::new();
        for _ in 0..5 {
            ex.post(n.bump());
        }
        assert_eq!(n.get(), 0, "{mode}: nothing runs before run()");
        assert_eq!(ctx.run(), 5, "{mode}");
        assert_eq!(n.get(), 5, "{mode}");
    }
}

#[test]
fn run_counts_handlers_posted_by_handlers() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let n = Counter::new();
        let (ex2, n2) = (ex.clone(), n.clone());
        ex.post(move || {
            for _ in 0..3 {
                let n = n2.clone();
                ex2.post(move || n.inc());
            }
        });
        assert_eq!(ctx.run(), 4, "{mode}");
        assert_eq!(n.get(), 3, "{mode}");
    }
}

#[test]
fn run_one_poll_and_poll_one_count() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let n = Counter::new();
        let post = |k: usize| {
            for _ in 0..k {
                ex.post(n.bump());
            }
        };
        post(3);
        assert_eq!(ctx.run_one(), 1, "{mode}");
        assert_eq!(n.get(), 1);
        assert!(!ctx.stopped(), "{mode}: work remains");
        assert_eq!(ctx.poll_one(), 1, "{mode}");
        assert_eq!(ctx.poll(), 1, "{mode}");
        assert_eq!(n.get(), 3);
        assert!(ctx.stopped(), "{mode}: the last handler ran, no work left");
        assert_eq!(ctx.poll(), 0);

        ctx.restart();
        post(4);
        assert_eq!(ctx.poll(), 4, "{mode}");
        assert_eq!(n.get(), 7);
    }
}

#[test]
fn stopped_after_running_out_of_work() {
    for (mode, ctx) in contexts() {
        assert!(!ctx.stopped(), "{mode}: a new context is not stopped");
        ctx.executor().post(|| ());
        assert!(!ctx.stopped());
        assert_eq!(ctx.run(), 1);
        assert!(ctx.stopped(), "{mode}: out of work stops the context");
        // Every run and poll call returns 0 at once until restart().
        let n = Counter::new();
        ctx.executor().post(n.bump());
        assert_eq!(ctx.run(), 0, "{mode}");
        assert_eq!(ctx.run_one(), 0, "{mode}");
        assert_eq!(ctx.poll(), 0, "{mode}");
        assert_eq!(ctx.poll_one(), 0, "{mode}");
        assert_eq!(ctx.run_for(Duration::from_secs(5)), 0, "{mode}");
        assert_eq!(n.get(), 0);
    }
}

#[test]
fn run_with_no_work_stops_at_once() {
    for (mode, ctx) in contexts() {
        assert_eq!(ctx.run(), 0, "{mode}");
        assert!(ctx.stopped(), "{mode}");
        ctx.restart();
        assert_eq!(ctx.poll(), 0, "{mode}");
        assert!(ctx.stopped(), "{mode}: poll with no work stops too");
    }
}

#[test]
fn restart_lets_queued_handlers_run() {
    for (mode, ctx) in contexts() {
        ctx.run();
        let n = Counter::new();
        ctx.executor().post(n.bump());
        assert_eq!(ctx.run(), 0);
        ctx.restart();
        assert!(!ctx.stopped(), "{mode}");
        assert_eq!(ctx.run(), 1, "{mode}");
        assert_eq!(n.get(), 1);
    }
}

#[test]
fn work_guard_with_a_posted_stop() {
    for (mode, ctx) in contexts() {
        let ctx = Arc::new(ctx);
        let n = Counter::new();
        let mut guard = make_work_guard(&ctx.executor());
        let c = ctx.clone();
        ctx.executor().post(move || c.stop());
        assert!(!ctx.stopped());
        assert_eq!(ctx.run(), 1, "{mode}: only the stop handler ran");
        assert!(ctx.stopped(), "{mode}");
        assert_eq!(n.get(), 0);

        ctx.restart();
        ctx.executor().post(n.bump());
        guard.reset();
        assert!(!ctx.stopped(), "{mode}: the queued handler is still work");
        assert_eq!(ctx.run(), 1, "{mode}");
        assert_eq!(n.get(), 1);
        assert!(ctx.stopped(), "{mode}");
    }
}

#[test]
fn a_work_guard_keeps_run_alive_until_reset_from_another_thread() {
    for (mode, ctx) in contexts() {
        let ctx = Arc::new(ctx);
        let mut guard = make_work_guard(&ctx.executor());
        let (started_tx, started_rx) = mpsc::channel();
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        let tx = started_tx.clone();
        ctx.executor().post(move || tx.send(()).unwrap());
        started_rx.recv_timeout(HANG).unwrap();
        // run() now has nothing to do but must not return: the guard holds.
        assert!(!runner.is_finished(), "{mode}");
        assert!(!ctx.stopped(), "{mode}");
        guard.reset();
        assert_eq!(runner.join().unwrap(), 1, "{mode}");
        assert!(ctx.stopped(), "{mode}");
    }
}

#[test]
fn stop_wakes_every_waiting_thread() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let _guard = make_work_guard(&ctx.executor());
    let (tx, rx) = mpsc::channel();
    let runners: Vec<_> = (0..3)
        .map(|_| {
            let (c, tx) = (ctx.clone(), tx.clone());
            thread::spawn(move || {
                tx.send(()).unwrap();
                c.run()
            })
        })
        .collect();
    for _ in 0..3 {
        rx.recv_timeout(HANG).unwrap();
    }
    ctx.stop();
    for r in runners {
        assert_eq!(r.join().unwrap(), 0);
    }
    assert!(ctx.stopped());
}

#[test]
fn post_never_runs_the_handler_inside_post() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let n = Counter::new();
        let (ex2, n2) = (ex.clone(), n.clone());
        ex.post(move || {
            let n3 = n2.clone();
            ex2.post(move || n3.inc());
            assert_eq!(n2.get(), 0, "post ran the handler inline");
            let n4 = n2.clone();
            ex2.defer(move || n4.inc());
            assert_eq!(n2.get(), 0, "defer ran the handler inline");
        });
        assert_eq!(ctx.run(), 3, "{mode}");
        assert_eq!(n.get(), 2);
    }
}

#[test]
fn dispatch_runs_inline_inside_run() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let n = Counter::new();
        let (ex2, n2) = (ex.clone(), n.clone());
        ex.post(move || {
            let n3 = n2.clone();
            ex2.dispatch(move || n3.inc());
            assert_eq!(n2.get(), 1, "dispatch inside run() runs before returning");
        });
        assert_eq!(ctx.run(), 1, "{mode}");
        assert_eq!(n.get(), 1);
    }
}

#[test]
fn dispatch_queues_outside_run() {
    for (mode, ctx) in contexts() {
        let n = Counter::new();
        ctx.executor().dispatch(n.bump());
        assert_eq!(n.get(), 0, "{mode}: dispatch outside run() must queue");
        assert_eq!(ctx.run(), 1);
        assert_eq!(n.get(), 1);
    }
}

#[test]
fn dispatch_from_a_handler_of_another_context_queues() {
    let a = IoContext::new().unwrap();
    let b = IoContext::new().unwrap();
    let n = Counter::new();
    let (bex, n2) = (b.executor(), n.clone());
    a.executor().post(move || {
        let n3 = n2.clone();
        bex.dispatch(move || n3.inc());
        assert_eq!(n2.get(), 0, "not running b: must queue");
    });
    a.run();
    assert_eq!(n.get(), 0);
    assert_eq!(b.run(), 1);
    assert_eq!(n.get(), 1);
}

#[test]
fn running_in_this_thread() {
    for (mode, ctx) in contexts() {
        let other = IoContext::new().unwrap();
        let ex = ctx.executor();
        assert!(!ex.running_in_this_thread(), "{mode}");
        let (ex2, oex) = (ex.clone(), other.executor());
        let seen = Counter::new();
        let s = seen.clone();
        ex.post(move || {
            assert!(ex2.running_in_this_thread());
            assert!(!oex.running_in_this_thread());
            s.inc();
        });
        ctx.run();
        assert_eq!(seen.get(), 1, "{mode}");
        assert!(!ex.running_in_this_thread(), "{mode}");
    }
}

#[test]
fn running_in_this_thread_is_false_on_other_threads_during_run() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let ex = ctx.executor();
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    ex.post(move || {
        tx.send(()).unwrap();
        go_rx.recv_timeout(HANG).unwrap();
    });
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    rx.recv_timeout(HANG).unwrap();
    assert!(!ex.running_in_this_thread());
    go_tx.send(()).unwrap();
    runner.join().unwrap();
}

#[test]
fn executors_compare_by_context() {
    let a = IoContext::new().unwrap();
    let b = IoContext::new().unwrap();
    assert_eq!(a.executor(), a.executor());
    assert_ne!(a.executor(), b.executor());
    let ex: IoExecutor = a.executor();
    assert_eq!(ex.clone(), ex);
}

#[test]
fn handlers_posted_from_one_thread_run_in_order() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        for i in 0..100 {
            let log = log.clone();
            ex.post(move || log.lock().unwrap().push(i));
        }
        ctx.run();
        assert_eq!(*log.lock().unwrap(), (0..100).collect::<Vec<_>>(), "{mode}");
    }
}

#[test]
fn a_handlers_posts_and_defers_run_in_order() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (ex2, log2) = (ex.clone(), log.clone());
        ex.post(move || {
            for i in 0..10 {
                let log = log2.clone();
                ex2.post(move || log.lock().unwrap().push(i));
            }
        });
        ctx.run();
        assert_eq!(*log.lock().unwrap(), (0..10).collect::<Vec<_>>(), "{mode}");

        ctx.restart();
        log.lock().unwrap().clear();
        let (ex2, log2) = (ex.clone(), log.clone());
        ex.post(move || {
            for i in 0..10 {
                let log = log2.clone();
                ex2.defer(move || log.lock().unwrap().push(i));
            }
        });
        ctx.run();
        assert_eq!(*log.lock().unwrap(), (0..10).collect::<Vec<_>>(), "{mode}");
    }
}

#[test]
fn two_threads_with_blocking_handlers_both_make_progress() {
    // Each handler blocks until the other one has run: only two threads
    // running at once can finish them.
    let ctx = Arc::new(IoContext::new().unwrap());
    let ex = ctx.executor();
    let (a_tx, a_rx) = mpsc::channel::<()>();
    let (b_tx, b_rx) = mpsc::channel::<()>();
    ex.post(move || {
        a_tx.send(()).unwrap();
        b_rx.recv_timeout(HANG).expect("handler b never ran");
    });
    ex.post(move || {
        b_tx.send(()).unwrap();
        a_rx.recv_timeout(HANG).expect("handler a never ran");
    });
    let total = run_on_threads(&ctx, 2);
    assert_eq!(total, 2);
}

#[test]
fn a_blocking_handler_can_wait_for_work_it_posted() {
    // The posted handler must be free for the other thread to take.
    let ctx = Arc::new(IoContext::new().unwrap());
    let ex = ctx.executor();
    let ex2 = ex.clone();
    ex.post(move || {
        let (tx, rx) = mpsc::channel::<()>();
        ex2.post(move || tx.send(()).unwrap());
        rx.recv_timeout(HANG).expect("the posted handler never ran");
    });
    let total = run_on_threads(&ctx, 2);
    assert_eq!(total, 2);
}

#[test]
fn many_threads_run_every_handler_exactly_once() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let ex = ctx.executor();
    const N: usize = 20_000;
    let hits: Arc<Vec<Counter>> = Arc::new((0..N).map(|_| Counter::new()).collect());
    for i in 0..N {
        let hits = hits.clone();
        ex.post(move || hits[i].inc());
    }
    let total = run_on_threads(&ctx, 4);
    assert_eq!(total, N);
    assert!(hits.iter().all(|h| h.get() == 1));
}

fn panicking_handlers_propagate(ctx: &IoContext, mode: &str) {
    let ex = ctx.executor();
    let n = Counter::new();
    ex.post(|| panic!("handler panic 1"));
    ex.post(n.bump());
    ex.post(n.bump());
    ex.post(|| panic!("handler panic 2"));
    ex.post(n.bump());
    let mut panics = 0;
    loop {
        match panic::catch_unwind(AssertUnwindSafe(|| ctx.run())) {
            Ok(_) => break,
            Err(_) => {
                panics += 1;
                assert!(!ctx.stopped(), "{mode}: a panic does not stop the context");
            }
        }
    }
    assert_eq!(panics, 2, "{mode}");
    assert_eq!(n.get(), 3, "{mode}: run() carried on with the rest");
}

#[test]
fn panics_propagate_and_run_continues() {
    for (mode, ctx) in contexts() {
        panicking_handlers_propagate(&ctx, mode);
    }
}

#[test]
fn a_panic_in_the_last_handler_leaves_the_context_not_stopped() {
    for (mode, ctx) in contexts() {
        ctx.executor().post(|| panic!("last"));
        assert!(panic::catch_unwind(AssertUnwindSafe(|| ctx.run())).is_err());
        assert!(!ctx.stopped(), "{mode}");
        assert_eq!(ctx.run(), 0, "{mode}: nothing left; now it stops");
        assert!(ctx.stopped());
    }
}

#[test]
fn a_panic_keeps_handlers_deferred_by_the_panicking_handler() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let n = Counter::new();
        let (ex2, n2) = (ex.clone(), n.clone());
        ex.post(move || {
            let n3 = n2.clone();
            ex2.defer(move || n3.inc());
            panic!("after deferring");
        });
        assert!(panic::catch_unwind(AssertUnwindSafe(|| ctx.run())).is_err());
        assert_eq!(ctx.run(), 1, "{mode}: the deferred handler survived");
        assert_eq!(n.get(), 1);
    }
}

#[test]
fn panics_under_two_threads_lose_no_work() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let ex = ctx.executor();
    let n = Counter::new();
    for i in 0..1000 {
        let n = n.clone();
        ex.post(move || {
            if i % 100 == 0 {
                panic!("every hundredth");
            }
            n.inc();
        });
    }
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let c = ctx.clone();
            thread::spawn(move || {
                let mut panics = 0;
                while panic::catch_unwind(AssertUnwindSafe(|| c.run())).is_err() {
                    panics += 1;
                }
                panics
            })
        })
        .collect();
    let panics: usize = runners.into_iter().map(|r| r.join().unwrap()).sum();
    assert_eq!(panics, 10);
    assert_eq!(n.get(), 990);
    assert!(ctx.stopped());
}

#[test]
fn run_for_and_run_until_return_at_the_deadline() {
    for (mode, ctx) in contexts() {
        let _guard = make_work_guard(&ctx.executor());
        let t0 = Instant::now();
        assert_eq!(ctx.run_for(Duration::from_millis(30)), 0, "{mode}");
        assert!(t0.elapsed() >= Duration::from_millis(30), "{mode}");
        assert!(
            !ctx.stopped(),
            "{mode}: a timeout does not stop the context"
        );

        let n = Counter::new();
        for _ in 0..3 {
            let n = n.clone();
            ctx.executor().post(move || n.inc());
        }
        let until = Instant::now() + Duration::from_millis(20);
        assert_eq!(ctx.run_until(until), 3, "{mode}");
        assert!(Instant::now() >= until, "{mode}");
    }
}

#[test]
fn run_for_returns_early_when_work_runs_out() {
    for (mode, ctx) in contexts() {
        ctx.executor().post(|| ());
        let t0 = Instant::now();
        assert_eq!(ctx.run_for(HANG), 1, "{mode}");
        assert!(t0.elapsed() < HANG);
        assert!(ctx.stopped());
    }
}

#[test]
fn nested_run_and_poll_inside_a_handler() {
    for (mode, ctx) in contexts() {
        let ctx = Arc::new(ctx);
        let n = Counter::new();
        let (c, n2) = (ctx.clone(), n.clone());
        let ex = ctx.executor();
        ex.post(move || {
            for _ in 0..3 {
                let n = n2.clone();
                c.executor().post(move || n.inc());
            }
            assert_eq!(c.poll(), 3, "nested poll runs the ready handlers");
        });
        assert_eq!(ctx.run(), 1, "{mode}");
        assert_eq!(n.get(), 3);
    }
}

#[test]
fn dropping_the_context_drops_unrun_handlers_without_calling_them() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        let dropped = Counter::new();
        let ran = Counter::new();
        for _ in 0..10 {
            // Each handler holds an executor of its own context: no cycle
            // may keep it alive.
            let (probe, ex2, ran) = (DropProbe(dropped.clone()), ex.clone(), ran.clone());
            ex.post(move || {
                let _ = (&probe, &ex2);
                ran.inc();
            });
        }
        drop(ctx);
        assert_eq!(dropped.get(), 10, "{mode}");
        assert_eq!(ran.get(), 0, "{mode}");
    }
}

#[test]
fn executors_outliving_the_context_drop_new_work() {
    for (mode, ctx) in contexts() {
        let ex = ctx.executor();
        drop(ctx);
        let dropped = Counter::new();
        let ran = Counter::new();
        let (probe, r) = (DropProbe(dropped.clone()), ran.clone());
        ex.post(move || {
            let _ = &probe;
            r.inc();
        });
        let (probe, r) = (DropProbe(dropped.clone()), ran.clone());
        ex.dispatch(move || {
            let _ = &probe;
            r.inc();
        });
        assert_eq!(dropped.get(), 2, "{mode}");
        assert_eq!(ran.get(), 0, "{mode}");
        assert!(!ex.running_in_this_thread());
    }
}

#[test]
fn a_handler_destructor_that_posts_during_shutdown_is_dropped_too() {
    struct PostOnDrop(IoExecutor, Counter);
    impl Drop for PostOnDrop {
        fn drop(&mut self) {
            let probe = DropProbe(self.1.clone());
            self.0.post(move || {
                let _ = &probe;
                panic!("must not run");
            });
        }
    }
    let ctx = IoContext::new().unwrap();
    let dropped = Counter::new();
    let p = PostOnDrop(ctx.executor(), dropped.clone());
    ctx.executor().post(move || {
        let _ = &p;
    });
    drop(ctx);
    assert_eq!(dropped.get(), 1);
}

#[test]
fn one_thread_context_serialises_a_second_runner() {
    // With hint 1 a second thread calling run() is safe: it waits its turn,
    // and each handler still runs exactly once.
    let ctx = Arc::new(IoContext::with_concurrency_hint(1).unwrap());
    let ex = ctx.executor();
    let n = Counter::new();
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for _ in 0..2000 {
        let (n, busy) = (n.clone(), busy.clone());
        ex.post(move || {
            assert!(!busy.swap(true, std::sync::atomic::Ordering::SeqCst));
            n.inc();
            busy.store(false, std::sync::atomic::Ordering::SeqCst);
        });
    }
    let total = run_on_threads(&ctx, 2);
    assert_eq!(total, 2000);
    assert_eq!(n.get(), 2000);
}

#[test]
fn posts_from_other_threads_wake_a_sleeping_runner() {
    for (mode, ctx) in contexts() {
        let ctx = Arc::new(ctx);
        let mut guard = make_work_guard(&ctx.executor());
        let c = ctx.clone();
        let runner = thread::spawn(move || c.run());
        for _ in 0..100 {
            let (tx, rx) = mpsc::channel();
            ctx.executor().post(move || tx.send(()).unwrap());
            rx.recv_timeout(HANG)
                .unwrap_or_else(|_| panic!("{mode}: post did not wake the runner"));
        }
        guard.reset();
        assert_eq!(runner.join().unwrap(), 100, "{mode}");
    }
}
