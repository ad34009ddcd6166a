//! `bytes::Bytes` and `bytes::BytesMut` as operation buffers (feature
//! `bytes`).
#![cfg(feature = "bytes")]

mod common;

use bytes::{Bytes, BytesMut};
use proactor::{async_read, async_write, IoContext};
use std::io;
use std::sync::mpsc;

#[test]
fn bytes_out_bytes_mut_in() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = common::tcp_pair(&ctx);
    async_write(
        &a,
        Bytes::from_static(b"zero-copy"),
        |r: io::Result<usize>, _: Bytes| assert_eq!(r.unwrap(), 9),
    );
    let mut buf = BytesMut::with_capacity(9);
    buf.extend_from_slice(b"");
    let (tx, rx) = mpsc::channel();
    async_read(&b, buf, move |r: io::Result<usize>, buf: BytesMut| {
        tx.send((r.unwrap(), buf)).unwrap()
    });
    ctx.run();
    let (n, buf) = rx.recv().unwrap();
    assert_eq!(n, 9);
    assert_eq!(&buf[..], b"zero-copy");
}
