//! EMFILE on accept: the acceptor reports it and goes on serving once
//! descriptors free up. The scenario runs in a child process (this test
//! binary, re-run with `--ignored`) whose descriptor limit it lowers.
#![cfg(unix)]

use proactor::net::{TcpAcceptor, TcpSocket};
use proactor::IoContext;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

#[test]
fn emfile_on_accept_is_reported_and_the_acceptor_recovers() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "emfile_scenario",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("child output").unwrap();
        // libtest prints the test's name on the same line.
        if let Some(i) = line.find("PORT ") {
            break line[i + 5..].trim().parse().unwrap();
        }
    };
    // The connection waits in the backlog while the child has no
    // descriptor to accept it with; the child starts accepting once told.
    let _conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    writeln!(child.stdin.take().unwrap(), "CONNECTED").unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("REPORTED EMFILE")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("ACCEPTED AFTER EMFILE")),
        "{rest:?}"
    );
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run in a child process by emfile_on_accept_is_reported_and_the_acceptor_recovers"]
fn emfile_scenario() {
    let ctx = IoContext::new().unwrap();
    let acceptor =
        Arc::new(TcpAcceptor::bind(&ctx.executor(), "127.0.0.1:0".parse().unwrap()).unwrap());
    println!("PORT {}", acceptor.local_addr().unwrap().port());
    // Wait until the parent's connection is in the backlog.
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "CONNECTED");

    // Use up every descriptor under a low limit.
    let limit = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 64,
    };
    // SAFETY: plain system call with a valid argument.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let mut hogs = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hogs.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                break;
            }
        }
    }
    let hogs = Arc::new(Mutex::new(hogs));
    let a2 = acceptor.clone();
    acceptor.async_accept(move |r: io::Result<TcpSocket>| {
        let e = r.expect_err("no descriptor was free");
        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
        println!("REPORTED EMFILE");
        hogs.lock().unwrap().truncate(0); // descriptors free up
        a2.async_accept(|r: io::Result<TcpSocket>| {
            let s = r.expect("accept after descriptors were freed");
            assert!(s.peer_addr().unwrap().ip().is_loopback());
            println!("ACCEPTED AFTER EMFILE");
        });
    });
    ctx.run();
}
