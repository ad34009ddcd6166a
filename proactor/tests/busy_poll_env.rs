//! `PROACTOR_BUSY_POLL_US` sets the busy-polling limit of new contexts
//! (read once per process: this test has its binary to itself).

use proactor::IoContext;
use std::time::Duration;

#[test]
fn the_environment_sets_the_default_busy_poll_limit() {
    std::env::set_var("PROACTOR_BUSY_POLL_US", "7");
    let ctx = IoContext::new().unwrap();
    assert_eq!(ctx.busy_poll(), Duration::from_micros(7));
    ctx.set_busy_poll(Duration::ZERO);
    assert_eq!(ctx.busy_poll(), Duration::ZERO);
    // Later contexts get the same default.
    assert_eq!(
        IoContext::new().unwrap().busy_poll(),
        Duration::from_micros(7)
    );
}
