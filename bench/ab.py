#!/usr/bin/env python3
"""Alternating A/B of builds or settings on the hot reads, on ONE data set (100 thousand shares): each variant
serves it in turn, round after round (every other round in the reverse order), so the machine's drift falls on
all alike. For each endpoint: the median requests/s, the ratio to the same server's /livez, and the server's CPU
µs per request (wrk, one thread, 16 connections).

    python3 bench/ab.py 'before=/path/keyway' 'after=.build/release/keyway'
    python3 bench/ab.py 'cache on=.build/release/keyway' 'cache off=.build/release/keyway --share-cache 0'
    python3 bench/ab.py --database-url postgres://keyway@127.0.0.1:54329/keyway 'A=...' 'B=...'
    python3 bench/ab.py --rounds 5 --seconds 5 --endpoints livez,id,external,access,effective,post 'A=...'
    python3 bench/ab.py --both-stores --database-url postgres://keyway@127.0.0.1:54329/keyway 'A=...'

A variant is `LABEL=BINARY [--serve-flag value ...] [env:NAME=VALUE ...]`, as `bench/run.py --variant` takes it.
The data set is loaded by the first variant's binary. Writes (`post`) add shares to the shared data set, equally
for every variant. With `--both-stores` one data set is loaded into a SQLite file and one into PostgreSQL, each
round serves both in turn, and a row per variant gives PostgreSQL ÷ SQLite from the same rounds (issue 13's
PostgreSQL targets are ratios to SQLite's). With `--database-per-variant` each variant serves a data set of its
own, loaded by its own binary (SQLite files, or PostgreSQL schemas `bench_ab_1`, `bench_ab_2`, ...): for variants
whose schemas differ (a migration), which could not share one.
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
    parser.add_argument("--both-stores", action="store_true",
                        help="every variant on SQLite and on PostgreSQL (--database-url) in turn, round after round, "
                             "with PostgreSQL ÷ SQLite from the same rounds")
    parser.add_argument("--shares", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--endpoints", default="livez,id,external,access,effective")
    parser.add_argument("--database-per-variant", action="store_true",
                        help="each variant on a data set of its own, loaded by its own binary")
    args = parser.parse_args()
    if args.both_stores and not args.database_url:
        parser.error("--both-stores needs --database-url")
    variants = [run.parse_variant(text) for text in args.variants]
    folder = tempfile.mkdtemp(prefix="keyway-ab-")
    if args.both_stores:
        databases = [("SQLite", ["--database", os.path.join(folder, "ab.sqlite")]),
                     ("PostgreSQL", run.database_arguments(args, folder, "ab"))]
    else:
        databases = [("PostgreSQL" if args.database_url else "SQLite", run.database_arguments(args, folder, "ab"))]
    stores = []
    for store, database in databases:
        # {variant label: (its database flags, bench-data's output, its POST script)}
        own = {}
        for number, (label, binary, *_) in enumerate(variants, start=1):
            if own and not args.database_per_variant:
                own[label] = next(iter(own.values()))
                continue
            flags = database
            if args.database_per_variant:
                name = f"ab_{number}"
                flags = (run.database_arguments(args, folder, name) if store == "PostgreSQL"
                         else ["--database", os.path.join(folder, name + ".sqlite")])
            loaded = subprocess.run([binary, "bench-data", "--shares", str(args.shares)] + flags,
                                    capture_output=True, text=True, check=True).stdout
            env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
            place = os.path.join(folder, f"{store.lower()}-{number}")
            os.makedirs(place, exist_ok=True)
            own[label] = (flags, env, run.post_script(place, env))
        stores.append((store, own))
    middle = min(args.shares, 10_000) // 2  # a share of organization 1000, the bench key's
    names = args.endpoints.split(",")
    results = {}
    for round_ in range(args.rounds):
        # Every other round in the reverse order, so that neither store nor any variant always goes first.
        turn = (lambda items: items) if round_ % 2 == 0 else (lambda items: list(reversed(items)))
        for store, own in turn(stores):
            for label, binary, flags, extra in turn(variants):
                database, env, lua = own[label]
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
                        results.setdefault((label, store, name), []).append((rps, cpu))
                        print(f"round {round_ + 1}, {label}, {store}, {name}: {rps:,.0f}/s, {cpu:,.0f} µs",
                              file=sys.stderr, flush=True)
                finally:
                    server.terminate()
                    server.wait(timeout=30)
    print(f"Alternating A/B, {args.rounds} rounds of {args.seconds} s per endpoint, {args.shares:,} shares, "
          f"{' and '.join(store for store, *_ in stores)}; medians.\n")
    print("| variant | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))

    def median(label, store, name, field):
        return statistics.median(r[field] for r in results[(label, store, name)])

    for label, *_ in variants:
        for store, *_ in stores:
            livez = median(label, store, "livez", 0) if "livez" in names else None
            cells = []
            for name in names:
                rps, cpu = median(label, store, name, 0), median(label, store, name, 1)
                ratio = f" ({rps / livez:.2f}x)" if livez and name != "livez" else ""
                cells.append(f"{rps:,.0f}/s{ratio}, {cpu:,.0f} µs")
            title = f"{label}, {store}" if len(stores) > 1 else label
            print(f"| {title} | " + " | ".join(cells) + " |")
        if len(stores) > 1:
            cells = [f"{median(label, 'PostgreSQL', name, 0) / median(label, 'SQLite', name, 0):.2f}x requests/s, "
                     f"{median(label, 'PostgreSQL', name, 1) / median(label, 'SQLite', name, 1):.2f}x CPU"
                     for name in names]
            print(f"| {label}, PostgreSQL ÷ SQLite | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
