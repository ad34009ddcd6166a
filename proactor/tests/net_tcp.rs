//! TCP over loopback.
#![cfg(unix)]

mod common;

use common::HANG;
use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{async_read, async_write, IoContext};
use std::io;
use std::sync::mpsc;
use std::sync::Arc;

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
