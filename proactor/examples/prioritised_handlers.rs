//! Prioritised handlers (seeds/003 and Asio's `invocation` example):
//! handlers are wrapped with a priority; when the context runs one, it only
//! queues it, and the application then runs the queued handlers highest
//! priority first.
//!
//! ```sh
//! cargo run --example prioritised_handlers
//! ```
//!
//! The loop is Asio's: `run_one()` waits for the next ready handler, a
//! `poll_one()` loop gathers every other ready handler into the queue, and
//! the queue runs them in priority order.

use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{Executor, IoContext, SteadyTimer};
use std::collections::BinaryHeap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

struct Queued {
    priority: i32,
    /// Earlier first among equals.
    seq: u64,
    job: Job,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.priority, self.seq) == (o.priority, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.priority.cmp(&o.priority).then(o.seq.cmp(&self.seq))
    }
}

#[derive(Clone, Default)]
struct PriorityQueue(Arc<Mutex<(BinaryHeap<Queued>, u64)>>);

impl PriorityQueue {
    /// Wraps `f`: running the wrapper queues `f` with `priority`.
    fn wrap<F: FnOnce() + Send + 'static>(
        &self,
        priority: i32,
        f: F,
    ) -> impl FnOnce() + Send + 'static {
        let q = self.clone();
        move || {
            let mut g = q.0.lock().unwrap();
            let seq = g.1;
            g.1 += 1;
            g.0.push(Queued {
                priority,
                seq,
                job: Box::new(f),
            });
        }
    }

    /// Wraps a one-argument handler the same way.
    fn wrap1<A: Send + 'static, F: FnOnce(A) + Send + 'static>(
        &self,
        priority: i32,
        f: F,
    ) -> impl FnOnce(A) + Send + 'static {
        let q = self.clone();
        move |a| q.wrap(priority, move || f(a))()
    }

    fn execute_all(&self) {
        loop {
            let next = self.0.lock().unwrap().0.pop();
            match next {
                Some(q) => (q.job)(),
                None => return,
            }
        }
    }
}

fn main() -> io::Result<()> {
    let ctx = IoContext::new()?;
    let pq = PriorityQueue::default();

    // Low priority: a posted handler.
    ctx.executor()
        .post(pq.wrap(0, || println!("low priority handler (0)")));

    // High priority: accepting a connection.
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap())?;
    acceptor.async_accept(pq.wrap1(100, |r: io::Result<TcpSocket>| {
        println!(
            "high priority handler: accepted {:?}",
            r.map(|s| s.peer_addr())
        );
    }));
    let client = TcpSocket::new(&ctx.executor());
    client.async_connect(
        acceptor.local_addr()?,
        pq.wrap1(50, |r: io::Result<()>| {
            println!("medium priority handler: connected {:?}", r.is_ok());
        }),
    );

    // Medium-low: a timer.
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(Duration::from_millis(10));
    timer.async_wait(pq.wrap1(42, |_: io::Result<()>| println!("timer handler (42)")));

    while ctx.run_one() > 0 {
        while ctx.poll_one() > 0 {}
        pq.execute_all();
    }
    Ok(())
}
