//! Every completion token on every kind of operation: timers, reads,
//! writes, accepts and connects.
//!
//! Each operation is a [`Case`]; each token is a generic test body run on
//! every case. The sockets' far ends are blocking `std::net` sockets, so a
//! test can see exactly what crossed the wire.

mod common;

use common::HANG;
use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::token::Signature;
use proactor::{
    bind_executor, co_spawn, CompletionToken, Deferred, Detached, Executor, IoContext, SteadyTimer,
    Strand, UseFuture,
};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a closure handler sends: the result, and what its probe said when
/// it ran.
type Report<A> = mpsc::Sender<(A, bool)>;

/// One kind of operation, with everything needed to start it and judge its
/// result. Every case's operation can complete at once (the data, peer or
/// expiry is already there), so the same cases also test that immediate
/// completions never run inside the initiating function.
trait Case: Sized + Send + Sync + 'static {
    type Args: Signature;

    fn new(ctx: &IoContext) -> Self;

    /// Starts the operation with `token`.
    fn start<T: CompletionToken<Self::Args>>(&self, token: T) -> T::Output;

    /// Asserts the operation succeeded and did its work.
    fn check(&self, out: <Self::Args as Signature>::Output);

    /// Asserts the operation did its work although its result was dropped
    /// (`ctx` has run out of work and may be restarted).
    fn check_done(&self, ctx: &IoContext);

    /// A closure handler (with its parameter types written out) that sends
    /// its result and `probe()` to `tx`.
    fn closure(
        tx: Report<Self::Args>,
        probe: impl Fn() -> bool + Send + 'static,
    ) -> impl CompletionToken<Self::Args, Output = ()> + Send + 'static;
}

/// A wait on a timer that has already expired.
struct TimerCase {
    timer: SteadyTimer,
}

impl Case for TimerCase {
    type Args = (io::Result<()>,);

    fn new(ctx: &IoContext) -> Self {
        let timer = SteadyTimer::new(&ctx.executor());
        timer.expires_at(Instant::now());
        TimerCase { timer }
    }

    fn start<T: CompletionToken<Self::Args>>(&self, token: T) -> T::Output {
        self.timer.async_wait(token)
    }

    fn check(&self, r: io::Result<()>) {
        r.unwrap();
        assert!(Instant::now() >= self.timer.expiry());
    }

    fn check_done(&self, _: &IoContext) {
        assert!(Instant::now() >= self.timer.expiry());
    }

    fn closure(
        tx: Report<Self::Args>,
        probe: impl Fn() -> bool + Send + 'static,
    ) -> impl CompletionToken<Self::Args, Output = ()> + Send + 'static {
        move |r: io::Result<()>| tx.send(((r,), probe())).unwrap()
    }
}

/// A socket and its peer, a blocking std socket.
struct Connected {
    ours: TcpSocket,
    peer: TcpStream,
}

impl Connected {
    fn new(ctx: &IoContext) -> Self {
        let (ours, peer) = common::socket_and_std_peer(ctx);
        Connected { ours, peer }
    }

    fn read_from_peer(&self, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        (&self.peer).read_exact(&mut got).unwrap();
        got
    }
}

/// A read of data the peer has already sent.
struct ReadCase(Connected);

impl Case for ReadCase {
    type Args = (io::Result<usize>, Vec<u8>);

    fn new(ctx: &IoContext) -> Self {
        let c = Connected::new(ctx);
        (&c.peer).write_all(b"hello").unwrap();
        ReadCase(c)
    }

    fn start<T: CompletionToken<Self::Args>>(&self, token: T) -> T::Output {
        self.0.ours.async_read_some(Vec::with_capacity(64), token)
    }

    fn check(&self, (r, buf): (io::Result<usize>, Vec<u8>)) {
        assert_eq!(r.unwrap(), 5);
        assert_eq!(buf, b"hello");
    }

    fn check_done(&self, ctx: &IoContext) {
        // "hello" was consumed: the next read sees only what follows.
        (&self.0.peer).write_all(b"!").unwrap();
        ctx.restart();
        let fut = self
            .0
            .ours
            .async_read_some(Vec::with_capacity(64), UseFuture);
        let (r, buf) = ctx.block_on(fut);
        assert_eq!(r.unwrap(), 1);
        assert_eq!(buf, b"!");
    }

