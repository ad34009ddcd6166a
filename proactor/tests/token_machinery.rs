//! The token and future machinery on operations that make no system calls
//! (handlers posted to a context, an operation completed by hand), so that
//! Miri can run it: `cargo +nightly miri test -p proactor --test
//! token_machinery --test futures`.

mod common;

use proactor::error::{is_operation_aborted, operation_aborted};
use proactor::token::{composed_slot, with_cancellation_slot};
use proactor::{
    bind_cancellation_slot, bind_executor, co_spawn, parallel_group, CancellationSignal,
    CancellationType, CompletionHandler, CompletionToken, Deferred, Detached, Executor, Initiation,
    IoContext, IoExecutor, Strand, UseFuture, WaitForAll, WaitForOne,
};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::Context;

/// A pending operation completed by hand: [`Gate::open`] completes every
/// waiter with `Ok(value)`. Each wait can be cancelled through its
/// handler's slot, completing it with "operation aborted". Completions are
/// posted to the executor, never run inside `open`, `emit` or the
/// initiating function.
#[derive(Clone)]
struct Gate {
    ex: IoExecutor,
    waiters: Arc<Mutex<Vec<Waiter>>>,
}

type Waiter = (u64, Box<dyn FnOnce(io::Result<u32>) + Send>);

impl Gate {
    fn new(ex: IoExecutor) -> Self {
        Gate {
            ex,
            waiters: Arc::default(),
        }
    }

    fn async_wait<T: CompletionToken<(io::Result<u32>,)>>(&self, token: T) -> T::Output {
        token.launch(self.clone())
    }

    fn open(&self, value: u32) {
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap());
        for (_, complete) in waiters {
            complete(Ok(value));
        }
    }

    fn pending(&self) -> usize {
        self.waiters.lock().unwrap().len()
    }
}

impl Initiation<(io::Result<u32>,)> for Gate {
    fn initiate<H: CompletionHandler<(io::Result<u32>,)>>(self, handler: H) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slot = handler.cancellation_slot();
        // A pending wait holds work on its executor, as library operations do.
        let work = proactor::make_work_guard(&self.ex);
        let ex = self.ex.clone();
        let complete = Box::new(move |r: io::Result<u32>| {
            ex.post(move || handler.complete((r,)));
            drop(work);
        });
        self.waiters.lock().unwrap().push((id, complete));
        if let Some(slot) = slot {
            let waiters = self.waiters.clone();
            slot.assign(move |_| {
                let mut w = waiters.lock().unwrap();
                if let Some(at) = w.iter().position(|(i, _)| *i == id) {
                    let (_, complete) = w.remove(at);
                    drop(w);
                    complete(Err(operation_aborted()));
                }
            });
        }
    }
}

fn aborted(r: &io::Result<u32>) -> bool {
    r.as_ref().is_err_and(is_operation_aborted)
}

#[test]
fn closure_use_future_detached_and_deferred() {
    let ctx = IoContext::new().unwrap();
    let gate = Gate::new(ctx.executor());
    let (tx, rx) = mpsc::channel();
    gate.async_wait(move |r: io::Result<u32>| tx.send(r.unwrap()).unwrap());
    let fut = gate.async_wait(UseFuture);
    gate.async_wait(Detached);
    let later = gate.async_wait(Deferred);
    assert_eq!(gate.pending(), 3, "a deferred wait has not started");
    gate.open(7);
    assert!(
        rx.try_recv().is_err(),
        "completions are posted, not run inline"
    );
    assert_eq!(ctx.run(), 3);
    assert_eq!(rx.try_recv().unwrap(), 7);
    ctx.restart();
    assert_eq!(ctx.block_on(fut).unwrap(), 7);

    let fut = later.launch(UseFuture);
    gate.open(8);
    assert_eq!(ctx.block_on(fut).unwrap(), 8);
}

#[test]
fn bind_executor_runs_the_handler_in_the_strand() {
    let ctx = IoContext::new().unwrap();
    let gate = Gate::new(ctx.executor());
    let strand = Strand::new(ctx.executor());
    let s = strand.clone();
    let (tx, rx) = mpsc::channel();
    gate.async_wait(bind_executor(strand, move |r: io::Result<u32>| {
        tx.send((r.unwrap(), s.running_in_this_thread())).unwrap()
    }));
    gate.open(1);
    ctx.run();
    assert_eq!(rx.try_recv().unwrap(), (1, true));
}

#[test]
fn a_bound_slot_cancels_only_its_operation() {
    let ctx = IoContext::new().unwrap();
    let gate = Gate::new(ctx.executor());
    let signal = CancellationSignal::new();
    let a = gate.async_wait(UseFuture);
    let b = gate.async_wait(bind_cancellation_slot(signal.slot(), UseFuture));
    signal.emit(CancellationType::TERMINAL);
    assert!(aborted(&ctx.block_on(b)));
    assert_eq!(gate.pending(), 1);
    gate.open(3);
    assert_eq!(ctx.block_on(a).unwrap(), 3);
}

