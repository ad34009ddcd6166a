//! The scheduler's consumer lock: a lock whose losers park at once.
//!
//! Consumers hold it for a handful of instructions (one pop), and under
//! contention the fastest schedule is one thread popping many operations in
//! a row while the other is out of the way, not both spinning on its cache
//! line, which moves the line between cores on every pop (measured: 4 to 6
//! times slower with two threads on tiny handlers). So a thread that finds
//! the lock taken parks in the kernel until the holder lets go, as glibc's
//! default mutex does. On Linux that is a futex with no spinning phase;
//! elsewhere (for now) the standard mutex; under loom, loom's.

#[cfg(all(target_os = "linux", not(loom)))]
mod imp {
    use crate::sys::linux::futex;
    use std::sync::atomic::{AtomicU32, Ordering::*};

    const UNLOCKED: u32 = 0;
    const LOCKED: u32 = 1;
    /// Locked, and a thread may be parked waiting for it.
    const CONTENDED: u32 = 2;

    #[derive(Default)]
    pub(crate) struct ParkingLock {
        state: AtomicU32,
    }

    pub(crate) struct Guard<'a>(&'a ParkingLock);

    impl ParkingLock {
        pub(crate) fn new() -> Self {
            Self::default()
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_> {
            if self
                .state
                .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            Guard(self)
        }

        #[cold]
        fn lock_contended(&self) {
            // Drepper's mutex: once contended, the lock stays marked so that
            // its holder wakes us on release.
            while self.state.swap(CONTENDED, Acquire) != UNLOCKED {
                futex::wait(&self.state, CONTENDED);
            }
        }
    }

    impl Drop for Guard<'_> {
        #[inline]
        fn drop(&mut self) {
            if self.0.state.swap(UNLOCKED, Release) == CONTENDED {
                futex::wake_one(&self.0.state);
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", not(loom))))]
mod imp {
    use crate::sync::{lock, Mutex, MutexGuard};

    #[derive(Default)]
    pub(crate) struct ParkingLock(Mutex<()>);

    pub(crate) struct Guard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

    impl ParkingLock {
        pub(crate) fn new() -> Self {
            ParkingLock(Mutex::new(()))
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_> {
            Guard(lock(&self.0))
        }
    }
}

pub(crate) use imp::{Guard as ParkingGuard, ParkingLock};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::ParkingLock;
    use std::cell::UnsafeCell;
    use std::sync::Arc;

    struct Protected {
        lock: ParkingLock,
        value: UnsafeCell<u64>,
    }
    // SAFETY: `value` is only touched while `lock` is held.
    unsafe impl Sync for Protected {}

    #[test]
    fn excludes_under_contention() {
        let p = Arc::new(Protected {
            lock: ParkingLock::new(),
            value: UnsafeCell::new(0),
        });
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    for _ in 0..50_000 {
                        let _g = p.lock.lock();
                        // SAFETY: we hold the lock.
                        unsafe { *p.value.get() += 1 };
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let _g = p.lock.lock();
        // SAFETY: we hold the lock.
        assert_eq!(unsafe { *p.value.get() }, 200_000);
    }
}
