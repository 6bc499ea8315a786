#!/usr/bin/env python3
"""p99 at held rates, alternating builds (issue 13): hey holds `POST /v2/shares` (or another endpoint) at each
rate for `--seconds`, then `/livez` at the same rate just after (what the client and the machine alone add), for
each variant in turn, round after round, on ONE SQLite data set (or PostgreSQL with --database-url).

    python3 bench/held.py 'before=/path/keyway' 'after=.build/release/keyway'
    python3 bench/held.py --rates 1000 2000 --rounds 4 --endpoint post 'A=...' 'B=...'

A variant is `LABEL=BINARY [--serve-flag value ...] [env:NAME=VALUE ...]`, as `bench/run.py --variant` takes it.
Prints, per variant and rate, each round's p99 and the medians (ms).
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
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--endpoint", default="post", choices=["post", "id", "effective"])
    parser.add_argument("--paced", action="store_true",
                        help="hold the rate with wrk's connections arriving apart (run.paced), not with hey's bursts")
    args = parser.parse_args()
    variants = [run.parse_variant(text) for text in args.variants]
    folder = tempfile.mkdtemp(prefix="keyway-held-")
    database = run.database_arguments(args, folder, "held")
    loaded = subprocess.run([variants[0][1], "bench-data", "--shares", str(args.shares)] + database,
                            capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
    middle = min(args.shares, 10_000) // 2
    results = {}
    for _ in range(args.rounds):
        for label, binary, flags, extra in variants:
            server, base = run.serve(binary, database, flags, extra)
            try:
                key = env["API_KEY"]
                if args.endpoint == "post":
                    url, credential, body = base + "/v2/shares", key, run.post_body(env)
                elif args.endpoint == "id":
                    url, credential, body = f"{base}/v2/shares/{middle}", key, None
                else:
                    url, credential, body = (base + "/v1/effective-device-permissions?size=1000",
                                             run.sign_in(base, env), None)
                for rate in args.rates:
                    if args.paced:
                        held = run.paced(url, rate, args.seconds, credential, body)[0]
                        floor = run.paced(base + "/livez", rate, args.seconds, key)[0]
                    else:
                        held = run.hey(url, rate, args.seconds, credential, body)
                        floor = run.hey(base + "/livez", rate, args.seconds, key)
                    results.setdefault((label, rate), []).append((held, floor))
            finally:
                server.terminate()
                server.wait(timeout=30)
    print(f"p99 (ms) held by {'wrk, paced' if args.paced else 'hey'}, {args.endpoint}, {args.rounds} alternating rounds of {args.seconds} s, "
          f"{args.shares:,} shares, {'PostgreSQL' if args.database_url else 'SQLite'}\n")
    print("| variant | rate/s | p99 each round | median | /livez p99 at that rate (median) |")
    print("|---|---:|---|---:|---:|")
    for label, *_ in variants:
        for rate in args.rates:
            values = results[(label, rate)]
            rounds = ", ".join(f"{held:.1f}" for held, _ in values)
            print(f"| {label} | {rate:,} | {rounds} | {statistics.median(h for h, _ in values):.1f} | "
                  f"{statistics.median(f for _, f in values):.1f} |")


if __name__ == "__main__":
    main()
