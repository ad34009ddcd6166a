//! Operations that the kernel owns from the call that starts them until
//! their completion is dequeued: the completion backends' side of an I/O
//! operation (Asio's `win_iocp_operation`; io_uring's submissions will
//! have the same shape).
//!
//! A readiness operation (`reactor/op.rs`) is only ever touched by
//! proactor: the reactor tries its system call and may drop it at any
//! time. A completion operation is different: once started, the kernel
//! writes into its buffer and into its slot (the `OVERLAPPED` on Windows)
//! until it reports the completion, and only that report may free it.
//! So the block owns everything the kernel reads or writes (slot, buffer,
//! addresses), and nothing else frees it: dropping the future or the
//! handler's owner, cancelling, closing the socket, even dropping the
//! context (see the backends' `shutdown`) all wait for that report.
//!
//! [`CompletionOp`] starts with a scheduler [`OpHeader`], so that the
//! harvested operation is queued on the scheduler as it is; running it
//! calls the handler with [`Completion::into_args`] of the result.

use crate::op::recycle::{self, Spare};
use crate::op::{Action, OpHeader, OpPtr};
use crate::reactor::op::RawFd;
use crate::sync::{self, Arc, AtomicU8, Mutex, MutexGuard};
use crate::sys::OpSlot;
use crate::token::{CancellationSlot, CompletionHandler};
use std::alloc::Layout;
use std::io;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::SeqCst;

/// An operation whose outcome the kernel reports.
pub(crate) trait Completion: Send + 'static {
    /// The completion handler's arguments.
    type Args: Send + 'static;

    /// The handler's arguments, given the kernel's result (bytes
    /// transferred, or the error).
    fn into_args(self, result: io::Result<usize>) -> Self::Args;

    /// Whether a message cut short by the buffer (Windows'
    /// `STATUS_BUFFER_OVERFLOW`: a datagram, a message-mode pipe's
    /// message) completes as a success with the bytes that fitted, as a
    /// datagram socket's receive does on Linux. If not, it completes with
    /// `ERROR_MORE_DATA`, the bytes recorded in the error.
    #[cfg_attr(not(windows), allow(dead_code))]
    const KEEPS_WHAT_FITTED: bool = true;
}

/// Where a cancellation request finds an operation (only operations whose
/// handler has a cancellation slot have one).
#[derive(Debug, Default)]
pub(crate) enum Flight {
    /// Not started yet.
    #[default]
    Ready,
    /// Cancellation was requested before it started: it must not start.
    Cancelled,
    /// The kernel holds it: issued on this handle, with this slot address.
    On(#[cfg_attr(not(windows), allow(dead_code))] RawFd, usize),
    /// Its completion arrived (or it finished inside its call).
    Landed,
}

/// The [`Flight`] of one operation, shared with its cancellation handler.
#[derive(Default)]
pub(crate) struct InFlight(Mutex<Flight>);

impl InFlight {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Flight> {
        sync::lock(&self.0)
    }
}

/// The type-erased prefix of every [`CompletionOp`].
#[repr(C)]
pub(crate) struct CompletionHeader {
    op: OpHeader,
    /// The kernel's part (zeroed before the operation starts).
    slot: OpSlot,
    result: io::Result<usize>,
    /// The operation's flight record, or null (kept alive by the block).
    flight: *const InFlight,
    /// Who is done with the block, for a call whose packet is uncertain
    /// (see [`Late`]).
    late: AtomicU8,
    /// Frees the block whose parts have been moved out.
    free: unsafe fn(NonNull<CompletionHeader>),
}

/// The states of [`CompletionHeader::late`].
///
/// A call that fails inside itself with a *warning* status (a datagram
/// larger than the buffer: `STATUS_BUFFER_OVERFLOW`) completes at once, as
/// wine requires, which queues no packet for it; Windows may queue one all
/// the same. So the block outlives its handler until such a packet comes
/// (forever, under wine): the handler's run and the packet each find out
/// from this state whether the other has been, and the second frees the
/// block.
pub(crate) struct Late;

// Only Windows issues calls whose packet is uncertain.
#[cfg_attr(not(windows), allow(dead_code))]
impl Late {
    /// An ordinary operation: its packet ends it.
    pub(crate) const SETTLED: u8 = 0;
    /// Its call is being issued: a packet that comes meanwhile waits for
    /// the issuer's verdict.
    pub(crate) const ISSUING: u8 = 1;
    /// Completed at once; a packet may still come.
    pub(crate) const UNCERTAIN: u8 = 2;
    /// The handler's run has taken the parts; the block waits for the
    /// packet.
    pub(crate) const RAN: u8 = 3;
    /// The packet came first; the handler's run frees the block.
    pub(crate) const PACKET: u8 = 4;

