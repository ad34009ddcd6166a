//! TCP over loopback.

mod common;

use common::HANG;
use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{async_read, async_write, Executor, IoContext};
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// An acceptor on 127.0.0.1 and a connected client/server pair.
fn pair(ctx: &IoContext) -> (TcpSocket, TcpSocket) {
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let (tx, rx) = mpsc::channel();
    acceptor.async_accept(move |r: io::Result<TcpSocket>| tx.send(r.unwrap()).unwrap());
    let client = TcpSocket::new(&ctx.executor());
    client.async_connect(acceptor.local_addr().unwrap(), |r: io::Result<()>| {
        r.unwrap()
    });
    ctx.run();
    ctx.restart();
    (client, rx.recv_timeout(HANG).unwrap())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Echoes everything it reads back, until end of stream.
fn echo(s: Arc<TcpSocket>) {
    let s2 = s.clone();
    s.async_read_some(
        Vec::with_capacity(8192),
        move |r: io::Result<usize>, buf: Vec<u8>| match r {
            Ok(0) | Err(_) => {}
            Ok(_) => {
                let s3 = s2.clone();
                async_write(&*s2, buf, move |r: io::Result<usize>, _: Vec<u8>| {
                    if r.is_ok() {
                        echo(s3);
                    }
                });
            }
        },
    );
}

#[test]
fn one_mebibyte_echo_with_the_data_checked() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    echo(Arc::new(server));
    let data = pattern(1 << 20);
    let client = Arc::new(client);
    let (tx, rx) = mpsc::channel();
    let c2 = client.clone();
    async_write(
        &*client,
        data.clone(),
        move |r: io::Result<usize>, _: Vec<u8>| {
            assert_eq!(r.unwrap(), 1 << 20);
            let c3 = c2.clone();
            async_read(
                &*c2,
                Vec::with_capacity(1 << 20),
                move |r: io::Result<usize>, buf: Vec<u8>| {
                    assert_eq!(r.unwrap(), 1 << 20);
                    tx.send(buf).unwrap();
                    // The server sees end of stream and stops: the context runs
                    // out of work.
                    c3.close().unwrap();
                },
            );
        },
    );
    ctx.run();
    let got = rx.recv_timeout(HANG).unwrap();
    assert!(got == data, "echoed data differs");
}

#[test]
fn two_hundred_connections_each_echo_64_kib_with_two_threads() {
    const CONNS: usize = 200;
    const SIZE: usize = 64 * 1024;
    let ctx = Arc::new(IoContext::new().unwrap());
    let acceptor =
        Arc::new(TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap());
    let addr = acceptor.local_addr().unwrap();

    fn accept_loop(a: Arc<TcpAcceptor>, left: usize) {
        if left == 0 {
            return;
        }
        let a2 = a.clone();
        a.async_accept(move |r: io::Result<TcpSocket>| {
            echo(Arc::new(r.unwrap()));
            accept_loop(a2, left - 1);
        });
    }
    accept_loop(acceptor, CONNS);

    let (tx, rx) = mpsc::channel();
    let mut clients = Vec::new();
    for i in 0..CONNS {
        let c = Arc::new(TcpSocket::new(&ctx.executor()));
        let data: Vec<u8> = pattern(SIZE).into_iter().map(|b| b ^ i as u8).collect();
        let (c2, tx) = (c.clone(), tx.clone());
        c.async_connect(addr, move |r: io::Result<()>| {
            r.unwrap();
            let c3 = c2.clone();
            async_write(
                &*c2,
                data.clone(),
                move |r: io::Result<usize>, _: Vec<u8>| {
                    assert_eq!(r.unwrap(), SIZE);
                    let c4 = c3.clone();
                    async_read(
                        &*c3,
                        Vec::with_capacity(SIZE),
                        move |r: io::Result<usize>, buf: Vec<u8>| {
                            assert_eq!(r.unwrap(), SIZE);
                            tx.send(buf == data).unwrap();
                            c4.close().unwrap();
                        },
                    );
                },
            );
        });
        clients.push(c);
    }
    let total = common::run_on_threads(&ctx, 2);
    assert!(total > 0);
    let ok = (0..CONNS)
        .filter(|_| rx.recv_timeout(HANG).unwrap())
        .count();
    assert_eq!(ok, CONNS, "connections whose echo matched");
}

