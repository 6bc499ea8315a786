#!/usr/bin/env python3
"""A/B of two builds on one endpoint (run H's addendum): both serve the same SQLite data set (100 thousand shares)
in turn, three rounds, wrk one thread 16 connections 5 s on GET /v1/effective-device-permissions and on /livez;
prints the median requests/s, ratio to /livez and server CPU µs per request. Edit `bins` for the two builds.
"""
import os, sys, subprocess, tempfile, time, urllib.request, statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run
bins = {
    "array per field (e7f37bc)": os.environ.get("KEYWAY_A", "../keyway-e7f37bc/.build/release/keyway"),
    "one buffer": os.environ.get("KEYWAY_B", os.path.join(run.ROOT, ".build", "release", "keyway")),
}
folder = tempfile.mkdtemp()
db = os.path.join(folder, "ab.sqlite")
out = subprocess.run([bins["one buffer"], "bench-data", "--shares", "100000", "--database", db], capture_output=True, text=True, check=True).stdout
env = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
results = {k: [] for k in bins}
for round in range(3):
    for label, binary in bins.items():
        server, base = run.serve(binary, ["--database", db])
        token = run.sign_in(base, env)
        r = run.wrk(base + "/v1/effective-device-permissions?size=1000", 16, 5, token, None, 1, server.pid)
        livez = run.wrk(base + "/livez", 16, 5, token, None, 1, server.pid)
        results[label].append((r[0], r[4], livez[0]))
        server.terminate(); server.wait()
for label, rs in results.items():
    print(f"| {label} | {statistics.median(x[0] for x in rs):,.0f} | {statistics.median(x[0]/x[2] for x in rs):.3f}x | {statistics.median(x[1] for x in rs):,.0f} |")