    /// The verdict on a call that returned at once, given the kernel's
    /// `status` in its slot: a warning (severity 2) is reported as a
    /// failure of the call, yet Windows may queue a packet for it.
    pub(crate) fn after_call(status: u32) -> u8 {
        if status >> 30 == 2 {
            Late::UNCERTAIN
        } else {
            Late::SETTLED
        }
    }
}

/// Where `slot` sits in a [`CompletionHeader`]: `#[repr(C)]` puts it right
/// after the scheduler header, rounded up to its alignment.
const SLOT_OFFSET: usize = {
    let align = std::mem::align_of::<OpSlot>();
    std::mem::size_of::<OpHeader>().div_ceil(align) * align
};

impl CompletionHeader {
    /// The operation that owns `slot`.
    ///
    /// # Safety
    /// `slot` is the slot of a live [`CompletionOp`].
    #[cfg(windows)]
    pub(crate) unsafe fn from_slot(slot: *mut OpSlot) -> NonNull<CompletionHeader> {
        // SAFETY: the slot sits `SLOT_OFFSET` bytes into the header, which
        // starts its block (caller's contract).
        unsafe { NonNull::new_unchecked(slot.cast::<u8>().sub(SLOT_OFFSET).cast()) }
    }

    /// The operation's flight record, if its handler can be cancelled.
    ///
    /// # Safety
    /// `this` is a live operation; the record lives as long as it does.
    #[cfg(target_os = "linux")]
    pub(crate) unsafe fn flight<'a>(this: NonNull<CompletionHeader>) -> Option<&'a InFlight> {
        // SAFETY: caller's contract; the block holds a reference to it.
        unsafe { (*this.as_ptr()).flight.as_ref() }
    }

    /// The kernel's part of the operation.
    ///
    /// # Safety
    /// `this` is a live operation.
    pub(crate) unsafe fn slot(this: NonNull<CompletionHeader>) -> *mut OpSlot {
        // SAFETY: a field of the live header; no reference is made.
        unsafe { ptr::addr_of_mut!((*this.as_ptr()).slot) }
    }

    /// The issuer's verdict on the packet of the call it just made: `late`
    /// is [`Late::SETTLED`] or [`Late::UNCERTAIN`].
    ///
    /// # Safety
    /// `this` is a live operation whose call was issued with
    /// [`Late::ISSUING`] set (so no packet handler has touched it).
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) unsafe fn settle(this: NonNull<CompletionHeader>, late: u8) {
        // SAFETY: caller's contract: the block is alive until the packet
        // handler sees this store.
        unsafe { (*this.as_ptr()).late.store(late, SeqCst) };
    }

    /// Marks the call about to be issued (see [`Late::ISSUING`]).
    ///
    /// # Safety
    /// `this` is a live operation not yet handed to the kernel.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) unsafe fn issuing(this: NonNull<CompletionHeader>) {
        // SAFETY: caller's contract.
        unsafe { (*this.as_ptr()).late.store(Late::ISSUING, SeqCst) };
    }

    /// A packet for `this` has come: true if it is an operation's real
    /// completion, to be landed and run; false if the operation already
    /// completed at once (then the block is freed here, or by the
    /// handler's run, whichever is second).
    ///
    /// # Safety
    /// `this` is the block of the packet's slot, alive.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) unsafe fn packet_ends_it(this: NonNull<CompletionHeader>) -> bool {
        // SAFETY: caller's contract; the block stays alive while the state
        // says nobody has freed it.
        let late = unsafe { &(*this.as_ptr()).late };
        let mut round = 0;
        loop {
            match late.load(SeqCst) {
                Late::SETTLED => return true,
                Late::ISSUING => {
                    // The issuer decides right after its call returns.
                    sync::spin_wait(round);
                    round += 1;
                }
                _ => {
                    if late
                        .compare_exchange(Late::UNCERTAIN, Late::PACKET, SeqCst, SeqCst)
                        .is_err()
                    {
                        // The handler has run: this is the last use.
                        // SAFETY: the parts are gone; only the block is left.
                        unsafe { ((*this.as_ptr()).free)(this) };
                    }
                    return false;
                }
            }
        }
    }

    /// Records the outcome, ends the operation's flight (a cancellation
    /// request arriving from now on finds nothing to cancel), and hands
    /// the finished operation over to be queued.
    ///
    /// # Safety
    /// `this` is a live operation that the kernel no longer holds and that
    /// the caller owns.
    pub(crate) unsafe fn land(this: NonNull<CompletionHeader>, result: io::Result<usize>) -> OpPtr {
        // SAFETY: caller's contract: nobody else touches the block.
        unsafe {
            let h = this.as_ptr();
            (*h).result = result;
            if let Some(flight) = (*h).flight.as_ref() {
                *flight.lock() = Flight::Landed;
            }
            OpPtr::from_raw(this.cast())
        }
    }
}