#[test]
fn a_refused_connect_reports_the_error() {
    let ctx = IoContext::new().unwrap();
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = TcpSocket::new(&ctx.executor());
    let (tx, rx) = mpsc::channel();
    s.async_connect(addr, move |r: io::Result<()>| tx.send(r).unwrap());
    ctx.run();
    let e = rx.recv().unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn async_connect_tries_endpoints_in_order() {
    let ctx = IoContext::new().unwrap();
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let good = acceptor.local_addr().unwrap();
    let bad = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    acceptor.async_accept(|r: io::Result<TcpSocket>| drop(r.unwrap()));
    let s = TcpSocket::new(&ctx.executor());
    let (tx, rx) = mpsc::channel();
    proactor::async_connect(
        &s,
        vec![bad, good],
        move |r: io::Result<std::net::SocketAddr>| tx.send(r).unwrap(),
    );
    ctx.run();
    assert_eq!(rx.recv().unwrap().unwrap(), good);
    assert_eq!(s.peer_addr().unwrap(), good);

    ctx.restart();
    let (tx, rx) = mpsc::channel();
    proactor::async_connect(
        &s,
        Vec::new(),
        move |r: io::Result<std::net::SocketAddr>| tx.send(r).unwrap(),
    );
    ctx.run();
    assert_eq!(
        rx.recv().unwrap().unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

#[test]
fn a_16_mib_write_to_a_slow_reader_completes_in_full() {
    const SIZE: usize = 16 << 20;
    let ctx = Arc::new(IoContext::new().unwrap());
    let (client, server) = pair(&ctx);
    let data = pattern(SIZE);
    let (tx, rx) = mpsc::channel();
    async_write(
        &server,
        data.clone(),
        move |r: io::Result<usize>, _: Vec<u8>| tx.send(r.unwrap()).unwrap(),
    );
    // The reader takes 256 KiB at a time, pausing between reads, so the
    // writer keeps finding the socket full and waiting for it to drain.
    let received = Arc::new(Mutex::new(Vec::with_capacity(SIZE)));
    fn slow_read(c: Arc<TcpSocket>, got: Arc<Mutex<Vec<u8>>>) {
        let c2 = c.clone();
        c.async_read_some(
            Vec::with_capacity(256 * 1024),
            move |r: io::Result<usize>, buf: Vec<u8>| {
                if r.unwrap() == 0 {
                    return;
                }
                let done = {
                    let mut g = got.lock().unwrap();
                    g.extend_from_slice(&buf);
                    g.len() == SIZE
                };
                if done {
                    return;
                }
                let t = Arc::new(proactor::SteadyTimer::new(c2.executor()));
                t.expires_after(std::time::Duration::from_micros(200));
                let t2 = t.clone();
                t.async_wait(move |_: io::Result<()>| {
                    drop(t2);
                    slow_read(c2, got);
                });
            },
        );
    }
    slow_read(Arc::new(client), received.clone());
    ctx.run();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), SIZE);
    assert!(
        *received.lock().unwrap() == data,
        "the slow reader got every byte, in order"
    );
}

#[test]
fn half_close() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    let server = Arc::new(server);
    let client = Arc::new(client);
    // The client sends a request and shuts down its writing side; the
    // server reads to end of stream, then answers; the client reads the
    // answer to end of stream.
    let s2 = server.clone();
    async_write(
        &*client,
        b"request",
        |r: io::Result<usize>, _: &'static [u8; 7]| assert_eq!(r.unwrap(), 7),
    );
    let c2 = client.clone();
    ctx.executor()
        .post(move || c2.shutdown(std::net::Shutdown::Write).unwrap());
    fn read_to_end<F: FnOnce(Vec<u8>) + Send + 'static>(
        s: Arc<TcpSocket>,
        mut acc: Vec<u8>,
        done: F,
    ) {
        let s2 = s.clone();
        acc.reserve(64);
        s.async_read_some(acc, move |r: io::Result<usize>, acc: Vec<u8>| {
            match r.unwrap() {
                0 => done(acc),
                _ => read_to_end(s2, acc, done),
            }
        });
    }
    let (tx, rx) = mpsc::channel();
    read_to_end(server.clone(), Vec::new(), move |req| {
        assert_eq!(req, b"request");
        let s3 = s2.clone();
        async_write(
            &*s2,
            b"response",
            move |r: io::Result<usize>, _: &'static [u8; 8]| {
                assert_eq!(r.unwrap(), 8);
                s3.shutdown(std::net::Shutdown::Write).unwrap();
            },
        );
    });
    read_to_end(client, Vec::new(), move |resp| tx.send(resp).unwrap());
    ctx.run();
    assert_eq!(rx.recv().unwrap(), b"response");
}