    fn closure(
        tx: Report<Self::Args>,
        probe: impl Fn() -> bool + Send + 'static,
    ) -> impl CompletionToken<Self::Args, Output = ()> + Send + 'static {
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send(((r, buf), probe())).unwrap()
    }
}

/// A write to a peer with room to receive.
struct WriteCase(Connected);

impl Case for WriteCase {
    type Args = (io::Result<usize>, Vec<u8>);

    fn new(ctx: &IoContext) -> Self {
        WriteCase(Connected::new(ctx))
    }

    fn start<T: CompletionToken<Self::Args>>(&self, token: T) -> T::Output {
        self.0.ours.async_write_some(b"world".to_vec(), token)
    }

    fn check(&self, (r, buf): (io::Result<usize>, Vec<u8>)) {
        assert_eq!(r.unwrap(), 5);
        assert_eq!(buf, b"world", "the buffer comes back intact");
        assert_eq!(self.0.read_from_peer(5), b"world");
    }

    fn check_done(&self, _: &IoContext) {
        assert_eq!(self.0.read_from_peer(5), b"world");
    }

    fn closure(
        tx: Report<Self::Args>,
        probe: impl Fn() -> bool + Send + 'static,
    ) -> impl CompletionToken<Self::Args, Output = ()> + Send + 'static {
        move |r: io::Result<usize>, buf: Vec<u8>| tx.send(((r, buf), probe())).unwrap()
    }
}

/// An accept of a client already waiting in the backlog.
struct AcceptCase {
    acceptor: TcpAcceptor,
    client: TcpStream,
}

impl Case for AcceptCase {
    type Args = (io::Result<TcpSocket>,);

    fn new(ctx: &IoContext) -> Self {
        let acceptor = TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap();
        let client = TcpStream::connect(acceptor.local_addr().unwrap()).unwrap();
        client.set_read_timeout(Some(HANG)).unwrap();
        AcceptCase { acceptor, client }
    }

    fn start<T: CompletionToken<Self::Args>>(&self, token: T) -> T::Output {
        self.acceptor.async_accept(token)
    }

    fn check(&self, s: io::Result<TcpSocket>) {
        let s = s.unwrap();
        assert_eq!(s.peer_addr().unwrap(), self.client.local_addr().unwrap());
    }

    fn check_done(&self, _: &IoContext) {
        // The accepted socket was dropped with the result: the client sees
        // end of stream.
        let mut b = [0u8; 1];
        assert_eq!((&self.client).read(&mut b).unwrap(), 0);
    }

    fn closure(
        tx: Report<Self::Args>,
        probe: impl Fn() -> bool + Send + 'static,
    ) -> impl CompletionToken<Self::Args, Output = ()> + Send + 'static {
        move |s: io::Result<TcpSocket>| tx.send(((s,), probe())).unwrap()
    }
}

/// A connect to a listening std socket.
struct ConnectCase {
    listener: TcpListener,
    socket: TcpSocket,
}

impl ConnectCase {
    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }
}

impl Case for ConnectCase {
    type Args = (io::Result<()>,);

    fn new(ctx: &IoContext) -> Self {
        ConnectCase {
            listener: TcpListener::bind("127.0.0.1:0").unwrap(),
            socket: TcpSocket::new(&ctx.executor()),
        }
    }

    fn start<T: CompletionToken<Self::Args>>(&self, token: T) -> T::Output {
        self.socket.async_connect(self.addr(), token)
    }

    fn check(&self, r: io::Result<()>) {
        r.unwrap();
        assert_eq!(self.socket.peer_addr().unwrap(), self.addr());
        let (_, from) = self.listener.accept().unwrap();
        assert_eq!(from, self.socket.local_addr().unwrap());
    }

    fn check_done(&self, _: &IoContext) {
        let (_, from) = self.listener.accept().unwrap();
        assert_eq!(from, self.socket.local_addr().unwrap());
    }

    fn closure(
        tx: Report<Self::Args>,
        probe: impl Fn() -> bool + Send + 'static,
    ) -> impl CompletionToken<Self::Args, Output = ()> + Send + 'static {
        move |r: io::Result<()>| tx.send(((r,), probe())).unwrap()
    }
}

