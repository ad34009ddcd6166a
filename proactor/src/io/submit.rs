//! The same operations as `ops.rs`, performed by an io_uring (Linux): each
//! says which request does its system call, and takes the kernel's result.
//!
//! Everything a request points to (the buffer's spare capacity, the
//! `msghdr`, the address storage) lives in the operation, inside its block,
//! which stays where it is until the completion is reaped (see
//! `crate::completion`).

use super::ops::{
    is_transient_accept_error, with_sock, Accept, AcceptAs, ConnectWait, FromFd, Io, ReadSome,
    RecvFrom, SendTo, WriteSome,
};
use super::IoCore;
use crate::buf::{IoBuf, IoBufMut};
use crate::completion::{Completion, CompletionOp};
use crate::reactor::descriptor::DescriptorState;
use crate::reactor::op::{OpKind, RawFd, Reactive};
use crate::reactor::{Reactor, StateRef};
use crate::sync::Arc;
use crate::token::CompletionHandler;
use io_uring::{opcode, squeue::Entry, types::Fd};
use socket2::SockAddr;
use std::io;
use std::mem;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr::{self, NonNull};

/// An operation an io_uring can perform.
pub(crate) trait Submit: Reactive {
    /// The request that performs it on `fd`, or why there is none. The
    /// request may point into `self`, which stays where it is until the
    /// completion is reaped; it is built again if `complete` asks.
    fn prep(&mut self, fd: RawFd) -> io::Result<Entry>;

    /// Takes the kernel's result (`fd` is the descriptor, still open
    /// unless the result says otherwise). False: nothing the handler
    /// should see happened, submit it again.
    fn complete(&mut self, fd: RawFd, res: io::Result<usize>) -> bool;

    /// An accept: the ring serves it from the descriptor's multishot
    /// accept instead of a request of its own (`prep` is not called).
    const ACCEPT: bool = false;
}

/// What an I/O object's operation is on Linux: both kinds, so that the
/// context's backend picks.
pub(crate) trait IoOp: Reactive + Submit {}
impl<T: Reactive + Submit> IoOp for T {}

/// A [`Submit`] operation as a completion operation: its outcome is in
/// the operation (`complete` took it), so the header's result is unused.
pub(crate) struct Native<O>(pub(crate) O);

impl<O: Submit> Completion for Native<O> {
    type Args = O::Args;

    fn into_args(self, _: io::Result<usize>) -> O::Args {
        self.0.into_args()
    }
}

impl IoCore {
    /// `start` on a context whose backend is an io_uring.
    pub(super) fn start_on_ring<O: Submit, H: CompletionHandler<O::Args>>(
        &self,
        (r, s): &(Arc<Reactor>, NonNull<DescriptorState>),
        kind: OpKind,
        op: O,
        handler: H,
    ) {
        self.executor().sched.work_started();
        let (op, install) = CompletionOp::alloc(Native(op), handler, self.spare(kind));
        if let (Some(i), Some(flight)) = (install, op.flight.clone()) {
            let (reactor, state, block) = (r.clone(), StateRef(*s), op.header().as_ptr() as usize);
            i.slot.install_as(i.id, move |_| {
                // SAFETY: the state lives as long as `reactor`, held here.
                reactor.cancel_submission(unsafe { state.get() }, kind, block, &flight)
            });
        }
        // SAFETY: `s` is our pooled state, alive while `r` is.
        r.start_submission(unsafe { s.as_ref() }, kind, op)
    }
}

/// Lengths the kernel takes in one request.
fn clamp(len: usize) -> u32 {
    len.min(u32::MAX as usize) as u32
}

/// Records a read's outcome in `buf` and `result`.
fn filled<B: IoBufMut>(buf: &mut B, result: &mut io::Result<usize>, res: io::Result<usize>) {
    if let Ok(n) = res {
        let init = buf.bytes_init();
        // SAFETY: the kernel initialised `n` bytes after the data.
        unsafe { buf.set_init(init + n) };
    }
    *result = res;
}

impl<B: IoBufMut> Submit for ReadSome<B> {
    fn prep(&mut self, fd: RawFd) -> io::Result<Entry> {
        let spare = self.buf.spare();
        let (p, len) = (spare.as_mut_ptr().cast::<u8>(), clamp(spare.len()));
        Ok(match self.how {
            Io::Socket => opcode::Recv::new(Fd(fd), p, len).build(),
            // The current position (-1): pipes, ttys, stream files.
            Io::Descriptor | Io::File => opcode::Read::new(Fd(fd), p, len).offset(u64::MAX).build(),
            Io::At(offset) => opcode::Read::new(Fd(fd), p, len).offset(offset).build(),
        })
    }

    fn complete(&mut self, _fd: RawFd, res: io::Result<usize>) -> bool {
        filled(&mut self.buf, &mut self.result, res);
        true
    }
}

impl<B: IoBuf> Submit for WriteSome<B> {
    fn prep(&mut self, fd: RawFd) -> io::Result<Entry> {
        let data = self.buf.as_slice();
        let (p, len) = (data.as_ptr(), clamp(data.len()));
        Ok(match self.how {
            Io::Socket => opcode::Send::new(Fd(fd), p, len)
                .flags(libc::MSG_NOSIGNAL)
                .build(),
            Io::Descriptor | Io::File => {
                opcode::Write::new(Fd(fd), p, len).offset(u64::MAX).build()
            }
            Io::At(offset) => opcode::Write::new(Fd(fd), p, len).offset(offset).build(),
        })
    }

