#!/usr/bin/env python3
"""Times `keyway import shares` of a 10,000-row file against a live local server, twice.

Starts `keyway serve --demo` on a fresh SQLite file (or a PostgreSQL URL with --database-url), invites 100 people
through the API, writes a CSV of ROWS shares (each person a hundred times, on the demo's two locks, a weekly
schedule), then runs the import three times: --dry-run, the real run, and the same file again (which must create
nothing). Prints a Markdown table with the wall-clock time of each and what the command reported.

Usage: bench/import.py [--binary .build/release/keyway] [--rows 10000] [--database-url postgres://...]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "browser"))
from keyway_helpers import call as _call, demo_key, free_port, serve, stop, wait_for  # noqa: E402


def call(method, url, key, body=None):
    return _call(method, url, key, body, timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/release/keyway")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    folder = tempfile.mkdtemp(prefix="keyway-import-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = ["--database-url", args.database_url] if args.database_url else \
        ["--database", os.path.join(folder, "k.sqlite")]
    server = serve(binary, "--demo", "--port", str(port), "--log-level", "warning", *database)
    try:
        key = demo_key(wait_for(server, seconds=None))
        people = []
        for n in range(100):
            email = f"guest{n}@example.com"
            call("POST", base + "/v2/users", key, {"organizationId": 1, "emailAddress": email})
            people.append(email)
        path = os.path.join(folder, "shares.csv")
        with open(path, "w") as out:
            out.write("externalId,lock,email,startDate,endDate,days,from,to,rights\n")
            for n in range(args.rows):
                day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][n % 7]
                out.write(f"import-{n},{1 + n % 2},{people[n % 100]},2030-01-01,2030-12-31,{day},09:00,17:00,open\n")
        environment = dict(os.environ, KEYWAY_URL=base, KEYWAY_API_KEY=key)
        rows = []
        for label, extra in [("--dry-run", ["--dry-run"]), ("first run", []), ("same file again", [])]:
            start = time.monotonic()
            result = subprocess.run([binary, "import", "shares", path] + extra, env=environment,
                                    capture_output=True, text=True)
            elapsed = time.monotonic() - start
            if result.returncode != 0:
                raise SystemExit(f"{label} failed: {result.stdout} {result.stderr[-2000:]}")
            rows.append((label, elapsed, result.stdout.strip().splitlines()[-1]))
        shares = 0
        offset = 0
        while True:
            page = call("GET", f"{base}/v2/shares?organizationId=1&offset={offset}&size=100", key)
            shares += sum(1 for s in page if (s.get("externalId") or "").startswith("import-"))
            if len(page) < 100:
                break
            offset += 100
        print(f"{args.rows} rows, {'PostgreSQL' if args.database_url else 'SQLite'}, {os.path.basename(binary)} "
              f"({'release' if 'release' in binary else 'debug'} build)")
        print()
        print("| run | wall-clock | what `keyway import` said |")
        print("|---|---:|---|")
        for label, elapsed, said in rows:
            print(f"| {label} | {elapsed:.1f} s | {said} |")
        print()
        print(f"Shares with an import-* externalId on the server afterwards: {shares}")
        if shares != args.rows:
            raise SystemExit(f"expected {args.rows} imported shares, found {shares}")
    finally:
        stop(server, folder)


if __name__ == "__main__":
    main()
