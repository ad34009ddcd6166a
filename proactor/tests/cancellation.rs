//! Per-operation cancellation: slots and signals, cancellation types,
//! dropped futures, parallel groups and deferred chains, on timers.
//! (Sockets: `cancellation_io.rs`.)

mod common;

use common::Counter;
use proactor::error::is_operation_aborted;
use proactor::{
    bind_cancellation_slot, parallel_group, CancellationSignal, CancellationType, Deferred,
    Executor, IoContext, SteadyTimer, UseFuture, WaitForAll, WaitForOne,
};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Context;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

fn aborted(r: &io::Result<()>) -> bool {
    r.as_ref().is_err_and(is_operation_aborted)
}

/// Asio's timer test, with a slot bound to the second of three waits on
/// one timer: emitting the signal completes exactly that wait; the timer's
/// own `cancel()` then completes the other two.
#[test]
fn a_slot_bound_to_one_of_three_waits_cancels_exactly_that_wait() {
    let ctx = IoContext::new().unwrap();
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(LONG);
    let results: Arc<Mutex<Vec<(usize, bool)>>> = Arc::default();
    let record = |i: usize| {
        let results = results.clone();
        move |r: io::Result<()>| results.lock().unwrap().push((i, aborted(&r)))
    };
    let signal = CancellationSignal::new();
    timer.async_wait(record(1));
    timer.async_wait(bind_cancellation_slot(signal.slot(), record(2)));
    timer.async_wait(record(3));

    assert_eq!(ctx.poll(), 0, "nothing is ready yet");
    assert!(results.lock().unwrap().is_empty());

    signal.emit(CancellationType::ALL);
    let ran = ctx.run_one() + ctx.poll();
    assert_eq!(ran, 1);
    assert_eq!(*results.lock().unwrap(), [(2, true)]);
    assert!(!ctx.stopped(), "two waits are still pending");

    assert_eq!(timer.cancel(), 2);
    assert_eq!(ctx.run(), 2);
    let mut got = results.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, [(1, true), (2, true), (3, true)]);
}

/// A wait cancelled while the context is running on another thread
/// completes promptly, aborted.
#[test]
fn emitting_from_another_thread_wakes_the_running_context() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(LONG);
    let signal = CancellationSignal::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let started = tx.clone();
    timer.async_wait(bind_cancellation_slot(
        signal.slot(),
        move |r: io::Result<()>| tx.send(aborted(&r)).unwrap(),
    ));
    // Tell the test when the runner is inside `run()`.
    ctx.executor().post(move || started.send(false).unwrap());
    let c = ctx.clone();
    let runner = std::thread::spawn(move || c.run());
    assert!(!rx.recv_timeout(common::HANG).unwrap());
    signal.emit(CancellationType::TERMINAL);
    assert!(rx.recv_timeout(common::HANG).unwrap());
    assert_eq!(runner.join().unwrap(), 2);
}

/// A slot holds one operation at a time, and forgets it when it completes:
/// a request emitted between two operations reaches neither.
#[test]
fn a_slot_forgets_a_completed_operation() {
    let ctx = IoContext::new().unwrap();
    let timer = SteadyTimer::new(&ctx.executor());
    let signal = CancellationSignal::new();
    timer.expires_after(Duration::from_millis(1));
    let first = ctx.block_on(timer.async_wait(bind_cancellation_slot(signal.slot(), UseFuture)));
    first.unwrap();
    assert!(!signal.slot().has_handler(), "cleared on completion");

    signal.emit(CancellationType::ALL); // nothing to cancel
    timer.expires_after(Duration::from_millis(1));
    let second = timer.async_wait(bind_cancellation_slot(signal.slot(), UseFuture));
    assert!(signal.slot().has_handler());
    ctx.block_on(second).unwrap();
}

/// Emitting twice, or after completion, is harmless.
#[test]
fn emitting_twice_completes_once() {
    let ctx = IoContext::new().unwrap();
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(LONG);
    let signal = CancellationSignal::new();
    let calls = Counter::new();
    let c = calls.clone();
    timer.async_wait(bind_cancellation_slot(
        signal.slot(),
        move |r: io::Result<()>| {
            assert!(aborted(&r));
            c.inc();
        },
    ));
    signal.emit(CancellationType::PARTIAL);
    signal.emit(CancellationType::PARTIAL);
    assert_eq!(ctx.run(), 1);
    signal.emit(CancellationType::ALL);
    assert_eq!(calls.get(), 1);
}

/// A request of no kind, or of a kind filtered out by the slot, does
/// nothing.
#[test]
fn a_filtered_slot_sees_only_the_kinds_it_allows() {
    let ctx = IoContext::new().unwrap();
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(LONG);
    let signal = CancellationSignal::new();
    let slot = signal.slot().filtered(CancellationType::TERMINAL);
    let fut = timer.async_wait(bind_cancellation_slot(slot, UseFuture));
    signal.emit(CancellationType::NONE);
    signal.emit(CancellationType::PARTIAL | CancellationType::TOTAL);
    assert_eq!(ctx.poll(), 0);
    signal.emit(CancellationType::TERMINAL);
    assert!(aborted(&ctx.block_on(fut)));
}

