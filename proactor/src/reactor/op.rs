//! Operations that wait for readiness: the reactor's side of an I/O
//! operation (Asio's `reactor_op`).
//!
//! A concrete operation (read some bytes, accept, connect, ...) implements
//! [`Reactive`]: try the non-blocking system call once, remember the
//! outcome, and turn it into the handler's arguments. [`ReactorOp`] wraps it
//! with its completion handler in one allocation that starts with a
//! scheduler [`OpHeader`], so the finished operation is queued on the
//! scheduler as it is, and completing it runs the handler.

#![cfg_attr(not(unix), allow(dead_code))]

use crate::op::recycle::{self, Spare};
use crate::op::slab;
use crate::op::{Action, OpHeader, OpPtr};
use crate::reactor::Reactor;
use crate::sync::{Arc, AtomicU8, Ordering};
use crate::token::{CancellationSlot, CancellationType, CompletionHandler};
use std::alloc::Layout;
use std::io;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

/// The three queues of a descriptor (Asio's `read_op`, `write_op`,
/// `except_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Read = 0,
    Write = 1,
    Except = 2,
}

/// What one attempt achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Would block: wait for readiness.
    Pending,
    /// Finished (with data, an error, or end of stream).
    Done,
    /// Finished, and the descriptor is drained for this kind (a short read,
    /// a partial write): trying the next operation of the kind before the
    /// next readiness event would only fail with "would block".
    DoneExhausted,
}

/// A non-blocking operation on a descriptor.
pub(crate) trait Reactive: Send + 'static {
    /// The completion handler's arguments.
    type Args: Send + 'static;

    /// Attempts the operation once on `fd`.
    fn perform(&mut self, fd: RawFd) -> Progress;

    /// Ends the operation with `e` without performing it (cancellation,
    /// closed descriptor, shutdown).
    fn fail(&mut self, e: io::Error);

    /// The outcome, as the handler's arguments. Called once, after
    /// `perform` returned a finished state or `fail` was called.
    fn into_args(self) -> Self::Args;
}

#[cfg(unix)]
pub(crate) type RawFd = std::os::fd::RawFd;
#[cfg(not(unix))]
pub(crate) type RawFd = i64;

/// Shared between a cancellable operation and the handler it installs in
/// its cancellation slot: records a request, and identifies the operation
/// in its queue (by address, kept alive by both sides, so never reused
/// while either could look).
pub(crate) struct CancelTicket {
    requested: AtomicU8,
    /// The installation's id in the slot (kept here rather than in the
    /// operation: one word less in every cancellable operation's block).
    id: u64,
}

impl CancelTicket {
    fn new(id: u64) -> Self {
        CancelTicket {
            requested: AtomicU8::new(0),
            id,
        }
    }

    pub(crate) fn request(&self, ty: CancellationType) {
        if !ty.is_empty() {
            self.requested.store(1, Ordering::SeqCst);
        }
    }

    pub(crate) fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst) != 0
    }
}

/// What an operation's starter installs in the handler's cancellation slot
/// (before starting it, so no request can fall between).
pub(crate) struct Cancellable {
    pub(crate) slot: CancellationSlot,
    pub(crate) id: u64,
    pub(crate) ticket: Arc<CancelTicket>,
}

impl Cancellable {
    /// Installs `cancel` (which finds and aborts the operation) in the slot;
    /// a request first marks the ticket.
    pub(crate) fn install(&self, cancel: impl Fn() + Send + 'static) {
        let ticket = self.ticket.clone();
        self.slot.install_as(self.id, move |ty| {
            ticket.request(ty);
            cancel();
        });
    }
}

/// The type-erased prefix of every [`ReactorOp`].
#[repr(C)]
pub(crate) struct ReactorOpHeader {
    pub(crate) op: OpHeader,
    perform: unsafe fn(NonNull<ReactorOpHeader>, RawFd) -> Progress,
    fail: unsafe fn(NonNull<ReactorOpHeader>, io::Error),
    /// The operation's cancellation ticket, if it can be cancelled (null
    /// otherwise): the operation's counted reference (`Arc::into_raw`),
    /// taken back when it ends.
    ticket: *const CancelTicket,
}