#[test]
fn dropping_a_pending_future_cancels_and_dropping_a_done_one_does_not() {
    let ctx = IoContext::new().unwrap();
    let gate = Gate::new(ctx.executor());
    {
        let fut = pin!(gate.async_wait(UseFuture));
        let waker = common::noop_waker();
        assert!(fut.poll(&mut Context::from_waker(&waker)).is_pending());
    }
    assert_eq!(gate.pending(), 0, "the dropped future's wait was removed");
    assert_eq!(ctx.run(), 1, "and completed, aborted");

    ctx.restart();
    let done = gate.async_wait(UseFuture);
    let next = gate.async_wait(UseFuture);
    gate.open(4);
    ctx.run();
    drop(done);
    ctx.restart();
    assert_eq!(ctx.block_on(next).unwrap(), 4);
}

#[test]
fn deferred_then_chains_and_forwards_cancellation() {
    let ctx = IoContext::new().unwrap();
    let (g1, g2) = (Gate::new(ctx.executor()), Gate::new(ctx.executor()));
    let g2b = g2.clone();
    let chain = g1
        .async_wait(Deferred)
        .then(move |(r,): (io::Result<u32>,)| {
            assert_eq!(r.unwrap(), 1);
            g2b.async_wait(Deferred)
        });
    let signal = CancellationSignal::new();
    let fut = chain.launch(bind_cancellation_slot(signal.slot(), UseFuture));
    g1.open(1);
    while g2.pending() == 0 {
        assert_eq!(ctx.run_one(), 1);
    }
    signal.emit(CancellationType::ALL);
    assert!(aborted(&ctx.block_on(fut)));
}

#[test]
fn parallel_groups() {
    let ctx = IoContext::new().unwrap();
    let gates: Vec<Gate> = (0..3).map(|_| Gate::new(ctx.executor())).collect();

    let all = parallel_group((gates[0].async_wait(Deferred), gates[1].async_wait(Deferred)))
        .async_wait(WaitForAll, UseFuture);
    gates[1].open(11);
    gates[0].open(10);
    let (order, (a,), (b,)) = ctx.block_on(all);
    assert_eq!((order, a.unwrap(), b.unwrap()), ([1, 0], 10, 11));

    let one = parallel_group((
        gates[0].async_wait(Deferred),
        gates[1].async_wait(Deferred),
        gates[2].async_wait(Deferred),
    ))
    .async_wait(WaitForOne::default(), UseFuture);
    gates[2].open(12);
    let (order, (a,), (b,), (c,)) = ctx.block_on(one);
    assert_eq!(order[0], 2);
    assert!(aborted(&a) && aborted(&b));
    assert_eq!(c.unwrap(), 12);
    assert!(gates.iter().all(|g| g.pending() == 0));
}

/// A composed operation written with `composed_slot` and
/// `with_cancellation_slot`: two waits in a row.
fn async_two_waits<T: CompletionToken<(io::Result<u32>,)>>(g: &Gate, token: T) -> T::Output {
    struct Two(Gate);
    impl Initiation<(io::Result<u32>,)> for Two {
        fn initiate<H: CompletionHandler<(io::Result<u32>,)>>(self, handler: H) {
            let slot = composed_slot(&handler);
            let (g, again) = (self.0.clone(), slot.clone());
            self.0.async_wait(with_cancellation_slot(
                slot,
                move |r: io::Result<u32>| match r {
                    Ok(first) => g
                        .async_wait(with_cancellation_slot(again, move |r: io::Result<u32>| {
                            handler.complete((r.map(|x| x + first),))
                        })),
                    Err(e) => handler.complete((Err(e),)),
                },
            ));
        }
    }
    token.launch(Two(g.clone()))
}

#[test]
fn a_composed_operation_ignores_total_but_not_partial() {
    let ctx = IoContext::new().unwrap();
    let gate = Gate::new(ctx.executor());
    assert_eq!(
        {
            let f = async_two_waits(&gate, UseFuture);
            gate.open(1);
            while gate.pending() == 0 {
                ctx.run_one();
            }
            gate.open(2);
            ctx.block_on(f).unwrap()
        },
        3
    );

    let signal = CancellationSignal::new();
    let fut = async_two_waits(&gate, bind_cancellation_slot(signal.slot(), UseFuture));
    signal.emit(CancellationType::TOTAL);
    assert_eq!(gate.pending(), 1, "TOTAL is not for composed operations");
    signal.emit(CancellationType::PARTIAL);
    assert!(aborted(&ctx.block_on(fut)));
}

#[test]
fn co_spawn_awaits_operations_and_reports_panics() {
    let ctx = IoContext::new().unwrap();
    let gate = Gate::new(ctx.executor());
    let g = gate.clone();
    let task = co_spawn(
        &ctx.executor(),
        async move { g.async_wait(UseFuture).await.unwrap() * 2 },
        UseFuture,
    );
    ctx.executor().post({
        let gate = gate.clone();
        move || gate.open(21)
    });
    assert_eq!(ctx.block_on(task).unwrap(), 42);

    let failed = co_spawn(
        &ctx.executor(),
        async {
            if true {
                panic!("inside the task");
            }
        },
        UseFuture,
    );
    let payload = ctx.block_on(failed).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"inside the task"));
}