/// The closure token: called once, on a thread running the context.
fn closure_token<C: Case>() {
    let ctx = IoContext::new().unwrap();
    let case = C::new(&ctx);
    let (tx, rx) = mpsc::channel();
    case.start(C::closure(tx, || true));
    assert!(rx.try_recv().is_err(), "ran inside the initiating function");
    assert_eq!(ctx.run(), 1);
    let (args, _) = rx.try_recv().unwrap();
    case.check(args.into_output());
}

/// `UseFuture`: the function returns a future of the result.
fn use_future_token<C: Case>() {
    let ctx = IoContext::new().unwrap();
    let case = C::new(&ctx);
    let fut = case.start(UseFuture);
    let out = ctx.block_on(fut);
    case.check(out);
}

/// `UseFuture` awaited inside a spawned task.
fn use_future_in_a_task<C: Case>() {
    let ctx = IoContext::new().unwrap();
    let case = std::sync::Arc::new(C::new(&ctx));
    let c = case.clone();
    let done = co_spawn(
        &ctx.executor(),
        async move {
            let out = c.start(UseFuture).await;
            c.check(out);
        },
        UseFuture,
    );
    ctx.block_on(done).unwrap();
}

/// `Detached`: the operation runs, its result is dropped.
fn detached_token<C: Case>() {
    let ctx = IoContext::new().unwrap();
    let case = C::new(&ctx);
    case.start(Detached);
    assert_eq!(ctx.run(), 1);
    case.check_done(&ctx);
}

/// `Deferred`: nothing starts until the operation gets a token; then any
/// token will do.
fn deferred_token<C: Case>() {
    let ctx = IoContext::new().unwrap();
    let case = C::new(&ctx);
    let (tx, rx) = mpsc::channel();
    let op = case.start(Deferred);
    op.launch(C::closure(tx, || true));
    assert_eq!(ctx.run(), 1);
    case.check(rx.try_recv().unwrap().0.into_output());

    let ctx = IoContext::new().unwrap();
    let case = C::new(&ctx);
    let op = case.start(Deferred);
    case.check(ctx.block_on(op.launch(UseFuture)));
}

/// `bind_executor`: the handler runs inside the strand it was bound to.
fn bind_executor_token<C: Case>() {
    let ctx = IoContext::new().unwrap();
    let case = C::new(&ctx);
    let strand = Strand::new(ctx.executor());
    let s = strand.clone();
    let (tx, rx) = mpsc::channel();
    case.start(bind_executor(
        strand,
        C::closure(tx, move || s.running_in_this_thread()),
    ));
    ctx.run();
    let (args, in_strand) = rx.try_recv().unwrap();
    assert!(in_strand, "the handler ran outside its strand");
    case.check(args.into_output());
}

thread_local! {
    /// Set while a test is inside an initiating function.
    static INITIATING: Cell<bool> = const { Cell::new(false) };
}

fn initiating() -> bool {
    INITIATING.with(Cell::get)
}

/// Runs `f` marked as being inside an initiating function.
fn as_initiator<R>(f: impl FnOnce() -> R) -> R {
    INITIATING.with(|i| i.set(true));
    let r = f();
    INITIATING.with(|i| i.set(false));
    r
}

/// An operation that completes at once, started from a handler on the
/// context's own thread (where running its handler inline would be
/// easiest), never runs its handler inside the initiating function: not
/// with a closure, not with a handler bound to the strand we are already
/// in, not when launched from `Deferred`.
fn immediate_completion_is_never_inline<C: Case>() {
    let ctx = IoContext::new().unwrap();
    let case = std::sync::Arc::new(C::new(&ctx));
    let strand = Strand::new(ctx.executor());
    let (tx, rx) = mpsc::channel();

    let c = case.clone();
    let t = tx.clone();
    ctx.executor()
        .post(move || as_initiator(|| c.start(C::closure(t, || !initiating()))));
    ctx.run();
    let (args, outside) = rx.try_recv().unwrap();
    assert!(outside, "a closure ran inside the initiating function");
    case.check(args.into_output());

    ctx.restart();
    let case = std::sync::Arc::new(C::new(&ctx));
    let (c, t, s) = (case.clone(), tx.clone(), strand.clone());
    strand.post(move || {
        as_initiator(|| {
            c.start(bind_executor(s, C::closure(t, || !initiating())));
        })
    });
    ctx.run();
    let (args, outside) = rx.try_recv().unwrap();
    assert!(
        outside,
        "a strand-bound handler ran inside the initiating function"
    );
    case.check(args.into_output());

    ctx.restart();
    let case = std::sync::Arc::new(C::new(&ctx));
    let c = case.clone();
    ctx.executor().post(move || {
        let op = c.start(Deferred);
        as_initiator(|| op.launch(C::closure(tx, || !initiating())));
    });
    ctx.run();
    let (args, outside) = rx.try_recv().unwrap();
    assert!(outside, "a deferred launch ran its handler inline");
    case.check(args.into_output());
}

