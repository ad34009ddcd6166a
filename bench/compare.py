#!/usr/bin/env python3
"""proactor against Boost.Asio and tokio, in one run, on this machine.

    python3 bench/compare.py            # the full comparison (~14 minutes)
    python3 bench/compare.py --quick    # a smoke run (1 repetition, 1 s pings)

Builds the C++ anchors (installing libboost-dev if it is missing) and the
Rust benchmarks, runs every pair interleaved (Asio, proactor, tokio,
proactor on io_uring, Asio, ...) REPS times, prints medians and ratios
(for the ping-pong servers, of the throughput and of the server's
processor time per echoed message), and writes
BENCHMARKS.md at the repository root with the date, the machine and the
commit. Ping-pong servers are started and stopped by this script, by PID;
all traffic stays on 127.0.0.1.
"""

import argparse
import contextlib
import datetime
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANCHOR_SRC = os.path.join(os.path.dirname(ROOT), "shared", "anchors", "asio-cpp")
TARGET = os.path.join(ROOT, "target")
ANCHOR_BIN = os.path.join(TARGET, "asio-anchor")
OURS = os.path.join(TARGET, "release")
COUNTING = os.path.join(TARGET, "count-allocs", "release")

PP_BLOCKS = [64, 4096]
PP_SESSIONS = [1, 100]
PP_THREADS = [1, 2]
# Chain lengths for the allocation counts: the same count at both means
# nothing is allocated per handler.
ALLOC_NS = [100000, 1000000]
NOPOLL_REPS = 3
# The io_uring server: in the first URING_REPS repetitions, URING_SECONDS
# each (the time limit does not allow it the main servers' share).
URING_REPS = 2
URING_SECONDS = 2
# The 1,000,000-timer table (beyond the anchors' default N) runs in the
# first TIMER_1M_REPS repetitions only: its runs take 11 s a pair.
TIMER_1M_REPS = 3


