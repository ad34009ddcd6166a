//! Asynchronous TCP echo server: proactor's side of
//! `shared/anchors/asio-cpp/pingpong_server.cpp`, for the neutral
//! `pingpong_client`.
//!
//! Usage: pingpong_server PORT THREADS [BUFSIZE]   (BUFSIZE default 65536)
//!
//! Each session loops `async_read_some` into its buffer, then `async_write`
//! of exactly those bytes, then reads again; one operation per session is
//! outstanding at a time. The buffer travels with the operations, so a
//! message costs no allocation. The context (concurrency hint = THREADS) is
//! run on THREADS threads; SIGINT/SIGTERM stop it and print the summary
//! (on Windows, which has no signal sets, the end of standard input does).
//! Built with feature `count-allocs`, it also reports allocations per echoed
//! message over the steady part of the run (from the second second on).

use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{async_write, IoContext, SteadyTimer};
use proactor_bench::{allocations, ServerArgs};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

static SESSIONS: AtomicU64 = AtomicU64::new(0);
static BYTES_OF_CLOSED: AtomicU64 = AtomicU64::new(0);
/// Echoed messages, counted only when allocations are.
static ECHOES: AtomicU64 = AtomicU64::new(0);

struct Session {
    socket: TcpSocket,
    /// Bytes echoed; only one operation runs at a time.
    echoed: AtomicU64,
}

impl Drop for Session {
    fn drop(&mut self) {
        BYTES_OF_CLOSED.fetch_add(self.echoed.load(Relaxed), Relaxed);
    }
}

fn read_some(s: Arc<Session>, mut buf: Vec<u8>) {
    buf.clear();
    let me = s.clone();
    s.socket
        .async_read_some(buf, move |r: io::Result<usize>, buf: Vec<u8>| {
            if matches!(r, Ok(n) if n > 0) {
                write_back(me, buf);
            }
            // End of stream or an error: the session ends with its last
            // reference.
        });
}

fn write_back(s: Arc<Session>, buf: Vec<u8>) {
    let me = s.clone();
    async_write(&s.socket, buf, move |r: io::Result<usize>, buf: Vec<u8>| {
        if let Ok(n) = r {
            me.echoed.fetch_add(n as u64, Relaxed);
            if cfg!(feature = "count-allocs") {
                ECHOES.fetch_add(1, Relaxed);
            }
            read_some(me, buf);
        }
    });
}

fn accept(a: Arc<TcpAcceptor>, bufsize: usize) {
    let next = a.clone();
    a.async_accept(move |r: io::Result<TcpSocket>| {
        match r {
            Ok(socket) => {
                SESSIONS.fetch_add(1, Relaxed);
                let _ = socket.set_nodelay(true);
                let s = Arc::new(Session {
                    socket,
                    echoed: AtomicU64::new(0),
                });
                read_some(s, Vec::with_capacity(bufsize));
            }
            Err(e) if proactor::error::is_operation_aborted(&e) => return,
            Err(_) => {}
        }
        accept(next, bufsize);
    });
}

/// Samples (allocations, echoes) once a second.
fn sample(timer: Arc<SteadyTimer>, samples: Arc<Mutex<Vec<(u64, u64)>>>) {
    timer.expires_after(Duration::from_secs(1));
    let t = timer.clone();
    timer.async_wait(move |r: io::Result<()>| {
        if r.is_ok() {
            if let Some(a) = allocations() {
                samples.lock().unwrap().push((a, ECHOES.load(Relaxed)));
            }
            sample(t, samples);
        }
    });
}

fn main() -> io::Result<()> {
    let ServerArgs {
        port,
        threads,
        bufsize,
    } = ServerArgs::parse("pingpong_server");

    let ctx = Arc::new(IoContext::with_concurrency_hint(threads)?);
    let ex = ctx.executor();
    let acceptor = Arc::new(TcpAcceptor::bind(&ex, ([127, 0, 0, 1], port).into())?);
    accept(acceptor.clone(), bufsize);

    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = Arc::new(SteadyTimer::new(&ex));
    if allocations().is_some() {
        sample(sampler.clone(), samples.clone());
    }

    let (c, a, t) = (ctx.clone(), acceptor.clone(), sampler.clone());
    let stop = move || {
        let _ = a.close();
        t.cancel();
        c.stop();
    };
    #[cfg(unix)]
    let _signals = {
        let signals = proactor::SignalSet::new(&ex);
        signals.add(libc::SIGINT)?;
        signals.add(libc::SIGTERM)?;
        signals.async_wait(move |r: io::Result<i32>| {
            if r.is_ok() {
                stop();
            }
        });
        signals
    };
    #[cfg(not(unix))]
    {
        let ex = ex.clone();
        thread::spawn(move || {
            let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
            proactor::Executor::post(&ex, stop);
        });
    }

    println!("pingpong_server listening on 127.0.0.1:{port} threads={threads} bufsize={bufsize}");
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
    print!(
        "pingpong_server stopped sessions_accepted={} bytes_echoed_by_closed_sessions={}",
        SESSIONS.load(Relaxed),
        BYTES_OF_CLOSED.load(Relaxed)
    );
    let samples = samples.lock().unwrap();
    if let (Some(first), Some(last)) = (samples.get(1).or(samples.first()), samples.last()) {
        let (allocs, echoes) = (last.0 - first.0, last.1 - first.1);
        let per = if echoes > 0 {
            allocs as f64 / echoes as f64
        } else {
            0.0
        };
        print!(" steady_allocs={allocs} steady_echoes={echoes} allocs_per_echo={per:.6}");
    }
    println!();
    Ok(())
}
