//! Initiating functions and tokens written outside the crate, the way a
//! user writes them: only public items.

mod common;

use proactor::error::is_operation_aborted;
use proactor::net::TcpSocket;
use proactor::token::{composed_slot, with_cancellation_slot, Signature};
use proactor::{
    async_write, bind_cancellation_slot, CancellationSignal, CancellationSlot, CancellationType,
    CompletionHandler, CompletionToken, Deferred, Executor, Initiation, IoContext, IoExecutor,
    SteadyTimer, UseFuture,
};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

// ----- a user's initiating function for an operation of their own --------

/// Sums `0..n` on the executor, then completes with the sum.
fn async_sum<T: CompletionToken<(u64,)>>(ex: &IoExecutor, n: u64, token: T) -> T::Output {
    struct Sum(IoExecutor, u64);
    impl Initiation<(u64,)> for Sum {
        fn initiate<H: CompletionHandler<(u64,)>>(self, handler: H) {
            let n = self.1;
            self.0.post(move || handler.complete(((0..n).sum(),)));
        }
    }
    token.launch(Sum(ex.clone(), n))
}

#[test]
fn a_user_initiating_function_serves_every_token() {
    let ctx = IoContext::new().unwrap();
    let ex = ctx.executor();
    let (tx, rx) = mpsc::channel();
    async_sum(&ex, 4, move |s: u64| tx.send(s).unwrap());
    ctx.run();
    assert_eq!(rx.try_recv().unwrap(), 6);

    ctx.restart();
    assert_eq!(ctx.block_on(async_sum(&ex, 5, UseFuture)), 10);
    let later = async_sum(&ex, 6, Deferred);
    assert_eq!(ctx.block_on(later.launch(UseFuture)), 15);
    assert_eq!(async_sum(&ex, 7, Block(&ctx)), 21);
}

// ----- a user's composed operation ----------------------------------------

/// Reads whatever arrives and writes it back; completes with the count
/// echoed. A cancellation bound to its token reaches whichever step runs.
fn async_echo_once<T>(s: &Arc<TcpSocket>, token: T) -> T::Output
where
    T: CompletionToken<(io::Result<usize>,)>,
{
    struct EchoOnce(Arc<TcpSocket>);
    impl Initiation<(io::Result<usize>,)> for EchoOnce {
        fn initiate<H: CompletionHandler<(io::Result<usize>,)>>(self, handler: H) {
            let slot = composed_slot(&handler);
            let (s, again) = (self.0.clone(), slot.clone());
            let step2 = move |r: io::Result<usize>, buf: Vec<u8>| match r {
                Ok(_) => async_write(
                    &*s,
                    buf,
                    with_cancellation_slot(again, move |r: io::Result<usize>, _: Vec<u8>| {
                        handler.complete((r,))
                    }),
                ),
                Err(e) => handler.complete((Err(e),)),
            };
            self.0.async_read_some(
                Vec::with_capacity(1024),
                with_cancellation_slot(slot, step2),
            );
        }
    }
    token.launch(EchoOnce(s.clone()))
}

fn connected(ctx: &IoContext) -> (Arc<TcpSocket>, TcpStream) {
    let (ours, peer) = common::socket_and_std_peer(ctx);
    (Arc::new(ours), peer)
}

#[test]
fn a_user_composed_operation_serves_every_token() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    let mut got = [0u8; 4];

    peer.write_all(b"ping").unwrap();
    let (tx, rx) = mpsc::channel();
    async_echo_once(&ours, move |r: io::Result<usize>| {
        tx.send(r.unwrap()).unwrap()
    });
    ctx.run();
    assert_eq!(rx.try_recv().unwrap(), 4);
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");

    peer.write_all(b"pong").unwrap();
    ctx.restart();
    assert_eq!(ctx.block_on(async_echo_once(&ours, UseFuture)).unwrap(), 4);
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong");

    peer.write_all(b"bloc").unwrap();
    assert_eq!(async_echo_once(&ours, Block(&ctx)).unwrap(), 4);
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"bloc");
}

#[test]
fn a_user_composed_operation_can_be_cancelled() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    let signal = CancellationSignal::new();
    let fut = async_echo_once(&ours, bind_cancellation_slot(signal.slot(), UseFuture));
    assert_eq!(ctx.poll(), 0, "waiting to read");
    signal.emit(CancellationType::TERMINAL);
    assert!(is_operation_aborted(&ctx.block_on(fut).unwrap_err()));

    // Nothing was consumed: the next echo gets the next bytes.
    peer.write_all(b"next").unwrap();
    ctx.restart();
    assert_eq!(ctx.block_on(async_echo_once(&ours, UseFuture)).unwrap(), 4);
}

