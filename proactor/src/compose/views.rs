//! Buffer views that composed operations pass to the `*_some` operations.

use crate::buf::{IoBuf, IoBufMut};

/// The data of `buf` from `offset` on: what is left to write.
pub(crate) struct Tail<B> {
    pub(crate) buf: B,
    pub(crate) offset: usize,
}

// SAFETY: a suffix of `buf`'s data, at `buf`'s stable address.
unsafe impl<B: IoBuf> IoBuf for Tail<B> {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: `offset <= bytes_init()` (kept by the write loop).
        unsafe { self.buf.stable_ptr().add(self.offset) }
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init() - self.offset
    }
}

/// `buf` with its room capped at `limit` bytes in all.
pub(crate) struct Capped<B> {
    pub(crate) buf: B,
    pub(crate) limit: usize,
}

// SAFETY: forwards to `buf`.
unsafe impl<B: IoBuf> IoBuf for Capped<B> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init()
    }
}

// SAFETY: a prefix of `buf`'s room; lengths are checked against the cap.
unsafe impl<B: IoBufMut> IoBufMut for Capped<B> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.buf
            .bytes_total()
            .min(self.limit.max(self.buf.bytes_init()))
    }
    unsafe fn set_init(&mut self, len: usize) {
        // SAFETY: forwarded; `len <= bytes_total() <= buf.bytes_total()`.
        unsafe { self.buf.set_init(len) }
    }
}
