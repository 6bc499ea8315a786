#!/usr/bin/env python3
"""Pages a lone `POST /v2/shares` writes to SQLite's WAL (issue 13). For each binary: a data set of its own
(`keyway bench-data`, 100 thousand shares), `keyway serve`, 100 shares to warm up, then 200 shares sent one after
another by one client while `perf trace` records the server's `pwrite64` calls. SQLite writes each WAL frame as two
calls, its 24-byte header and then the page, so the pages are the 4 KB writes to the file descriptor that also takes
the 24-byte ones (the checkpointer's copies into the database file are left out).

    python3 bench/wal_pages.py .build/release/keyway /path/to/an/older/keyway

Needs perf (linux-perf).
"""
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
from syncs import serve  # noqa: E402

SHARES = 200


def main():
    for binary in sys.argv[1:]:
        folder = tempfile.mkdtemp(prefix="keyway-wal-pages-")
        database = os.path.join(folder, "pages.sqlite")
        loaded = subprocess.run([binary, "bench-data", "--shares", "100000", "--database", database],
                                capture_output=True, text=True, check=True).stdout
        env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
        port = str(run.free_port())
        server, _ = serve([binary, "serve", "--port", port, "--log-level", "error", "--database", database])
        trace = os.path.join(folder, "trace.txt")
        try:
            client = http.client.HTTPConnection("127.0.0.1", int(port))
            headers = {"Authorization": "Bearer " + env["API_KEY"], "Content-Type": "application/json"}
            body = run.post_body(env)

            def post():
                client.request("POST", "/v2/shares", body=body, headers=headers)
                response = client.getresponse()
                response.read()
                if response.status >= 300:
                    raise SystemExit(f"POST answered {response.status}")

            for _ in range(100):
                post()
            tracer = subprocess.Popen(["perf", "trace", "-e", "pwrite64", "-p", str(server.pid), "-o", trace],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            for _ in range(SHARES):
                post()
                time.sleep(0.002)  # each its own commit
            time.sleep(0.5)
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
        finally:
            server.terminate()
            server.wait(timeout=30)
        text = open(trace).read()
        wal = set(re.findall(r"pwrite64\(fd: (\d+)[^)]*count: 24,", text))
        pages = sum(1 for fd in re.findall(r"pwrite64\(fd: (\d+)[^)]*count: 4096,", text) if fd in wal)
        print(f"{binary}: {pages:,} WAL pages for {SHARES} shares written one at a time: {pages / SHARES:.1f} a share",
              flush=True)


if __name__ == "__main__":
    main()
