//! Messages waiting to be written to one peer, and a way for the writing
//! task to wait for them (the async chat examples).
//!
//! The wait is a timer that never expires: pushing a message cancels the
//! wait, waking the writer (Asio's C++20 chat example uses a timer the same
//! way). The writer starts its wait while it holds the queue's lock, and a
//! `UseFuture` operation starts when it is called, so a message pushed
//! after the writer found the queue empty always finds the wait to cancel.

use proactor::{IoExecutor, SteadyTimer, UseFuture};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Outbox {
    /// The messages, and `false` once the outbox is closed.
    state: Mutex<(VecDeque<Arc<Vec<u8>>>, bool)>,
    bell: SteadyTimer,
}

impl Outbox {
    pub fn new(ex: &IoExecutor) -> Self {
        let bell = SteadyTimer::new(ex);
        bell.expires_at(Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        Outbox {
            state: Mutex::new((VecDeque::new(), true)),
            bell,
        }
    }

    /// Queues `m` for the writer.
    pub fn push(&self, m: Arc<Vec<u8>>) {
        let mut s = self.state.lock().unwrap();
        if s.1 {
            s.0.push_back(m);
            self.bell.cancel();
        }
    }

    /// Ends the writer's loop: [`next`](Outbox::next) returns `None`.
    pub fn close(&self) {
        self.state.lock().unwrap().1 = false;
        self.bell.cancel();
    }

    /// The next message, waiting for one if needed; `None` once closed.
    pub async fn next(&self) -> Option<Arc<Vec<u8>>> {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap();
                if !s.1 {
                    return None;
                }
                if let Some(m) = s.0.pop_front() {
                    return Some(m);
                }
                self.bell.async_wait(UseFuture)
            };
            // Cancelled by `push` or `close`: look again.
            let _ = wait.await;
        }
    }
}
