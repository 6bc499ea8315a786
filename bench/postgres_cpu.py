#!/usr/bin/env python3
"""PostgreSQL's own CPU per `POST /v2/shares` beside Keyway's (issue 13): both share the machine's cores, so a
write that costs Keyway less can still be bound by the database.

    python3 bench/postgres_cpu.py --database-url postgres://keyway@127.0.0.1:54329/keyway \
        'before=/path/keyway-old' 'after=/path/keyway-new'

Each variant, twice in turn: a fresh schema with `keyway bench-data` (100 thousand shares), `keyway serve`, 2 s of
warm-up, then 5 s of wrk (one thread, 16 connections) posting the share bench/run.py posts. Keyway's CPU is its
process's; PostgreSQL's is the sum over every process of the `postgres` user (server, backends, WAL writer,
checkpointer) on this machine, so run it on a machine where no other PostgreSQL works.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def postgres_cpu():
    total = 0.0
    for pid in subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True).stdout.split():
        try:
            total += run.cpu_seconds(int(pid))
        except (OSError, ValueError):
            pass  # a backend that ended meanwhile
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--shares", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("variants", nargs="+", help="LABEL=BINARY")
    args = parser.parse_args()
    variants = [text.split("=", 1) for text in args.variants]
    print("| variant | shares/s | Keyway CPU µs per share | PostgreSQL CPU µs per share | errors |")
    print("|---|---:|---:|---:|---|")
    for _ in range(args.rounds):
        for label, binary in variants:
            folder = tempfile.mkdtemp(prefix="keyway-pgcpu-")
            database = run.database_arguments(types.SimpleNamespace(database_url=args.database_url), folder, "pgcpu")
            loaded = subprocess.run([binary, "bench-data", "--shares", str(args.shares)] + database,
                                    capture_output=True, text=True, check=True).stdout
            env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
            server, base = run.serve(binary, database)
            try:
                lua = run.post_script(folder, env)
                run.wrk(base + "/v2/shares", 16, 2, env["API_KEY"], lua, 1, server.pid)
                before, started = postgres_cpu(), time.time()
                rps, _, _, errors, keyway = run.wrk(base + "/v2/shares", 16, 5, env["API_KEY"], lua, 1, server.pid)
                shares = rps * (time.time() - started)
                database_cpu = (postgres_cpu() - before) / max(shares, 1) * 1e6
                print(f"| {label} | {rps:,.0f} | {keyway:,.0f} | {database_cpu:,.0f} | {errors or 'none'} |", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