/// Resets the connection: closing with a zero linger sends RST.
fn reset(s: &TcpSocket) {
    s.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    s.close().unwrap();
}

#[test]
fn a_peer_reset_during_a_read_is_an_error_not_a_panic() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    let (tx, rx) = mpsc::channel();
    server.async_read_some(
        Vec::with_capacity(64),
        move |r: io::Result<usize>, _: Vec<u8>| tx.send(r).unwrap(),
    );
    ctx.executor().post(move || reset(&client));
    ctx.run();
    let e = rx.recv().unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
}

#[test]
fn a_peer_reset_during_a_write_is_an_error_not_a_panic() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    let (tx, rx) = mpsc::channel();
    // Far more than the socket buffers hold: the write is still pending
    // when the reader resets.
    async_write(
        &server,
        vec![7u8; 64 << 20],
        move |r: io::Result<usize>, _: Vec<u8>| tx.send(r).unwrap(),
    );
    let t = proactor::SteadyTimer::new(&ctx.executor());
    t.expires_after(std::time::Duration::from_millis(10));
    t.async_wait(move |_: io::Result<()>| reset(&client));
    ctx.run();
    let e = rx.recv().unwrap().unwrap_err();
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{e}"
    );
}

#[test]
fn cancel_aborts_pending_operations_returns_the_buffer_and_keeps_the_socket() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    let (tx, rx) = mpsc::channel();
    let mut buf = Vec::with_capacity(16);
    buf.extend_from_slice(b"kept");
    server.async_read_some(buf, move |r: io::Result<usize>, buf: Vec<u8>| {
        tx.send((r, buf)).unwrap()
    });
    server.cancel();
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    assert!(proactor::error::is_operation_aborted(&r.unwrap_err()));
    assert_eq!(buf, b"kept", "the buffer comes back with its contents");
    // Still usable.
    ctx.restart();
    let (tx, rx) = mpsc::channel();
    server.async_read_some(buf, move |r: io::Result<usize>, buf: Vec<u8>| {
        tx.send((r, buf)).unwrap()
    });
    async_write(
        &client,
        b"+more",
        |r: io::Result<usize>, _: &'static [u8; 5]| r.map(drop).unwrap(),
    );
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(buf, b"kept+more");
}

#[test]
fn close_and_drop_abort_pending_operations() {
    let ctx = IoContext::new().unwrap();
    let (c1, s1) = pair(&ctx);
    let (c2, s2) = pair(&ctx);
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    s1.async_read_some(
        Vec::with_capacity(8),
        move |r: io::Result<usize>, _: Vec<u8>| tx.send(r).unwrap(),
    );
    s2.async_read_some(
        Vec::with_capacity(8),
        move |r: io::Result<usize>, _: Vec<u8>| tx2.send(r).unwrap(),
    );
    s1.close().unwrap();
    drop(s2);
    ctx.run();
    for _ in 0..2 {
        assert!(proactor::error::is_operation_aborted(
            &rx.recv().unwrap().unwrap_err()
        ));
    }
    // A closed socket's operations fail (they do not hang).
    ctx.restart();
    let (tx, rx) = mpsc::channel();
    s1.async_read_some(
        Vec::with_capacity(8),
        move |r: io::Result<usize>, _: Vec<u8>| tx.send(r).unwrap(),
    );
    ctx.run();
    assert!(rx.recv().unwrap().is_err());
    drop((c1, c2));
}

#[test]
fn a_composed_read_through_a_reference_fails_when_the_socket_is_dropped() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    let (tx, rx) = mpsc::channel();
    async_read(
        &server,
        Vec::with_capacity(1024),
        move |r: io::Result<usize>, _: Vec<u8>| tx.send(r).unwrap(),
    );
    drop(server);
    ctx.run();
    assert!(proactor::error::is_operation_aborted(
        &rx.recv().unwrap().unwrap_err()
    ));
    drop(client);
}

