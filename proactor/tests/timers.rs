//! Timers.

mod common;

use common::{Counter, HANG};
use proactor::error::is_operation_aborted;
use proactor::{IoContext, SteadyTimer, SystemTimer};
use std::io;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

#[test]
fn a_thousand_timers_fire_in_expiry_order() {
    let ctx = IoContext::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let base = Instant::now() + Duration::from_millis(20);
    // Distinct expiries 0..100 ms apart, set in a scrambled order.
    let mut timers = Vec::new();
    for i in 0..1000u64 {
        let k = (i * 7919) % 1000;
        let t = SteadyTimer::new(&ctx.executor());
        t.expires_at(base + Duration::from_micros(k * 100));
        let order = order.clone();
        t.async_wait(move |r: io::Result<()>| {
            r.unwrap();
            order.lock().unwrap().push(k);
        });
        timers.push(t);
    }
    assert_eq!(ctx.run(), 1000);
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 1000);
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "fired out of expiry order"
    );
    assert!(Instant::now() >= base + Duration::from_micros(99_900));
}

#[test]
fn cancel_completes_every_pending_wait_aborted_and_counts_them() {
    let ctx = IoContext::new().unwrap();
    let t = SteadyTimer::new(&ctx.executor());
    t.expires_after(HANG);
    let aborted = Counter::new();
    for _ in 0..3 {
        let a = aborted.clone();
        t.async_wait(move |r: io::Result<()>| {
            assert!(is_operation_aborted(&r.unwrap_err()));
            a.inc();
        });
    }
    assert_eq!(t.cancel(), 3);
    assert_eq!(t.cancel(), 0, "nothing left to cancel");
    assert_eq!(ctx.run(), 3);
    assert_eq!(aborted.get(), 3);
}

#[test]
fn expires_after_cancels_a_pending_wait() {
    let ctx = IoContext::new().unwrap();
    let t = SteadyTimer::new(&ctx.executor());
    t.expires_after(HANG);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    t.async_wait(move |r: io::Result<()>| {
        l.lock()
            .unwrap()
            .push(("first", is_operation_aborted(&r.unwrap_err())))
    });
    assert_eq!(t.expires_after(Duration::from_millis(10)), 1);
    let l = log.clone();
    t.async_wait(move |r: io::Result<()>| l.lock().unwrap().push(("second", r.is_err())));
    ctx.run();
    assert_eq!(*log.lock().unwrap(), [("first", true), ("second", false)]);
}

#[test]
fn expiry_is_exactly_what_was_set() {
    let ctx = IoContext::new().unwrap();
    let t = SteadyTimer::new(&ctx.executor());
    let when = Instant::now() + Duration::from_millis(1234);
    t.expires_at(when);
    assert_eq!(t.expiry(), when);
    let s = SystemTimer::new(&ctx.executor());
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000);
    s.expires_at(wall);
    assert_eq!(s.expiry(), wall);
}

#[test]
fn expiry_is_exact_also_centuries_away_and_before_the_epoch() {
    let ctx = IoContext::new().unwrap();
    let t = SteadyTimer::new(&ctx.executor());
    let year = Duration::from_secs(365 * 86_400);
    let now = Instant::now();
    let mut steady = vec![now, now + Duration::from_nanos(1), now + 300 * year];
    steady.extend(now.checked_sub(Duration::from_nanos(7)));
    steady.extend(now.checked_add(1000 * year));
    for when in steady {
        t.expires_at(when);
        assert_eq!(t.expiry(), when);
    }
    let s = SystemTimer::new(&ctx.executor());
    let epoch = SystemTime::UNIX_EPOCH;
    let mut wall = vec![epoch, epoch + 500 * year];
    wall.extend(epoch.checked_sub(Duration::new(1, 1)));
    wall.extend(epoch.checked_sub(400 * year));
    for when in wall {
        s.expires_at(when);
        assert_eq!(s.expiry(), when);
    }
    // A far expiry set from another thread is what this thread then reads.
    let far = now + 400 * year;
    thread::scope(|sc| {
        sc.spawn(|| t.expires_at(far));
    });
    assert_eq!(t.expiry(), far);
}

