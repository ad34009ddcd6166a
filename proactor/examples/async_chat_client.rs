//! The chat client of `chat_client.rs`, written with `async`/`await`: lines
//! typed on standard input go to the server; messages from the server are
//! printed.
//!
//! ```sh
//! cargo run --example async_chat_client -- [HOST] [PORT]   # defaults 127.0.0.1 9000
//! ```
//!
//! Standard input is read on its own thread, which pushes each line into
//! the [`Outbox`] that a writing task empties.

#[path = "chat/message.rs"]
mod message;
#[path = "chat/outbox.rs"]
mod outbox;

use outbox::Outbox;
use proactor::net::{Resolver, TcpSocket};
use proactor::token::as_result;
use proactor::{async_connect, async_read, async_write, co_spawn, Detached, IoContext, UseFuture};
use std::io::{self, BufRead};
use std::sync::Arc;

async fn print_messages(s: Arc<TcpSocket>) -> io::Result<()> {
    loop {
        let header = Vec::with_capacity(message::HEADER);
        let (_, header) = async_read(&*s, header, as_result(UseFuture)).await?;
        let n = message::body_len(&header).ok_or(io::ErrorKind::InvalidData)?;
        let (_, body) = async_read(&*s, Vec::with_capacity(n), as_result(UseFuture)).await?;
        println!("{}", String::from_utf8_lossy(&body));
    }
}

async fn write_lines(s: Arc<TcpSocket>, outbox: Arc<Outbox>) {
    while let Some(m) = outbox.next().await {
        if async_write(&*s, m, as_result(UseFuture)).await.is_err() {
            break;
        }
    }
    let _ = s.close();
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let host = args.get(1).map_or("127.0.0.1", String::as_str);
    let port: u16 = args.get(2).map_or(9000, |p| p.parse().expect("a port"));

    let ctx = Arc::new(IoContext::new()?);
    let ex = ctx.executor();
    let socket = Arc::new(TcpSocket::new(&ex));
    let outbox = Arc::new(Outbox::new(&ex));
    let resolver = Resolver::new(&ex);
    let (s, o) = (socket.clone(), outbox.clone());
    let (e, host) = (ex.clone(), host.to_owned());
    co_spawn(
        &ex,
        async move {
            let addrs = resolver.async_resolve(&host, port, UseFuture).await?;
            let addr = async_connect(&*s, addrs, UseFuture).await?;
            eprintln!("connected to {addr}; type lines to chat, end with Ctrl-D");
            co_spawn(&e, write_lines(s.clone(), o.clone()), Detached);
            let r = print_messages(s).await;
            o.close();
            r
        },
        |r: std::thread::Result<io::Result<()>>| match r {
            Ok(Err(e)) if !proactor::error::is_operation_aborted(&e) => eprintln!("chat: {e}"),
            Ok(_) => {}
            Err(_) => eprintln!("chat: the session panicked"),
        },
    );

    let runner = {
        let ctx = ctx.clone();
        std::thread::spawn(move || ctx.run())
    };
    for line in io::stdin().lock().lines() {
        outbox.push(Arc::new(message::encode(line?.as_bytes())));
    }
    outbox.close();
    let _ = runner.join();
    Ok(())
}
