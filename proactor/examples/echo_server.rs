//! An echo server: every connection gets back exactly the bytes it sends.
//!
//! ```sh
//! cargo run --release --example echo_server -- [PORT] [THREADS] [BUFSIZE]
//! ```
//! (defaults: 15555, 1, 65536). It speaks the ping-pong protocol of the
//! neutral load client in `shared/anchors/asio-cpp` (same command line and
//! output lines as its `pingpong_server`), and stops on SIGINT or SIGTERM.
//!
//! Each session loops `async_read_some` into its buffer, then `async_write`
//! of exactly those bytes, reusing the buffer: no allocation per message.

use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{async_write, IoContext, SignalSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;

#[derive(Default)]
struct Stats {
    sessions: AtomicU64,
    bytes_of_closed: AtomicU64,
}

fn session(s: Arc<TcpSocket>, mut buf: Vec<u8>, echoed: u64, stats: Arc<Stats>) {
    buf.clear();
    let s2 = s.clone();
    s.async_read_some(buf, move |r: io::Result<usize>, buf: Vec<u8>| match r {
        Ok(n) if n > 0 => {
            let s3 = s2.clone();
            async_write(
                &*s2,
                buf,
                move |r: io::Result<usize>, buf: Vec<u8>| match r {
                    Ok(n) => session(s3, buf, echoed + n as u64, stats),
                    Err(_) => drop(stats.bytes_of_closed.fetch_add(echoed, Relaxed)),
                },
            );
        }
        // End of stream or an error: the session ends.
        _ => drop(stats.bytes_of_closed.fetch_add(echoed, Relaxed)),
    });
}

fn accept(a: Arc<TcpAcceptor>, bufsize: usize, stats: Arc<Stats>) {
    let a2 = a.clone();
    a.async_accept(move |r: io::Result<TcpSocket>| {
        match r {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                stats.sessions.fetch_add(1, Relaxed);
                session(Arc::new(s), Vec::with_capacity(bufsize), 0, stats.clone());
            }
            Err(e) if proactor::error::is_operation_aborted(&e) => return,
            // Out of descriptors and the like: report, keep serving.
            Err(e) => eprintln!("accept: {e}"),
        }
        accept(a2, bufsize, stats);
    });
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: usize| {
        args.get(i)
            .map_or(default, |s| s.parse().expect("a number"))
    };
    let (port, threads, bufsize) = (arg(1, 15555) as u16, arg(2, 1).max(1), arg(3, 65536));

    let ctx = Arc::new(IoContext::with_concurrency_hint(threads)?);
    let acceptor = Arc::new(TcpAcceptor::bind(
        &ctx.executor(),
        ([127, 0, 0, 1], port).into(),
    )?);
    let stats = Arc::new(Stats::default());
    accept(acceptor.clone(), bufsize, stats.clone());

    let signals = SignalSet::new(&ctx.executor());
    signals.add(libc::SIGINT)?;
    signals.add(libc::SIGTERM)?;
    let c = ctx.clone();
    signals.async_wait(move |_: io::Result<i32>| c.stop());

    println!(
        "pingpong_server listening on {} threads={threads} bufsize={bufsize}",
        acceptor.local_addr()?
    );
    let runners: Vec<_> = (1..threads)
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
