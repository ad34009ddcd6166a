//! Cancelling socket operations: what happens to the data and the buffer.
//!
//! The rule for dropping a `UseFuture` read (also in the `token` module
//! docs): a read not yet performed when its future is dropped is removed
//! and consumes nothing, so the next read gets every byte; a read that was
//! performed but whose future was never polled to completion took its bytes
//! into the buffer the dropped future owned, and they go with it. No byte
//! the program was told about is ever lost.

mod common;

use proactor::error::{bytes_transferred, is_operation_aborted};
use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::{
    async_read, async_write, bind_cancellation_slot, co_spawn, parallel_group, CancellationSignal,
    CancellationType, Deferred, IoContext, SteadyTimer, UseFuture, WaitForOne,
};
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::pin::pin;
use std::sync::{mpsc, Arc};
use std::task::Context;
use std::time::Duration;

fn connected(ctx: &IoContext) -> (TcpSocket, TcpStream) {
    common::socket_and_std_peer(ctx)
}

/// Polls `fut` once by hand; asserts it is pending.
fn poll_pending<F: Future>(fut: std::pin::Pin<&mut F>) {
    let waker = common::noop_waker();
    assert!(fut.poll(&mut Context::from_waker(&waker)).is_pending());
}

fn read_some(ctx: &IoContext, s: &TcpSocket) -> Vec<u8> {
    let (r, buf) = ctx.block_on(s.async_read_some(Vec::with_capacity(256), UseFuture));
    assert_eq!(r.unwrap(), buf.len());
    buf
}

#[test]
fn dropping_a_pending_read_future_consumes_nothing() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    {
        let fut = pin!(ours.async_read_some(Vec::with_capacity(64), UseFuture));
        poll_pending(fut);
        assert_eq!(ctx.poll(), 0, "no data yet: the read is waiting");
    }
    assert_eq!(ctx.poll(), 1, "the dropped read completed, aborted");
    peer.write_all(b"every byte").unwrap();
    ctx.restart();
    assert_eq!(read_some(&ctx, &ours), b"every byte");
}

/// The other half of the rule, pinned down: bytes a read took into a
/// future's buffer go with the future if it is dropped unpolled.
#[test]
fn a_performed_read_dropped_unpolled_takes_its_bytes_with_it() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    peer.write_all(b"first").unwrap();
    let fut = ours.async_read_some(Vec::with_capacity(64), UseFuture);
    assert!(ctx.poll() >= 1, "the read completed");
    drop(fut);
    peer.write_all(b"second").unwrap();
    ctx.restart();
    assert_eq!(read_some(&ctx, &ours), b"second");
}

#[test]
fn dropping_a_pending_composed_read_cancels_its_inner_read() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    peer.write_all(b"abc").unwrap();
    {
        let fut = pin!(async_read(&ours, Vec::with_capacity(8), UseFuture));
        poll_pending(fut);
        ctx.poll(); // takes "abc", then waits for more
    }
    assert!(ctx.poll() >= 1);
    assert!(ctx.stopped(), "nothing is left waiting");
    peer.write_all(b"defgh").unwrap();
    ctx.restart();
    // "abc" went with the dropped future's buffer (it was read, never
    // reported); everything after it is here.
    assert_eq!(read_some(&ctx, &ours), b"defgh");
}

#[test]
fn a_cancelled_read_hands_back_its_buffer_for_reuse() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    let buf = Vec::with_capacity(100);
    let at = buf.as_ptr() as usize;
    let signal = CancellationSignal::new();
    let (tx, rx) = mpsc::channel();
    ours.async_read_some(
        buf,
        bind_cancellation_slot(signal.slot(), move |r: io::Result<usize>, b: Vec<u8>| {
            tx.send((r, b)).unwrap()
        }),
    );
    signal.emit(CancellationType::ALL);
    ctx.run();
    let (r, buf) = rx.try_recv().unwrap();
    assert!(is_operation_aborted(&r.unwrap_err()));
    assert_eq!(
        (buf.as_ptr() as usize, buf.capacity(), buf.len()),
        (at, 100, 0)
    );

    peer.write_all(b"again").unwrap();
    ctx.restart();
    let (r, buf) = ctx.block_on(ours.async_read_some(buf, UseFuture));
    assert_eq!(r.unwrap(), 5);
    assert_eq!((buf.as_ptr() as usize, &buf[..]), (at, &b"again"[..]));
}

/// A single read honours every kind of request, `TOTAL` included.
#[test]
fn a_read_honours_a_total_request() {
    let ctx = IoContext::new().unwrap();
    let (ours, _peer) = connected(&ctx);
    let signal = CancellationSignal::new();
    let fut = ours.async_read_some(
        Vec::with_capacity(8),
        bind_cancellation_slot(signal.slot(), UseFuture),
    );
    signal.emit(CancellationType::TOTAL);
    let (r, _) = ctx.block_on(fut);
    assert!(is_operation_aborted(&r.unwrap_err()));
}

