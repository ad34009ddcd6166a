//! A handler that blocks must not hold up the rest of a multi-thread
//! context for good, even where the scheduler defers a wake-up to an idle
//! thread that looks again later: for an operation that completed at once
//! inside the handler, and for the backend's turn after the last handler.

mod common;

use common::{socket_and_std_peer, HANG};
use proactor::net::TcpSocket;
use proactor::{Executor, IoContext, IoExecutor};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

/// Rounds per test, one after the other: enough for the other thread to be
/// found in each of its idle states (asleep, waiting for I/O, just woken).
const ROUNDS: usize = 20;

struct Rig {
    ex: IoExecutor,
    ours: TcpSocket,
    peer: Mutex<TcpStream>,
    /// Rounds finished; the last sends the total.
    done: Mutex<usize>,
    finished: mpsc::Sender<usize>,
}

/// Runs the context on two threads while `start` starts the rounds; returns
/// how many rounds finished.
fn two_threads(start: fn(Arc<Rig>)) -> usize {
    let ctx = Arc::new(IoContext::new().unwrap());
    let (ours, peer) = socket_and_std_peer(&ctx);
    let (finished, total) = mpsc::channel();
    let rig = Arc::new(Rig {
        ex: ctx.executor(),
        ours,
        peer: Mutex::new(peer),
        done: Mutex::new(0),
        finished,
    });
    start(rig.clone());
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let c = ctx.clone();
            thread::spawn(move || c.run())
        })
        .collect();
    let n = total.recv_timeout(HANG).expect("a round never finished");
    drop(rig);
    for r in runners {
        r.join().unwrap();
    }
    n
}

/// One round finished; starts the next with `next`, or reports.
fn finish_round(rig: &Arc<Rig>, next: fn(Arc<Rig>)) {
    let mut done = rig.done.lock().unwrap();
    *done += 1;
    if *done == ROUNDS {
        rig.finished.send(*done).unwrap();
    } else {
        next(rig.clone());
    }
}

#[test]
fn a_handler_can_block_until_its_own_write_completes() {
    // The write completes at once inside the handler (a speculative write
    // on epoll), so the handler's thread would run its completion next:
    // another thread has to, since this one never comes back until then.
    fn round(rig: Arc<Rig>) {
        let r = rig.clone();
        rig.ex.post(move || {
            let (tx, rx) = mpsc::channel();
            r.ours
                .async_write_some(vec![7u8; 64], move |res: io::Result<usize>, _: Vec<u8>| {
                    tx.send(res.map_err(|e| e.kind())).unwrap();
                });
            let written = rx
                .recv_timeout(HANG)
                .expect("the write's handler never ran");
            assert_eq!(written, Ok(64));
            let mut got = [0u8; 64];
            r.peer.lock().unwrap().read_exact(&mut got).unwrap();
            assert_eq!(got, [7u8; 64]);
            finish_round(&r, round);
        });
    }
    assert_eq!(two_threads(round), ROUNDS);
}

#[test]
fn a_handler_can_block_until_a_read_that_needs_the_reactor_completes() {
    // A read's handler, the only one its thread took from the backend,
    // starts a second read and waits for it: only the backend's turn, taken
    // by the other thread, can complete that one.
    fn round(rig: Arc<Rig>) {
        let r = rig.clone();
        rig.ours.async_read_some(
            Vec::with_capacity(64),
            move |res: io::Result<usize>, _: Vec<u8>| {
                assert_eq!(res.unwrap(), 1);
                let (tx, rx) = mpsc::channel();
                r.ours.async_read_some(
                    Vec::with_capacity(64),
                    move |res: io::Result<usize>, buf: Vec<u8>| {
                        let n = res.unwrap();
                        tx.send(buf[..n].to_vec()).unwrap();
                    },
                );
                r.peer.lock().unwrap().write_all(b"b").unwrap();
                let got = rx
                    .recv_timeout(HANG)
                    .expect("the second read's handler never ran");
                assert_eq!(got, b"b");
                finish_round(&r, round);
            },
        );
        // From outside the context, as a client would.
        let peer = rig.peer.lock().unwrap().try_clone().unwrap();
        thread::spawn(move || (&peer).write_all(b"a").unwrap());
    }
    assert_eq!(two_threads(round), ROUNDS);
}
