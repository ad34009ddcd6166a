//! The reactor on a completion port (Windows): sockets keep their
//! descriptor states, but their operations are issued to the kernel rather
//! than queued for readiness, and the task harvests completions.

use super::descriptor::DescriptorState;
use super::{libc_ebadf, Reactor, ReactorTask};
use crate::completion::{CompletionHeader, Flight, Late, Unstarted};
use crate::op::queue::OpQueue;
use crate::scheduler::task::Task;
use crate::sync;
use crate::sys::windows::ops::{Issued, Overlapped};
use crate::sys::windows::socket::{self, socket};
use crate::sys::windows::SKIPS_ON_SUCCESS;
use std::io;
use std::time::Duration;

/// How long a context being dropped waits for the packets of the
/// operations it cancelled. They come at once in practice; a kernel that
/// never sends one costs this wait and the operation's block.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(5);

impl Reactor {
    /// Issues `op` (holding one unit of work) on the descriptor's socket.
    /// It completes with its packet, or is posted if it finished inside
    /// its call; a closed descriptor or an earlier cancellation request
    /// fails it (posted too).
    pub(crate) fn start_overlapped<O: Overlapped>(
        &self,
        d: &DescriptorState,
        mut op: Unstarted<O>,
    ) {
        let g = d.lock();
        let early = if g.shutdown {
            Some(io::Error::from_raw_os_error(libc_ebadf()))
        } else {
            None
        };
        let flight = op.flight.clone();
        // Held across the call: a cancellation request waits until the
        // operation is on record, and so does its packet (`land`).
        let mut on_record = flight.as_ref().map(|f| f.lock());
        let early = early.or_else(|| {
            matches!(on_record.as_deref(), Some(Flight::Cancelled))
                .then(crate::error::operation_aborted)
        });
        if let Some(e) = early {
            drop((on_record, g));
            return self.sched().post_completion(op.finish(Err(e)));
        }
        let skips = g.registered & SKIPS_ON_SUCCESS != 0;
        let header = op.header();
        let (o, slot) = op.parts();
        self.poller.launching();
        // SAFETY: `slot` is the operation's zeroed slot in its block, which
        // only its packet (or the finish below) frees, and no packet is
        // handled before `settle` below; the descriptor lock keeps the
        // socket open for the call.
        let issued = unsafe {
            CompletionHeader::issuing(header);
            o.issue(socket(g.fd), slot)
        };
        let (done, late) = match issued {
            Issued::Pending => (None, Late::SETTLED),
            Issued::Done(_) if !skips => (None, Late::SETTLED),
            Issued::Done(n) => (Some(Ok(n)), Late::SETTLED),
            Issued::Now(r) => {
                // SAFETY: as above: the block is ours until `settle`.
                let status = unsafe { (*slot).Internal } as u32;
                (Some(r), Late::after_call(status))
            }
        };
        match done {
            None => {
                if let Some(f) = on_record.as_deref_mut() {
                    *f = Flight::On(g.fd, slot as usize);
                }
                // SAFETY: the block is alive until this store lets a packet
                // handler at it; it is not touched afterwards.
                unsafe { CompletionHeader::settle(header, late) };
                op.launched();
            }
            Some(r) => {
                // SAFETY: ours (no packet handled yet, and none, or only
                // one that `Late::UNCERTAIN` turns away, will be).
                unsafe { CompletionHeader::settle(header, late) };
                self.poller.landed_inline();
                drop((on_record, g));
                self.sched().post_completion(op.finish(r));
            }
        }
    }

    /// Associates a handle of the user's (see `crate::windows`); its
    /// packets are harvested like the sockets'.
    pub(crate) fn associate_handle(
        &self,
        handle: std::os::windows::io::RawHandle,
    ) -> io::Result<()> {
        self.poller.associate(handle)
    }

    /// A user's call holds an operation now: its packet will come.
    pub(crate) fn user_call_launched(&self) {
        self.poller.launching();
    }

    /// A user call counted by [`Reactor::user_call_launched`] will queue
    /// no packet (it failed at once, or was never made).
    pub(crate) fn user_call_landed(&self) {
        self.poller.landed_inline();
    }

    /// Asks the kernel to cancel every operation on the descriptor; each
    /// completes with its packet.
    pub(crate) fn cancel_in_flight(&self, fd: crate::reactor::op::RawFd) {
        socket::cancel(socket(fd), std::ptr::null());
    }
}

/// What a cancellation request does to an operation the kernel may hold.
pub(crate) fn cancel_flight(flight: &crate::completion::InFlight) {
    let mut f = flight.lock();
    match *f {
        Flight::Ready => *f = Flight::Cancelled,
        Flight::On(fd, slot) => socket::cancel(socket(fd), slot as *const _),
        Flight::Cancelled | Flight::Landed => {}
    }
}

/// The reactor in the scheduler's task seat.
impl Task for ReactorTask {
    fn run(&self, timeout: Option<Duration>, ops: &mut OpQueue) -> usize {
        let r = &self.0;
        let mut n = 0;
        let fired = r.poller.wait_io(timeout, |op| {
            ops.push(op);
            n += 1;
        });
        // Harvested operations and timer waits carry their unit of work.
        n + r.take_due_timers(ops, fired)
    }

