//! The chat server of `chat_server.rs`, written with `async`/`await`: each
//! participant is a reading task and a writing task.
//!
//! ```sh
//! cargo run --example async_chat_server -- [PORT]         # default 9000
//! cargo run --example async_chat_client -- 127.0.0.1 9000  # in other terminals
//! ```
//!
//! The writing task takes messages from the participant's [`Outbox`] one at
//! a time, so writes never interleave; a message is one `Arc<Vec<u8>>`
//! written to every participant without copying.

#[path = "chat/message.rs"]
mod message;
#[path = "chat/outbox.rs"]
mod outbox;
#[path = "chat/room.rs"]
mod room;

use outbox::Outbox;
use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::token::as_result;
use proactor::{async_read, async_write, co_spawn, Detached, IoContext, IoExecutor, UseFuture};
use room::Member;
use std::io;
use std::sync::{Arc, Mutex};

type Room = room::Room<Participant>;

struct Participant {
    socket: TcpSocket,
    outbox: Outbox,
}

impl Member for Participant {
    fn deliver(this: &Arc<Self>, m: Arc<Vec<u8>>) {
        this.outbox.push(m);
    }
}

/// One framed message's body: header, then body.
async fn read_message(s: &TcpSocket) -> io::Result<Vec<u8>> {
    let header = Vec::with_capacity(message::HEADER);
    let (_, header) = async_read(s, header, as_result(UseFuture)).await?;
    let n = message::body_len(&header).ok_or(io::ErrorKind::InvalidData)?;
    let (_, body) = async_read(s, Vec::with_capacity(n), as_result(UseFuture)).await?;
    Ok(body)
}

async fn write_loop(p: Arc<Participant>) {
    while let Some(m) = p.outbox.next().await {
        if async_write(&p.socket, m, as_result(UseFuture))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = p.socket.close();
}

async fn session(socket: TcpSocket, room: Arc<Mutex<Room>>, ex: IoExecutor) {
    let p = Arc::new(Participant {
        socket,
        outbox: Outbox::new(&ex),
    });
    room.lock().unwrap().join(&p);
    co_spawn(&ex, write_loop(p.clone()), Detached);
    while let Ok(body) = read_message(&p.socket).await {
        let m = Arc::new(message::encode(&body));
        room.lock().unwrap().deliver(m);
    }
    // The peer left or broke the protocol: stop the writer too.
    p.outbox.close();
    let _ = p.socket.close();
}

async fn listen(a: TcpAcceptor, ex: IoExecutor) {
    let room = Arc::new(Mutex::new(Room::default()));
    loop {
        match a.async_accept(UseFuture).await {
            Ok(s) => co_spawn(&ex, session(s, room.clone(), ex.clone()), Detached),
            Err(e) if proactor::error::is_operation_aborted(&e) => return,
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(9000, |p| p.parse().expect("a port"));
    let ctx = IoContext::new()?;
    let ex = ctx.executor();
    let acceptor = TcpAcceptor::bind(&ex, ([127, 0, 0, 1], port).into())?;
    println!("chat server on {}", acceptor.local_addr()?);
    co_spawn(&ex, listen(acceptor, ex.clone()), Detached);
    ctx.run();
    Ok(())
}
