//! Signal delivery. (A test binary of its own: it raises signals.)
#![cfg(unix)]

mod common;

use common::HANG;
use proactor::{IoContext, SignalSet};
use std::io;
use std::sync::{mpsc, Arc};
use std::thread;

fn raise(signal: i32) {
    // SAFETY: raising a signal whose handler is installed.
    assert_eq!(unsafe { libc::raise(signal) }, 0);
}

#[test]
fn signals_reach_every_set_that_wants_them_across_contexts() {
    let a = Arc::new(IoContext::new().unwrap());
    let b = Arc::new(IoContext::new().unwrap());
    let sa = SignalSet::new(&a.executor());
    let sb = SignalSet::new(&b.executor());
    sa.add(libc::SIGUSR1).unwrap();
    sa.add(libc::SIGUSR2).unwrap();
    sb.add(libc::SIGUSR1).unwrap();
    let (tx, rx) = mpsc::channel();
    let (ta, tb) = (tx.clone(), tx);
    sa.async_wait(move |r: io::Result<i32>| ta.send(("a", r.unwrap())).unwrap());
    sb.async_wait(move |r: io::Result<i32>| tb.send(("b", r.unwrap())).unwrap());
    let ra = {
        let a = a.clone();
        thread::spawn(move || a.run())
    };
    let rb = {
        let b = b.clone();
        thread::spawn(move || b.run())
    };
    raise(libc::SIGUSR1);
    let mut got = vec![
        rx.recv_timeout(HANG).unwrap(),
        rx.recv_timeout(HANG).unwrap(),
    ];
    got.sort();
    assert_eq!(got, [("a", libc::SIGUSR1), ("b", libc::SIGUSR1)]);
    ra.join().unwrap();
    rb.join().unwrap();
}

#[test]
fn a_signal_with_no_wait_pending_is_kept_for_the_next_wait() {
    let ctx = IoContext::new().unwrap();
    let set = SignalSet::new(&ctx.executor());
    set.add(libc::SIGHUP).unwrap();
    raise(libc::SIGHUP);
    // Give the dispatcher thread the signal before waiting: a wait that
    // does find it completes; one that does not would still get it.
    let (tx, rx) = mpsc::channel();
    set.async_wait(move |r: io::Result<i32>| tx.send(r.unwrap()).unwrap());
    let c = &ctx;
    thread::scope(|s| {
        s.spawn(|| c.run());
    });
    assert_eq!(rx.recv_timeout(HANG).unwrap(), libc::SIGHUP);
}

#[test]
fn cancel_aborts_a_pending_wait() {
    let ctx = IoContext::new().unwrap();
    let set = SignalSet::new(&ctx.executor());
    set.add(libc::SIGWINCH).unwrap();
    let (tx, rx) = mpsc::channel();
    set.async_wait(move |r: io::Result<i32>| tx.send(r).unwrap());
    assert_eq!(set.cancel(), 1);
    ctx.run();
    assert!(proactor::error::is_operation_aborted(
        &rx.recv().unwrap().unwrap_err()
    ));
}

#[test]
fn uncatchable_signals_are_refused() {
    let ctx = IoContext::new().unwrap();
    let set = SignalSet::new(&ctx.executor());
    assert_eq!(
        set.add(libc::SIGKILL).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        set.add(libc::SIGSEGV).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}
