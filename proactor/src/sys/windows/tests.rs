//! The completion port and the poller on it, without a scheduler.

use super::iocp::{CompletionPort, MAX_FINITE_MS};
use super::poller::{timeout_ms, Poller, WAKE};
use crate::busy_poll::BusyPoll;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};
use windows_sys::Win32::System::IO::OVERLAPPED_ENTRY;

const HANG: Duration = Duration::from_secs(30);

/// Packets waiting in the port, taken out without blocking.
fn drain(port: &CompletionPort) -> Vec<(usize, u32, usize)> {
    let mut entries = [OVERLAPPED_ENTRY::default(); 8];
    let got = port.dequeue(&mut entries, 0).unwrap();
    got.iter()
        .map(|e| {
            (
                e.lpCompletionKey,
                e.dwNumberOfBytesTransferred,
                e.lpOverlapped as usize,
            )
        })
        .collect()
}

/// `p.wait(timeout)` on another thread; its result, or a failure if it
/// never returns.
fn wait_on_thread(p: &Arc<Poller>, timeout: Option<Duration>) -> mpsc::Receiver<bool> {
    let (tx, rx) = mpsc::channel();
    let p = p.clone();
    thread::spawn(move || {
        let busy = BusyPoll::new();
        tx.send(p.wait(timeout, &busy, 0, |_, _| {})).unwrap();
    });
    rx
}

/// Blocks until a thread waits in the poller; returns when it would wake
/// by itself.
fn until_waiting(p: &Poller) -> Option<Instant> {
    let t0 = Instant::now();
    loop {
        if let Some(w) = p.waiter() {
            return w;
        }
        assert!(t0.elapsed() < HANG, "nobody ever waited in the port");
        thread::yield_now();
    }
}

fn wait_here(p: &Poller, timeout: Option<Duration>) -> bool {
    p.wait(timeout, &BusyPoll::new(), 0, |_, _| {})
}

#[test]
fn a_posted_packet_comes_back_as_posted_and_only_once() {
    let port = CompletionPort::new().unwrap();
    port.post(7, 42, 0x1230 as *mut _).unwrap();
    port.post(8, 0, std::ptr::null_mut()).unwrap();
    assert_eq!(drain(&port), [(7, 42, 0x1230), (8, 0, 0)]);
    assert_eq!(drain(&port), []);
}

#[test]
fn an_empty_port_times_out_with_no_packets() {
    let port = CompletionPort::new().unwrap();
    let mut entries = [OVERLAPPED_ENTRY::default(); 4];
    assert!(port.dequeue(&mut entries, 5).unwrap().is_empty());
}

#[test]
fn interrupts_coalesce_into_one_packet_until_it_is_taken() {
    let p = Poller::new().unwrap();
    p.interrupt();
    p.interrupt();
    p.interrupt();
    assert_eq!(drain(p.port()), [(WAKE, 0, 0)]);
    // Taken out by hand, the flag is still set: the poller's wait is what
    // clears it. After a wait has taken a packet, the next interrupt posts.
    p.interrupt();
    assert_eq!(drain(p.port()), []);
    p.port().post(WAKE, 0, std::ptr::null_mut()).unwrap();
    assert!(!wait_here(&p, None));
    p.interrupt();
    assert_eq!(drain(p.port()), [(WAKE, 0, 0)]);
}

#[test]
fn an_interrupt_before_the_wait_ends_it_at_once() {
    let p = Arc::new(Poller::new().unwrap());
    p.interrupt();
    let rx = wait_on_thread(&p, None);
    assert!(!rx
        .recv_timeout(HANG)
        .expect("the wake-up packet ended the wait"));
    assert_eq!(drain(p.port()), [], "the packet was taken out");
}

#[test]
fn an_interrupt_wakes_a_thread_waiting_with_no_time_limit() {
    let p = Arc::new(Poller::new().unwrap());
    let rx = wait_on_thread(&p, None);
    assert_eq!(until_waiting(&p), None);
    p.interrupt();
    assert!(!rx
        .recv_timeout(HANG)
        .expect("the interrupt woke the waiter"));
    assert_eq!(p.waiter(), None);
}

#[test]
fn a_sooner_timer_wakes_the_waiting_thread_and_is_reported_due() {
    let p = Arc::new(Poller::new().unwrap());
    let rx = wait_on_thread(&p, None);
    assert_eq!(until_waiting(&p), None);
    p.set_timer(Some(Duration::ZERO));
    assert!(rx
        .recv_timeout(HANG)
        .expect("the new timer woke the waiter"));
}

#[test]
fn a_later_timer_lets_the_wait_run_to_its_timeout() {
    let p = Arc::new(Poller::new().unwrap());
    let t0 = Instant::now();
    let rx = wait_on_thread(&p, Some(Duration::from_millis(50)));
    assert!(until_waiting(&p).is_some());
    p.set_timer(Some(Duration::from_secs(3600)));
    assert!(!rx.recv_timeout(HANG).unwrap(), "the timer is not due");
    assert!(t0.elapsed() >= Duration::from_millis(50), "woken early");
    assert_eq!(drain(p.port()), [], "no wake-up packet for a later timer");
}

#[test]
fn a_timer_set_while_nobody_waits_posts_nothing_and_ends_the_next_wait() {
    let p = Poller::new().unwrap();
    p.set_timer(Some(Duration::from_millis(20)));
    assert_eq!(drain(p.port()), []);
    let t0 = Instant::now();
    assert!(wait_here(&p, None), "the due timer ended the wait");
    assert!(t0.elapsed() >= Duration::from_millis(20), "woken early");
    p.set_timer(None);
    assert!(!wait_here(&p, Some(Duration::ZERO)), "disarmed");
}

#[test]
fn a_wait_lasts_at_least_its_timeout() {
    let p = Poller::new().unwrap();
    for ms in [1, 15, 30] {
        let t0 = Instant::now();
        assert!(!wait_here(&p, Some(Duration::from_millis(ms))));
        assert!(t0.elapsed() >= Duration::from_millis(ms), "{ms} ms");
    }
}

#[test]
fn timeouts_round_up_to_whole_milliseconds() {
    assert_eq!(timeout_ms(Duration::ZERO), 0);
    assert_eq!(timeout_ms(Duration::from_nanos(1)), 1);
    assert_eq!(timeout_ms(Duration::from_millis(1)), 1);
    assert_eq!(timeout_ms(Duration::from_micros(1001)), 2);
    assert_eq!(timeout_ms(Duration::from_secs(u64::MAX)), MAX_FINITE_MS);
}
