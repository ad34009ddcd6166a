//! What the two echo servers share: the command line, the statistics, and
//! running the context until SIGINT or SIGTERM (on Windows, which has no
//! signal sets, until standard input ends). Output lines match the
//! neutral load client's `pingpong_server` (`shared/anchors/asio-cpp`).

use proactor::net::TcpAcceptor;
use proactor::{IoContext, IoExecutor};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;

#[derive(Default)]
pub struct Stats {
    pub sessions: AtomicU64,
    pub bytes_of_closed: AtomicU64,
}

/// `[PORT] [THREADS] [BUFSIZE]`, defaults 15555, 1, 65536.
pub struct Config {
    pub port: u16,
    pub threads: usize,
    pub bufsize: usize,
}

impl Config {
    pub fn from_args() -> Config {
        let args: Vec<String> = std::env::args().collect();
        let arg = |i: usize, default: usize| {
            args.get(i)
                .map_or(default, |s| s.parse().expect("a number"))
        };
        Config {
            port: arg(1, 15555) as u16,
            threads: arg(2, 1).max(1),
            bufsize: arg(3, 65536),
        }
    }
}

/// Binds 127.0.0.1:`port`, lets `start` begin accepting, and runs the
/// context on `threads` threads until SIGINT or SIGTERM.
pub fn serve(
    cfg: &Config,
    start: impl FnOnce(&IoExecutor, TcpAcceptor, Arc<Stats>),
) -> io::Result<()> {
    let ctx = Arc::new(IoContext::with_concurrency_hint(cfg.threads)?);
    let ex = ctx.executor();
    let acceptor = TcpAcceptor::bind(&ex, ([127, 0, 0, 1], cfg.port).into())?;
    let addr = acceptor.local_addr()?;
    let stats = Arc::new(Stats::default());
    start(&ex, acceptor, stats.clone());

    let c = ctx.clone();
    #[cfg(unix)]
    let _signals = {
        let signals = proactor::SignalSet::new(&ex);
        signals.add(libc::SIGINT)?;
        signals.add(libc::SIGTERM)?;
        signals.async_wait(move |_: io::Result<i32>| c.stop());
        signals
    };
    #[cfg(not(unix))]
    thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        c.stop();
    });

    println!(
        "pingpong_server listening on {addr} threads={} bufsize={}",
        cfg.threads, cfg.bufsize
    );
    let runners: Vec<_> = (1..cfg.threads)
        .map(|_| {
            let c = ctx.clone();
            thread::spawn(move || c.run())
        })
        .collect();
    ctx.run();
    for r in runners {
        let _ = r.join();
    }
    println!(
        "pingpong_server stopped sessions_accepted={} bytes_echoed_by_closed_sessions={}",
        stats.sessions.load(Relaxed),
        stats.bytes_of_closed.load(Relaxed)
    );
    Ok(())
}
