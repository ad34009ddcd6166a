//! A chat client (Asio's chat example): lines typed on standard input go
//! to the server; messages from the server are printed.
//!
//! ```sh
//! cargo run --example chat_client -- [HOST] [PORT]   # defaults 127.0.0.1 9000
//! ```
//!
//! Standard input is read on its own thread; each line is posted to the
//! context, which queues it (at most one `async_write` in flight), as the
//! seed's client does with `post` and its `write_msgs_` deque.

#[path = "chat/message.rs"]
mod message;

use proactor::net::{Resolver, TcpSocket};
use proactor::{async_connect, async_read, async_write, Executor, IoContext, IoExecutor};
use std::collections::VecDeque;
use std::io::{self, BufRead};
use std::sync::{Arc, Mutex};

struct Client {
    socket: TcpSocket,
    queue: Mutex<VecDeque<Vec<u8>>>,
    ex: IoExecutor,
}

impl Client {
    fn read_header(self: Arc<Self>) {
        let me = self.clone();
        async_read(
            &self.socket,
            Vec::with_capacity(message::HEADER),
            move |r: io::Result<usize>, h: Vec<u8>| match r.ok().and_then(|_| message::body_len(&h))
            {
                Some(n) => me.read_body(n),
                None => me.close(),
            },
        );
    }

    fn read_body(self: Arc<Self>, n: usize) {
        let me = self.clone();
        async_read(
            &self.socket,
            Vec::with_capacity(n),
            move |r: io::Result<usize>, body: Vec<u8>| match r {
                Ok(_) => {
                    println!("{}", String::from_utf8_lossy(&body));
                    me.read_header();
                }
                Err(_) => me.close(),
            },
        );
    }

    /// Called on the context (posted from the input thread).
    fn send(self: &Arc<Self>, m: Vec<u8>) {
        let mut q = self.queue.lock().unwrap();
        q.push_back(m);
        if q.len() == 1 {
            let front = q.front().cloned().unwrap_or_default();
            drop(q);
            self.write(front);
        }
    }

    fn write(self: &Arc<Self>, m: Vec<u8>) {
        let me = self.clone();
        async_write(&self.socket, m, move |r: io::Result<usize>, _: Vec<u8>| {
            if r.is_err() {
                return me.close();
            }
            let next = {
                let mut q = me.queue.lock().unwrap();
                q.pop_front();
                q.front().cloned()
            };
            if let Some(m) = next {
                me.write(m);
            }
        });
    }

    fn close(&self) {
        let _ = self.socket.close();
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let host = args.get(1).map_or("127.0.0.1", String::as_str);
    let port: u16 = args.get(2).map_or(9000, |p| p.parse().expect("a port"));

    let ctx = Arc::new(IoContext::new()?);
    let addrs = Resolver::new(&ctx.executor()).resolve(host, port)?;
    let client = Arc::new(Client {
        socket: TcpSocket::new(&ctx.executor()),
        queue: Mutex::default(),
        ex: ctx.executor(),
    });
    let c = client.clone();
    async_connect(
        &client.socket,
        addrs,
        move |r: io::Result<std::net::SocketAddr>| match r {
            Ok(addr) => {
                eprintln!("connected to {addr}; type lines to chat, end with Ctrl-D");
                c.read_header();
            }
            Err(e) => eprintln!("connect: {e}"),
        },
    );

    let runner = {
        let ctx = ctx.clone();
        std::thread::spawn(move || ctx.run())
    };
    for line in io::stdin().lock().lines() {
        let m = message::encode(line?.as_bytes());
        let c = client.clone();
        client.ex.post(move || c.send(m));
    }
    let c = client.clone();
    client.ex.post(move || c.close());
    let _ = runner.join();
    Ok(())
}
