//! Per-operation cancellation (Asio 1.19+'s `cancellation_signal` and
//! `cancellation_slot`).
//!
//! A [`CancellationSignal`] owns a slot; an operation started with a handler
//! bound to that slot ([`bind_cancellation_slot`](crate::bind_cancellation_slot))
//! installs its own cancellation handler in it, and
//! [`emit`](CancellationSignal::emit) asks that operation, and only that
//! one, to stop. A slot holds one operation at a time: starting another
//! operation with the same slot replaces the first's handler.
//!
//! What may happen to an operation is said by a [`CancellationType`]:
//!
//! * [`TERMINAL`](CancellationType::TERMINAL): the operation stops; the I/O
//!   object may then only be closed or dropped.
//! * [`PARTIAL`](CancellationType::PARTIAL): the operation stops, possibly
//!   after doing part of its work (bytes already moved stay moved); the
//!   object can be used again.
//! * [`TOTAL`](CancellationType::TOTAL): the operation stops having done
//!   nothing observable.
//!
//! An operation honours a request if it supports one of the requested
//! types. The operations on a single object (a read, a write, an accept, a
//! connect, a timer or signal wait) support all three: cancelled before they
//! did anything, they did nothing. Composed operations (`async_read`,
//! `async_write`, `async_read_until`, `async_connect`) support terminal and
//! partial but ignore a request for `TOTAL` alone, since once they have made
//! progress they cannot promise that nothing happened.
//!
//! ```
//! use proactor::{bind_cancellation_slot, CancellationSignal, CancellationType, IoContext, SteadyTimer};
//! use std::time::Duration;
//!
//! let ctx = IoContext::new()?;
//! let timer = SteadyTimer::new(&ctx.executor());
//! timer.expires_after(Duration::from_secs(60));
//! let signal = CancellationSignal::new();
//! timer.async_wait(bind_cancellation_slot(signal.slot(), |r: std::io::Result<()>| {
//!     assert!(proactor::error::is_operation_aborted(&r.unwrap_err()));
//! }));
//! signal.emit(CancellationType::TERMINAL);
//! ctx.run(); // the wait completes at once, aborted
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::sync::{self, Arc, Mutex};
use std::fmt;
use std::ops::{BitAnd, BitOr};
use std::sync::atomic::{AtomicU64, Ordering};

/// Which kinds of cancellation are requested or supported (a bit set).
///
/// ```
/// use proactor::CancellationType;
/// let t = CancellationType::TERMINAL | CancellationType::PARTIAL;
/// assert!(t.intersects(CancellationType::PARTIAL));
/// assert!(!t.intersects(CancellationType::TOTAL));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CancellationType(u8);

impl CancellationType {
    /// No cancellation.
    pub const NONE: Self = CancellationType(0);
    /// Stop; the object may then only be closed or dropped.
    pub const TERMINAL: Self = CancellationType(1);
    /// Stop, possibly having done part of the work; the object stays usable.
    pub const PARTIAL: Self = CancellationType(2);
    /// Stop having done nothing observable.
    pub const TOTAL: Self = CancellationType(4);
    /// Every kind.
    pub const ALL: Self = CancellationType(7);

    /// True if `self` and `other` share a kind.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// True if no kind is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for CancellationType {
    type Output = Self;
    fn bitor(self, o: Self) -> Self {
        CancellationType(self.0 | o.0)
    }
}

impl BitAnd for CancellationType {
    type Output = Self;
    fn bitand(self, o: Self) -> Self {
        CancellationType(self.0 & o.0)
    }
}

impl fmt::Debug for CancellationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [(1, "TERMINAL"), (2, "PARTIAL"), (4, "TOTAL")];
        let set: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|&(_, n)| n)
            .collect();
        if set.is_empty() {
            f.write_str("NONE")
        } else {
            f.write_str(&set.join(" | "))
        }
    }
}

type Handler = Box<dyn FnMut(CancellationType) + Send>;

struct Installed {
    /// Which installation this is (see `CancellationSlot::clear_if`).
    id: u64,
    handler: Handler,
}

#[derive(Default)]
struct SlotState {
    installed: Mutex<Option<Installed>>,
}