impl ReactorOpHeader {
    /// Attempts the operation.
    ///
    /// # Safety
    /// `this` is a live, queued [`ReactorOp`] that the caller may use
    /// exclusively (its descriptor's lock is held).
    pub(crate) unsafe fn perform(this: NonNull<ReactorOpHeader>, fd: RawFd) -> Progress {
        // SAFETY: forwarded to the caller.
        unsafe { (this.as_ref().perform)(this, fd) }
    }

    /// Ends the operation with an error.
    ///
    /// # Safety
    /// As for [`ReactorOpHeader::perform`].
    pub(crate) unsafe fn fail(this: NonNull<ReactorOpHeader>, e: io::Error) {
        // SAFETY: forwarded to the caller.
        unsafe { (this.as_ref().fail)(this, e) }
    }

    /// True if cancellation was requested for the operation.
    ///
    /// # Safety
    /// `this` is a live reactor operation.
    pub(crate) unsafe fn cancel_requested(this: NonNull<ReactorOpHeader>) -> bool {
        // SAFETY: the ticket, if any, lives as long as the operation.
        unsafe { this.as_ref().ticket.as_ref() }.is_some_and(CancelTicket::is_requested)
    }

    /// True if the operation holds `ticket`.
    ///
    /// # Safety
    /// `this` is a live reactor operation.
    pub(crate) unsafe fn has_ticket(this: NonNull<ReactorOpHeader>, ticket: &CancelTicket) -> bool {
        // SAFETY: forwarded.
        std::ptr::eq(unsafe { this.as_ref().ticket }, ticket)
    }

    /// Views a queued scheduler operation as a reactor operation.
    ///
    /// # Safety
    /// `op` must be the header of a [`ReactorOp`].
    pub(crate) unsafe fn from_op(op: NonNull<OpHeader>) -> NonNull<ReactorOpHeader> {
        op.cast()
    }
}

/// An operation and its handler: one allocation.
#[repr(C)]
pub(crate) struct ReactorOp<O, H> {
    header: ReactorOpHeader,
    op: ManuallyDrop<O>,
    handler: ManuallyDrop<H>,
    /// The slot whose installation (the ticket's id) to clear on
    /// completion.
    slot: ManuallyDrop<Option<CancellationSlot>>,
    /// Where the block goes when the operation ends.
    home: Home,
}

/// Where an operation's block comes from and goes back to: the thread's
/// recycling lists (then the global allocator), an I/O object's spare for
/// its kind of operation (then the lists), or the reactor's timer slab
/// (timers' waits that fit its blocks). Spares and the slab live as long as
/// the reactor, which outlives every operation. One word: the slab's
/// reactor is tagged in the low bit, a spare's address is not.
#[derive(Clone, Copy)]
pub(crate) struct Home(*const u8);

const SLAB_TAG: usize = 1;
const _: () = assert!(std::mem::align_of::<Reactor>() > SLAB_TAG);
const _: () = assert!(std::mem::align_of::<Spare>() > SLAB_TAG);

impl Home {
    /// The thread's recycling lists.
    pub(crate) const RECYCLED: Home = Home(ptr::null());

    /// An I/O object's spare (then the recycling lists), if it has one.
    pub(crate) fn spare(spare: Option<&Spare>) -> Home {
        Home(spare.map_or(ptr::null(), |s| (s as *const Spare).cast()))
    }

    /// `reactor`'s timer slab.
    pub(crate) fn timer_slab(reactor: &Reactor) -> Home {
        Home(
            (reactor as *const Reactor)
                .cast::<u8>()
                .wrapping_add(SLAB_TAG),
        )
    }

    /// The slab's reactor, if that is the home.
    #[inline(always)]
    fn slab(self) -> Option<*const Reactor> {
        (self.0 as usize & SLAB_TAG != 0).then(|| self.0.wrapping_sub(SLAB_TAG).cast())
    }

    /// A block for `layout`; the home becomes the one it came from (the
    /// recycling lists, for what does not fit the slab's blocks).
    #[inline(always)]
    fn alloc(&mut self, layout: Layout) -> NonNull<u8> {
        if let Some(reactor) = self.slab() {
            if layout.size() <= slab::BLOCK && layout.align() <= slab::ALIGN {
                // SAFETY: the reactor outlives every operation.
                return unsafe { (*reactor).timer_block() };
            }
            *self = Home::RECYCLED;
        }
        // SAFETY: a home other than a slab is null or a live spare.
        recycle::alloc_with(layout, unsafe { self.0.cast::<Spare>().as_ref() })
    }

