#!/usr/bin/env python3
"""Keyway's HTTP benchmarks (issues 5 and 13): release build, data sets of N shares, wrk and hey.

    python3 bench/run.py                       # 10 thousand, 100 thousand and 1 million shares
    python3 bench/run.py --sizes 10000 --seconds 5 --repeats 3
    python3 bench/run.py --database-url postgres://keyway@127.0.0.1:54329/keyway   # on PostgreSQL

For each size: `keyway bench-data` loads the data set into a fresh SQLite file (or, with --database-url, a
fresh schema of that PostgreSQL database, made with psql), `keyway serve` serves it,
and wrk (`--threads`, one by default, so that the client leaves the server a core) measures each endpoint
`--repeats` times for `--seconds` seconds at each connection count (16 by default). The server's static
`GET /livez` (no store call) is measured in the same run as the baseline; every figure is the median of the
repeats, and every endpoint is also given as a ratio to /livez. For each wrk run the server's CPU time (user +
system, from /proc/PID/stat) is divided by the requests it answered: CPU per request. At saturation wrk's p99
measures queueing, so each endpoint is also held by hey (`hey -q`) at half its own measured maximum rate, and
that p99 is reported beside, with /livez's p99 held at that same rate just after (the client's and the machine's
share of it). hey's workers all tick at the same instants, so that p99 is the time to drain a burst of one request
per connection; the same rate is held again by wrk with arrivals spread (`paced`, bench/paced.lua), and that p99
is reported too. The server's peak memory is its VmHWM.
Writes a Markdown report to stdout (and bench/results/<date>.md). Needs `wrk` and `hey` (apt-get install).
"""
import argparse
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def cpu_seconds(pid):
    """The process's user + system CPU time so far, in seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, connections, seconds, key, lua=None, threads=1, pid=None):
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-H", f"Authorization: Bearer {key}"]
    if lua:
        command += ["-s", lua]
    before = cpu_seconds(pid) if pid else 0
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - before if pid else float("nan")
    total = int(re.search(r"(\d+) requests in", output).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = to_ms(re.search(r"\s50%\s+([\d.]+\w+)", output).group(1))
    p99 = to_ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    problems = []
    if errors:
        problems.append(f"{errors.group(1)} non-2xx")
    if socket_errors:
        problems.append("socket errors: " + socket_errors.group(1).strip())
    if problems:
        print(f"wrk saw errors on {url}:\n{output}", file=sys.stderr, flush=True)
    return rps, p50, p99, "; ".join(problems), cpu / max(total, 1) * 1e6


def hey(url, rate, seconds, key, body=None, connections=16):
    """p99 in ms with hey holding `rate` requests/s in all (spread over `connections` workers)."""
    per_worker = max(rate / connections, 0.1)
    command = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-q", f"{per_worker:.2f}",
               "-H", f"Authorization: Bearer {key}"]
    if body is not None:
        command += ["-m", "POST", "-T", "application/json", "-d", body]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"99%+ in ([\d.]+) secs", output)
    return float(match.group(1)) * 1000 if match else float("nan")


def paced(url, rate, seconds, key, body=None, connections=16):
    """p99 in ms and the rate achieved, with wrk's connections holding `rate` requests/s in all, each waiting an
    exponentially distributed time before each request (bench/paced.lua): arrivals spread in time, as a Poisson
    stream's are. hey's workers all tick at the same instants, so at a held rate it sends `connections` requests at
    once and its p99 is the time to drain that burst. Two short first passes measure each request's own share of a
    connection's cycle (latency and wrk's overhead), which the next pass takes off the wait to hold `rate`; the rate
    actually held is returned, to be reported beside the p99."""
    cycle_ms = connections / rate * 1000
    wait_ms = cycle_ms
    for pass_seconds in (2, 2, seconds):
        environment = dict(os.environ, PACE_MEAN_MS=f"{wait_ms:.3f}", PACE_BODY=body or "")
        command = ["wrk", "-t1", f"-c{connections}", f"-d{pass_seconds}s", "--latency", "--timeout", "10s",
                   "-H", f"Authorization: Bearer {key}", "-s", os.path.join(ROOT, "bench", "paced.lua"), url]
        output = subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stdout
        achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        own_ms = connections / max(achieved, 0.1) * 1000 - wait_ms
        wait_ms = max(cycle_ms - own_ms, 0.0)
    if re.search(r"Non-2xx or 3xx responses|Socket errors", output):
        print(f"wrk (paced) saw errors on {url}:\n{output}", file=sys.stderr, flush=True)
    return to_ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1)), achieved


def post_json(url, body, headers=None, form=False):
    data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded" if form else "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def peak_memory_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def database_arguments(args, folder, name):
    """The `keyway` flags for a fresh database: a SQLite file in `folder`, or a new PostgreSQL schema."""
    if not args.database_url:
        return ["--database", os.path.join(folder, name + ".sqlite")]
    schema = "bench_" + name
    subprocess.run(["psql", args.database_url, "-q", "-c",
                    f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"], check=True)
    separator = "&" if "?" in args.database_url else "?"
    return ["--database-url", f"{args.database_url}{separator}schema={schema}"]


def serve(binary, database, flags=(), extra_env=None):
    """Starts `keyway serve` on a free port with `database` (flags), waits until /health answers; (process, base URL)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [binary, "serve", "--port", str(port), "--log-level", "error"] + list(database) + list(flags),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, **(extra_env or {})))
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return server, base


