#!/usr/bin/env python3
"""Interleaved A/B ping-pong runs of any server builds, for development.

    python3 bench/pingpong_ab.py THREADS BLOCK SESSIONS \
        asio=target/asio-anchor/pingpong_server \
        head=/tmp/pingpong_server.head:PROACTOR_BACKEND=epoll \
        new=target/release/pingpong_server:PROACTOR_BACKEND=epoll

Each NAME=BINARY[:VAR=VALUE,...] is a server (started as `BINARY PORT
THREADS`, with the variables set) driven by the neutral client of
../shared/anchors/asio-cpp; the servers take turns, REPS times (--reps).
Prints, per server, the median messages per second, its ratio to the
first server's, and the server's processor time (user + system) per
echoed message: on this 2-processor machine the client and the server
share the processors, so a server that spends less per message leaves
more to the client, and the figure is steadier than the throughput.

`--perf` adds system calls and context switches per message, counted by
`perf stat` on the server during one more run of each (slower: the
counting costs time). Builds are not made here: build first, and copy a
binary aside to compare it with a later one.
"""

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the same client, ports and start-up checks)

PERF_EVENTS = ["syscalls:sys_enter_epoll_wait", "syscalls:sys_enter_epoll_ctl",
               "syscalls:sys_enter_futex", "syscalls:sys_enter_sendto",
               "syscalls:sys_enter_recvfrom", "syscalls:sys_enter_io_uring_enter",
               "context-switches"]


def server_spec(s):
    name, _, rest = s.partition("=")
    path, _, envs = rest.partition(":")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"not NAME=BINARY[:VAR=VALUE,...]: {s}")
    env = dict(kv.split("=", 1) for kv in envs.split(",")) if envs else {}
    return name, path, env


@contextlib.contextmanager
def counted(proc, perf):
    """With `perf`, counts the server's system calls and context switches
    over the client's run."""
    counter = None
    if perf:
        counter = subprocess.Popen(["perf", "stat", "-x,", "-o", "/tmp/pingpong_ab.perf",
                                    "-e", ",".join(PERF_EVENTS), "-p", str(proc.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)
    try:
        yield
    finally:
        if counter:
            counter.send_signal(signal.SIGINT)
            counter.wait(10)


def run(a, path, env, perf=False):
    """(msgs per second, server CPU µs per message, perf counts per message)."""
    p = compare.pingpong(path, a.threads, a.block, a.sessions, a.seconds, env,
                         around=lambda proc: counted(proc, perf))
    msgs = p.rate * a.seconds
    counts = {}
    if perf:
        for line in open("/tmp/pingpong_ab.perf"):
            f = line.strip().split(",")
            if len(f) > 2 and f[0].replace(".", "").isdigit():
                counts[f[2].split(":")[-1].replace("sys_enter_", "")] = float(f[0]) / msgs
    return p.rate, p.cpu_us, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("threads", type=int)
    ap.add_argument("block", type=int)
    ap.add_argument("sessions", type=int)
    ap.add_argument("servers", nargs="+", type=server_spec, metavar="NAME=BINARY[:ENV]")
    ap.add_argument("--reps", type=int, default=6, help="runs of each server (default 6)")
    ap.add_argument("--seconds", type=int, default=3, help="seconds per run (default 3)")
    ap.add_argument("--perf", action="store_true", help="also count system calls per message")
    a = ap.parse_args()
    res = {name: [] for name, _, _ in a.servers}
    for _ in range(a.reps):
        for name, path, env in a.servers:
            res[name].append(run(a, path, env))
    base = statistics.median(r[0] for r in res[a.servers[0][0]])
    for name, path, env in a.servers:
        rates = [r[0] for r in res[name]]
        cpu = statistics.median(r[1] for r in res[name])
        line = (f"{name:10} {statistics.median(rates):9,.0f} msgs/s  ratio "
                f"{statistics.median(rates) / base:.3f}  cpu_us/msg {cpu:6.2f}  "
                f"runs {[round(x) for x in rates]}")
        if a.perf:
            _, _, counts = run(a, path, env, perf=True)
            line += "  " + " ".join(f"{k}={v:.2f}" for k, v in counts.items())
        print(line, flush=True)


if __name__ == "__main__":
    main()