/// A composed read that has made progress cannot promise it did nothing:
/// it ignores `TOTAL`, stops for `PARTIAL`, and says how far it got.
#[test]
fn a_composed_read_ignores_total_and_stops_for_partial() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    peer.write_all(b"abc").unwrap();
    let signal = CancellationSignal::new();
    let fut = async_read(
        &ours,
        Vec::with_capacity(8),
        bind_cancellation_slot(signal.slot(), UseFuture),
    );
    ctx.poll(); // "abc" read; waiting for five more bytes
    signal.emit(CancellationType::TOTAL);
    assert_eq!(ctx.poll(), 0, "a TOTAL request is ignored");
    signal.emit(CancellationType::PARTIAL);
    let (r, buf) = ctx.block_on(fut);
    let e = r.unwrap_err();
    assert!(is_operation_aborted(&e));
    assert_eq!(bytes_transferred(&e), 3);
    assert_eq!(buf, b"abc");

    peer.write_all(b"rest").unwrap();
    ctx.restart();
    assert_eq!(read_some(&ctx, &ours), b"rest");
}

/// A composed write cancelled half-way: exactly the bytes it reports as
/// written reach the peer, and the write can be resumed from there.
#[test]
fn a_partially_cancelled_write_reports_exactly_what_was_written() {
    let ctx = IoContext::new().unwrap();
    let (ours, peer) = connected(&ctx);
    ours.set_send_buffer_size(4096).unwrap();
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let signal = CancellationSignal::new();
    let fut = async_write(
        &ours,
        data.clone(),
        bind_cancellation_slot(signal.slot(), UseFuture),
    );
    ctx.poll(); // writes until the peer's window is full, then waits
    signal.emit(CancellationType::PARTIAL);
    let (r, buf) = ctx.block_on(fut);
    let e = r.unwrap_err();
    assert!(is_operation_aborted(&e));
    let written = bytes_transferred(&e);
    assert!(written > 0 && written < data.len(), "wrote {written}");
    assert_eq!(buf, data, "the buffer comes back whole");

    // The peer gets exactly `written` bytes, then the resumed rest.
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        (&peer).read_to_end(&mut got).unwrap();
        got
    });
    ctx.restart();
    ours.set_send_buffer_size(1 << 20).unwrap();
    let (r, _) = ctx.block_on(async_write(&ours, buf[written..].to_vec(), UseFuture));
    assert_eq!(r.unwrap(), data.len() - written);
    ours.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(
        reader.join().unwrap() == data,
        "the stream is the data, once"
    );
}

#[test]
fn a_cancelled_accept_loses_no_connection() {
    let ctx = IoContext::new().unwrap();
    let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
    {
        let fut = pin!(acceptor.async_accept(UseFuture));
        poll_pending(fut);
    }
    assert_eq!(ctx.poll(), 1);
    let client = TcpStream::connect(acceptor.local_addr().unwrap()).unwrap();
    ctx.restart();
    let s = ctx.block_on(acceptor.async_accept(UseFuture)).unwrap();
    assert_eq!(s.peer_addr().unwrap(), client.local_addr().unwrap());
}

/// Signal sets are Unix-only.
#[cfg(unix)]
#[test]
fn a_signal_wait_is_cancelled_through_its_slot() {
    let ctx = IoContext::new().unwrap();
    let signals = proactor::SignalSet::new(&ctx.executor());
    signals.add(libc::SIGUSR2).unwrap();
    let signal = CancellationSignal::new();
    let first = signals.async_wait(bind_cancellation_slot(signal.slot(), UseFuture));
    let second = signals.async_wait(UseFuture);
    signal.emit(CancellationType::ALL);
    assert!(is_operation_aborted(&ctx.block_on(first).unwrap_err()));
    assert_eq!(signals.cancel(), 1, "the other wait is still pending");
    assert!(is_operation_aborted(&ctx.block_on(second).unwrap_err()));
}

