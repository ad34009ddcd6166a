//! Owned buffers for I/O operations.
//!
//! An operation takes its buffer by value and hands it back with the
//! result, so the memory the kernel reads or writes is owned by the
//! operation until it completes, whatever happens to the caller (a dropped
//! future, a closed socket). That is what makes completion backends
//! (io_uring, IOCP) sound.
//!
//! * [`IoBuf`]: data to send, `buf[..len]`: `Vec<u8>`, `Box<[u8]>`,
//!   `String`, static slices and strings, and shared `Arc<[u8]>`,
//!   `Arc<str>`, `Arc<Vec<u8>>`, `Arc<String>` (one message written to many
//!   sockets without copying).
//! * [`IoBufMut`]: room to receive: a read writes into `len..capacity` and
//!   advances the length by the number of bytes read.
//!
//! ```
//! use proactor::{IoBuf, IoBufMut};
//!
//! let mut v = Vec::with_capacity(8);
//! v.extend_from_slice(b"ab");
//! assert_eq!(v.bytes_init(), 2);
//! assert_eq!(v.bytes_total(), v.capacity());
//! assert_eq!(IoBuf::as_slice(&"hello"), b"hello");
//! ```

/// A buffer whose first [`bytes_init`](IoBuf::bytes_init) bytes can be
/// sent.
///
/// # Safety
/// The pointer returned by [`stable_ptr`](IoBuf::stable_ptr) must point to
/// `bytes_init()` readable bytes, and stay valid and unchanged while the
/// value is not used mutably, even if the value itself is moved: the kernel
/// may read through it after the initiating call returned.
pub unsafe trait IoBuf: Send + 'static {
    /// Start of the data.
    fn stable_ptr(&self) -> *const u8;

    /// How many bytes are data (what a write sends).
    fn bytes_init(&self) -> usize;

    /// The data as a slice.
    ///
    /// ```
    /// use proactor::IoBuf;
    /// assert_eq!(vec![1u8, 2].as_slice(), &[1, 2]);
    /// ```
    fn as_slice(&self) -> &[u8] {
        // SAFETY: the trait's contract.
        unsafe { std::slice::from_raw_parts(self.stable_ptr(), self.bytes_init()) }
    }
}

/// A buffer with room to receive into: `bytes_init()..bytes_total()`.
///
/// # Safety
/// As for [`IoBuf`], for `bytes_total()` writable bytes through
/// [`stable_mut_ptr`](IoBufMut::stable_mut_ptr); and
/// [`set_init`](IoBufMut::set_init) must accept any length up to
/// `bytes_total()` once those bytes are initialised.
pub unsafe trait IoBufMut: IoBuf {
    /// Start of the buffer, for writing.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Total room: the data plus the spare space a read may fill.
    fn bytes_total(&self) -> usize;

    /// Marks the first `len` bytes as data.
    ///
    /// # Safety
    /// `len <= bytes_total()`, and the first `len` bytes are initialised.
    unsafe fn set_init(&mut self, len: usize);

    /// The spare room, as a slice of possibly uninitialised bytes.
    fn spare(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        let (init, total) = (self.bytes_init(), self.bytes_total());
        // SAFETY: the trait's contract: `total` writable bytes.
        unsafe {
            std::slice::from_raw_parts_mut(self.stable_mut_ptr().add(init).cast(), total - init)
        }
    }
}

