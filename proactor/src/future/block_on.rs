//! [`IoContext::block_on`](crate::IoContext::block_on): run handlers on
//! this thread until a future completes.

use crate::scheduler::{Scheduler, Wait};
use crate::sync::{AtomicBool, Ordering::SeqCst};
use std::future::Future;
use std::pin::pin;
// `Wake` is implemented for std's `Arc` only.
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// The waker of a `block_on` call.
struct Signal {
    woken: AtomicBool,
    thread: Thread,
    sched: crate::sync::Arc<Scheduler>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, SeqCst) {
            crate::sync::handshake_fence();
            // The blocked thread may be asleep in the scheduler (as a
            // sleeper or in the task) or parked (context stopped).
            if !self.sched.nobody_idle() {
                self.sched.wake_all();
            }
            self.thread.unpark();
        }
    }
}

pub(crate) fn block_on<F: Future>(sched: &crate::sync::Arc<Scheduler>, f: F) -> F::Output {
    struct Work<'a>(&'a Scheduler);
    impl Drop for Work<'_> {
        fn drop(&mut self) {
            self.0.work_finished(1);
        }
    }

    let mut f = pin!(f);
    let signal = Arc::new(Signal {
        woken: AtomicBool::new(true),
        thread: thread::current(),
        sched: sched.clone(),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let interrupt = || signal.woken.load(SeqCst);
    sched.enter(true, Some(&interrupt), |run| {
        // Taken and released inside the call, where this thread counts as
        // active, so neither step can stop the context.
        sched.work_started();
        let _work = Work(sched);
        loop {
            if signal.woken.swap(false, SeqCst) {
                if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                    return v;
                }
            } else if sched.stopped() {
                thread::park();
            } else {
                sched.do_run_one(run, Wait::Forever);
            }
        }
    })
}
