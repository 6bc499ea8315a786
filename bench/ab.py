#!/usr/bin/env python3
"""Alternating A/B of builds or settings on the hot reads, on ONE data set (100 thousand shares): each variant
serves it in turn, round after round, so the machine's drift falls on all alike. For each endpoint: the median
requests/s, the ratio to the same server's /livez, and the server's CPU µs per request (wrk, one thread, 16
connections).

    python3 bench/ab.py 'before=/path/keyway' 'after=.build/release/keyway'
    python3 bench/ab.py 'cache on=.build/release/keyway' 'cache off=.build/release/keyway --share-cache 0'
    python3 bench/ab.py --database-url postgres://keyway@127.0.0.1:54329/keyway 'A=...' 'B=...'
    python3 bench/ab.py --rounds 5 --seconds 5 --endpoints livez,id,external,access,effective,post 'A=...'

A variant is `LABEL=BINARY [--serve-flag value ...] [env:NAME=VALUE ...]`, as `bench/run.py --variant` takes it.
The data set is loaded by the first variant's binary. Writes (`post`) add shares to the shared data set, equally
for every variant.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--database-url")
    parser.add_argument("--shares", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--endpoints", default="livez,id,external,access,effective")
    args = parser.parse_args()
    variants = [run.parse_variant(text) for text in args.variants]
    folder = tempfile.mkdtemp(prefix="keyway-ab-")
    database = run.database_arguments(args, folder, "ab")
    loaded = subprocess.run([variants[0][1], "bench-data", "--shares", str(args.shares)] + database,
                            capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
    middle = min(args.shares, 10_000) // 2  # a share of organization 1000, the bench key's
    names = args.endpoints.split(",")
    lua = run.post_script(folder, env)
    results = {}
    for _ in range(args.rounds):
        for label, binary, flags, extra in variants:
            server, base = run.serve(binary, database, flags, extra)
            try:
                key, token = env["API_KEY"], run.sign_in(base, env)
                endpoints = {
                    "livez": (f"{base}/livez", key, None),
                    "id": (f"{base}/v2/shares/{middle}", key, None),
                    "external": (f"{base}/v2/shares?externalId=booking-{middle}", key, None),
                    "access": (f"{base}/v1/devices/{env['LOCK_ID']}/access", token, None),
                    "effective": (f"{base}/v1/effective-device-permissions?size=1000", token, None),
                    "post": (f"{base}/v2/shares", key, lua),
                }
                for name in names:
                    url, credential, script = endpoints[name]
                    rps, _, _, _, cpu = run.wrk(url, 16, args.seconds, credential, script, 1, server.pid)
                    results.setdefault((label, name), []).append((rps, cpu))
            finally:
                server.terminate()
                server.wait(timeout=30)
    print(f"Alternating A/B, {args.rounds} rounds of {args.seconds} s per endpoint, {args.shares:,} shares, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}; medians.\n")
    print("| variant | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, *_ in variants:
        livez = statistics.median(r for r, _ in results[(label, "livez")]) if "livez" in names else None
        cells = []
        for name in names:
            rps = statistics.median(r for r, _ in results[(label, name)])
            cpu = statistics.median(c for _, c in results[(label, name)])
            ratio = f" ({rps / livez:.2f}x)" if livez and name != "livez" else ""
            cells.append(f"{rps:,.0f}/s{ratio}, {cpu:,.0f} µs")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
