//! A fake backend for the task seat's tests and loom models: a completion
//! queue that "the kernel" (the test) fills from outside, with a blocking
//! wait that `interrupt` breaks.

use super::task::Task;
use crate::op::queue::OpQueue;
use crate::op::OpPtr;
use crate::sync::{self, Arc, Condvar, Instant, Mutex};
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Default)]
pub(super) struct FakeState {
    pub(super) completed: VecDeque<OpPtr>,
    /// Started operations not yet completed (abandoned at shutdown).
    pub(super) pending: Vec<OpPtr>,
    pub(super) interrupted: bool,
    pub(super) inside: usize,
    pub(super) max_inside: usize,
    pub(super) blocking_runs: usize,
    pub(super) interrupts: usize,
}

#[derive(Default)]
pub(super) struct FakeBackend {
    pub(super) state: Mutex<FakeState>,
    cv: Condvar,
}

impl FakeBackend {
    /// The "kernel" completes an operation: it will be harvested by the
    /// next run of the task.
    pub(super) fn complete(&self, op: OpPtr) {
        sync::lock(&self.state).completed.push_back(op);
        self.cv.notify_all();
    }
}

impl Task for Arc<FakeBackend> {
    fn run(&self, timeout: Option<Duration>, ops: &mut OpQueue) -> usize {
        let mut g = sync::lock(&self.state);
        g.inside += 1;
        g.max_inside = g.max_inside.max(g.inside);
        if timeout != Some(Duration::ZERO) {
            g.blocking_runs += 1;
            let deadline = timeout.map(|t| Instant::now() + t);
            while g.completed.is_empty() && !g.interrupted {
                match deadline {
                    None => g = sync::wait(&self.cv, g),
                    // Loom's timed waits time out at once (see
                    // `sync::wait_briefly`): no clock in a model.
                    Some(_) if cfg!(loom) => {
                        g = sync::wait_briefly(&self.cv, &self.state, g, Duration::ZERO);
                        break;
                    }
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            break;
                        }
                        g = sync::wait_timeout(&self.cv, g, d - now);
                    }
                }
            }
        }
        g.interrupted = false;
        let mut n = 0;
        while let Some(op) = g.completed.pop_front() {
            ops.push(op);
            n += 1;
        }
        g.inside -= 1;
        n
    }

    fn interrupt(&self) {
        let mut g = sync::lock(&self.state);
        g.interrupted = true;
        g.interrupts += 1;
        self.cv.notify_all();
    }

    fn shutdown(&self, ops: &mut OpQueue) {
        let mut g = sync::lock(&self.state);
        let g = &mut *g;
        for op in g.pending.drain(..).chain(g.completed.drain(..)) {
            ops.push(op);
        }
    }
}