// ----- user tokens ----------------------------------------------------------

/// Runs the context on this thread until the operation completes; the
/// initiating function returns the result itself (a token built on
/// another token).
struct Block<'a>(&'a IoContext);

impl<Args: Signature> CompletionToken<Args> for Block<'_> {
    type Output = Args::Output;

    fn launch<I: Initiation<Args>>(self, init: I) -> Args::Output {
        let (tx, rx) = mpsc::channel();
        init.initiate(Send1(tx));
        self.0.restart();
        loop {
            if let Ok(args) = rx.try_recv() {
                return args.into_output();
            }
            let ran = self.0.run_one();
            assert!(ran != 0, "the context ran out of work first");
        }
    }
}

/// Sends the result on a channel: the handler behind [`Block`].
struct Send1<Args>(mpsc::Sender<Args>);

impl<Args: Send + 'static> CompletionHandler<Args> for Send1<Args> {
    fn complete(self, args: Args) {
        let _ = self.0.send(args);
    }
}

/// Records every result it receives, with a label, and returns the label's
/// position: a token for any result that can be printed.
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<String>>>);

struct Entry<'a>(&'a Journal, &'static str);

impl<Args: std::fmt::Debug + Send + 'static> CompletionToken<Args> for Entry<'_> {
    type Output = usize;

    fn launch<I: Initiation<Args>>(self, init: I) -> usize {
        let (journal, label) = (self.0 .0.clone(), self.1);
        let at = journal.lock().unwrap().len();
        journal.lock().unwrap().push(format!("{label}: pending"));
        init.initiate(Record { journal, at, label });
        at
    }
}

/// The handler behind [`Entry`].
struct Record {
    journal: Arc<Mutex<Vec<String>>>,
    at: usize,
    label: &'static str,
}

impl<Args: std::fmt::Debug> CompletionHandler<Args> for Record {
    fn complete(self, args: Args) {
        self.journal.lock().unwrap()[self.at] = format!("{}: {args:?}", self.label);
    }
}

/// A user handler type carrying its own cancellation slot.
struct Cancelable {
    slot: CancellationSlot,
    tx: mpsc::Sender<bool>,
}

impl CompletionHandler<(io::Result<()>,)> for Cancelable {
    fn complete(self, (r,): (io::Result<()>,)) {
        self.tx
            .send(r.is_err_and(|e| is_operation_aborted(&e)))
            .unwrap();
    }

    fn cancellation_slot(&self) -> Option<CancellationSlot> {
        Some(self.slot.clone())
    }
}

/// The token for a [`Cancelable`] handler: hands it to the operation.
struct UseHandler<H>(H);

impl<Args, H: CompletionHandler<Args>> CompletionToken<Args> for UseHandler<H> {
    type Output = ();
    fn launch<I: Initiation<Args>>(self, init: I) {
        init.initiate(self.0)
    }
}

#[test]
fn user_tokens_work_with_library_operations() {
    let ctx = IoContext::new().unwrap();
    let (ours, mut peer) = connected(&ctx);
    let journal = Journal::default();
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(Duration::from_millis(1));
    peer.write_all(b"hi").unwrap();

    let t = timer.async_wait(Entry(&journal, "timer"));
    let r = ours.async_read_some(Vec::with_capacity(8), Entry(&journal, "read"));
    let s = async_sum(&ctx.executor(), 3, Entry(&journal, "sum"));
    assert_eq!((t, r, s), (0, 1, 2));
    assert!(journal
        .0
        .lock()
        .unwrap()
        .iter()
        .all(|e| e.ends_with("pending")));
    ctx.run();
    assert_eq!(
        *journal.0.lock().unwrap(),
        ["timer: (Ok(()),)", "read: (Ok(2), [104, 105])", "sum: (3,)"]
    );

    let (r, buf) = {
        peer.write_all(b"yo").unwrap();
        ours.async_read_some(Vec::with_capacity(8), Block(&ctx))
    };
    assert_eq!((r.unwrap(), &buf[..]), (2, &b"yo"[..]));
}

#[test]
fn a_user_handler_with_its_own_slot_can_be_cancelled() {
    let ctx = IoContext::new().unwrap();
    let timer = SteadyTimer::new(&ctx.executor());
    timer.expires_after(Duration::from_secs(3600));
    let signal = CancellationSignal::new();
    let (tx, rx) = mpsc::channel();
    timer.async_wait(UseHandler(Cancelable {
        slot: signal.slot(),
        tx,
    }));
    signal.emit(CancellationType::ALL);
    ctx.run();
    assert!(rx.try_recv().unwrap(), "the wait was aborted");
}