#[test]
fn a_due_timer_never_completes_inside_async_wait() {
    for (mode, ctx) in common::contexts() {
        let t = SteadyTimer::new(&ctx.executor());
        t.expires_at(Instant::now() - Duration::from_secs(1));
        let n = Counter::new();
        let n2 = n.clone();
        t.async_wait(move |r: io::Result<()>| {
            r.unwrap();
            n2.inc();
        });
        assert_eq!(n.get(), 0, "{mode}: ran inside async_wait");
        assert_eq!(ctx.run(), 1, "{mode}");
        assert_eq!(n.get(), 1);
    }
}

#[test]
fn cancel_from_another_thread() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let t = Arc::new(SteadyTimer::new(&ctx.executor()));
    t.expires_after(HANG);
    let (tx, rx) = mpsc::channel();
    t.async_wait(move |r: io::Result<()>| tx.send(r).unwrap());
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    let t0 = Instant::now();
    let t2 = t.clone();
    thread::spawn(move || assert_eq!(t2.cancel(), 1))
        .join()
        .unwrap();
    let r = rx.recv_timeout(HANG).expect("the cancelled wait completed");
    assert!(is_operation_aborted(&r.unwrap_err()));
    assert!(t0.elapsed() < HANG);
    runner.join().unwrap();
}

#[test]
fn dropping_a_timer_aborts_its_waits() {
    let ctx = IoContext::new().unwrap();
    let t = SteadyTimer::new(&ctx.executor());
    t.expires_after(HANG);
    let (tx, rx) = mpsc::channel();
    t.async_wait(move |r: io::Result<()>| tx.send(r).unwrap());
    drop(t);
    ctx.run();
    assert!(is_operation_aborted(&rx.recv().unwrap().unwrap_err()));
}

#[test]
fn dropping_the_context_drops_pending_waits_unrun() {
    let ctx = IoContext::new().unwrap();
    let t = SteadyTimer::new(&ctx.executor());
    t.expires_after(HANG);
    let dropped = Counter::new();
    let probe = common::DropProbe(dropped.clone());
    t.async_wait(move |_: io::Result<()>| {
        let _ = &probe;
        panic!("must not run");
    });
    drop(ctx);
    assert_eq!(dropped.get(), 1);
    // The timer outlives its context: cancelling is harmless.
    assert_eq!(t.cancel(), 0);
}

#[test]
fn system_timer_fires() {
    let ctx = IoContext::new().unwrap();
    let t = SystemTimer::new(&ctx.executor());
    let when = SystemTime::now() + Duration::from_millis(15);
    t.expires_at(when);
    let fired = Counter::new();
    let f = fired.clone();
    t.async_wait(move |r: io::Result<()>| {
        r.unwrap();
        assert!(SystemTime::now() >= when);
        f.inc();
    });
    ctx.run();
    assert_eq!(fired.get(), 1);
}

#[test]
fn blocking_wait() {
    let ctx = IoContext::new().unwrap();
    let t = SteadyTimer::new(&ctx.executor());
    let when = Instant::now() + Duration::from_millis(15);
    t.expires_at(when);
    t.wait().unwrap();
    assert!(Instant::now() >= when);
}

#[test]
fn timers_on_two_threads() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let fired = Counter::new();
    let mut timers = Vec::new();
    for i in 0..200 {
        let t = SteadyTimer::new(&ctx.executor());
        t.expires_after(Duration::from_micros(i * 50));
        let f = fired.clone();
        t.async_wait(move |r: io::Result<()>| {
            r.unwrap();
            f.inc();
        });
        timers.push(t);
    }
    assert_eq!(common::run_on_threads(&ctx, 2), 200);
    assert_eq!(fired.get(), 200);
}

/// Whether thread `tid` of this process sleeps in the backend with no
/// time limit: in `epoll_wait`, or in `io_uring_enter` waiting for a
/// completion without a timeout argument (Linux reports a thread's
/// current system call in /proc); `None` where /proc does not tell.
#[cfg(target_os = "linux")]
fn sleeps_in_backend(tid: libc::pid_t, backend: proactor::Backend) -> Option<bool> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let nr: libc::c_long = fields.first().and_then(|n| n.parse().ok()).unwrap_or(-1);
    let arg = |i: usize| {
        fields
            .get(i)
            .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
    };
    Some(match backend {
        proactor::Backend::IoUring => {
            // io_uring_enter(fd, to_submit, min_complete, flags, arg, size):
            // IORING_ENTER_EXT_ARG (8) would carry a timeout.
            nr == libc::SYS_io_uring_enter
                && arg(3).is_some_and(|min| min > 0)
                && arg(4).is_some_and(|flags| flags & 8 == 0)
        }
        _ => {
            let epoll = [
                libc::SYS_epoll_wait,
                libc::SYS_epoll_pwait,
                libc::SYS_epoll_pwait2,
            ];
            // The fourth argument is the timeout: -1 (all ones) means none.
            epoll.contains(&nr) && arg(4).is_some_and(|t| t as u32 == u32::MAX)
        }
    })
}