macro_rules! every_token {
    ($($module:ident: $case:ty,)*) => {$(
        mod $module {
            use super::*;

            #[test]
            fn closure() {
                closure_token::<$case>();
            }

            #[test]
            fn use_future() {
                use_future_token::<$case>();
            }

            #[test]
            fn use_future_in_a_task() {
                super::use_future_in_a_task::<$case>();
            }

            #[test]
            fn detached() {
                detached_token::<$case>();
            }

            #[test]
            fn deferred() {
                deferred_token::<$case>();
            }

            #[test]
            fn bind_executor() {
                bind_executor_token::<$case>();
            }

            #[test]
            fn immediate_completion_is_never_inline() {
                super::immediate_completion_is_never_inline::<$case>();
            }
        }
    )*};
}

every_token! {
    timer: TimerCase,
    read: ReadCase,
    write: WriteCase,
    accept: AcceptCase,
    connect: ConnectCase,
}

/// A deferred operation has not started: a deferred write sends nothing
/// until it is launched.
#[test]
fn a_deferred_write_sends_nothing_until_launched() {
    let ctx = IoContext::new().unwrap();
    let case = WriteCase::new(&ctx);
    let op = case.start(Deferred);
    case.0.peer.set_nonblocking(true).unwrap();
    let mut b = [0u8; 8];
    let r = (&case.0.peer).read(&mut b);
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
    case.0.peer.set_nonblocking(false).unwrap();
    let (r, _) = ctx.block_on(op.launch(UseFuture));
    assert_eq!(r.unwrap(), 5);
    assert_eq!(case.0.read_from_peer(5), b"world");
}

/// A pending operation bound to another context's executor holds that
/// context's work: its `run()` waits for the handler instead of returning
/// at once.
#[test]
fn a_bound_executor_is_kept_busy_while_the_operation_is_pending() {
    let io = IoContext::new().unwrap();
    let handlers = std::sync::Arc::new(IoContext::new().unwrap());
    let timer = SteadyTimer::new(&io.executor());
    timer.expires_after(Duration::from_millis(5));
    let (tx, rx) = mpsc::channel();
    let hx = handlers.executor();
    timer.async_wait(bind_executor(hx.clone(), move |r: io::Result<()>| {
        tx.send((r.is_ok(), hx.running_in_this_thread())).unwrap()
    }));
    let h = handlers.clone();
    let runner = std::thread::spawn(move || h.run());
    io.run();
    assert_eq!(
        runner.join().unwrap(),
        1,
        "the handler ran on the bound context"
    );
    assert_eq!(rx.recv_timeout(HANG).unwrap(), (true, true));
}

/// `as_result` folds a result and a buffer into one `Result`, for `?`.
#[test]
fn as_result_folds_the_buffer_into_the_result() {
    use proactor::token::as_result;
    let ctx = IoContext::new().unwrap();
    let case = ReadCase::new(&ctx);
    let (n, buf) = ctx.block_on(case.start(as_result(UseFuture))).unwrap();
    assert_eq!((n, &buf[..]), (5, &b"hello"[..]));

    let never_opened = TcpSocket::new(&ctx.executor());
    let r = ctx.block_on(never_opened.async_write_some(b"x".to_vec(), as_result(UseFuture)));
    assert!(r.is_err());

    // With a closure: one parameter instead of two.
    let (tx, rx) = mpsc::channel();
    case.0.peer.shutdown(std::net::Shutdown::Write).unwrap();
    case.start(as_result(move |r: io::Result<(usize, Vec<u8>)>| {
        tx.send(r.unwrap().0).unwrap()
    }));
    ctx.restart();
    ctx.run();
    assert_eq!(rx.try_recv().unwrap(), 0, "end of stream");
}