/// Dropping a pending `UseFuture` future cancels its operation: the wait
/// completes at once and the context runs out of work.
#[test]
fn dropping_a_pending_future_cancels_the_wait() {
    let ctx = IoContext::new().unwrap();
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(LONG);
    let fut = timer.async_wait(UseFuture);
    {
        // Polled once, so it is truly pending, then dropped.
        let mut fut = pin!(fut);
        let waker = common::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(ctx.poll(), 1, "the aborted completion");
    assert!(ctx.stopped(), "no work is left");
}

/// Dropping a future whose operation has completed cancels nothing else.
#[test]
fn dropping_a_completed_future_is_harmless() {
    let ctx = IoContext::new().unwrap();
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(Duration::ZERO);
    let fut = timer.async_wait(UseFuture);
    assert_eq!(ctx.run(), 1);
    drop(fut);
    timer.expires_after(Duration::from_millis(1));
    ctx.restart();
    ctx.block_on(timer.async_wait(UseFuture)).unwrap();
}

fn two_timers(ctx: &IoContext, a: Duration, b: Duration) -> (SteadyTimer, SteadyTimer) {
    let (x, y) = (
        SteadyTimer::new(&ctx.executor()),
        SteadyTimer::new(&ctx.executor()),
    );
    x.expires_after(a);
    y.expires_after(b);
    (x, y)
}

#[test]
fn wait_for_all_waits_for_every_member() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = two_timers(&ctx, Duration::from_millis(20), Duration::from_millis(1));
    let fut = parallel_group((a.async_wait(Deferred), b.async_wait(Deferred)))
        .async_wait(WaitForAll, UseFuture);
    let (order, (ra,), (rb,)) = ctx.block_on(fut);
    assert_eq!(order, [1, 0], "the shorter wait finished first");
    ra.unwrap();
    rb.unwrap();
}

#[test]
fn wait_for_one_cancels_the_rest() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = two_timers(&ctx, LONG, Duration::from_millis(1));
    let c = SteadyTimer::new(&ctx.executor());
    c.expires_after(LONG);
    let fut = parallel_group((
        a.async_wait(Deferred),
        b.async_wait(Deferred),
        c.async_wait(Deferred),
    ))
    .async_wait(WaitForOne::default(), UseFuture);
    let (order, (ra,), (rb,), (rc,)) = ctx.block_on(fut);
    assert_eq!(order[0], 1);
    rb.unwrap();
    assert!(aborted(&ra) && aborted(&rc));
}

/// A member that ignores the group's cancellation type keeps running; the
/// group completes when it does.
#[test]
fn wait_for_one_with_a_type_the_members_ignore_waits_for_all() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = two_timers(&ctx, Duration::from_millis(1), Duration::from_millis(30));
    let signal_b = CancellationSignal::new();
    // `b` only listens to TERMINAL requests; the group sends PARTIAL.
    let b_op = b.async_wait(Deferred).launch(bind_cancellation_slot(
        signal_b.slot().filtered(CancellationType::TERMINAL),
        Deferred,
    ));
    let fut = parallel_group((a.async_wait(Deferred), b_op))
        .async_wait(WaitForOne(CancellationType::PARTIAL), UseFuture);
    let (order, (ra,), (rb,)) = ctx.block_on(fut);
    assert_eq!(order, [0, 1]);
    ra.unwrap();
    rb.unwrap();
}

/// A slot bound to the group's own token cancels every member.
#[test]
fn cancelling_a_group_cancels_every_member() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = two_timers(&ctx, LONG, LONG);
    let signal = CancellationSignal::new();
    let fut = parallel_group((a.async_wait(Deferred), b.async_wait(Deferred)))
        .async_wait(WaitForAll, bind_cancellation_slot(signal.slot(), UseFuture));
    assert_eq!(ctx.poll(), 0);
    signal.emit(CancellationType::ALL);
    let (_, (ra,), (rb,)) = ctx.block_on(fut);
    assert!(aborted(&ra) && aborted(&rb));
}

/// Dropping a group's future cancels its members.
#[test]
fn dropping_a_group_future_cancels_every_member() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = two_timers(&ctx, LONG, LONG);
    drop(
        parallel_group((a.async_wait(Deferred), b.async_wait(Deferred)))
            .async_wait(WaitForAll, UseFuture),
    );
    assert_eq!(ctx.poll(), 2);
    assert!(ctx.stopped());
}

/// A chain's steps run one after another; a cancellation reaches whichever
/// step is running.
#[test]
fn a_deferred_chain_runs_in_order_and_is_cancelled_where_it_is() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = two_timers(&ctx, Duration::from_millis(1), LONG);
    let b = Arc::new(b);
    let steps = Arc::new(Mutex::new(Vec::new()));
    let (s1, b2) = (steps.clone(), b.clone());
    let chain = a.async_wait(Deferred).then(move |(r,): (io::Result<()>,)| {
        s1.lock().unwrap().push(("first", r.is_ok()));
        b2.async_wait(Deferred)
    });
    let signal = CancellationSignal::new();
    let s2 = steps.clone();
    chain.launch(bind_cancellation_slot(
        signal.slot(),
        move |r: io::Result<()>| s2.lock().unwrap().push(("second", !aborted(&r))),
    ));
    // Run until the first step is done and the second has started.
    while steps.lock().unwrap().is_empty() {
        assert_eq!(ctx.run_one(), 1);
    }
    signal.emit(CancellationType::ALL);
    ctx.run();
    assert_eq!(
        *steps.lock().unwrap(),
        [("first", true), ("second", false)],
        "the second step was cancelled"
    );
}
