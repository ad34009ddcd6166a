//! The chat room both chat servers share: its participants, and the last
//! 100 messages for newcomers.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

/// A participant: takes a framed message to send to its peer.
pub trait Member {
    fn deliver(this: &Arc<Self>, m: Arc<Vec<u8>>);
}

pub struct Room<M> {
    participants: Vec<Weak<M>>,
    recent: VecDeque<Arc<Vec<u8>>>,
}

impl<M> Default for Room<M> {
    fn default() -> Self {
        Room {
            participants: Vec::new(),
            recent: VecDeque::new(),
        }
    }
}

impl<M: Member> Room<M> {
    /// Adds `p`, and sends it the recent messages.
    pub fn join(&mut self, p: &Arc<M>) {
        self.participants.push(Arc::downgrade(p));
        for m in &self.recent {
            M::deliver(p, m.clone());
        }
    }

    /// Sends `m` to every participant still there.
    pub fn deliver(&mut self, m: Arc<Vec<u8>>) {
        self.recent.push_back(m.clone());
        while self.recent.len() > 100 {
            self.recent.pop_front();
        }
        self.participants.retain(|w| w.strong_count() > 0);
        for p in self.participants.iter().filter_map(Weak::upgrade) {
            M::deliver(&p, m.clone());
        }
    }
}