def log(msg):
    print(msg, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def output(cmd):
    return subprocess.run(cmd, check=True, text=True, capture_output=True).stdout


BOOST_PACKAGES = ["libboost-dev", "libboost-system-dev"]


def ensure_boost():
    # The anchors need both the headers and libboost_system: a machine with
    # only libboost-dev fails at the link.
    missing = [p for p in BOOST_PACKAGES
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if not missing:
        return
    log(f"installing {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], env=env)
    run(["apt-get", "install", "-y", "-q"] + missing, env=env)


def build():
    ensure_boost()
    log("building the Boost.Asio anchors")
    os.makedirs(ANCHOR_BIN, exist_ok=True)
    run(["make", "-s", "-C", ANCHOR_SRC, "BUILD=" + ANCHOR_BIN])
    log("building the Rust benchmarks")
    run(["cargo", "build", "--release", "-q", "-p", "proactor-bench"], cwd=ROOT)
    run(["cargo", "build", "--release", "-q", "-p", "proactor-bench", "--features",
         "count-allocs", "--target-dir", os.path.join(TARGET, "count-allocs")], cwd=ROOT)


LINE = re.compile(r"^(\w+)\s+(ns_per_op|total_ns_per_timer)=([0-9.]+)\s")
CPU = re.compile(r"\bcpu_ns_per_timer=([0-9.]+)")


def micro(path, args, suffix="", env=None):
    """Runs one micro-benchmark program; returns {variant: primary metric}.
    Timer lines also give `<variant>_cpu`: the thread's CPU time per timer,
    the cost that the wall time (which includes the timers' 100 ms spread)
    hides."""
    out = subprocess.run([path] + args, check=True, text=True, capture_output=True,
                         env=dict(os.environ, **(env or {}))).stdout
    found = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            found[m.group(1) + suffix] = float(m.group(3))
            c = CPU.search(line)
            if c:
                found[m.group(1) + suffix + "_cpu"] = float(c.group(1))
    return found


def uring_granted():
    """Whether a context here gets the io_uring backend when it asks."""
    out = subprocess.run(["cargo", "run", "-q", "--release", "-p", "proactor", "--example",
                          "backend"], cwd=ROOT, text=True, capture_output=True,
                         env=dict(os.environ, PROACTOR_BACKEND="io_uring"))
    return out.returncode == 0 and out.stdout.strip() == "IoUring"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc):
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not come up")


def cpu_seconds(pid):
    """The process's processor time so far (user + system), in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    """Processor time (user + system) of this script's reaped children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Ping:
    """One ping-pong run: messages echoed per second; the server's
    processor time per echoed message in µs (user + system over the
    client's run); the share of a processor that the server and the client
    each kept busy; and the server's last output line."""

    def __init__(self, rate, cpu_us, server_busy, client_busy, last):
        self.rate, self.cpu_us, self.last = rate, cpu_us, last
        self.server_busy, self.client_busy = server_busy, client_busy


def pingpong(server, threads, block, sessions, seconds, env=None, around=None):
    """Runs the neutral client against `server`; returns a `Ping`.
    `around(proc)`, if given, is a context manager that the client's run
    happens inside (to measure the server)."""
    port = free_port()
    proc = subprocess.Popen([server, str(port), str(threads)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, **(env or {})))
    try:
        wait_for_port(port, proc)
        with around(proc) if around else contextlib.nullcontext():
            # The client is reaped inside `output` and the server only
            # later: the children's time over the call is the client's.
            cpu0, client0, t0 = cpu_seconds(proc.pid), children_cpu_seconds(), time.time()
            out = output([os.path.join(ANCHOR_BIN, "pingpong_client"), "127.0.0.1", str(port),
                          "1", str(block), str(sessions), str(seconds)])
            cpu, wall = cpu_seconds(proc.pid) - cpu0, time.time() - t0
            client = children_cpu_seconds() - client0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            server_out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            server_out, _ = proc.communicate()
    m = re.search(r"msgs_per_sec=([0-9.]+)", out)
    if not m or "verify_errors=0" not in out:
        raise RuntimeError("ping-pong run failed:\n" + out)
    rate = float(m.group(1))
    last = server_out.strip().splitlines()[-1] if server_out.strip() else ""
    return Ping(rate, cpu / max(rate * seconds, 1) * 1e6, cpu / wall, client / wall, last)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=1):
    return "—" if x != x else f"{x:,.{digits}f}"


def ratio(a, b):
    return "—" if (a != a or b != b or b == 0) else f"{a / b:.2f}"


def spread(xs):
    """(max - min) / median of one program's runs, as a percentage."""
    if len(xs) < 2:
        return "—"
    return f"{(max(xs) - min(xs)) / statistics.median(xs) * 100:.0f}%"


def paired(ours, other, higher_is_better):
    """The range of the per-repetition ratios ours/other, and how many
    repetitions ours was at least as fast in."""
    pairs = [(o, x) for o, x in zip(ours, other) if x]
    if not pairs:
        return "—", "—"
    rs = [o / x for o, x in pairs]
    ahead = sum(1 for r in rs if (r >= 1.0 if higher_is_better else r <= 1.0))
    return f"{min(rs):.2f}–{max(rs):.2f}", f"{ahead} of {len(rs)}"


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    tokio = re.search(r'name = "tokio"\nversion = "([^"]+)"',
                      open(os.path.join(ROOT, "Cargo.lock")).read())
    boost = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libboost-dev"],
                           capture_output=True, text=True).stdout
    return {
        "cpus": os.cpu_count(),
        "model": model,
        "kernel": platform.release(),
        "rustc": output(["rustc", "--version"]).strip(),
        "gxx": output(["g++", "--version"]).splitlines()[0],
        "boost": boost or "?",
        "tokio": tokio.group(1) if tokio else "?",
    }


