//! Overlapped calls of one's own on the context's port
//! (`proactor::windows`).
#![cfg(windows)]

mod common;

use proactor::windows::{associate_handle, OverlappedPtr};
use proactor::IoContext;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsHandle, AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr;
use std::sync::mpsc;
use windows_sys::Win32::Foundation::{ERROR_IO_PENDING, ERROR_MORE_DATA, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    ReadFile, FILE_FLAG_OVERLAPPED, PIPE_ACCESS_INBOUND,
};
use windows_sys::Win32::System::Pipes::{
    CreateNamedPipeW, PIPE_READMODE_MESSAGE, PIPE_TYPE_MESSAGE, PIPE_WAIT,
};

#[test]
fn an_overlapped_file_read_completes_through_the_context() {
    let path = std::env::temp_dir().join(format!("proactor-overlapped-{}", std::process::id()));
    std::fs::write(&path, b"overlapped bytes").unwrap();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_OVERLAPPED)
        .open(&path)
        .unwrap();
    let ctx = IoContext::new().unwrap();
    // SAFETY: the only overlapped calls on `file` are this test's, each
    // with an OverlappedPtr of this context.
    unsafe { associate_handle(&ctx.executor(), file.as_handle()) }.unwrap();
    let mut buf = [0u8; 64];
    let n = overlapped_read(&ctx, file.as_raw_handle(), &mut buf, || {}).unwrap();
    assert_eq!(n, 16);
    assert_eq!(&buf[..16], b"overlapped bytes");
    drop(file);
    let _ = std::fs::remove_file(&path);
}

/// Reads into `buf` from `h` with an overlapped call of one's own; then
/// `meanwhile`, then runs the context until the handler has the result.
fn overlapped_read(
    ctx: &IoContext,
    h: RawHandle,
    buf: &mut [u8],
    meanwhile: impl FnOnce(),
) -> io::Result<usize> {
    let (tx, rx) = mpsc::channel();
    let mut ptr = OverlappedPtr::new(&ctx.executor(), move |r: io::Result<usize>| {
        tx.send(r).unwrap()
    })
    .unwrap();
    let ovl = ptr.get();
    // SAFETY: `h` is open for overlapped reads, `buf` stays writable until
    // the handler has run (below), and `ovl` is zeroed.
    let ok = unsafe { ReadFile(h, buf.as_mut_ptr(), buf.len() as u32, ptr::null_mut(), ovl) };
    let e = io::Error::last_os_error();
    if ok != 0 || e.raw_os_error() == Some(ERROR_IO_PENDING as i32) {
        ptr.release();
    } else {
        ptr.complete(Err(e));
    }
    assert!(
        rx.try_recv().is_err(),
        "the handler never runs inside the call"
    );
    meanwhile();
    ctx.restart();
    assert_eq!(ctx.run(), 1);
    rx.recv().unwrap()
}

#[test]
fn a_message_longer_than_the_buffer_is_reported_with_what_fitted() {
    let name: Vec<u16> = format!(r"\\.\pipe\proactor-more-data-{}", std::process::id())
        .encode_utf16()
        .chain([0])
        .collect();
    // SAFETY: `name` is a NUL-terminated UTF-16 string; no security
    // attributes.
    let raw = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED,
            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
            1,
            0,
            4096,
            0,
            ptr::null(),
        )
    };
    assert_ne!(raw, INVALID_HANDLE_VALUE, "{}", io::Error::last_os_error());
    // SAFETY: a handle just created, owned by nothing else.
    let server = unsafe { OwnedHandle::from_raw_handle(raw) };
    let path = String::from_utf16(&name[..name.len() - 1]).unwrap();
    let mut client = OpenOptions::new().write(true).open(&path).unwrap();
    let ctx = IoContext::new().unwrap();
    // SAFETY: the only overlapped calls on `server` are this test's, each
    // with an OverlappedPtr of this context.
    unsafe { associate_handle(&ctx.executor(), server.as_handle()) }.unwrap();

    // The read waits; the message that comes is longer than its buffer.
    let message = b"a message of 24 bytes..!";
    let mut head = [0u8; 8];
    let r = overlapped_read(&ctx, server.as_raw_handle(), &mut head, || {
        client.write_all(message).unwrap();
    });
    let e = r.expect_err("cut short");
    assert_eq!(
        proactor::error::root_cause(&e).raw_os_error(),
        Some(ERROR_MORE_DATA as i32),
        "{e}"
    );
    assert_eq!(proactor::error::bytes_transferred(&e), 8);
    assert_eq!(&head, &message[..8]);

    // The rest of the message is read next.
    let mut rest = [0u8; 64];
    let n = overlapped_read(&ctx, server.as_raw_handle(), &mut rest, || {}).unwrap();
    assert_eq!(&rest[..n], &message[8..]);
}

#[test]
fn a_call_that_failed_at_once_completes_posted() {
    let ctx = IoContext::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let ptr = OverlappedPtr::new(&ctx.executor(), move |r: io::Result<usize>| {
        tx.send(r.map_err(|e| e.kind())).unwrap()
    })
    .unwrap();
    ptr.complete(Err(io::ErrorKind::InvalidInput.into()));
    assert!(rx.try_recv().is_err(), "posted, not run inside complete");
    assert_eq!(ctx.run(), 1);
    assert_eq!(rx.recv().unwrap(), Err(io::ErrorKind::InvalidInput));
}

#[test]
fn an_unused_pointer_drops_its_handler_and_holds_no_work() {
    let ctx = IoContext::new().unwrap();
    let dropped = common::Counter::new();
    let probe = common::DropProbe(dropped.clone());
    let ptr = OverlappedPtr::new(&ctx.executor(), move |_: io::Result<usize>| {
        let _ = &probe;
        panic!("must not run");
    })
    .unwrap();
    drop(ptr);
    assert_eq!(dropped.get(), 1);
    assert_eq!(ctx.run(), 0, "no work left: run returns at once");
}