/// Implements [`IoBuf`] for types that deref to bytes which stay put while
/// the value moves.
macro_rules! stable_bytes {
    ($($(#[$why:meta])* $t:ty;)*) => {$(
        $(#[$why])*
        unsafe impl IoBuf for $t {
            fn stable_ptr(&self) -> *const u8 {
                <[u8]>::as_ptr((**self).as_ref())
            }
            fn bytes_init(&self) -> usize {
                <[u8]>::len((**self).as_ref())
            }
        }
    )*};
}

stable_bytes! {
    // SAFETY: a Vec's heap pointer does not change when the Vec moves, and
    // its contents are `len` initialised bytes.
    Vec<u8>;
    // SAFETY: as for Vec.
    Box<[u8]>;
    // SAFETY: a String's heap buffer, like a Vec's.
    String;
    // SAFETY: static data never moves or changes.
    &'static [u8];
    // SAFETY: as for `&'static [u8]`.
    &'static str;
    // SAFETY: shared data behind an `Arc` cannot change while this handle
    // exists (mutation needs a unique handle) and does not move with it.
    std::sync::Arc<[u8]>;
    // SAFETY: as for `Arc<[u8]>`.
    std::sync::Arc<str>;
    // SAFETY: as for `Arc<[u8]>`: the Vec cannot be reached mutably, so its
    // heap buffer neither changes nor moves.
    std::sync::Arc<Vec<u8>>;
    // SAFETY: as for `Arc<Vec<u8>>`.
    std::sync::Arc<String>;
}

// SAFETY: `capacity` writable bytes behind a pointer that survives moves.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, len: usize) {
        // SAFETY: forwarded to the caller.
        unsafe { self.set_len(len) }
    }
}

// SAFETY: as for `&'static [u8]`.
unsafe impl<const N: usize> IoBuf for &'static [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
}

#[cfg(feature = "bytes")]
mod bytes_impls {
    use super::{IoBuf, IoBufMut};

    // SAFETY: `Bytes` is an immutable view of heap (or static) memory that
    // does not move with the handle.
    unsafe impl IoBuf for bytes::Bytes {
        fn stable_ptr(&self) -> *const u8 {
            self.as_ptr()
        }
        fn bytes_init(&self) -> usize {
            self.len()
        }
    }

    // SAFETY: `BytesMut` owns its heap buffer; moving the handle does not
    // move it.
    unsafe impl IoBuf for bytes::BytesMut {
        fn stable_ptr(&self) -> *const u8 {
            self.as_ptr()
        }
        fn bytes_init(&self) -> usize {
            self.len()
        }
    }

    // SAFETY: `capacity()` writable bytes in the owned buffer.
    unsafe impl IoBufMut for bytes::BytesMut {
        fn stable_mut_ptr(&mut self) -> *mut u8 {
            self.as_mut_ptr()
        }
        fn bytes_total(&self) -> usize {
            self.capacity()
        }
        unsafe fn set_init(&mut self, len: usize) {
            // SAFETY: forwarded to the caller.
            unsafe { self.set_len(len) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_reads_fill_spare_capacity() {
        let mut v = Vec::with_capacity(4);
        v.push(1u8);
        let cap = v.capacity();
        let spare = v.spare();
        assert_eq!(spare.len(), cap - 1);
        spare[0].write(2);
        // SAFETY: the first two bytes are initialised.
        unsafe { v.set_init(2) };
        assert_eq!(v, [1, 2]);
    }

    #[test]
    fn static_and_string_buffers() {
        assert_eq!(IoBuf::as_slice(&"abc"), b"abc");
        assert_eq!(IoBuf::as_slice(&String::from("xy")), b"xy");
        assert_eq!(IoBuf::as_slice(&&b"123"[..]), b"123");
        assert_eq!(IoBuf::as_slice(&b"12"), b"12");
        assert_eq!(IoBuf::as_slice(&vec![9u8].into_boxed_slice()), [9]);
    }

    #[test]
    fn shared_buffers_point_at_the_shared_bytes() {
        use std::sync::Arc;
        let v = Arc::new(b"shared".to_vec());
        let b = v.clone();
        assert_eq!(b.stable_ptr(), v.as_ptr());
        assert_eq!(IoBuf::as_slice(&b), b"shared");
        assert_eq!(IoBuf::as_slice(&Arc::<[u8]>::from(&b"s"[..])), b"s");
        assert_eq!(IoBuf::as_slice(&Arc::<str>::from("t")), b"t");
        assert_eq!(IoBuf::as_slice(&Arc::new(String::from("u"))), b"u");
    }
}