def sign_in(base, env):
    """The bench account's access token (`env`: what `keyway bench-data` printed)."""
    return post_json(base + "/v2/oauth/token", {
        "grant_type": "password", "username": env["USER_EMAIL"], "password": env["USER_PASSWORD"]},
        form=True)["access_token"]


def post_body(env):
    """The share the POST benchmark creates: organization 1000's lock for its user 1,000,000."""
    return json.dumps({"organizationId": 1000, "source": {"deviceId": int(env["LOCK_ID"])},
                       "receiver": {"userId": 1_000_000}, "externalId": "bench-post"})


def post_script(folder, env):
    """A wrk script that POSTs `post_body`; its path."""
    lua = os.path.join(folder, "post.lua")
    body = post_body(env)
    with open(lua, "w") as script:
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                     'wrk.headers["Content-Type"] = "application/json"\n')
    return lua


def parse_variant(text):
    """`LABEL=BINARY [--serve-flag value ...] [env:NAME=VALUE ...]`: a build, or a build with a setting changed."""
    label, rest = text.split("=", 1)
    words = rest.split()
    binary, flags, env = words[0], [], {}
    for word in words[1:]:
        if word.startswith("env:"):
            name, value = word[4:].split("=", 1)
            env[name] = value
        else:
            flags.append(word)
    return label, binary, flags, env


