//! A chat server (Asio's chat example): every message a participant sends
//! goes to every participant, and newcomers get the last 100 messages.
//!
//! ```sh
//! cargo run --example chat_server -- [PORT]        # default 9000
//! cargo run --example chat_client -- 127.0.0.1 9000  # in other terminals
//! ```
//!
//! Each session reads a header, then a body, and hands the message to the
//! room. Writes go through a per-session queue with at most one
//! `async_write` in flight, so messages are never interleaved.

#[path = "chat/message.rs"]
mod message;
#[path = "chat/room.rs"]
mod room;

use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{async_read, async_write, IoContext};
use room::Member;
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

type Room = room::Room<Session>;

struct Session {
    socket: TcpSocket,
    room: Arc<Mutex<Room>>,
    /// Messages waiting to be written; the front one is being written.
    queue: Mutex<VecDeque<Arc<Vec<u8>>>>,
}

impl Session {
    fn start(self: Arc<Self>) {
        self.room.lock().unwrap().join(&self);
        self.read_header();
    }

    fn read_header(self: Arc<Self>) {
        let me = self.clone();
        async_read(
            &self.socket,
            Vec::with_capacity(message::HEADER),
            move |r: io::Result<usize>, header: Vec<u8>| match r
                .ok()
                .and_then(|_| message::body_len(&header))
            {
                Some(n) => me.read_body(n),
                None => me.leave(),
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
                    me.room
                        .lock()
                        .unwrap()
                        .deliver(Arc::new(message::encode(&body)));
                    me.read_header();
                }
                Err(_) => me.leave(),
            },
        );
    }

    fn write(self: &Arc<Self>, m: Arc<Vec<u8>>) {
        let me = self.clone();
        async_write(
            &self.socket,
            m,
            move |r: io::Result<usize>, _: Arc<Vec<u8>>| {
                if r.is_err() {
                    return me.leave();
                }
                let next = {
                    let mut q = me.queue.lock().unwrap();
                    q.pop_front();
                    q.front().cloned()
                };
                if let Some(m) = next {
                    me.write(m);
                }
            },
        );
    }

    fn leave(self: Arc<Self>) {
        let _ = self.socket.close();
    }
}

impl Member for Session {
    /// Queues `m`; starts writing if nothing is being written.
    fn deliver(this: &Arc<Self>, m: Arc<Vec<u8>>) {
        let mut q = this.queue.lock().unwrap();
        q.push_back(m.clone());
        if q.len() == 1 {
            drop(q);
            this.write(m);
        }
    }
}

fn accept(a: Arc<TcpAcceptor>, room: Arc<Mutex<Room>>) {
    let a2 = a.clone();
    a.async_accept(move |r: io::Result<TcpSocket>| {
        match r {
            Ok(socket) => Arc::new(Session {
                socket,
                room: room.clone(),
                queue: Mutex::default(),
            })
            .start(),
            Err(e) if proactor::error::is_operation_aborted(&e) => return,
            Err(e) => eprintln!("accept: {e}"),
        }
        accept(a2, room);
    });
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(9000, |p| p.parse().expect("a port"));
    let ctx = IoContext::new()?;
    let acceptor = Arc::new(TcpAcceptor::bind(
        &ctx.executor(),
        ([127, 0, 0, 1], port).into(),
    )?);
    println!("chat server on {}", acceptor.local_addr()?);
    accept(acceptor, Arc::new(Mutex::new(Room::default())));
    ctx.run();
    Ok(())
}