/// An operation, its handler and everything the kernel uses: one block.
#[repr(C)]
pub(crate) struct CompletionOp<O, H> {
    header: CompletionHeader,
    op: ManuallyDrop<O>,
    handler: ManuallyDrop<H>,
    /// The handler's cancellation slot installation, and the flight record
    /// the header points to.
    cancel: ManuallyDrop<Option<(CancellationSlot, u64, Arc<InFlight>)>>,
    /// Where the block goes when the operation ends (its I/O object's spare
    /// for this kind of operation), or null. Spares live as long as the
    /// reactor, which outlives every operation.
    spare: *const Spare,
}

/// A freshly allocated operation, not started: its owner may reach the
/// operation's parts until it hands it over (to the kernel or a queue).
pub(crate) struct Unstarted<O> {
    header: NonNull<CompletionHeader>,
    op: *mut O,
    /// The flight record, if the handler can be cancelled.
    pub(crate) flight: Option<Arc<InFlight>>,
}

/// What the starter installs in the handler's cancellation slot.
pub(crate) struct SlotInstall {
    pub(crate) slot: CancellationSlot,
    pub(crate) id: u64,
}

impl<O: Completion, H: CompletionHandler<O::Args>> CompletionOp<O, H> {
    const LAYOUT: Layout = Layout::new::<Self>();

    /// Allocates the operation (from `spare` if it has a block). If the
    /// handler has a cancellation slot, also returns what to install in it.
    pub(crate) fn alloc(
        op: O,
        handler: H,
        spare: Option<&Spare>,
    ) -> (Unstarted<O>, Option<SlotInstall>) {
        let install = handler.cancellation_slot().map(|slot| SlotInstall {
            slot,
            id: crate::token::next_id(),
        });
        let flight = install.as_ref().map(|_| Arc::new(InFlight::default()));
        let block = recycle::alloc_with(Self::LAYOUT, spare).cast::<Self>();
        let this = block.as_ptr();
        // SAFETY: fresh memory with the layout of `Self`; the slot is
        // zeroed, as the kernel requires of a new request.
        unsafe {
            this.write(CompletionOp {
                header: CompletionHeader {
                    op: OpHeader::new(Self::func),
                    slot: std::mem::zeroed(),
                    result: Ok(0),
                    flight: flight.as_ref().map_or(ptr::null(), Arc::as_ptr),
                    late: AtomicU8::new(Late::SETTLED),
                    free: Self::free,
                },
                op: ManuallyDrop::new(op),
                handler: ManuallyDrop::new(handler),
                cancel: ManuallyDrop::new(
                    install
                        .as_ref()
                        .zip(flight.clone())
                        .map(|(i, f)| (i.slot.clone(), i.id, f)),
                ),
                spare: spare.map_or(ptr::null(), |s| s as *const Spare),
            });
            debug_assert_eq!(
                ptr::addr_of_mut!((*this).header.slot).cast::<u8>(),
                this.cast::<u8>().add(SLOT_OFFSET)
            );
            let op = ptr::addr_of_mut!((*this).op).cast::<O>();
            (
                Unstarted {
                    header: block.cast(),
                    op,
                    flight,
                },
                install,
            )
        }
    }

    /// Frees the block; its parts have been moved out.
    ///
    /// # Safety
    /// `h` is the header of a `Self` block whose parts were taken, used
    /// by nobody else.
    unsafe fn free(h: NonNull<CompletionHeader>) {
        let this = h.cast::<Self>().as_ptr();
        // SAFETY: caller's contract; the header is dropped in place (the
        // result was moved out with the parts).
        unsafe {
            let spare = (*this).spare.as_ref();
            ptr::drop_in_place(ptr::addr_of_mut!((*this).header.op));
            recycle::dealloc_with(h.cast(), Self::LAYOUT, spare);
        }
    }