def measure_size(binary, shares, args, lines, label="", flags=(), extra_env=None, baselines=None):
    """Measures one build on a fresh data set of `shares`. A build without /livez (before issue 13) is given as a
    ratio to the /livez of the build measured before it in the same run (`baselines`)."""
    baselines = {} if baselines is None else baselines
    folder = tempfile.mkdtemp(prefix="keyway-bench-")
    name = f"size_{shares}" + ("_" + re.sub(r"\W+", "_", label).strip("_").lower() if label else "")
    database = database_arguments(args, folder, name)
    started = time.time()
    loaded = subprocess.run(
        [binary, "bench-data", "--shares", str(shares)] + database,
        capture_output=True, text=True, check=True).stdout
    load_seconds = time.time() - started
    env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
    server, base = serve(binary, database, flags, extra_env)
    try:
        key = env["API_KEY"]
        token = sign_in(base, env)
        middle = min(shares, 10_000) // 2  # a share of organization 1000, the bench key's
        lua, body = post_script(folder, env), post_body(env)
        endpoints = [
            ("GET /livez (baseline)", base + "/livez", key, None),
            ("GET /health (one store ping)", base + "/health", key, None),
            ("GET /v2/shares?externalId=", f"{base}/v2/shares?externalId=booking-{middle}", key, None),
            ("GET /v2/shares/{id}", f"{base}/v2/shares/{middle}", key, None),
            ("GET /v1/effective-device-permissions (100 shares, 10 groups)",
             base + "/v1/effective-device-permissions?size=1000", token, None),
            ("GET /v1/devices/{id}/access", f"{base}/v1/devices/{env['LOCK_ID']}/access", token, None),
            # Last: the shares it creates are on the lock the access check reads, so measured before them it would
            # weigh on them by how fast it ran (run P: a build posting 2.4x the shares slowed the access check after it).
            ("POST /v2/shares", base + "/v2/shares", key, lua),
        ]
        try:
            has_livez = urllib.request.urlopen(base + "/livez", timeout=5).status == 200
        except OSError:
            has_livez = False
        if not has_livez:
            endpoints = endpoints[1:]
        for connections in args.connections:
            baseline = None if has_livez else baselines.get((shares, connections))
            for name, url, credential, script in endpoints:
                runs = [wrk(url, connections, args.seconds, credential, script, args.threads, server.pid)
                        for _ in range(args.repeats)]
                rps = statistics.median(r[0] for r in runs)
                p50 = statistics.median(r[1] for r in runs)
                p99 = statistics.median(r[2] for r in runs)
                cpu = statistics.median(r[4] for r in runs)
                if baseline is None:
                    baseline = (rps, p50, p99)
                    baselines[(shares, connections)] = baseline
                held = hey(url, rps / 2, args.seconds, credential, body if script else None, connections)
                # The same rate on /livez just after: what the client and the machine alone add to a p99 at that rate.
                floor = hey(base + "/livez", rps / 2, args.seconds, key, None, connections) if has_livez else float("nan")
                # The same rate again with arrivals spread (wrk, bench/paced.lua), and /livez so just after.
                spread, achieved = paced(url, rps / 2, args.seconds, credential, body if script else None, connections)
                spread_floor = paced(base + "/livez", rps / 2, args.seconds, key, None, connections)[0] if has_livez else float("nan")
                ratio = f"{rps / baseline[0]:.2f}x" if baseline else "–"
                problems = "; ".join(f"run {i + 1}: {r[3]}" for i, r in enumerate(runs) if r[3]) or "none"
                lines.append(f"| {label or 'this build'} | {shares:,} | {connections} | {name} | {rps:,.0f} | {ratio} | {cpu:,.0f} | {p50:.2f} "
                             f"| {p99:.2f} | {held:.2f} | {floor:.2f} | {spread:.2f} ({achieved:,.0f}/s) | {spread_floor:.2f} | {problems} |")
                print(lines[-1], file=sys.stderr, flush=True)
        memory = peak_memory_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return load_seconds, memory


