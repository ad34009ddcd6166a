//! `async_read_until` over streams that deliver one byte at a time: a
//! stream type written here, as a user would, and TCP with one-byte writes.

mod common;

use proactor::{
    async_read_until, AsyncReadStream, CompletionHandler, CompletionToken, Executor, Initiation,
    IoBufMut, IoContext, IoExecutor,
};
use std::collections::VecDeque;
use std::io;
use std::sync::{mpsc, Arc, Mutex};

/// A stream of our own: each read delivers at most one byte, from a
/// posted handler (never inline), then end of stream.
#[derive(Clone)]
struct Trickle {
    bytes: Arc<Mutex<VecDeque<u8>>>,
    ex: IoExecutor,
}

struct TrickleRead<B> {
    stream: Trickle,
    buf: B,
}

impl<B: IoBufMut> Initiation<(io::Result<usize>, B)> for TrickleRead<B> {
    fn initiate<H: CompletionHandler<(io::Result<usize>, B)>>(self, handler: H) {
        let TrickleRead { stream, mut buf } = self;
        stream.ex.clone().post(move || {
            // No room: complete at once with Ok(0), consuming nothing (the
            // contract composed operations rely on).
            let n = match buf.spare().first_mut() {
                Some(slot) => match stream.bytes.lock().unwrap().pop_front() {
                    Some(b) => {
                        slot.write(b);
                        1
                    }
                    None => 0,
                },
                None => 0,
            };
            let len = buf.bytes_init() + n;
            // SAFETY: the byte after the data was just written.
            unsafe { buf.set_init(len) };
            handler.complete((Ok(n), buf));
        });
    }
}

impl AsyncReadStream for Trickle {
    type ReadRef = Trickle;
    fn read_ref(&self) -> Trickle {
        self.clone()
    }
    fn async_read_some<B: IoBufMut, T: CompletionToken<(io::Result<usize>, B)>>(
        &self,
        buf: B,
        token: T,
    ) -> T::Output {
        token.launch(TrickleRead {
            stream: self.clone(),
            buf,
        })
    }
}

fn trickle(ctx: &IoContext, data: &[u8]) -> Trickle {
    Trickle {
        bytes: Arc::new(Mutex::new(data.iter().copied().collect())),
        ex: ctx.executor(),
    }
}

#[test]
fn read_until_assembles_a_delimiter_from_single_bytes() {
    let ctx = IoContext::new().unwrap();
    let s = trickle(&ctx, b"first line\r\nsecond\r\n");
    let (tx, rx) = mpsc::channel();
    async_read_until(
        &s,
        Vec::new(),
        "\r\n",
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send((r, buf)).unwrap(),
    );
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    let n = r.unwrap();
    assert_eq!(&buf[..n], b"first line\r\n");
    // The next line starts from the leftovers in the buffer.
    ctx.restart();
    let (tx, rx) = mpsc::channel();
    let rest = buf[n..].to_vec();
    async_read_until(
        &s,
        rest,
        "\r\n",
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send((r, buf)).unwrap(),
    );
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    assert_eq!(&buf[..r.unwrap()], b"second\r\n");
}

#[test]
fn a_delimiter_already_in_the_buffer_completes_without_reading_and_not_inline() {
    let ctx = IoContext::new().unwrap();
    let s = trickle(&ctx, b"never read");
    let (tx, rx) = mpsc::channel();
    async_read_until(
        &s,
        b"ab\ncd".to_vec(),
        b'\n',
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send((r, buf)).unwrap(),
    );
    assert!(
        rx.try_recv().is_err(),
        "completed inside the initiating function"
    );
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(buf, b"ab\ncd");
    assert_eq!(s.bytes.lock().unwrap().len(), 10, "nothing was read");
}

#[test]
fn end_of_stream_before_the_delimiter_is_unexpected_eof() {
    let ctx = IoContext::new().unwrap();
    let s = trickle(&ctx, b"no newline");
    let (tx, rx) = mpsc::channel();
    async_read_until(
        &s,
        Vec::new(),
        b'\n',
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send((r, buf)).unwrap(),
    );
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(buf, b"no newline", "what was read is handed back");
}

#[test]
fn read_until_over_tcp_written_one_byte_at_a_time() {
    use proactor::net::{TcpAcceptor, TcpSocket};
    let ctx = IoContext::new().unwrap();
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let client = Arc::new(TcpSocket::new(&ctx.executor()));
    client.async_connect(acceptor.local_addr().unwrap(), |r: io::Result<()>| {
        r.unwrap()
    });
    let (tx, rx) = mpsc::channel();
    acceptor.async_accept(move |r: io::Result<TcpSocket>| {
        let server = Arc::new(r.unwrap());
        let s2 = server.clone();
        async_read_until(
            &*server,
            Vec::new(),
            "END",
            move |r: io::Result<usize>, buf: Vec<u8>| {
                drop(s2);
                tx.send((r, buf)).unwrap()
            },
        );
    });
    fn send_bytes(c: Arc<TcpSocket>, rest: &'static [u8]) {
        let Some((first, tail)) = rest.split_first() else {
            return;
        };
        let c2 = c.clone();
        c.set_nodelay(true).ok();
        c.async_write_some(vec![*first], move |r: io::Result<usize>, _: Vec<u8>| {
            assert_eq!(r.unwrap(), 1);
            send_bytes(c2, tail);
        });
    }
    send_bytes(client.clone(), b"one byte at a timeEND");
    ctx.run();
    let (r, buf) = rx.recv().unwrap();
    assert_eq!(&buf[..r.unwrap()], b"one byte at a timeEND");
}