    unsafe fn func(p: NonNull<OpHeader>, action: Action) {
        let this = p.cast::<Self>().as_ptr();
        // SAFETY: we own the live operation, which the kernel no longer
        // holds (it was harvested, or never started, or completed at once
        // with its packet uncertain). Its parts are moved out, then the
        // block is freed (unless a packet may still come for it: see
        // `Late`); the handler then runs on memory that is no longer the
        // operation's.
        let (op, handler, cancel, result) = unsafe {
            let op = ManuallyDrop::into_inner(ptr::read(&(*this).op));
            let handler = ManuallyDrop::into_inner(ptr::read(&(*this).handler));
            let cancel = ManuallyDrop::into_inner(ptr::read(&(*this).cancel));
            let result = ptr::read(&(*this).header.result);
            let late = &(*this).header.late;
            let keep = late.load(SeqCst) != Late::SETTLED
                && late
                    .compare_exchange(Late::UNCERTAIN, Late::RAN, SeqCst, SeqCst)
                    .is_ok();
            if !keep {
                Self::free(p.cast());
            }
            (op, handler, cancel, result)
        };
        // Finished: a later request must not reach a successor.
        if let Some((slot, id, _flight)) = cancel {
            slot.clear_if(id);
        }
        #[cfg(all(windows, not(loom)))]
        let result = if O::KEEPS_WHAT_FITTED {
            crate::sys::windows::status::what_fitted(result)
        } else {
            result
        };
        match action {
            Action::Run => handler.complete(op.into_args(result)),
            Action::Destroy => drop((op, handler)),
        }
    }
}

impl<O> Unstarted<O> {
    /// The block's header.
    pub(crate) fn header(&self) -> NonNull<CompletionHeader> {
        self.header
    }

    /// The operation and its slot, to issue its call. After the call has
    /// handed it to the kernel, neither may be touched (the completion
    /// can be harvested and run on another thread at once): the caller
    /// then gives up the operation with [`Unstarted::launched`].
    pub(crate) fn parts(&mut self) -> (&mut O, *mut OpSlot) {
        // SAFETY: the block is live and ours until it is handed over.
        unsafe { (&mut *self.op, CompletionHeader::slot(self.header)) }
    }

    /// Finishes the operation without the kernel: it is ready to be queued.
    pub(crate) fn finish(mut self, result: io::Result<usize>) -> OpPtr {
        let header = self.header;
        // The block keeps its own reference to the record.
        drop(self.flight.take());
        std::mem::forget(self);
        // SAFETY: never handed to the kernel, so ours alone.
        unsafe { CompletionHeader::land(header, result) }
    }

    /// The kernel holds the operation now: only its completion ends it.
    pub(crate) fn launched(mut self) {
        // The block keeps its own reference to the record.
        drop(self.flight.take());
        std::mem::forget(self);
    }
}

impl<O> Drop for Unstarted<O> {
    fn drop(&mut self) {
        // SAFETY: never handed over, so ours alone: destroyed unrun.
        drop(unsafe { OpPtr::from_raw(self.header.cast()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// An operation that only reports its result.
    struct Probe;

    impl Completion for Probe {
        type Args = (io::Result<usize>,);

        fn into_args(self, result: io::Result<usize>) -> Self::Args {
            (result,)
        }
    }

    /// A handler that counts its runs and records the result.
    fn probe(runs: &Arc<AtomicUsize>) -> (Unstarted<Probe>, NonNull<CompletionHeader>) {
        let runs = runs.clone();
        let (op, _) = CompletionOp::alloc(
            Probe,
            move |r: io::Result<usize>| {
                assert_eq!(r.unwrap(), 7);
                runs.fetch_add(1, SeqCst);
            },
            None,
        );
        let header = op.header();
        (op, header)
    }

    #[test]
    fn an_ordinary_packet_ends_its_operation() {
        let runs = Arc::new(AtomicUsize::new(0));
        let (op, header) = probe(&runs);
        op.launched();
        // SAFETY: the block is alive and, "harvested", ours.
        unsafe {
            assert!(CompletionHeader::packet_ends_it(header));
            CompletionHeader::land(header, Ok(7)).complete();
        }
        assert_eq!(runs.load(SeqCst), 1);
    }

    /// A call completed at once whose packet may still come: the handler
    /// runs once whether the packet comes before it runs, after, or never,
    /// and the packet is turned away.
    #[test]
    fn an_uncertain_packet_never_runs_the_operation_again() {
        for packet_first in [true, false] {
            let runs = Arc::new(AtomicUsize::new(0));
            let (op, header) = probe(&runs);
            // SAFETY: the block is ours; the "packet" below is handled
            // after the verdict, as the poller's would be.
            unsafe {
                CompletionHeader::issuing(header);
                CompletionHeader::settle(header, Late::UNCERTAIN);
            }
            let done = op.finish(Ok(7));
            if packet_first {
                // SAFETY: the block is alive until both have been.
                assert!(!unsafe { CompletionHeader::packet_ends_it(header) });
            }
            done.complete();
            if !packet_first {
                // SAFETY: kept alive for the packet, which frees it.
                assert!(!unsafe { CompletionHeader::packet_ends_it(header) });
            }
            assert_eq!(runs.load(SeqCst), 1, "packet first: {packet_first}");
        }
    }
}
