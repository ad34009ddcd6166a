//! Bounded stress: four threads run one context while four threads post a
//! million handlers through the executor and eight strands. Every handler
//! must run exactly once; each strand must run its handlers one at a time
//! and, per posting thread, in order.

mod common;

use proactor::{make_work_guard, Executor, IoContext, IoExecutor, Strand};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

const RUNNERS: usize = 4;
const POSTERS: usize = 4;
const STRANDS: usize = 8;
const TOTAL: usize = 1_000_000;
const PER_POSTER: usize = TOTAL / POSTERS;

#[derive(Default)]
struct StrandCheck {
    busy: AtomicBool,
    overlaps: AtomicU64,
    order_errors: AtomicU64,
    /// Last sequence number seen from each poster.
    last: [AtomicU64; POSTERS],
}

fn stress(ctx: Arc<IoContext>) {
    let t0 = Instant::now();
    let ex = ctx.executor();
    let guard = make_work_guard(&ex);
    let strands: Arc<Vec<Strand<IoExecutor>>> =
        Arc::new((0..STRANDS).map(|_| Strand::new(ex.clone())).collect());
    let checks: Arc<Vec<StrandCheck>> =
        Arc::new((0..STRANDS).map(|_| Default::default()).collect());
    let hits: Arc<Vec<AtomicU8>> = Arc::new((0..TOTAL).map(|_| AtomicU8::new(0)).collect());

    let runners: Vec<_> = (0..RUNNERS)
        .map(|_| {
            let c = ctx.clone();
            thread::spawn(move || c.run())
        })
        .collect();
    let posters: Vec<_> = (0..POSTERS)
        .map(|p| {
            let (ex, strands, checks, hits) =
                (ex.clone(), strands.clone(), checks.clone(), hits.clone());
            thread::spawn(move || {
                for i in 0..PER_POSTER {
                    let id = p * PER_POSTER + i;
                    let hits2 = hits.clone();
                    let hit = move || {
                        hits2[id].fetch_add(1, SeqCst);
                    };
                    match i % 4 {
                        0 => ex.post(hit),
                        1 => ex.defer(hit),
                        _ => {
                            let k = i % STRANDS;
                            let checks = checks.clone();
                            // Every other strand handler reaches its strand
                            // from a handler on the executor (so `dispatch`
                            // may run it inline); posting order is only
                            // promised for the direct posts, which carry a
                            // sequence number.
                            let direct = i % 8 != 2;
                            let seq = i as u64 + 1;
                            let body = move || {
                                let c = &checks[k];
                                if c.busy.swap(true, SeqCst) {
                                    c.overlaps.fetch_add(1, SeqCst);
                                }
                                if direct && c.last[p].swap(seq, SeqCst) >= seq {
                                    c.order_errors.fetch_add(1, SeqCst);
                                }
                                hit();
                                c.busy.store(false, SeqCst);
                            };
                            if direct {
                                strands[k].post(body);
                            } else {
                                let s = strands[k].clone();
                                ex.post(move || s.dispatch(body));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for p in posters {
        p.join().unwrap();
    }
    drop(guard);
    let ran: usize = runners.into_iter().map(|r| r.join().unwrap()).sum();
    let elapsed = t0.elapsed();

    let missing = hits.iter().filter(|h| h.load(SeqCst) == 0).count();
    let doubled = hits.iter().filter(|h| h.load(SeqCst) > 1).count();
    assert_eq!((missing, doubled), (0, 0), "handlers not run / run twice");
    for (k, c) in checks.iter().enumerate() {
        assert_eq!(
            c.overlaps.load(SeqCst),
            0,
            "strand {k} ran two handlers at once"
        );
        assert_eq!(
            c.order_errors.load(SeqCst),
            0,
            "strand {k} broke posting order"
        );
    }
    assert!(ran >= TOTAL / 2, "run() counts scheduler handlers: {ran}");
    assert!(ctx.stopped());
    eprintln!("stress: {TOTAL} handlers, {RUNNERS} runners, {POSTERS} posters: {elapsed:?}");
}

#[test]
fn stress_default_context() {
    stress(Arc::new(IoContext::new().unwrap()));
}