    fn complete(&mut self, _fd: RawFd, res: io::Result<usize>) -> bool {
        self.result = res;
        true
    }
}

/// A `msghdr` with one buffer and room for an address, kept in a
/// datagram operation.
pub(crate) struct Msg {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
}

impl Default for Msg {
    fn default() -> Self {
        // SAFETY: all three are plain C structures for which zero is a
        // valid (empty) value.
        unsafe { mem::zeroed() }
    }
}

// SAFETY: the pointers are into the operation that holds the `Msg` (its
// buffer, its own fields), so they move between threads with it.
unsafe impl Send for Msg {}

impl Msg {
    /// Points the header at `len` bytes at `p` and at `name` (`namelen`
    /// bytes; the own storage if null). The `Msg` must not move until
    /// the request completes.
    fn aim(&mut self, p: *mut u8, len: usize, name: *const libc::sockaddr, namelen: u32) {
        self.iov = libc::iovec {
            iov_base: p.cast(),
            iov_len: len,
        };
        // SAFETY: zero is a valid `msghdr`.
        self.hdr = unsafe { mem::zeroed() };
        self.hdr.msg_iov = &mut self.iov;
        self.hdr.msg_iovlen = 1;
        if name.is_null() {
            self.hdr.msg_name = ptr::addr_of_mut!(self.addr).cast();
            self.hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as u32;
        } else {
            self.hdr.msg_name = name.cast_mut().cast();
            self.hdr.msg_namelen = namelen;
        }
    }

    /// The address the kernel stored.
    fn peer(&self) -> SockAddr {
        // SAFETY: the kernel wrote `msg_namelen` bytes of an address into
        // the storage.
        unsafe { SockAddr::new(self.addr, self.hdr.msg_namelen) }
    }
}

impl<B: IoBufMut> Submit for RecvFrom<B> {
    fn prep(&mut self, fd: RawFd) -> io::Result<Entry> {
        let spare = self.buf.spare();
        let (p, len) = (spare.as_mut_ptr().cast::<u8>(), spare.len());
        self.msg.aim(p, len, ptr::null(), 0);
        Ok(opcode::RecvMsg::new(Fd(fd), &mut self.msg.hdr).build())
    }

    fn complete(&mut self, _fd: RawFd, res: io::Result<usize>) -> bool {
        let mut n = Ok(0);
        filled(&mut self.buf, &mut n, res);
        self.result = n.map(|n| (n, self.msg.peer()));
        true
    }
}

impl<B: IoBuf> Submit for SendTo<B> {
    fn prep(&mut self, fd: RawFd) -> io::Result<Entry> {
        let Some(to) = &self.to else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let (name, namelen) = (to.as_ptr(), to.len());
        let data = self.buf.as_slice();
        self.msg
            .aim(data.as_ptr().cast_mut(), data.len(), name, namelen);
        Ok(opcode::SendMsg::new(Fd(fd), &self.msg.hdr)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build())
    }

    fn complete(&mut self, _fd: RawFd, res: io::Result<usize>) -> bool {
        self.result = res;
        true
    }
}

/// Room for an accepted connection's address.
pub(crate) struct Peer {
    addr: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl Default for Peer {
    fn default() -> Self {
        // SAFETY: zero is a valid value of both.
        unsafe { mem::zeroed() }
    }
}

impl Submit for Accept {
    const ACCEPT: bool = true;

    fn prep(&mut self, fd: RawFd) -> io::Result<Entry> {
        self.peer.len = mem::size_of::<libc::sockaddr_storage>() as u32;
        Ok(opcode::Accept::new(
            Fd(fd),
            ptr::addr_of_mut!(self.peer.addr).cast(),
            &mut self.peer.len,
        )
        .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
        .build())
    }

    fn complete(&mut self, _fd: RawFd, res: io::Result<usize>) -> bool {
        self.result = match res {
            // The connection went away before we took it: take the next.
            Err(e) if is_transient_accept_error(&e) => return false,
            Err(e) => Err(e),
            Ok(new) => {
                // SAFETY: the kernel returned a new descriptor, ours.
                let fd = unsafe { OwnedFd::from_raw_fd(new as RawFd) };
                // SAFETY: the kernel stored `len` bytes of the address.
                Ok((fd, unsafe { SockAddr::new(self.peer.addr, self.peer.len) }))
            }
        };
        true
    }
}

impl<S: FromFd> Submit for AcceptAs<S> {
    const ACCEPT: bool = true;

    fn prep(&mut self, fd: RawFd) -> io::Result<Entry> {
        self.accept.prep(fd)
    }

    fn complete(&mut self, fd: RawFd, res: io::Result<usize>) -> bool {
        self.accept.complete(fd, res)
    }
}

/// A non-blocking connect is under way: wait until the socket is
/// writable, then read its pending error.
impl Submit for ConnectWait {
    fn prep(&mut self, fd: RawFd) -> io::Result<Entry> {
        Ok(opcode::PollAdd::new(Fd(fd), libc::POLLOUT as u32).build())
    }

    fn complete(&mut self, fd: RawFd, res: io::Result<usize>) -> bool {
        self.result = res
            .and_then(|_| match fd {
                // Closed since (the poll finished just before).
                -1 => Err(crate::error::operation_aborted()),
                _ => with_sock(fd, |s| s.take_error()),
            })
            .and_then(|pending| match pending {
                None => Ok(()),
                Some(e) => Err(e),
            });
        true
    }
}
