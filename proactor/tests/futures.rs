//! `co_spawn` and `IoContext::block_on`.

mod common;

use common::{Counter, DropProbe, HANG};
use proactor::{
    co_spawn, make_work_guard, Detached, Executor, IoContext, Strand, ThreadPool, UseFuture,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

/// A future that returns Pending `n` times, waking itself each time.
struct YieldN(usize);

impl Future for YieldN {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A one-shot value set from outside the context; its waker is called from
/// the setting thread.
#[derive(Clone, Default)]
struct Remote(Arc<Mutex<(Option<u32>, Option<Waker>)>>);

impl Remote {
    fn set(&self, v: u32) {
        let w = {
            let mut g = self.0.lock().unwrap();
            g.0 = Some(v);
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
    fn get(&self) -> RemoteGet {
        RemoteGet(self.clone())
    }
}

struct RemoteGet(Remote);

impl Future for RemoteGet {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut g = (self.0).0.lock().unwrap();
        match g.0 {
            Some(v) => Poll::Ready(v),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn co_spawn_with_a_closure_token() {
    let ctx = IoContext::new().unwrap();
    let got = Arc::new(Mutex::new(None));
    let g = got.clone();
    co_spawn(
        &ctx.executor(),
        async { 7 },
        move |r: std::thread::Result<i32>| {
            *g.lock().unwrap() = Some(r.unwrap());
        },
    );
    assert_eq!(
        *got.lock().unwrap(),
        None,
        "the task never runs inside co_spawn"
    );
    ctx.run();
    assert_eq!(*got.lock().unwrap(), Some(7));
}

#[test]
fn co_spawn_delivers_a_panic_as_err() {
    let ctx = IoContext::new().unwrap();
    let got = Arc::new(Mutex::new(None));
    let g = got.clone();
    co_spawn(
        &ctx.executor(),
        async { panic!("task panic") },
        move |r: std::thread::Result<()>| {
            let msg = r.unwrap_err().downcast_ref::<&str>().copied();
            *g.lock().unwrap() = msg.map(str::to_owned);
        },
    );
    ctx.run();
    assert_eq!(got.lock().unwrap().as_deref(), Some("task panic"));
    assert!(ctx.stopped(), "the panic is delivered, not propagated");
}

#[test]
fn co_spawn_detached_and_use_future() {
    let ctx = IoContext::new().unwrap();
    let n = Counter::new();
    let n2 = n.clone();
    co_spawn(&ctx.executor(), async move { n2.inc() }, Detached);
    let fut = co_spawn(&ctx.executor(), async { "x" }, UseFuture);
    assert_eq!(ctx.block_on(fut).unwrap(), "x");
    ctx.run();
    assert_eq!(n.get(), 1);
}

#[test]
fn a_task_that_yields_is_polled_again() {
    let ctx = IoContext::new().unwrap();
    let n = Counter::new();
    let n2 = n.clone();
    co_spawn(
        &ctx.executor(),
        async move {
            YieldN(100).await;
            n2.inc();
        },
        Detached,
    );
    assert!(ctx.run() >= 101);
    assert_eq!(n.get(), 1);
}

#[test]
fn a_task_on_a_strand_is_always_polled_inside_it() {
    let pool = ThreadPool::new(4).unwrap();
    let strand = Strand::new(pool.executor());
    let remotes: Vec<Remote> = (0..20).map(|_| Remote::default()).collect();
    let (tx, rx) = mpsc::channel();
    let s = strand.clone();
    let rs = remotes.clone();
    co_spawn(
        &strand,
        async move {
            let mut sum = 0;
            for r in rs {
                assert!(s.running_in_this_thread());
                sum += r.get().await;
                assert!(s.running_in_this_thread());
                YieldN(1).await;
            }
            sum
        },
        move |r: std::thread::Result<u32>| tx.send(r.unwrap()).unwrap(),
    );
    // Wake it from this (foreign) thread.
    for (i, r) in remotes.iter().enumerate() {
        r.set(i as u32);
    }
    assert_eq!(rx.recv_timeout(HANG).unwrap(), (0..20).sum());
    pool.join();
}

#[test]
fn block_on_runs_handlers_until_the_future_completes() {
    let ctx = IoContext::new().unwrap();
    let ex = ctx.executor();
    let n = Counter::new();
    for _ in 0..3 {
        ex.post(n.bump());
    }
    let fut = co_spawn(&ex, YieldN(10), UseFuture);
    ctx.block_on(fut).unwrap();
    assert!(!ctx.stopped(), "block_on does not stop the context");
    ctx.run();
    assert_eq!(n.get(), 3);
}

#[test]
fn block_on_is_woken_from_another_thread() {
    let ctx = IoContext::new().unwrap();
    let r = Remote::default();
    let r2 = r.clone();
    let t = thread::spawn(move || r2.set(5));
    assert_eq!(ctx.block_on(r.get()), 5);
    t.join().unwrap();
}

#[test]
fn block_on_keeps_waiting_when_work_runs_out() {
    // Nothing is queued while the future waits for another thread: the
    // context must not stop, and block_on must not spin it.
    let ctx = Arc::new(IoContext::new().unwrap());
    let r = Remote::default();
    let (r2, c) = (r.clone(), ctx.clone());
    let t = thread::spawn(move || {
        // Post work from outside and then complete the future.
        let (tx, rx) = mpsc::channel();
        c.executor().post(move || tx.send(()).unwrap());
        rx.recv_timeout(HANG).unwrap();
        r2.set(9);
    });
    assert_eq!(ctx.block_on(r.get()), 9);
    t.join().unwrap();
    assert!(!ctx.stopped());
}

#[test]
fn block_on_with_other_threads_running_the_context() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let mut guard = make_work_guard(&ctx.executor());
    let c = ctx.clone();
    let runner = thread::spawn(move || c.run());
    let fut = co_spawn(&ctx.executor(), YieldN(1000), UseFuture);
    ctx.block_on(fut).unwrap();
    guard.reset();
    runner.join().unwrap();
}

#[test]
fn dropping_the_context_drops_pending_tasks() {
    let ctx = IoContext::new().unwrap();
    let dropped = Counter::new();
    let probe = DropProbe(dropped.clone());
    let ran = Counter::new();
    let r = ran.clone();
    co_spawn(
        &ctx.executor(),
        async move {
            let _ = &probe;
            r.inc();
        },
        Detached,
    );
    drop(ctx);
    assert_eq!(dropped.get(), 1);
    assert_eq!(ran.get(), 0);
}
