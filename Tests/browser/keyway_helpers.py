"""Helpers shared by the browser scripts (Tests/browser/*_test.py) and bench/import.py.

Selenium is imported only inside `chromium()`: bench/import.py uses this module without Selenium installed.
"""
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request

DEMO_KEY = re.compile(r"kw_[0-9a-f]{64}\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, key=None, body=None, timeout=10):
    """Sends `body` as JSON (with the API key as a bearer token, if any) and returns the decoded answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if key:
        request.add_header("Authorization", "Bearer " + key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def serve(binary, *arguments):
    """Starts `keyway serve ARGUMENTS`, its output (stdout and stderr) on a pipe for `wait_for`."""
    return subprocess.Popen([binary, "serve", *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_for(server, last="Keyway listening on", seconds=60):
    """Reads the server's lines up to the first that starts with `last` (for `seconds` at the most, None for no limit)
    and returns them. Exits if keyway exits first."""
    lines = []
    deadline = None if seconds is None else time.time() + seconds
    while deadline is None or time.time() < deadline:
        line = server.stdout.readline()
        if not line:
            raise SystemExit("keyway exited before listening")
        lines.append(line)
        if line.startswith(last):
            break
    return lines


def demo_key(lines):
    """The demo's API key among the lines `keyway serve --demo` printed, or None."""
    keys = [line.strip() for line in lines if DEMO_KEY.fullmatch(line)]
    return keys[-1] if keys else None


def chromium(window_size=None, browser_log=False):
    """A headless Chromium through chromedriver; `window_size` (width, height) if given, and with `browser_log` the
    browser's console at every level for `driver.get_log("browser")`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")
    options.add_argument("--disable-dev-shm-usage")
    if window_size:
        options.add_argument("--window-size=%d,%d" % tuple(window_size))
    if browser_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chromium_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium_path:
        options.binary_location = chromium_path
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def stop(server, folder=None, driver=None):
    """Quits the browser (if any), stops the server (terminate; kill if it is still running after 10 s) and removes
    the temporary folder."""
    if driver:
        driver.quit()
    if server:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
