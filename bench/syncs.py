#!/usr/bin/env python3
"""What SQLite's syncs add to `POST /v2/shares`'s tail (issue 13). On one SQLite data set, wrk holds `POST` at a
rate with arrivals spread (bench/paced.lua, as `bench/run.py`'s paced column), first with `keyway serve` alone, then
with `perf trace` attached, which times every `fsync` and `fdatasync` the server makes (GRDB runs the WAL with
`synchronous = NORMAL`: no sync at commit; the WAL and the database file are synced at each checkpoint, and the WAL's
header when the writer starts it over). Prints `POST`'s p99 each way, and the syncs' count, median, p99 and longest by
file and by thread.

    python3 bench/syncs.py --binary .build/release/keyway --shares 1000000 --rate 2800
    python3 bench/syncs.py --binary ... --rounds 3

`perf trace` reads the kernel's syscall tracepoints (the server is not stopped, as strace would stop it), so the
traced run should hold the same rate; its syncs' times are the kernel's. Needs perf (linux-perf) and wrk.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: the data set, the server's flags, the paced wrk)

SYNC = re.compile(r"\(\s*([\d.]+) ms\):\s*\S*?/(\d+)\s+(fsync|fdatasync)\(fd: (\d+)")


def serve(command):
    """Starts `command` (a `keyway serve` on its port) and waits until its /health answers."""
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:" + command[command.index("--port") + 1]
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not answer /health")


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(run.ROOT, ".build", "release", "keyway"))
    parser.add_argument("--shares", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=2800, help="POST requests per second held")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("perf"):
        raise SystemExit("needs perf: apt-get install linux-perf")
    folder = tempfile.mkdtemp(prefix="keyway-syncs-")
    database = os.path.join(folder, "syncs.sqlite")
    loaded = subprocess.run([args.binary, "bench-data", "--shares", str(args.shares), "--database", database],
                            capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
    body = run.post_body(env)
    alone, traced, syncs = [], [], []
    for round_ in range(args.rounds):
        for under_trace in (False, True):
            port = str(run.free_port())
            server, base = serve(
                [args.binary, "serve", "--port", port, "--log-level", "error", "--database", database])
            trace, tracer = os.path.join(folder, f"trace-{round_}.txt"), None
            if under_trace:
                tracer = subprocess.Popen(["perf", "trace", "-e", "fsync,fdatasync", "-p", str(server.pid),
                                           "-o", trace], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            try:
                p99, held = run.paced(base + "/v2/shares", args.rate, args.seconds, env["API_KEY"], body)
                # Which file each descriptor is, while the server still holds them.
                fds = {}
                for fd in os.listdir(f"/proc/{server.pid}/fd"):
                    try:
                        fds[fd] = os.readlink(f"/proc/{server.pid}/fd/{fd}")
                    except OSError:
                        pass
            finally:
                if tracer:
                    tracer.send_signal(signal.SIGINT)
                    tracer.wait(timeout=30)
                server.terminate()
                server.wait(timeout=30)
            (traced if under_trace else alone).append((p99, held))
            print(f"round {round_ + 1}, {'traced' if under_trace else 'alone'}: POST p99 {p99:.2f} ms "
                  f"at {held:,.0f}/s", file=sys.stderr, flush=True)
            if under_trace:
                with open(trace) as lines:
                    for line in lines:
                        found = SYNC.search(line)
                        if found:
                            path = fds.get(found.group(4), "fd " + found.group(4))
                            syncs.append((round_, found.group(3), path, float(found.group(1)), found.group(2)))
    print(f"SQLite, {args.shares:,} shares, POST held at {args.rate:,.0f}/s with arrivals spread, {args.rounds} rounds "
          f"of {args.seconds} s each way (the last of paced's three passes; syncs counted over all three).\n")
    print("| server | POST p99 ms per round | rate held per round |")
    print("|---|---|---|")
    for label, results in (("alone", alone), ("under perf trace", traced)):
        print(f"| {label} | {' / '.join(f'{p:.2f}' for p, _ in results)} | "
              f"{' / '.join(f'{h:,.0f}' for _, h in results)} |")
    print("\n| sync | file | count | median ms | p99 ms | longest ms |")
    print("|---|---|---:|---:|---:|---:|")
    kinds, threads = {}, {}
    for round_, call, path, ms, thread in syncs:
        name = os.path.basename(path)
        kind = "WAL" if name.endswith("-wal") else ("database" if name.endswith(".sqlite") else name)
        kinds.setdefault((call, kind), []).append(ms)
        threads.setdefault((round_, thread), {}).setdefault(kind, []).append(ms)
    for (call, kind), times in sorted(kinds.items()):
        print(f"| {call} | {kind} | {len(times):,} | {statistics.median(times):.2f} | {quantile(times, 0.99):.2f} "
              f"| {max(times):.2f} |")
    # By thread: the checkpointer's thread syncs both files at each checkpoint; the writer's (GRDB's serial queue)
    # syncs the WAL's header when it starts the WAL over, and both files when it catches up itself.
    print("\n| round | thread | WAL syncs: count, p99 ms, longest | database file syncs: count, p99 ms, longest |")
    print("|---|---|---|---|")
    for (round_, thread), by_kind in sorted(threads.items(), key=lambda item: -sum(map(len, item[1].values()))):
        cells = [f"{len(t):,}, {quantile(t, 0.99):.2f}, {max(t):.2f}" if t else "–"
                 for t in (by_kind.get("WAL", []), by_kind.get("database", []))]
        print(f"| {round_ + 1} | {thread} | {cells[0]} | {cells[1]} |")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
