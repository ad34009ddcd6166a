//! Helpers shared by the integration tests.
#![allow(dead_code)]

use proactor::IoContext;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// How long a test waits for something that must happen before calling it a
/// hang. Never a synchronisation device: tests only hit it when they fail.
pub const HANG: Duration = Duration::from_secs(30);

/// The two scheduler modes every context test runs in: the default, and the
/// lock-free single-thread mode.
pub fn contexts() -> Vec<(&'static str, IoContext)> {
    vec![
        ("default", IoContext::new().unwrap()),
        ("hint1", IoContext::with_concurrency_hint(1).unwrap()),
    ]
}

/// A shared counter.
#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn inc(&self) {
        self.0.fetch_add(1, SeqCst);
    }
    pub fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// Counts its own drops: lets a test see that a handler was dropped.
pub struct DropProbe(pub Counter);

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.0.inc();
    }
}