/// Read with a timeout, the cancellation-safe way: the group always hands
/// back the read's result, so a read that loses the race consumes nothing
/// and one that wins is never dropped.
#[test]
fn a_read_with_a_timeout_in_a_task_loses_nothing() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    let ours = Arc::new(ours);
    let timer = Arc::new(SteadyTimer::new(&ctx.executor()));

    async fn read_or_timeout(
        s: &TcpSocket,
        timer: &SteadyTimer,
        after: Duration,
    ) -> Option<Vec<u8>> {
        timer.expires_after(after);
        let (order, (r, buf), _) = parallel_group((
            s.async_read_some(Vec::with_capacity(64), Deferred),
            timer.async_wait(Deferred),
        ))
        .async_wait(WaitForOne::default(), UseFuture)
        .await;
        match r {
            Ok(_) => Some(buf),
            Err(e) => {
                assert!(is_operation_aborted(&e) && order[0] == 1);
                assert!(buf.is_empty(), "a cancelled read consumed nothing");
                None
            }
        }
    }

    let (s, t) = (ours.clone(), timer.clone());
    let timed_out = co_spawn(
        &ctx.executor(),
        async move { read_or_timeout(&s, &t, Duration::from_millis(1)).await },
        UseFuture,
    );
    assert_eq!(ctx.block_on(timed_out).unwrap(), None);

    peer.write_all(b"in time").unwrap();
    let (s, t) = (ours.clone(), timer.clone());
    let read = co_spawn(
        &ctx.executor(),
        async move { read_or_timeout(&s, &t, Duration::from_secs(3600)).await },
        UseFuture,
    );
    assert_eq!(
        ctx.block_on(read).unwrap().as_deref(),
        Some(&b"in time"[..])
    );
}

/// A buffer that records when it is freed.
struct Tracked {
    v: Vec<u8>,
    freed: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.freed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

// SAFETY: delegated to the `Vec`, which the kernel may keep using while
// the `Tracked` moves (its heap block does not move).
unsafe impl proactor::IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.v.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.v.len()
    }
}

// SAFETY: as above.
unsafe impl proactor::IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.v.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.v.capacity()
    }
    unsafe fn set_init(&mut self, len: usize) {
        // SAFETY: the caller's contract.
        unsafe { self.v.set_len(len) }
    }
}

/// On a completion backend (io_uring) the kernel holds a started read and
/// its buffer: dropping the future asks for cancellation, but only the
/// completion, reaped by a thread running the context, frees the buffer.
/// (On epoll the cancelled operation waits in the queue the same way.)
#[test]
fn a_dropped_read_frees_its_buffer_only_when_its_completion_arrives() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let ctx = IoContext::new().unwrap();
    let (s, mut peer) = connected(&ctx);
    let freed = Arc::new(AtomicBool::new(false));
    let buf = Tracked {
        v: Vec::with_capacity(64),
        freed: freed.clone(),
    };
    let fut = s.async_read_some(buf, UseFuture);
    // No thread runs the context: nothing can reap the completion yet.
    drop(fut);
    assert!(
        !freed.load(SeqCst),
        "the buffer was freed while its operation was pending"
    );
    assert_eq!(ctx.run(), 1, "the cancelled read completes");
    assert!(freed.load(SeqCst), "the completion freed the buffer");
    // It consumed nothing: the peer's next bytes go to the next read.
    ctx.restart();
    peer.write_all(b"next").unwrap();
    assert_eq!(read_some(&ctx, &s), b"next");
}

/// The same when the handler's side goes with its context: dropping the
/// context waits for the kernel to give the read back before freeing it.
#[test]
fn a_read_pending_when_its_context_is_dropped_frees_its_buffer_with_it() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let ctx = IoContext::new().unwrap();
    let (s, _peer) = connected(&ctx);
    let freed = Arc::new(AtomicBool::new(false));
    let buf = Tracked {
        v: Vec::with_capacity(64),
        freed: freed.clone(),
    };
    s.async_read_some(buf, |_: io::Result<usize>, _: Tracked| {
        panic!("the read never completes: its context is dropped first")
    });
    assert_eq!(ctx.poll(), 0, "the read is pending");
    assert!(!freed.load(SeqCst));
    drop(ctx);
    assert!(freed.load(SeqCst), "dropping the context freed the buffer");
    drop(s);
}

#[test]
fn a_socket_dropped_with_a_read_in_the_kernel_leaves_its_state_to_no_one_until_it_ends() {
    let ctx = IoContext::new().unwrap();
    let (a, _peer) = connected(&ctx);
    // The read is handed to the kernel (on a ring), then the socket goes:
    // its read ends, but its completion is not reaped until `run()`.
    a.async_read_some(
        Vec::with_capacity(16),
        |r: io::Result<usize>, _: Vec<u8>| {
            assert!(is_operation_aborted(&r.unwrap_err()));
        },
    );
    ctx.poll();
    drop(a);
    // New sockets right away: none may get the old socket's state while
    // its read is still queued there.
    let (b, mut peer_b) = connected(&ctx);
    peer_b.write_all(b"fresh").unwrap();
    assert_eq!(read_some(&ctx, &b), b"fresh");
}
