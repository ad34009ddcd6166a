//! `ThreadPool`.

mod common;

use common::{Counter, HANG};
use proactor::{Executor, ThreadPool};
use std::sync::{mpsc, Arc, Barrier};

#[test]
fn join_waits_for_all_work() {
    let pool = ThreadPool::new(3).unwrap();
    let n = Counter::new();
    let ex = pool.executor();
    for _ in 0..1000 {
        let (n, ex2) = (n.clone(), ex.clone());
        ex.post(move || {
            ex2.post(n.bump());
        });
    }
    pool.join();
    assert_eq!(n.get(), 1000);
}

#[test]
fn all_threads_run_handlers() {
    // Three handlers that each wait for the other two: only three threads
    // running at once can finish them.
    let pool = ThreadPool::new(3).unwrap();
    let barrier = Arc::new(Barrier::new(3));
    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        let (b, tx) = (barrier.clone(), tx.clone());
        pool.executor().post(move || {
            b.wait();
            tx.send(std::thread::current().id()).unwrap();
        });
    }
    let mut ids: Vec<_> = (0..3).map(|_| rx.recv_timeout(HANG).unwrap()).collect();
    ids.sort_by_key(|id| format!("{id:?}"));
    ids.dedup();
    assert_eq!(ids.len(), 3);
    pool.join();
}

#[test]
fn stop_leaves_queued_handlers_unrun() {
    let pool = ThreadPool::new(1).unwrap();
    let n = Counter::new();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    pool.executor().post(move || {
        entered_tx.send(()).unwrap();
        gate_rx.recv_timeout(HANG).unwrap();
    });
    entered_rx.recv_timeout(HANG).unwrap();
    for _ in 0..10 {
        let n = n.clone();
        pool.executor().post(move || n.inc());
    }
    pool.stop();
    gate_tx.send(()).unwrap();
    pool.join();
    assert_eq!(n.get(), 0);
}

#[test]
fn a_panicking_handler_does_not_shrink_the_pool() {
    let pool = ThreadPool::new(1).unwrap();
    pool.executor().post(|| panic!("pool handler panic"));
    let (tx, rx) = mpsc::channel();
    pool.executor().post(move || tx.send(()).unwrap());
    rx.recv_timeout(HANG)
        .expect("the pool thread survived the panic");
    pool.join();
}

#[test]
fn drop_stops_and_joins() {
    let n = Counter::new();
    {
        let pool = ThreadPool::new(2).unwrap();
        let n = n.clone();
        pool.executor().post(move || n.inc());
        // Dropped here: stop + join; must not hang.
    }
    assert!(n.get() <= 1);
}

#[test]
fn join_twice_is_fine() {
    let pool = ThreadPool::new(2).unwrap();
    pool.join();
    pool.join();
}
