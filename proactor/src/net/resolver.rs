//! [`Resolver`]: host names to addresses, off the caller's threads.
//!
//! As in Asio, lookups (the system's `getaddrinfo`) run on a private thread
//! of the context, started with its first lookup; results are posted to the
//! caller's context. A pending lookup counts as outstanding work.

use crate::executor::IoExecutor;
use crate::op::handler_op;
use crate::scheduler::Scheduler;
use crate::sync::{self, Arc, AtomicU64, Condvar, Mutex, Ordering::SeqCst};
use crate::token::{CompletionHandler, CompletionToken, Initiation};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves host names and service ports (Asio's `ip::tcp::resolver`).
///
/// ```
/// use proactor::net::Resolver;
/// use proactor::IoContext;
///
/// let ctx = IoContext::new()?;
/// let resolver = Resolver::new(&ctx.executor());
/// resolver.async_resolve("localhost", 80, |r: std::io::Result<Vec<std::net::SocketAddr>>| {
///     let addrs = r.unwrap();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// });
/// ctx.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Resolver {
    ex: IoExecutor,
    /// Bumped by `cancel`: lookups started earlier report "aborted".
    generation: Arc<AtomicU64>,
}

impl Resolver {
    /// A resolver whose handlers run on `ex`.
    pub fn new(ex: &IoExecutor) -> Resolver {
        Resolver {
            ex: ex.clone(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Looks up `host` (a name or an address literal) with `port`. The token
    /// receives every address found, in the system's order.
    pub fn async_resolve<T: CompletionToken<(io::Result<Vec<SocketAddr>>,)>>(
        &self,
        host: &str,
        port: u16,
        token: T,
    ) -> T::Output {
        token.launch(ResolveInit {
            ex: self.ex.clone(),
            generation: self.generation.clone(),
            host: host.to_owned(),
            port,
        })
    }

    /// Looks up `host` with `port`, blocking the calling thread.
    ///
    /// ```
    /// let ctx = proactor::IoContext::new()?;
    /// let r = proactor::net::Resolver::new(&ctx.executor());
    /// assert!(!r.resolve("127.0.0.1", 9)?.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        lookup(host, port)
    }

    /// Lookups not yet finished complete with "operation aborted".
    pub fn cancel(&self) {
        self.generation.fetch_add(1, SeqCst);
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

struct ResolveInit {
    ex: IoExecutor,
    generation: Arc<AtomicU64>,
    host: String,
    port: u16,
}

impl Initiation<(io::Result<Vec<SocketAddr>>,)> for ResolveInit {
    fn initiate<H: CompletionHandler<(io::Result<Vec<SocketAddr>>,)>>(self, handler: H) {
        let sched = self.ex.sched.clone();
        let started = self.generation.load(SeqCst);
        sched.work_started();
        let job = Box::new(move || {
            let mut result = lookup(&self.host, self.port);
            if self.generation.load(SeqCst) != started {
                result = Err(crate::error::operation_aborted());
            }
            sched.post_completion(handler_op(move || handler.complete((result,))));
        });
        self.ex.sched.resolver_worker().submit(job, &self.ex.sched);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A context's resolver thread.
#[derive(Default)]
pub(crate) struct Worker {
    state: Mutex<WorkerState>,
    cv: Condvar,
}

#[derive(Default)]
struct WorkerState {
    jobs: VecDeque<Job>,
    started: bool,
    stopped: bool,
}

impl Worker {
    fn submit(self: &Arc<Self>, job: Job, sched: &Scheduler) {
        let mut g = sync::lock(&self.state);
        if g.stopped {
            // The context is gone: the handler is dropped unrun, and with it
            // the job's unit of work (never to be counted again).
            drop(g);
            drop(job);
            sched.work_finished(1);
            return;
        }
        g.jobs.push_back(job);
        if !g.started {
            g.started = true;
            let me = self.clone();
            let spawned = std::thread::Builder::new()
                .name("proactor-resolver".into())
                .spawn(move || me.main());
            if spawned.is_err() {
                // No thread: resolve here (the caller's thread) rather than
                // never; the result is still posted, not run inline.
                g.started = false;
                let job = g.jobs.pop_back();
                drop(g);
                if let Some(job) = job {
                    job();
                }
                return;
            }
        }
        drop(g);
        self.cv.notify_one();
    }

    fn main(&self) {
        loop {
            let job = {
                let mut g = sync::lock(&self.state);
                loop {
                    if g.stopped {
                        return;
                    }
                    if let Some(j) = g.jobs.pop_front() {
                        break j;
                    }
                    g = sync::wait(&self.cv, g);
                }
            };
            job();
        }
    }

    /// The context is being dropped: lookups not started are dropped, the
    /// thread exits after its current lookup.
    pub(crate) fn stop(&self) {
        let jobs = {
            let mut g = sync::lock(&self.state);
            g.stopped = true;
            std::mem::take(&mut g.jobs)
        };
        self.cv.notify_all();
        drop(jobs);
    }
}