    /// Gives back a block that [`Home::alloc`] returned, with the home it
    /// left.
    ///
    /// # Safety
    /// `p` came from `alloc(layout)` on this home and is not used afterwards.
    #[inline(always)]
    unsafe fn dealloc(self, p: NonNull<u8>, layout: Layout) {
        match self.slab() {
            // SAFETY: the reactor outlives every operation; the block is
            // one of its slab's (caller's contract).
            Some(reactor) => unsafe { (*reactor).free_timer_block(p) },
            // SAFETY: as in `alloc`, and the caller's contract.
            None => unsafe { recycle::dealloc_with(p, layout, self.0.cast::<Spare>().as_ref()) },
        }
    }
}

impl<O: Reactive, H: CompletionHandler<O::Args>> ReactorOp<O, H> {
    const LAYOUT: Layout = Layout::new::<Self>();

    /// Allocates the operation. Completing the returned [`OpPtr`] calls the
    /// handler with the outcome; dropping it drops both unrun.
    pub(crate) fn new_op(op: O, handler: H) -> OpPtr {
        Self::new_cancellable(op, handler, Home::RECYCLED).0
    }

    /// As [`ReactorOp::new_op`]; if the handler has a cancellation slot,
    /// also returns what the starter must install in it (before starting
    /// the operation).
    /// `home`: where the block comes from (an I/O object's block cache for
    /// this kind of operation, the timer slab, or the recycling lists).
    pub(crate) fn new_cancellable(
        op: O,
        handler: H,
        mut home: Home,
    ) -> (OpPtr, Option<Cancellable>) {
        let cancellable = handler.cancellation_slot().map(|slot| {
            let id = crate::token::next_id();
            Cancellable {
                slot,
                id,
                ticket: Arc::new(CancelTicket::new(id)),
            }
        });
        let ticket = cancellable
            .as_ref()
            .map_or(std::ptr::null(), |c| Arc::into_raw(c.ticket.clone()));
        let slot = cancellable.as_ref().map(|c| c.slot.clone());
        let block = home.alloc(Self::LAYOUT).cast::<Self>();
        // SAFETY: fresh memory with the layout of `Self`.
        let op = unsafe {
            block.as_ptr().write(ReactorOp {
                header: ReactorOpHeader {
                    op: OpHeader::new(Self::func),
                    perform: Self::perform,
                    fail: Self::fail,
                    ticket,
                },
                op: ManuallyDrop::new(op),
                handler: ManuallyDrop::new(handler),
                slot: ManuallyDrop::new(slot),
                home,
            });
            OpPtr::from_raw(block.cast())
        };
        (op, cancellable)
    }

    unsafe fn perform(this: NonNull<ReactorOpHeader>, fd: RawFd) -> Progress {
        // SAFETY: `this` is a live `Self` used exclusively (caller).
        unsafe { (*this.cast::<Self>().as_ptr()).op.perform(fd) }
    }

    unsafe fn fail(this: NonNull<ReactorOpHeader>, e: io::Error) {
        // SAFETY: as in `perform`.
        unsafe { (*this.cast::<Self>().as_ptr()).op.fail(e) }
    }

    unsafe fn func(p: NonNull<OpHeader>, action: Action) {
        let this = p.cast::<Self>().as_ptr();
        // SAFETY: we own the live operation. Its parts are moved out and the
        // header dropped in place before the block is freed; the handler
        // then runs on memory that is no longer the operation's.
        let (op, handler, slot, ticket) = unsafe {
            let op = ManuallyDrop::into_inner(ptr::read(&(*this).op));
            let handler = ManuallyDrop::into_inner(ptr::read(&(*this).handler));
            let slot = ManuallyDrop::into_inner(ptr::read(&(*this).slot));
            let ticket = (*this).header.ticket;
            let home = (*this).home;
            ptr::drop_in_place(ptr::addr_of_mut!((*this).header.op));
            home.dealloc(p.cast(), Self::LAYOUT);
            (op, handler, slot, ticket)
        };
        // Finished: a later request must not reach a successor.
        if let Some(slot) = slot {
            // SAFETY: a cancellable operation's ticket is the reference it
            // took with `Arc::into_raw`, given back once, here.
            let ticket = unsafe { Arc::from_raw(ticket) };
            slot.clear_if(ticket.id);
        }
        match action {
            Action::Run => handler.complete(op.into_args()),
            Action::Destroy => drop((op, handler)),
        }
    }
}