#[test]
fn read_until_max_fails_clearly_instead_of_growing() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    async_write(
        &client,
        vec![b'x'; 10_000],
        |r: io::Result<usize>, _: Vec<u8>| r.map(drop).unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    proactor::async_read_until_max(
        &server,
        Vec::new(),
        b'\n',
        4096,
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send((r, buf.len())).unwrap(),
    );
    ctx.run();
    let (r, len) = rx.recv().unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert!(len <= 4096, "the buffer stayed within the limit: {len}");
}

#[test]
fn eof_in_the_middle_of_async_read_is_unexpected_eof_and_keeps_the_data() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    async_write(
        &client,
        b"partial",
        |r: io::Result<usize>, _: &'static [u8; 7]| r.map(drop).unwrap(),
    );
    ctx.executor().post(move || client.close().unwrap());
    let (tx, rx) = mpsc::channel();
    async_read(
        &server,
        Vec::with_capacity(100),
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send((r, buf)).unwrap(),
    );
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(buf, b"partial");
}

#[test]
fn socket_options() {
    let ctx = IoContext::new().unwrap();
    let (client, _server) = pair(&ctx);
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.set_keepalive(true).unwrap();
    assert!(client.keepalive().unwrap());
    client
        .set_linger(Some(std::time::Duration::from_secs(3)))
        .unwrap();
    assert_eq!(
        client.linger().unwrap(),
        Some(std::time::Duration::from_secs(3))
    );
    client.set_send_buffer_size(64 * 1024).unwrap();
    assert!(client.send_buffer_size().unwrap() >= 64 * 1024);
    client.set_recv_buffer_size(64 * 1024).unwrap();
    assert!(client.recv_buffer_size().unwrap() >= 64 * 1024);
    assert_eq!(client.peer_addr().unwrap(), _server.local_addr().unwrap());
}

#[test]
fn operations_on_a_never_opened_socket_fail() {
    let ctx = IoContext::new().unwrap();
    let s = TcpSocket::new(&ctx.executor());
    assert!(s.local_addr().is_err());
    let (tx, rx) = mpsc::channel();
    s.async_write_some(b"x", move |r: io::Result<usize>, _: &'static [u8; 1]| {
        tx.send(r).unwrap()
    });
    ctx.run();
    assert!(rx.recv().unwrap().is_err());
}

#[test]
fn dropping_the_context_drops_pending_io_handlers_unrun() {
    let ctx = IoContext::new().unwrap();
    let (client, server) = pair(&ctx);
    let dropped = common::Counter::new();
    let probe = common::DropProbe(dropped.clone());
    server.async_read_some(
        Vec::with_capacity(64),
        move |_: io::Result<usize>, _: Vec<u8>| {
            let _ = &probe;
            panic!("must not run");
        },
    );
    let probe = common::DropProbe(dropped.clone());
    async_write(
        &client,
        vec![1u8; 32 << 20],
        move |_: io::Result<usize>, _: Vec<u8>| {
            let _ = &probe;
            panic!("must not run");
        },
    );
    drop(ctx);
    assert_eq!(dropped.get(), 2);
    // The sockets outlive their context: using and dropping them is
    // harmless, and their handlers are dropped at once.
    let probe = common::DropProbe(dropped.clone());
    server.async_read_some(
        Vec::with_capacity(8),
        move |_: io::Result<usize>, _: Vec<u8>| {
            let _ = &probe;
            panic!("must not run");
        },
    );
    assert_eq!(dropped.get(), 3);
    drop((client, server));
}

