//! An owned I/O completion port.
//!
//! Only what the backend needs: create, associate a handle, post a packet,
//! dequeue a batch. Packets carry a completion key that says what they are
//! (see `poller.rs`).

use std::io;
use std::ptr;
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_TIMEOUT, HANDLE, INVALID_HANDLE_VALUE, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Threading::INFINITE;
use windows_sys::Win32::System::IO::{
    CreateIoCompletionPort, GetQueuedCompletionStatusEx, PostQueuedCompletionStatus, OVERLAPPED,
    OVERLAPPED_ENTRY,
};

pub(crate) struct CompletionPort {
    handle: HANDLE,
}

// SAFETY: a completion port handle may be used from any thread; the kernel
// serialises the calls on it.
unsafe impl Send for CompletionPort {}
// SAFETY: as for `Send`: every call through `&self` is thread-safe.
unsafe impl Sync for CompletionPort {}

/// The longest finite wait `GetQueuedCompletionStatusEx` takes, in
/// milliseconds (one less is the "no time limit" value).
pub(crate) const MAX_FINITE_MS: u32 = INFINITE - 1;

/// The "no time limit" value.
pub(crate) const NO_LIMIT_MS: u32 = INFINITE;

impl CompletionPort {
    pub(crate) fn new() -> io::Result<CompletionPort> {
        // SAFETY: creating a new port (no file handle, no existing port);
        // 0 concurrent threads means "as many as processors", which does
        // not matter while one thread at a time waits in the port.
        let handle = unsafe { CreateIoCompletionPort(INVALID_HANDLE_VALUE, ptr::null_mut(), 0, 0) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(CompletionPort { handle })
    }

    /// Associates `handle` (opened for overlapped I/O) with the port: its
    /// completions arrive with `key`. A handle is associated once, for its
    /// whole life; closing it ends the association.
    pub(crate) fn associate(&self, handle: HANDLE, key: usize) -> io::Result<()> {
        // SAFETY: both handles are live; associating an existing port
        // returns that port (no new handle to close) or null on failure.
        if unsafe { CreateIoCompletionPort(handle, self.handle, key, 0) }.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Queues a packet that no I/O produced.
    pub(crate) fn post(
        &self,
        key: usize,
        bytes: u32,
        overlapped: *mut OVERLAPPED,
    ) -> io::Result<()> {
        // SAFETY: the handle is a live port; the kernel copies the three
        // values and never dereferences `overlapped`.
        if unsafe { PostQueuedCompletionStatus(self.handle, bytes, key, overlapped) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes up to `entries.len()` packets, waiting up to `timeout_ms` for
    /// the first ([`NO_LIMIT_MS`]: for ever). Empty on timeout.
    pub(crate) fn dequeue<'e>(
        &self,
        entries: &'e mut [OVERLAPPED_ENTRY],
        timeout_ms: u32,
    ) -> io::Result<&'e [OVERLAPPED_ENTRY]> {
        let len = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let mut got = 0u32;
        // SAFETY: the handle is a live port; `entries` is writable for
        // `len` entries and `got` for one u32, both for the whole call
        // (not alertable, so no APC runs inside it).
        let ok = unsafe {
            GetQueuedCompletionStatusEx(
                self.handle,
                entries.as_mut_ptr(),
                len,
                &mut got,
                timeout_ms,
                0,
            )
        };
        if ok == 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error().map(|c| c as u32) {
                Some(WAIT_TIMEOUT | ERROR_TIMEOUT) => Ok(&[]),
                _ => Err(e),
            };
        }
        Ok(&entries[..(got as usize).min(entries.len())])
    }
}

impl Drop for CompletionPort {
    fn drop(&mut self) {
        // SAFETY: we own the handle and nobody waits in it: the poller
        // that owns us is dropped with its context, after the last run
        // call has returned.
        unsafe { CloseHandle(self.handle) };
    }
}
