//! Helpers shared by the integration tests.
#![allow(dead_code)]

use proactor::IoContext;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How long a test waits for something that must happen before calling it a
/// hang. Never a synchronisation device: tests only hit it when they fail.
pub const HANG: Duration = Duration::from_secs(30);

/// The two scheduler modes every context test runs in: the default, and the
/// lock-free single-thread mode.
pub fn contexts() -> Vec<(&'static str, IoContext)> {
    vec![
        ("default", IoContext::new().unwrap()),
        ("hint1", IoContext::with_concurrency_hint(1).unwrap()),
    ]
}

/// A shared counter.
#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn inc(&self) {
        self.0.fetch_add(1, SeqCst);
    }
    pub fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
    /// A handler that bumps this counter.
    pub fn bump(&self) -> impl FnOnce() + Send + 'static {
        let c = self.clone();
        move || c.inc()
    }
}

/// Runs `ctx.run()` on `threads` new threads; returns the handlers they ran.
pub fn run_on_threads(ctx: &Arc<IoContext>, threads: usize) -> usize {
    let runners: Vec<_> = (0..threads)
        .map(|_| {
            let c = ctx.clone();
            thread::spawn(move || c.run())
        })
        .collect();
    runners.into_iter().map(|r| r.join().unwrap()).sum()
}

/// Counts its own drops: lets a test see that a handler was dropped.
pub struct DropProbe(pub Counter);

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.0.inc();
    }
}

/// A waker that does nothing: for polling a future by hand.
pub fn noop_waker() -> std::task::Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    std::task::Waker::from(Arc::new(Noop))
}

/// A connected TCP socket on `ctx` and its far end, a blocking std socket
/// (reads time out after [`HANG`]): lets a test see exactly what crossed
/// the wire.
pub fn socket_and_std_peer(ctx: &IoContext) -> (proactor::net::TcpSocket, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(HANG)).unwrap();
    let ours = proactor::net::TcpSocket::from_std(&ctx.executor(), client).unwrap();
    (ours, peer)
}

/// Two connected TCP sockets on `ctx`.
pub fn tcp_pair(ctx: &IoContext) -> (proactor::net::TcpSocket, proactor::net::TcpSocket) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    let ex = ctx.executor();
    (
        proactor::net::TcpSocket::from_std(&ex, client).unwrap(),
        proactor::net::TcpSocket::from_std(&ex, peer).unwrap(),
    )
}
