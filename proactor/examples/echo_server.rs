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

#[path = "echo/server.rs"]
mod server;

use proactor::async_write;
use proactor::net::{TcpAcceptor, TcpSocket};
use server::{Config, Stats};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

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
    let cfg = Config::from_args();
    let bufsize = cfg.bufsize;
    server::serve(&cfg, |_, acceptor, stats| {
        accept(Arc::new(acceptor), bufsize, stats)
    })
}
