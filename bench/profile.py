#!/usr/bin/env python3
"""Where a hot endpoint's server CPU goes (issue 13): `perf record` on a release `keyway serve` under wrk.

    python3 bench/profile.py                                  # 100 thousand shares, SQLite, the three hot reads
    python3 bench/profile.py --database-url postgres://keyway@127.0.0.1:54329/keyway
    python3 bench/profile.py --binary /path/to/keyway --shares 10000 --seconds 10
    python3 bench/profile.py --endpoints post --database-url postgres://keyway@127.0.0.1:54329/keyway
    python3 bench/profile.py --endpoints effective --under AccessServiceV20effectivePermissions   # its callees

For each endpoint: wrk (one thread, 16 connections) loads the server while perf samples it (`perf record -g`,
999 Hz); the report groups the samples by shared object and lists the hottest symbols (self time), so the
share of SQLite, PostgresNIO, Foundation's JSON encoding, NIO and the access evaluator can be read off.
Needs `perf` (linux-perf) and `wrk`; writes to stdout.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: the same data set, server and credentials)


def report(data, limit):
    by_object = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso",
                                "--percent-limit", "2", "-g", "none"], capture_output=True, text=True).stdout
    by_symbol = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol",
                                "--percent-limit", str(limit), "-g", "none"], capture_output=True, text=True).stdout
    def keep(text):
        lines = (re.sub(r"(\s+-)*\s*$", "", re.sub(r"\s{2,}", "  ", line)) for line in text.splitlines())
        return "\n".join(line for line in lines if line.strip() and not line.startswith("#"))
    return keep(by_object), keep(by_symbol)


def under(data, needle, limit=14):
    """Where the samples inside the function whose symbol contains `needle` go: its callees, inclusive."""
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"], capture_output=True, text=True).stdout
    stacks, frames = [], []
    for line in script.splitlines() + [""]:
        if not line.strip():
            if frames:
                stacks.append(frames)
            frames = []
            continue
        parts = line.split(None, 1)
        frames.append(parts[-1])
    inside, callees = 0, {}
    for frames in stacks:
        hits = [i for i, frame in enumerate(frames) if needle in frame]
        if not hits:
            continue
        inside += 1
        callee = frames[hits[-1] - 1] if hits[-1] > 0 else "(itself)"
        callees[callee] = callees.get(callee, 0) + 1
    total = max(len(stacks), 1)
    lines = [f"{100 * inside / total:5.1f}%  in {needle}"]
    for callee, count in sorted(callees.items(), key=lambda item: -item[1])[:limit]:
        lines.append(f"  {100 * count / total:5.1f}%  {callee[:160]}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(run.ROOT, ".build", "release", "keyway"))
    parser.add_argument("--shares", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--limit", type=float, default=1.0, help="smallest symbol share listed, in percent")
    parser.add_argument("--endpoints", default="external,access,effective",
                        help="any of external, access, effective, post (POST /v2/shares, as bench/ab.py sends it)")
    parser.add_argument("--under", action="append", default=[],
                        help="also list the callees (inclusive) of the function whose symbol contains this text")
    parser.add_argument("--keep", help="copy each endpoint's perf.data to KEEP-ENDPOINT.data for perf report")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="keyway-profile-")
    database = run.database_arguments(args, folder, f"profile_{args.shares}")
    loaded = subprocess.run([args.binary, "bench-data", "--shares", str(args.shares)] + database,
                            capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
    server, base = run.serve(args.binary, database)
    try:
        token = run.sign_in(base, env)
        middle = min(args.shares, 10_000) // 2
        known = {
            "external": ("GET /v2/shares?externalId=", f"{base}/v2/shares?externalId=booking-{middle}",
                         env["API_KEY"], None),
            "access": ("GET /v1/devices/{id}/access", f"{base}/v1/devices/{env['LOCK_ID']}/access", token, None),
            "effective": ("GET /v1/effective-device-permissions",
                          base + "/v1/effective-device-permissions?size=1000", token, None),
            "post": ("POST /v2/shares", f"{base}/v2/shares", env["API_KEY"], run.post_script(folder, env)),
        }
        for key in args.endpoints.split(","):
            name, url, credential, lua = known[key]
            data = os.path.join(folder, "perf.data")
            perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(server.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            rps, _, _, _, cpu = run.wrk(url, 16, args.seconds, credential, lua, 1, server.pid)
            perf.send_signal(2)
            perf.wait(timeout=60)
            by_object, by_symbol = report(data, args.limit)
            if args.keep:
                shutil.copy(data, f"{args.keep}-{key}.data")
            print(f"## {name}: {rps:,.0f} requests/s, {cpu:,.0f} µs server CPU per request\n")
            print("By shared object (self time):\n```\n" + by_object + "\n```\n")
            print(f"Hottest symbols (self time, ≥ {args.limit}%):\n```\n" + by_symbol + "\n```\n", flush=True)
            for needle in args.under:
                print("Inside (callees, inclusive):\n```\n" + under(data, needle) + "\n```\n", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