    fn interrupt(&self) {
        self.0.poller.interrupt();
    }

    fn deliver(&self, op: crate::op::OpPtr) -> Result<(), crate::op::OpPtr> {
        self.0.poller.post_op(op)
    }

    fn shutdown(&self, ops: &mut OpQueue) {
        let r = &self.0;
        // Every socket is closed (cancelling its operations); the objects
        // that own them find them closed.
        for d in sync::lock(&r.pool).all() {
            let mut g = d.lock();
            if !g.shutdown {
                g.shutdown = true;
                let _ = socket::close(socket(std::mem::replace(&mut g.fd, -1)));
            }
        }
        // The kernel gives the operations back with their packets: only
        // then can they be destroyed.
        r.poller.drain(SHUTDOWN_PATIENCE, |op| ops.push(op));
        r.abandon_timers(ops);
    }
}

#[cfg(test)]
mod tests {
    use crate::net::TcpSocket;
    use crate::sys::windows::SKIPS_ON_SUCCESS;
    use crate::IoContext;
    use std::io;
    use std::sync::mpsc;

    /// A connected pair on `ctx`.
    fn pair(ctx: &IoContext) -> (TcpSocket, TcpSocket) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let b = l.accept().unwrap().0;
        let ex = ctx.executor();
        (
            TcpSocket::from_std(&ex, a).unwrap(),
            TcpSocket::from_std(&ex, b).unwrap(),
        )
    }

    /// Windows and wine 8 grant it: the suites then take the path where
    /// the initiator completes an operation that finished in its call.
    #[test]
    fn an_opened_socket_skips_packets_on_success() {
        let ctx = IoContext::new().unwrap();
        let r = ctx.executor().sched.reactor().unwrap().clone();
        let state = r.alloc_state();
        let s = crate::net::new_socket(socket2::Domain::IPV4, socket2::Type::STREAM).unwrap();
        r.open(state, s).unwrap();
        // SAFETY: pooled states live as long as the reactor.
        let registered = unsafe { state.as_ref() }.lock().registered;
        assert_ne!(registered & SKIPS_ON_SUCCESS, 0);
        r.release(state);
    }

    /// Handlers posted from outside the context's threads are packets
    /// in the port (run by the thread that takes them out); those posted
    /// from its handlers use the scheduler's queue.
    #[test]
    fn handlers_posted_from_outside_come_through_the_port() {
        use crate::Executor;
        for ctx in [
            IoContext::new().unwrap(),
            IoContext::with_concurrency_hint(1).unwrap(),
        ] {
            let r = ctx.executor().sched.created_reactor().unwrap().clone();
            let (tx, rx) = mpsc::channel();
            let ex = ctx.executor();
            let tx2 = tx.clone();
            std::thread::spawn(move || ex.post(move || tx2.send("from a thread").unwrap()))
                .join()
                .unwrap();
            let ex = ctx.executor();
            ctx.executor().post(move || {
                tx.send("outer").unwrap();
                ex.post(move || tx.send("inner").unwrap());
            });
            assert_eq!(ctx.run(), 3);
            let mut got: Vec<_> = rx.try_iter().collect();
            got.sort_unstable();
            assert_eq!(got, ["from a thread", "inner", "outer"]);
            assert_eq!(r.poller.delivered(), 2, "the two posts from outside run()");
            assert_eq!(r.poller.in_flight(), 0);
        }
    }

    /// A posted handler still in the port when its context is dropped is
    /// destroyed with it, unrun.
    #[test]
    fn a_handler_left_in_the_port_is_destroyed_with_the_context() {
        use crate::Executor;
        let ctx = IoContext::new().unwrap();
        let kept = std::sync::Arc::new(());
        let k = kept.clone();
        ctx.executor().post(move || drop(k));
        assert_eq!(std::sync::Arc::strong_count(&kept), 2);
        drop(ctx);
        assert_eq!(std::sync::Arc::strong_count(&kept), 1);
    }

    #[test]
    fn every_started_operation_is_accounted_for_once() {
        let ctx = IoContext::new().unwrap();
        let (a, b) = pair(&ctx);
        let (tx, rx) = mpsc::channel();
        // Pending (nothing to read yet), then finished inside its call
        // (the send), then failed inside it (a closed socket).
        b.async_read_some(Vec::with_capacity(8), {
            let tx = tx.clone();
            move |r: io::Result<usize>, _: Vec<u8>| tx.send(r.map(drop)).unwrap()
        });
        a.async_write_some(b"ping", {
            let tx = tx.clone();
            move |r: io::Result<usize>, _: &'static [u8; 4]| tx.send(r.map(drop)).unwrap()
        });
        let closed = TcpSocket::new(&ctx.executor());
        closed.async_write_some(b"x", move |r: io::Result<usize>, _: &'static [u8; 1]| {
            tx.send(r.map(drop)).unwrap()
        });
        assert_eq!(ctx.run(), 3);
        let results: Vec<_> = rx.try_iter().collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
        let r = ctx.executor().sched.created_reactor().unwrap().clone();
        assert_eq!(r.poller.in_flight(), 0);
    }
}
