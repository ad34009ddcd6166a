//! The echo server of `echo_server.rs`, written with `async`/`await`: one
//! task per connection, on the same context and the same operations, with
//! `UseFuture` as the token.
//!
//! ```sh
//! cargo run --release --example async_echo_server -- [PORT] [THREADS] [BUFSIZE]
//! ```
//! (defaults: 15555, 1, 65536). Same protocol, command line and output
//! lines as `echo_server`; stops on SIGINT or SIGTERM.

#[path = "echo/server.rs"]
mod server;

use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{async_write, co_spawn, Detached, IoExecutor, UseFuture};
use server::{Config, Stats};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Echoes until end of stream or an error. The buffer goes to each
/// operation and comes back with its result, so one buffer serves the
/// whole session.
async fn session(s: TcpSocket, bufsize: usize, stats: Arc<Stats>) {
    let mut buf = Vec::with_capacity(bufsize);
    let mut echoed = 0u64;
    loop {
        buf.clear();
        let (r, read) = s.async_read_some(buf, UseFuture).await;
        if !matches!(r, Ok(n) if n > 0) {
            break;
        }
        let (r, written) = async_write(&s, read, UseFuture).await;
        buf = written;
        match r {
            Ok(n) => echoed += n as u64,
            Err(_) => break,
        }
    }
    stats.bytes_of_closed.fetch_add(echoed, Relaxed);
}

async fn listen(a: TcpAcceptor, ex: IoExecutor, bufsize: usize, stats: Arc<Stats>) {
    loop {
        match a.async_accept(UseFuture).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                stats.sessions.fetch_add(1, Relaxed);
                co_spawn(&ex, session(s, bufsize, stats.clone()), Detached);
            }
            Err(e) if proactor::error::is_operation_aborted(&e) => return,
            // Out of descriptors and the like: report, keep serving.
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

fn main() -> io::Result<()> {
    let cfg = Config::from_args();
    let bufsize = cfg.bufsize;
    server::serve(&cfg, |ex, acceptor, stats| {
        co_spawn(ex, listen(acceptor, ex.clone(), bufsize, stats), Detached)
    })
}
