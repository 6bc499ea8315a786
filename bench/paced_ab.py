#!/usr/bin/env python3
"""Alternating A/B of `POST /v2/shares`'s p99 on SQLite at a held rate with arrivals spread (issue 13): each variant
on a SQLite data set of its own, loaded by its own binary (so variants whose migrations differ can be compared),
served in turn round after round; each round holds `POST` at `--rate` for 8 s (bench/run.py's `paced`: wrk, each
connection waiting an exponentially distributed time before each request), then `/livez` at the same rate for 4 s
(what the client and the machine add at that rate).

    python3 bench/paced_ab.py --rounds 5 --rate 2800 'base=/path/keyway-old' 'new=.build/release/keyway'

A variant is `LABEL=BINARY`; `env:NAME=VALUE` words after the binary set the server's environment.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
from syncs import serve  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2800)
    parser.add_argument("--shares", type=int, default=100_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="keyway-paced-ab-")
    variants = []
    for number, text in enumerate(args.variants, start=1):
        label, rest = text.split("=", 1)
        words = rest.split()
        extra = dict(word[4:].split("=", 1) for word in words[1:] if word.startswith("env:"))
        database = os.path.join(folder, f"{number}.sqlite")
        loaded = subprocess.run([words[0], "bench-data", "--shares", str(args.shares), "--database", database],
                                capture_output=True, text=True, check=True).stdout
        env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
        variants.append((label, words[0], extra, database, env))
    results = {label: [] for label, *_ in variants}
    for round_ in range(args.rounds):
        for label, binary, extra, database, env in (variants if round_ % 2 == 0 else list(reversed(variants))):
            port = str(run.free_port())
            os.environ.update(extra)
            try:
                server, base = serve([binary, "serve", "--port", port, "--log-level", "error", "--database", database])
            finally:
                for name in extra:
                    os.environ.pop(name)
            try:
                p99, held = run.paced(base + "/v2/shares", args.rate, 8, env["API_KEY"], run.post_body(env))
                floor, _ = run.paced(base + "/livez", args.rate, 4, env["API_KEY"])
            finally:
                server.terminate()
                server.wait(timeout=60)
            results[label].append((p99, held, floor))
            print(f"round {round_ + 1}, {label}: POST p99 {p99:.2f} ms at {held:,.0f}/s; /livez p99 {floor:.2f} ms",
                  file=sys.stderr, flush=True)
    print(f"`POST /v2/shares` held at {args.rate:,.0f}/s with arrivals spread, SQLite, {args.shares:,} shares, "
          f"{args.rounds} alternating rounds; p99 ms.\n")
    print("| variant | median p99 | each round | `/livez` p99 at that rate, median |")
    print("|---|---:|---|---:|")
    for label, rounds in results.items():
        print(f"| {label} | {statistics.median(p for p, _, _ in rounds):.2f} | "
              f"{' / '.join(f'{p:.2f}' for p, _, _ in rounds)} | {statistics.median(f for _, _, f in rounds):.2f} |")


if __name__ == "__main__":
    main()
