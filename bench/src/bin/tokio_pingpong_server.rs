//! tokio's echo server for the neutral `pingpong_client`: the counterpart
//! of `pingpong_server`, with the same command line and output lines.
//!
//! Usage: tokio_pingpong_server PORT THREADS [BUFSIZE]   (BUFSIZE default 65536)
//!
//! THREADS = 1 runs a current-thread runtime (tokio's fastest for one
//! thread); more runs a multi-thread runtime with THREADS workers. Each
//! connection is a task looping `read` then `write_all`.

use proactor_bench::ServerArgs;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Builder;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

static SESSIONS: AtomicU64 = AtomicU64::new(0);
static BYTES_OF_CLOSED: AtomicU64 = AtomicU64::new(0);

async fn session(mut s: TcpStream, bufsize: usize) {
    let mut buf = vec![0u8; bufsize];
    let mut echoed = 0u64;
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if s.write_all(&buf[..n]).await.is_err() {
            break;
        }
        echoed += n as u64;
    }
    BYTES_OF_CLOSED.fetch_add(echoed, Relaxed);
}

fn main() -> std::io::Result<()> {
    let ServerArgs {
        port,
        threads,
        bufsize,
    } = ServerArgs::parse("tokio_pingpong_server");
    let rt = if threads == 1 {
        Builder::new_current_thread().enable_all().build()?
    } else {
        Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let stop = Arc::new(Notify::new());
        for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
            let mut sig = signal(kind)?;
            let stop = stop.clone();
            tokio::spawn(async move {
                sig.recv().await;
                stop.notify_one();
            });
        }
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                SESSIONS.fetch_add(1, Relaxed);
                let _ = s.set_nodelay(true);
                tokio::spawn(session(s, bufsize));
            }
        });
        println!(
            "pingpong_server listening on 127.0.0.1:{port} threads={threads} bufsize={bufsize}"
        );
        stop.notified().await;
        Ok::<(), std::io::Error>(())
    })?;
    rt.shutdown_background();
    println!(
        "pingpong_server stopped sessions_accepted={} bytes_echoed_by_closed_sessions={}",
        SESSIONS.load(Relaxed),
        BYTES_OF_CLOSED.load(Relaxed)
    );
    Ok(())
}