/// Unique ids for installed cancellation handlers and the operations they
/// cancel: never reused, so a late request cannot reach a newer operation.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The emitting side: owns a slot and asks its operation to stop.
///
/// ```
/// let signal = proactor::CancellationSignal::new();
/// let slot = signal.slot();
/// assert!(!slot.has_handler());
/// signal.emit(proactor::CancellationType::ALL); // nothing to cancel: no effect
/// ```
#[derive(Default)]
pub struct CancellationSignal {
    state: Arc<SlotState>,
}

impl CancellationSignal {
    /// A signal with an empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The slot to bind to an operation's handler.
    pub fn slot(&self) -> CancellationSlot {
        CancellationSlot {
            state: self.state.clone(),
            filter: CancellationType::ALL,
        }
    }

    /// Asks the operation in the slot (if any) to stop, in the ways `ty`
    /// allows. The operation then completes with "operation aborted" (its
    /// handler is posted as usual, never run inside `emit`). Emitting again,
    /// or after the operation completed, does nothing harmful.
    pub fn emit(&self, ty: CancellationType) {
        let mut g = sync::lock(&self.state.installed);
        if let Some(inst) = g.as_mut() {
            (inst.handler)(ty);
        }
    }
}

impl fmt::Debug for CancellationSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationSignal").finish_non_exhaustive()
    }
}

/// Where an operation installs its cancellation handler. Clones refer to the
/// same slot.
///
/// ```
/// let signal = proactor::CancellationSignal::new();
/// let slot = signal.slot();
/// slot.assign(|ty| println!("asked to stop: {ty:?}"));
/// assert!(slot.has_handler());
/// slot.clear();
/// assert!(!slot.has_handler());
/// ```
#[derive(Clone)]
pub struct CancellationSlot {
    state: Arc<SlotState>,
    /// The kinds of request the installed handler is shown.
    filter: CancellationType,
}

impl CancellationSlot {
    /// Installs `handler` (replacing any previous one). It is called, under
    /// the slot's lock, for every emitted request that passes the slot's
    /// filter; it must not emit on the same signal.
    pub fn assign(&self, handler: impl FnMut(CancellationType) + Send + 'static) {
        self.install(handler);
    }

    /// As [`assign`](CancellationSlot::assign); returns the installation's
    /// id for [`clear_if`](CancellationSlot::clear_if).
    pub(crate) fn install(&self, handler: impl FnMut(CancellationType) + Send + 'static) -> u64 {
        let id = next_id();
        self.install_as(id, handler);
        id
    }

    /// Installs `handler` as installation `id`.
    pub(crate) fn install_as(
        &self,
        id: u64,
        mut handler: impl FnMut(CancellationType) + Send + 'static,
    ) {
        let filter = self.filter;
        let handler: Handler = Box::new(move |ty: CancellationType| {
            let ty = ty & filter;
            if !ty.is_empty() {
                handler(ty)
            }
        });
        *sync::lock(&self.state.installed) = Some(Installed { id, handler });
    }

    /// Removes the installed handler.
    pub fn clear(&self) {
        *sync::lock(&self.state.installed) = None;
    }

    /// Removes the handler installed as `id`, if it is still the one in the
    /// slot (an operation finishing must not remove its successor's).
    pub(crate) fn clear_if(&self, id: u64) {
        let mut g = sync::lock(&self.state.installed);
        if g.as_ref().is_some_and(|i| i.id == id) {
            *g = None;
        }
    }

    /// True if a handler is installed.
    pub fn has_handler(&self) -> bool {
        sync::lock(&self.state.installed).is_some()
    }

    /// The same slot, showing its handlers only the requests of the kinds
    /// in `allowed` (what a composed operation gives its inner operations).
    ///
    /// ```
    /// use proactor::{CancellationSignal, CancellationType};
    /// let signal = CancellationSignal::new();
    /// let partial_only = signal.slot().filtered(CancellationType::PARTIAL);
    /// partial_only.assign(|ty| assert_eq!(ty, CancellationType::PARTIAL));
    /// signal.emit(CancellationType::TOTAL); // filtered out
    /// signal.emit(CancellationType::ALL); // seen as PARTIAL
    /// ```
    pub fn filtered(&self, allowed: CancellationType) -> CancellationSlot {
        CancellationSlot {
            state: self.state.clone(),
            filter: self.filter & allowed,
        }
    }
}

impl fmt::Debug for CancellationSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationSlot")
            .field("filter", &self.filter)
            .field("has_handler", &self.has_handler())
            .finish()
    }
}
