//! Overlapped calls of one's own on the context's port
//! (`proactor::windows`).
#![cfg(windows)]

mod common;

use proactor::windows::{associate_handle, OverlappedPtr};
use proactor::IoContext;
use std::fs::OpenOptions;
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsHandle, AsRawHandle};
use std::sync::mpsc;
use windows_sys::Win32::Foundation::ERROR_IO_PENDING;
use windows_sys::Win32::Storage::FileSystem::{ReadFile, FILE_FLAG_OVERLAPPED};

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
    // Lives until the handler has run: the kernel writes into it.
    let mut buf = vec![0u8; 64];
    let (tx, rx) = mpsc::channel();
    let mut ptr = OverlappedPtr::new(&ctx.executor(), move |r: io::Result<usize>| {
        tx.send(r.map_err(|e| e.kind())).unwrap()
    })
    .unwrap();
    let ovl = ptr.get();
    // SAFETY: the handle is open for overlapped reads, `buf` is writable
    // for 64 bytes until the handler has run, and `ovl` is zeroed (offset
    // 0).
    let ok = unsafe {
        ReadFile(
            file.as_raw_handle(),
            buf.as_mut_ptr(),
            64,
            std::ptr::null_mut(),
            ovl,
        )
    };
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
    assert_eq!(ctx.run(), 1);
    assert_eq!(rx.recv().unwrap(), Ok(16));
    assert_eq!(&buf[..16], b"overlapped bytes");
    drop(file);
    let _ = std::fs::remove_file(&path);
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