#[test]
#[cfg(target_os = "linux")]
fn an_async_wait_started_outside_run_wakes_the_reactor() {
    let ctx = Arc::new(IoContext::new().unwrap());
    // The reactor exists (timers create it), and nothing is due: the
    // runner blocks in the backend with no timeout.
    let first = SteadyTimer::new(&ctx.executor());
    let guard = proactor::make_work_guard(&ctx.executor());
    let (tid_tx, tid_rx) = mpsc::channel();
    let c = ctx.clone();
    let runner = thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        c.run()
    });
    let tid = tid_rx.recv().unwrap();
    let t0 = Instant::now();
    // (Where /proc cannot say, the wait may start before the runner
    // blocks: the test proves less, but still that the wait fires.)
    let backend = ctx.backend().unwrap();
    while sleeps_in_backend(tid, backend) == Some(false) {
        assert!(
            t0.elapsed() < HANG,
            "the runner never blocked in the backend ({backend:?})"
        );
        thread::yield_now();
    }
    // From this thread, outside run(): a timer due in 1 ms must wake it.
    first.expires_after(Duration::from_millis(1));
    let (tx, rx) = mpsc::channel();
    first.async_wait(move |r: io::Result<()>| tx.send(r).unwrap());
    rx.recv_timeout(HANG)
        .expect("the reactor woke for the new timer")
        .unwrap();
    drop(guard);
    assert_eq!(runner.join().unwrap(), 1);
}

/// The timers hold one unit of work for all their waits: `run()` must go on
/// until the last wait has ended, whichever way the others end (aborted by
/// a cancel, a new expiry or a cancellation slot, fired, or due at once).
#[test]
fn run_lasts_until_the_last_of_many_waits_ends_however_the_others_end() {
    use proactor::{bind_cancellation_slot, CancellationSignal, CancellationType};
    let ctx = IoContext::new().unwrap();
    let ex = ctx.executor();
    let (fired, aborted) = (Counter::new(), Counter::new());
    let handler = || {
        let (f, a) = (fired.clone(), aborted.clone());
        move |r: io::Result<()>| match r {
            Ok(()) => f.inc(),
            Err(e) if is_operation_aborted(&e) => a.inc(),
            Err(e) => panic!("{e}"),
        }
    };
    let timers: Vec<SteadyTimer> = (0..6).map(|_| SteadyTimer::new(&ex)).collect();
    for t in &timers[..5] {
        t.expires_after(Duration::from_secs(60));
        t.async_wait(handler());
    }
    // The last wait, the only one to fire late.
    timers[5].expires_after(Duration::from_millis(30));
    timers[5].async_wait(handler());
    // One fires soon, one is due at once, one is cancelled, one gets a new
    // expiry (and is waited on again), one is cancelled through its slot.
    timers[0].expires_after(Duration::from_millis(1));
    timers[0].async_wait(handler());
    timers[1].expires_at(Instant::now() - Duration::from_millis(1));
    timers[1].async_wait(handler());
    assert_eq!(timers[2].cancel(), 1);
    assert_eq!(timers[3].expires_after(Duration::from_millis(2)), 1);
    timers[3].async_wait(handler());
    let signal = CancellationSignal::new();
    timers[4].expires_after(Duration::from_secs(60));
    timers[4].async_wait(bind_cancellation_slot(signal.slot(), handler()));
    signal.emit(CancellationType::TERMINAL);
    ctx.run();
    // Aborted: 0, 1, 2, 3 (their first waits, by the new expiries or the
    // cancel), 4 twice (its first wait by the new expiry, the second by
    // the slot). Fired: 0, 1, 3, 5.
    assert_eq!((fired.get(), aborted.get()), (4, 6));
}