def commit():
    head = output(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"]).strip()
    dirty = output(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).strip()
    return head + (" (with uncommitted changes)" if dirty else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--seconds", type=int, default=5, help="seconds per ping-pong run (default 5)")
    ap.add_argument("--uring-reps", type=int, default=URING_REPS,
                    help=f"repetitions of the io_uring ping-pong server (default {URING_REPS})")
    ap.add_argument("--uring-seconds", type=int, default=URING_SECONDS,
                    help=f"seconds per io_uring ping-pong run (default {URING_SECONDS})")
    ap.add_argument("--quick", action="store_true", help="1 repetition, 1 s pings, smaller N")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-poll-column", action="store_true",
                    help="also measure one-session ping-pong with busy polling off")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    a = ap.parse_args()
    if a.quick:
        a.reps, a.seconds, a.uring_reps, a.uring_seconds = 1, 1, 1, 1
    started = time.time()
    if not a.no_build:
        build()

    asio = lambda p: os.path.join(ANCHOR_BIN, p)
    ours = lambda p: os.path.join(OURS, p)
    n_post, n_strand, n_timer = (200000, 200000, 20000) if a.quick else (1000000, 1000000, 100000)
    epoll, uring = {"PROACTOR_BACKEND": "epoll"}, {"PROACTOR_BACKEND": "io_uring"}
    have_uring = uring_granted()
    if not have_uring:
        log("!!! this kernel refuses io_uring: the io_uring column is left out !!!")
    programs = {
        "post": [("asio", asio("post_bench"), [str(n_post), "3"]),
                 ("ours", ours("post_bench"), [str(n_post), "3"]),
                 ("tokio", ours("tokio_post_bench"), [str(n_post), "3"])],
        "strand": [("asio", asio("strand_bench"), [str(n_strand), "3"]),
                   ("ours", ours("strand_bench"), [str(n_strand), "3"])],
        # Timers are the reactor's heap on either backend: they run on
        # epoll only (the time limit leaves no room for a second run).
        "timer": [("asio", asio("timer_bench"), [str(n_timer), "3"]),
                  ("ours", ours("timer_bench"), [str(n_timer), "3"], "", epoll)],
        # A million timers: processing, not the 100 ms spread, dominates.
        "timer_1m": [("asio", asio("timer_bench"), [str(n_timer * 10), "1"], "_1m"),
                     ("ours", ours("timer_bench"), [str(n_timer * 10), "1"], "_1m", epoll)],
    }
    # results[bench][variant][impl] = [one value per repetition]
    results = {b: {} for b in programs}
    for r in range(a.reps):
        log(f"== micro-benchmarks, repetition {r + 1}/{a.reps}")
        for bench, impls in programs.items():
            if bench == "timer_1m" and r >= TIMER_1M_REPS:
                continue
            for name, path, args, *extra in impls:
                for variant, v in micro(path, args, *extra).items():
                    results[bench].setdefault(variant, {}).setdefault(name, []).append(v)

    log(f"== micro-benchmarks took {(time.time() - started) / 60:.1f} minutes")
    servers = [("asio", asio("pingpong_server"), None), ("ours", ours("pingpong_server"), epoll),
               ("tokio", ours("tokio_pingpong_server"), None)]
    on_ring = ("uring", ours("pingpong_server"), uring)
    # proactor polls for I/O briefly before blocking where that saves
    # sleeps (one busy connection): with --no-poll-column, it is also
    # measured with polling off with one session, in the first NOPOLL_REPS
    # repetitions (for the record; the time limit does not allow it by
    # default).
    no_poll = ("ours_nopoll", ours("pingpong_server"), dict(epoll, PROACTOR_BUSY_POLL_US="0"))
    pings, cpus, busy = {}, {}, {}
    for threads in PP_THREADS:
        for block in PP_BLOCKS:
            for sessions in PP_SESSIONS:
                key = (threads, block, sessions)
                for r in range(a.reps):
                    polled = a.no_poll_column and sessions == 1 and r < NOPOLL_REPS
                    extra = [(no_poll, a.seconds)] if polled else []
                    if have_uring and r < a.uring_reps:
                        extra.append((on_ring, a.uring_seconds))
                    for (name, path, env), secs in [(x, a.seconds) for x in servers] + extra:
                        p = pingpong(path, threads, block, sessions, secs, env)
                        pings.setdefault(key, {}).setdefault(name, []).append(p.rate)
                        cpus.setdefault(key, {}).setdefault(name, []).append(p.cpu_us)
                        busy.setdefault(key, {}).setdefault(name, []).append(
                            (p.server_busy, p.client_busy))
                got = {n: med(v) for n, v in pings[key].items()}
                log(f"== ping-pong threads={threads} block={block} sessions={sessions}: "
                    + " ".join(f"{n}={fmt(x, 0)}" for n, x in got.items()))

    log("== allocation counts (counting allocator)")
    allocs = {}
    for n in ALLOC_NS:
        for bench in ("post", "strand"):
            out = output([os.path.join(COUNTING, bench + "_bench"), str(n), "1"])
            for line in out.splitlines():
                m = re.match(r"^(\w+)\s.*\ballocs=(\d+)", line)
                if m:
                    allocs.setdefault((bench, m.group(1)), {})[n] = int(m.group(2))
    echo_allocs = {}
    for backend in [epoll] + [uring] * have_uring:
        for threads in PP_THREADS:
            for block in PP_BLOCKS:
                last = pingpong(os.path.join(COUNTING, "pingpong_server"), threads, block, 100,
                                3, backend).last
                m = re.search(r"steady_allocs=(\d+) steady_echoes=(\d+)", last)
                key = (backend["PROACTOR_BACKEND"], threads, block)
                echo_allocs[key] = (int(m.group(1)), int(m.group(2))) if m else None

    elapsed = time.time() - started
    report = render(a, results, pings, cpus, busy, allocs, echo_allocs, elapsed, n_timer)
    print(report)
    with open(a.out, "w") as f:
        f.write(report)
    log(f"wrote {a.out} ({elapsed / 60:.1f} minutes)")


NOTES = """
## Reading the figures

- **Busy polling.** proactor polls for I/O (and an idle thread looks for
  handlers) for up to 100 µs before it blocks, but only while that saves
  sleeps: one busy connection, or a handler coming from another thread
  within microseconds. On this virtual machine a wake-up costs 15-40 µs,
  more than a loopback round trip, so the one-session ping-pongs and
  `c_xthread_pingpong` gain several times over. A sleep's length counts
  its wake-up as well as the wait for the event, so a sleep of up to
  twice the limit that one event ended opens the window again. With the
  old rule (a sleep past the limit keeps it shut) and the old 50 µs
  limit, a late reply shut the window for good on this kernel, where a
  one-session round trip takes 35-45 µs, and the one-session ping-pongs
  ran at half the speed (2026-12-06, `pingpong_ab.py`, 5 runs each, 64 B:
  16,122, 25,516 with the new rule, 30,375 with the 100 µs limit too, at
  1 thread; 13,315, 16,620 and 21,387 at 2 threads). The `no polling` column
  shows the same server with `PROACTOR_BUSY_POLL_US=0`. With 100 sessions,
  waits find several connections ready and polling stays off.
- **Timers.** With 100,000 timers spread over 100 ms, the wall time is the
  spread plus the set-up (new timer, `expires_after`, `async_wait`): both
  programs run the last handler 20-60 µs after its expiry, so the ratio
  compares set-ups of about 100-160 ns per timer (a fifth to a third of it the clock
  read, `clock_gettime` taking about 30 ns on this virtual machine), which
  move by 10-20% between runs of one program. A Rust
  timer may be moved while a wait is pending, so its queue entry lives in a
  block of its own (Asio keeps it inside the timer object); that block and
  the wait's come from the reactor's slab of timer blocks (`op/slab.rs`,
  one lock per block) instead of a `malloc` each: callgrind counts about
  670 instructions per timer set up, against 950 with `malloc` and Asio's
  550. Blocks are cut in address order, and a page is cut afresh once all
  its blocks are free: a burst of timers fires in expiry order, so reusing
  the freed blocks in that order scattered the next burst over memory.
  Taking blocks 16 per lock through per-thread lists made fewer atomic
  steps but measured about 10 ns per timer slower, and was not kept. Empty
  pages and the largest heap's storage are kept for the next context: the benchmark makes a
  context per repetition, and each page faulted in again costs about
  2.5 µs on this virtual machine. What Asio still skips: a timer keeps its
  context alive (a count), and a timer is safe to use from several
  threads, so `expires_after` takes the timer lock (Asio skips it when no
  wait is pending). With a million timers, where firing dominates, the
  heap's cache lines (a node's four children fill one) and the prefetch of
  the next heap level and of the next queued operation put proactor ahead.
- **Ping-pong with 100 sessions** fills the machine: the server and the
  client each keep a processor busy (the `busy` column: 0.9 or more
  each), so the throughput is two processors divided by what the two
  spend per message together, and a server that spends 5% less per
  message echoes about 2.5% more. Over 90% of the server's time is the
  kernel's (`recvfrom`, `sendto` and the TCP stack, the same for every
  server), so the servers' costs differ by a few per cent, and their
  throughputs by less than the spread between repetitions of one server
  on this machine (15-50%): with one server thread, Asio, proactor and
  tokio tie (a 10-repetition A/B at 64 B: 93,174 against 93,258 msgs/s).
  The table of the server's processor time per message moves less and
  shows what each server costs. proactor makes 1 `recvfrom` and 1 `sendto`
  per message (Asio: 1.5 `recvfrom`, from reads tried before data came)
  and about 0.1-0.25 `epoll_wait` (with handlers queued, the reactor's
  turn is skipped up to 16 times in a row). With two server threads,
  tokio's scheduler wakes its second thread rarely (0.015-0.025 futex calls per
  message, against 0.09-0.13 for proactor and 0.13-0.23 for Asio: both follow
  Asio's rule of waking an idle thread whenever more than one handler is
  queued, which a blocking handler needs to let the others progress),
  which leaves the client more of the machine.
- **io_uring** (`PROACTOR_BACKEND=io_uring`): the same server binary on the
  ring. With 100 sessions, a turn submits the requests its handlers made
  in one `io_uring_enter`: about 0.07 system calls per echoed message,
  against 2 (a `recvfrom` and a `sendto`) on epoll. The ring runs with
  cooperative task running: without it, the kernel retried each receive
  the moment the data arrived, while the sending side still held the
  socket's lock, and spun on it (12% of the server's time). Its timers are
  the reactor's heap, as on epoll; only the earliest expiry is a request.
"""


def render(a, results, pings, cpus, busy, allocs, echo_allocs, elapsed, n_timer):
    m = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = []
    L.append("# Benchmarks: proactor, Boost.Asio and tokio on one machine\n")
    L.append(f"Written by `python3 bench/compare.py` on {now}, commit {commit()}, "
             f"in {elapsed / 60:.1f} minutes.\n")
    L.append(f"Machine: {m['cpus']} CPUs, {m['model']}, Linux {m['kernel']}; {m['rustc']}; "
             f"{m['gxx']}; Boost {m['boost']} (Asio 1.18); tokio {m['tokio']}.\n")
    L.append(f"Method: every program is run {a.reps} times, interleaved (Asio, proactor, "
             "tokio, Asio, ...; the ping-pong server also on io_uring, fewer times, see "
             "there; timers run on epoll only, their heap being the same on both backends); each micro-benchmark run itself reports the median of 3 "
             "in-process repetitions after a warm-up. Tables give the median over the runs. "
             "Times: lower is better, and `ours/Asio` ≤ 1.00 means proactor is at least as "
             f"fast. Ping-pong: the neutral C++ client (1 thread) for {a.seconds} s against "
             "each server, messages echoed per second: higher is better, and `ours/Asio` ≥ "
             "1.00 means proactor is at least as fast. Client and server share the machine's "
             "CPUs.\n")
    for bench, title, unit in [("post", "post_bench (ns per handler)", "ns"),
                               ("strand", "strand_bench (ns per handler)", "ns"),
                               ("timer", f"timer_bench, {n_timer:,} timers (ns per timer; "
                                "`_cpu`: the thread's CPU time per timer)", "ns"),
                               ("timer_1m", f"timer_bench, {n_timer * 10:,} timers (ns per "
                                "timer, 1 in-process repetition per run, in the first "
                                f"{min(TIMER_1M_REPS, a.reps)} repetitions)", "ns")]:
        has_tokio = any("tokio" in v for v in results[bench].values())
        has_uring = any("uring" in v for v in results[bench].values())
        L.append(f"\n## {title}\n")
        head = "| variant | Asio | proactor | ours/Asio |"
        sep = "|---|---:|---:|---:|"
        if has_tokio:
            head += " tokio | ours/tokio |"
            sep += "---:|---:|"
        if has_uring:
            head += " proactor, io_uring | io_uring/Asio |"
            sep += "---:|---:|"
        L.append(head)
        L.append(sep)
        for variant, by in results[bench].items():
            x, o = med(by.get("asio", [])), med(by.get("ours", []))
            row = f"| {variant} | {fmt(x)} | {fmt(o)} | {ratio(o, x)} |"
            if has_tokio:
                t = med(by.get("tokio", []))
                row += f" {fmt(t)} | {ratio(o, t)} |"
            if has_uring:
                u = med(by.get("uring", []))
                row += f" {fmt(u)} | {ratio(u, x)} |"
            L.append(row)
    L.append("\n## Ping-pong (messages per second; higher is better)\n")
    L.append("`proactor` is the default backend, epoll; `io_uring` is the same server with "
             f"`PROACTOR_BACKEND=io_uring`, run in the first {a.uring_reps} repetitions only, for "
             f"{a.uring_seconds} s each (the time limit leaves it no more). `no polling` (with "
             "`--no-poll-column`): epoll with "
             "`PROACTOR_BUSY_POLL_US=0`, measured with one session, where polling is on.\n")
    L.append("| server threads | block | sessions | Asio | proactor | tokio | ours/Asio | ours/tokio "
             "| io_uring | io_uring/Asio | io_uring/tokio | io_uring/epoll | no polling "
             "| no polling/Asio |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (threads, block, sessions), by in pings.items():
        x, o, t, u, n = (med(by.get(k, [])) for k in ("asio", "ours", "tokio", "uring",
                                                     "ours_nopoll"))
        L.append(f"| {threads} | {block} | {sessions} | {fmt(x, 0)} | {fmt(o, 0)} | {fmt(t, 0)} "
                 f"| {ratio(o, x)} | {ratio(o, t)} | {fmt(u, 0)} | {ratio(u, x)} | {ratio(u, t)} "
                 f"| {ratio(u, o)} | {fmt(n, 0)} | {ratio(n, x)} |")
    L.append("\n### How far apart the runs are\n")
    L.append("Each repetition runs the servers back to back, so the ratio of one repetition "
             "compares runs a few seconds apart. `spread`: (slowest − fastest) / median "
             "over one server's runs. `per run`: the lowest and highest of the per-repetition "
             "ratios, and in how many repetitions proactor (epoll) was at least as fast. A "
             "median ratio that the per-run range straddles is within this machine's noise.\n")
    L.append("| server threads | block | sessions | spread Asio | spread proactor | spread tokio "
             "| ours/Asio per run | ahead of Asio | ours/tokio per run | ahead of tokio |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (threads, block, sessions), by in pings.items():
        spreads = [spread(by.get(k, [])) for k in ("asio", "ours", "tokio")]
        pa, wa = paired(by.get("ours", []), by.get("asio", []), higher_is_better=True)
        pt, wt = paired(by.get("ours", []), by.get("tokio", []), higher_is_better=True)
        L.append(f"| {threads} | {block} | {sessions} | " + " | ".join(spreads)
                 + f" | {pa} | {wa} | {pt} | {wt} |")
    L.append("\n### The server's processor time per echoed message\n")
    L.append("µs of processor time (user + system, all the server's threads) over the "
             "client's run, divided by the messages echoed: lower is better, and `ours/Asio` "
             "≤ 1.00 means proactor spent at most what Asio did. Client and server share two "
             "processors, so a server that spends less per message leaves more to the client; "
             "this figure moves less from run to run than the throughput. `ahead`: the "
             "repetitions in which proactor (epoll) spent at most as much. `busy`: the "
             "share of one processor that the server and the client each used over "
             "proactor's (epoll) runs, medians; 1.00 + 1.00 is the whole machine, and "
             "from there the throughput is the machine's divided by what server and client "
             "together spend per message.\n")
    L.append("| server threads | block | sessions | Asio | proactor | tokio | ours/Asio "
             "| ahead of Asio | ours/tokio | ahead of tokio | io_uring | io_uring/Asio "
             "| busy: server + client |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, by in cpus.items():
        threads, block, sessions = key
        x, o, t, u = (med(by.get(k, [])) for k in ("asio", "ours", "tokio", "uring"))
        _, wa = paired(by.get("ours", []), by.get("asio", []), higher_is_better=False)
        _, wt = paired(by.get("ours", []), by.get("tokio", []), higher_is_better=False)
        ours_busy = busy.get(key, {}).get("ours", [])
        shares = (f"{med([b[0] for b in ours_busy]):.2f} + {med([b[1] for b in ours_busy]):.2f}"
                  if ours_busy else "—")
        L.append(f"| {threads} | {block} | {sessions} | {fmt(x, 2)} | {fmt(o, 2)} | {fmt(t, 2)} "
                 f"| {ratio(o, x)} | {wa} | {ratio(o, t)} | {wt} | {fmt(u, 2)} "
                 f"| {ratio(u, x)} | {shares} |")
    L.append("\nThe same for the timers (ns per timer; lower is better):\n")
    L.append("| variant | spread Asio | spread proactor | ours/Asio per run | ahead of Asio |")
    L.append("|---|---:|---:|---:|---:|")
    for bench in ("timer", "timer_1m"):
        for variant, by in results[bench].items():
            if variant.endswith("_cpu"):
                continue
            pa, wa = paired(by.get("ours", []), by.get("asio", []), higher_is_better=False)
            L.append(f"| {variant} | {spread(by.get('asio', []))} | {spread(by.get('ours', []))} "
                     f"| {pa} | {wa} |")
    L.append("\n## Allocations at steady state (counting allocator)\n")
    L.append("Chains (each handler posts the next): allocations in a whole run, creating "
             "the context included, for two chain lengths. The same count for both means "
             "0 allocations per handler.\n")
    L.append("| benchmark | variant | " + " | ".join(f"{n:,} handlers" for n in ALLOC_NS)
             + " | per handler |")
    L.append("|---|---|" + "---:|" * (len(ALLOC_NS) + 1))
    for (bench, variant), by in allocs.items():
        if "chain" in variant:
            counts = [by.get(n) for n in ALLOC_NS]
            per = "—"
            if None not in counts:
                per = f"{(counts[-1] - counts[0]) / (ALLOC_NS[-1] - ALLOC_NS[0]):.6f}"
            L.append(f"| {bench} | {variant} | " + " | ".join(str(c) for c in counts)
                     + f" | {per} |")
    L.append("\nPing-pong server, 100 sessions, counted from the second second of the run to "
             "the end:\n")
    L.append("| backend | server threads | block | allocations | messages echoed | per message |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for (backend, threads, block), v in echo_allocs.items():
        if v:
            L.append(f"| {backend} | {threads} | {block} | {v[0]} | {v[1]:,} "
                     f"| {v[0] / max(v[1], 1):.6f} |")
    L.append(NOTES)
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