/// A peer's last bytes and its end of stream can reach the socket before
/// the reactor looks, and then it sees them as one readiness event. A
/// short read of those bytes must not make the next read wait for another
/// event: none will come.
#[test]
fn data_and_end_of_stream_that_arrive_together_end_in_eof() {
    let ctx = IoContext::new().unwrap();
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let (tx, rx) = mpsc::channel();
    acceptor.async_accept(move |r: io::Result<TcpSocket>| tx.send(r.unwrap()).unwrap());
    let mut peer = std::net::TcpStream::connect(acceptor.local_addr().unwrap()).unwrap();
    ctx.run();
    ctx.restart();
    let server = Arc::new(rx.recv_timeout(HANG).unwrap());
    // Reads of 1 byte, then 64 bytes (short: "ello"), then until the end.
    let (done_tx, done_rx) = mpsc::channel();
    fn read(s: Arc<TcpSocket>, cap: usize, got: Vec<u8>, done: mpsc::Sender<Vec<u8>>) {
        let s2 = s.clone();
        s.async_read_some(
            Vec::with_capacity(cap),
            move |r: io::Result<usize>, buf: Vec<u8>| {
                let mut got = got;
                match r.unwrap() {
                    0 => done.send(got).unwrap(),
                    _ => {
                        got.extend_from_slice(&buf);
                        read(s2, 64, got, done);
                    }
                }
            },
        );
    }
    // The first read starts (and finds nothing) before anything is sent.
    read(server, 1, Vec::new(), done_tx);
    use std::io::Write;
    peer.write_all(b"hello").unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let runner = std::thread::spawn(move || ctx.run());
    assert_eq!(done_rx.recv_timeout(HANG).unwrap(), b"hello");
    runner.join().unwrap();
}

/// Connections made before any accept is started are each accepted once,
/// in order, also more of them than a listener takes ahead of its accepts
/// (on io_uring its multishot accept stops, and the rest wait in the
/// kernel's backlog).
#[test]
fn connections_made_before_the_accepts_are_each_accepted_once() {
    use std::io::{Read, Write};
    let ctx = IoContext::new().unwrap();
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = acceptor.local_addr().unwrap();
    // One accept first, so that a ring's multishot accept is running when
    // the connections come.
    let (tx, rx) = std::sync::mpsc::channel();
    let first = tx.clone();
    acceptor.async_accept(move |r: io::Result<TcpSocket>| first.send(r.unwrap()).unwrap());
    let clients: Vec<std::net::TcpStream> = (0..40u8)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&[i]).unwrap();
            c
        })
        .collect();
    ctx.run();
    for _ in 1..40 {
        let tx = tx.clone();
        acceptor.async_accept(move |r: io::Result<TcpSocket>| tx.send(r.unwrap()).unwrap());
    }
    ctx.restart();
    ctx.run();
    // Each accepted socket is a different client, and every client was
    // accepted: each echoes back the byte its client sent.
    let accepted: Vec<TcpSocket> = rx.try_iter().collect();
    assert_eq!(accepted.len(), 40);
    ctx.restart();
    let mut got = Vec::new();
    for s in &accepted {
        let (r, buf) = ctx.block_on(s.async_read_some(Vec::with_capacity(1), proactor::UseFuture));
        assert_eq!(r.unwrap(), 1);
        got.push(buf[0]);
        let (r, _) = ctx.block_on(s.async_write_some(buf, proactor::UseFuture));
        assert_eq!(r.unwrap(), 1);
    }
    got.sort_unstable();
    assert_eq!(got, (0..40u8).collect::<Vec<_>>());
    for (i, mut c) in clients.into_iter().enumerate() {
        let mut b = [0u8];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i as u8);
    }
}

/// A cancelled accept takes no connection: the next accept gets it.
#[test]
fn a_cancelled_accept_leaves_the_connection_to_the_next() {
    use proactor::{bind_cancellation_slot, CancellationSignal, CancellationType};
    let ctx = IoContext::new().unwrap();
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = acceptor.local_addr().unwrap();
    let signal = CancellationSignal::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let t1 = tx.clone();
    acceptor.async_accept(bind_cancellation_slot(
        signal.slot(),
        move |r: io::Result<TcpSocket>| t1.send(("first", r.map(drop))).unwrap(),
    ));
    // Started and waiting (on a ring: queued behind the multishot accept).
    assert_eq!(ctx.poll(), 0);
    signal.emit(CancellationType::ALL);
    let _client = std::net::TcpStream::connect(addr).unwrap();
    acceptor
        .async_accept(move |r: io::Result<TcpSocket>| tx.send(("second", r.map(drop))).unwrap());
    ctx.restart();
    ctx.run();
    let results: Vec<_> = rx.try_iter().collect();
    assert_eq!(results.len(), 2);
    let first = results.iter().find(|(w, _)| *w == "first").unwrap();
    assert!(proactor::error::is_operation_aborted(
        first.1.as_ref().unwrap_err()
    ));
    let second = results.iter().find(|(w, _)| *w == "second").unwrap();
    assert!(second.1.is_ok());
}
