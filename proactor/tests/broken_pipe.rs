//! Writing to a connection that the peer has closed is an error for the
//! handler, `BrokenPipe` (after `ConnectionReset`), never a `SIGPIPE` that
//! ends the process: a library may run in a program that has not set the
//! signal aside (Rust binaries ignore it before `main`, C hosts of a Rust
//! library do not). This test puts the default action back, so a send
//! without `MSG_NOSIGNAL` kills its process.
//!
//! Linux only: elsewhere the readiness path sends without the flag.
#![cfg(target_os = "linux")]

mod common;

use common::socket_and_std_peer;
use proactor::net::TcpSocket;
use proactor::{async_write, IoContext};
use std::io;
use std::sync::{mpsc, Arc};

/// Writes, one after another, until one fails with `BrokenPipe` or `left`
/// runs out; reports the errors seen.
fn write_until_broken(s: Arc<TcpSocket>, left: usize, seen: mpsc::Sender<io::ErrorKind>) {
    let me = s.clone();
    async_write(&*s, vec![7u8; 4096], move |r: io::Result<usize>, _| {
        let done = match r {
            Ok(_) => false,
            Err(e) => {
                seen.send(e.kind()).unwrap();
                e.kind() == io::ErrorKind::BrokenPipe
            }
        };
        if !done && left > 1 {
            write_until_broken(me, left - 1, seen);
        }
    });
}

#[test]
fn a_write_to_a_closed_peer_is_broken_pipe_not_sigpipe() {
    // SAFETY: restores the default disposition of SIGPIPE; this binary has
    // no other test that could be running meanwhile.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    for ctx in [
        IoContext::new().unwrap(),
        IoContext::with_concurrency_hint(1).unwrap(),
    ] {
        let (ours, peer) = socket_and_std_peer(&ctx);
        drop(peer);
        let (tx, rx) = mpsc::channel();
        write_until_broken(Arc::new(ours), 1000, tx);
        ctx.run();
        let seen: Vec<_> = rx.try_iter().collect();
        assert_eq!(
            seen.last(),
            Some(&io::ErrorKind::BrokenPipe),
            "errors seen: {seen:?}"
        );
        assert!(
            seen.iter().all(|k| matches!(
                k,
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            )),
            "errors seen: {seen:?}"
        );
    }
}