def load_test(binary, shares, seconds, connections, args):
    """Mixed reads and writes at many connections; returns the wrk summary line and whether it was clean."""
    folder = tempfile.mkdtemp(prefix="keyway-load-")
    database = database_arguments(args, folder, "load")
    loaded = subprocess.run([binary, "bench-data", "--shares", str(shares)] + database,
                            capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in loaded.splitlines() if "=" in line)
    server, base = serve(binary, database)
    try:
        environment = dict(os.environ, KEYWAY_BENCH_KEY=env["API_KEY"], KEYWAY_BENCH_SHARES=str(shares),
                           KEYWAY_BENCH_LOCK=env["LOCK_ID"])
        output = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
             "-s", os.path.join(ROOT, "bench", "mixed.lua"), base],
            capture_output=True, text=True, check=True, env=environment).stdout
        memory = peak_memory_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = to_ms(re.search(r"\s50%\s+([\d.]+\w+)", output).group(1))
    p99 = to_ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    clean = not non2xx and not socket_errors
    line = (f"| {connections} | {seconds} s | {shares:,} | {total:,} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | "
            f"{non2xx.group(1) if non2xx else 0} | {socket_errors.group(1) if socket_errors else 'none'} | "
            f"{memory:.0f} MB |")
    return line, clean, output


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[16])
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (the client's share of the cores)")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--binary", help="the keyway to measure (default: a release build of this checkout)")
    parser.add_argument("--database-url", help="benchmark the PostgreSQL store on this database (a schema per run)")
    parser.add_argument("--variant", action="append", default=[],
                        help="measure this build or setting too, in the same run: "
                             "'LABEL=BINARY [--serve-flag value ...] [env:NAME=VALUE ...]' (repeatable; "
                             "with variants, only they are measured)")
    parser.add_argument("--load", action="store_true",
                        help="instead: 256 connections of mixed reads and writes for a minute on 100 thousand shares")
    args = parser.parse_args()
    if not args.skip_build and not args.binary:
        subprocess.run(["swift", "build", "-c", "release", "--product", "keyway"], cwd=ROOT, check=True)
    binary = args.binary or os.path.join(ROOT, ".build", "release", "keyway")
    if args.load:
        line, clean, output = load_test(binary, 100_000, 60, 256, args)
        print("| connections | duration | shares | requests | requests/s | p50 ms | p99 ms | non-2xx | socket errors | peak memory |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        print(line)
        print(output, file=sys.stderr)
        sys.exit(0 if clean else 1)
    lines = []
    extra = []
    started = datetime.datetime.now(datetime.timezone.utc)
    variants = [parse_variant(v) for v in args.variant] or [("this build", binary, [], {})]
    baselines = {}
    for size in args.sizes:
        for label, variant_binary, flags, env in variants:
            load_seconds, memory = measure_size(variant_binary, size, args, lines, label, flags, env, baselines)
            extra.append(f"| {label} | {size:,} | {load_seconds:.0f} s | {memory:.0f} MB |")
            text = report(args, started, lines, extra)  # after every data set: a long run keeps what it measured
    print(text)


def report(args, started, lines, extra):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    text = "\n".join([
        f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}; "
        f"{'PostgreSQL (same machine)' if args.database_url else 'SQLite'} store, release build.",
        f"Command: `python3 bench/run.py --sizes {' '.join(map(str, args.sizes))} --seconds {args.seconds} "
        f"--repeats {args.repeats} --connections {' '.join(map(str, args.connections))} --threads {args.threads}"
        f"{' --database-url ' + args.database_url if args.database_url else ''}"
        f"{''.join(' --variant ' + repr(v) for v in args.variant)}`. "
        f"wrk -t{args.threads} --timeout 10s; each figure is the median of {args.repeats} runs of {args.seconds} s; "
        "CPU per request is the server's user + system time over the requests it answered; the last p99 is "
        "hey's, holding half the endpoint's own maximum rate, and beside it hey's p99 on /livez held at that "
        "same rate just after (what the client and the machine add at that rate, with no work behind it). hey's 16 "
        "workers tick at the same instants, so it sends 16 requests at once and its p99 is the time to drain that "
        "burst; the next two columns hold the same rate with wrk, each connection waiting an exponentially "
        "distributed time before each request (bench/paced.lua), so that arrivals come apart as a Poisson stream's "
        "do, with the rate wrk held.",
        "",
        "| build | shares | connections | endpoint | requests/s | vs /livez | server CPU µs/request | p50 ms "
        "| p99 ms | p99 ms at half rate (hey) | /livez p99 ms at that rate (hey) "
        "| p99 ms at half rate, arrivals spread (rate held) | /livez p99 ms so | errors |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *lines,
        "",
        "| build | shares | load time (`keyway bench-data`) | server peak memory (VmHWM) |",
        "|---|---:|---:|---:|",
        *extra,
    ]) + "\n"
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    suffix = "-postgres" if args.database_url else ""
    with open(os.path.join(ROOT, "bench", "results", f"{started:%Y-%m-%d-%H%M}{suffix}.md"), "w") as out:
        out.write(text)
    return text

if __name__ == "__main__":
    main()
