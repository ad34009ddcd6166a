//! Files: `RandomAccessFile` and `StreamFile`, on whichever backend the
//! environment picks (the io_uring pass of CI runs them on the ring).
#![cfg(unix)]

use proactor::error::bytes_transferred;
use proactor::file::{RandomAccessFile, StreamFile};
use proactor::{async_read, async_read_until, async_write, IoContext, UseFuture};
use std::io::{self, SeekFrom};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

/// A fresh path in the temporary directory, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let p = std::env::temp_dir().join(format!(
            "proactor-test-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn reads_and_writes_at_offsets() {
    let ctx = IoContext::new().unwrap();
    let path = TempPath::new("offsets");
    let f = RandomAccessFile::create(&ctx.executor(), &path.0).unwrap();
    // Written out of order, each at its place.
    let (w1, w2) = (
        f.async_write_some_at(6, b"world".to_vec(), UseFuture),
        f.async_write_some_at(0, b"hello ".to_vec(), UseFuture),
    );
    let ((r1, _), (r2, _)) = ctx.block_on(async { (w1.await, w2.await) });
    assert_eq!((r1.unwrap(), r2.unwrap()), (5, 6));
    assert_eq!(std::fs::read(&path.0).unwrap(), b"hello world");
    assert_eq!(f.size().unwrap(), 11);

    let (r, buf) = ctx.block_on(f.async_read_some_at(3, Vec::with_capacity(5), UseFuture));
    assert_eq!(r.unwrap(), 5);
    assert_eq!(buf, b"lo wo");
    // At and past the end: zero bytes, no error.
    let (r, buf) = ctx.block_on(f.async_read_some_at(11, Vec::with_capacity(5), UseFuture));
    assert_eq!((r.unwrap(), buf.len()), (0, 0));
    let (r, _) = ctx.block_on(f.async_read_some_at(1 << 40, Vec::with_capacity(5), UseFuture));
    assert_eq!(r.unwrap(), 0);
}

#[test]
fn whole_buffer_transfers_and_a_short_file() {
    let ctx = IoContext::new().unwrap();
    let path = TempPath::new("whole");
    let f = RandomAccessFile::create(&ctx.executor(), &path.0).unwrap();
    let data: Vec<u8> = (0..(3 << 20)).map(|i| (i % 251) as u8).collect();
    let (r, back) = ctx.block_on(f.async_write_at(0, data, UseFuture));
    assert_eq!(r.unwrap(), 3 << 20);
    assert_eq!(std::fs::read(&path.0).unwrap(), back);

    let (r, buf) = ctx.block_on(f.async_read_at(1000, Vec::with_capacity(1 << 20), UseFuture));
    assert_eq!(r.unwrap(), 1 << 20);
    assert_eq!(buf[..], back[1000..1000 + (1 << 20)]);

    // Asking for more than is left: the bytes there, then end of file.
    let (r, buf) = ctx.block_on(f.async_read_at((3 << 20) - 10, Vec::with_capacity(64), UseFuture));
    let e = r.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(bytes_transferred(&e), 10);
    assert_eq!(buf[..], back[(3 << 20) - 10..]);

    // Nothing to write completes at once with 0.
    let (r, _) = ctx.block_on(f.async_write_at(5, Vec::new(), UseFuture));
    assert_eq!(r.unwrap(), 0);
}

#[test]
fn operations_started_together_complete_in_order() {
    let ctx = IoContext::new().unwrap();
    let path = TempPath::new("order");
    std::fs::write(&path.0, (0..=255u8).collect::<Vec<u8>>()).unwrap();
    let f = RandomAccessFile::open(&ctx.executor(), &path.0).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for i in 0..32u64 {
        let seen = seen.clone();
        f.async_read_some_at(
            i * 8,
            Vec::with_capacity(1),
            move |r: io::Result<usize>, buf: Vec<u8>| {
                assert_eq!(r.unwrap(), 1);
                seen.lock().unwrap().push(buf[0]);
            },
        );
    }
    assert_eq!(ctx.run(), 32);
    let want: Vec<u8> = (0..32u8).map(|i| i * 8).collect();
    assert_eq!(*seen.lock().unwrap(), want);
}

#[test]
fn a_stream_file_reads_and_writes_at_its_position() {
    let ctx = IoContext::new().unwrap();
    let path = TempPath::new("stream");
    let f = StreamFile::create(&ctx.executor(), &path.0).unwrap();
    let (r, _) = ctx.block_on(async_write(
        &f,
        b"first line\nsecond line\n".to_vec(),
        UseFuture,
    ));
    assert_eq!(r.unwrap(), 23);
    let (r, _) = ctx.block_on(async_write(&f, b"third\n".to_vec(), UseFuture));
    assert_eq!(r.unwrap(), 6);
    assert_eq!(
        std::fs::read(&path.0).unwrap(),
        b"first line\nsecond line\nthird\n"
    );

    assert_eq!(f.seek(SeekFrom::Start(0)).unwrap(), 0);
    let (r, line) = ctx.block_on(async_read_until(&f, Vec::new(), b'\n', UseFuture));
    assert_eq!(r.unwrap(), 11);
    assert_eq!(&line[..11], b"first line\n");
    // The position moved past what was read (the delimiter search may
    // have read more into `line`).
    let pos = f.seek(SeekFrom::Current(0)).unwrap();
    assert_eq!(pos, line.len() as u64);

    f.seek(SeekFrom::Start(11)).unwrap();
    let (r, buf) = ctx.block_on(async_read(&f, Vec::with_capacity(12), UseFuture));
    assert_eq!(r.unwrap(), 12);
    assert_eq!(buf, b"second line\n");
    // Reading at the end: end of stream.
    f.seek(SeekFrom::End(0)).unwrap();
    let (r, _) = ctx.block_on(f.async_read_some(Vec::with_capacity(8), UseFuture));
    assert_eq!(r.unwrap(), 0);
}

#[test]
fn a_closed_file_fails_its_operations_and_options_say_so() {
    let ctx = IoContext::new().unwrap();
    let path = TempPath::new("closed");
    let f = RandomAccessFile::create(&ctx.executor(), &path.0).unwrap();
    f.resize(4096).unwrap();
    assert_eq!(f.size().unwrap(), 4096);
    f.sync_all().unwrap();
    f.sync_data().unwrap();
    assert!(f.is_open());
    f.close().unwrap();
    assert!(!f.is_open());
    let (tx, rx) = mpsc::channel();
    f.async_read_some_at(
        0,
        Vec::with_capacity(8),
        move |r: io::Result<usize>, _: Vec<u8>| tx.send(r.map(drop)).unwrap(),
    );
    ctx.run();
    assert!(rx.try_recv().unwrap().is_err());
    assert!(f.size().is_err());
}

#[test]
fn opening_a_missing_file_fails() {
    let ctx = IoContext::new().unwrap();
    let path = TempPath::new("missing");
    let e = RandomAccessFile::open(&ctx.executor(), &path.0).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let e = StreamFile::open(&ctx.executor(), &path.0).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}
