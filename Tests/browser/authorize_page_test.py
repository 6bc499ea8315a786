#!/usr/bin/env python3
"""Authorization-code sign-in through /authorize in a real headless Chromium, driven by Selenium.

Creates an account and registers an OAuth client whose redirect URI is a small listener on 127.0.0.1 that
this script runs, starts `keyway serve` on a fresh database, opens /authorize (with PKCE) in a 375 px wide
window, signs in with the keyboard alone, and checks that the browser arrives at the redirect URI with
`code` and `state` (so the page's Content-Security-Policy lets the form's redirect through) and that the
code exchanges for tokens that work.

Usage: authorize_page_test.py PATH_TO_KEYWAY_BINARY
Exits 0 on success; prints what failed otherwise.
"""
import base64
import hashlib
import http.server
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from keyway_helpers import chromium, free_port, serve, stop, wait_for

PASSWORD = "a browser's password"


class Callback(http.server.BaseHTTPRequestHandler):
    """The client's redirect URI: records each request's path and answers a small page."""
    seen = []

    def do_GET(self):
        Callback.seen.append(self.path)
        body = b"<!DOCTYPE html><title>callback</title><p id='done'>received</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run(binary, *arguments, stdin=None):
    result = subprocess.run([binary, *arguments], input=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{arguments}: {result.stderr}"
    return result.stdout


def main():
    binary = os.path.abspath(sys.argv[1])
    folder = tempfile.mkdtemp(prefix="keyway-authorize-")
    database = os.path.join(folder, "k.sqlite")
    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    redirect = f"http://127.0.0.1:{listener.server_address[1]}/callback?from=keyway"
    server = None
    driver = None
    try:
        run(binary, "account", "create", "--database", database, "--email", "pat@example.com", stdin=PASSWORD + "\n")
        secret = run(binary, "oauth-client", "add", "--database", database, "--id", "browser-test",
                     "--redirect-uri", redirect, "--generate-secret", "--name", "Browser test").strip()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = serve(binary, "--port", str(port), "--database", database, "--log-level", "warning")
        wait_for(server)

        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = "state <&> " + secrets.token_hex(4)
        authorize = base + "/authorize?" + urllib.parse.urlencode({
            "client_id": "browser-test", "redirect_uri": redirect, "response_type": "code", "state": state,
            "code_challenge": challenge, "code_challenge_method": "S256", "scope": "read activate"})

        driver = chromium((375, 800), browser_log=True)
        driver.get(authorize)
        assert "Browser test" in driver.find_element(By.TAG_NAME, "h1").text
        # Nothing wider than a 375 px phone screen.
        width = driver.execute_script("return document.documentElement.scrollWidth")
        viewport = driver.execute_script("return window.innerWidth")
        assert width <= viewport, f"the page scrolls sideways: {width} > {viewport}"
        # The keyboard alone: the username field has the focus, Tab moves to the password, Enter submits.
        focused = driver.switch_to.active_element
        assert focused.get_attribute("id") == "username", focused.get_attribute("id")
        focused.send_keys("pat@example.com", Keys.TAB)
        driver.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
        WebDriverWait(driver, 15).until(lambda d: d.current_url.startswith(redirect.split("?")[0]))
        arrived = urllib.parse.urlsplit(driver.current_url)
        query = urllib.parse.parse_qs(arrived.query)
        assert query.get("from") == ["keyway"], driver.current_url
        assert query.get("state") == [state], driver.current_url
        code = query["code"][0]
        assert any("code=" in path for path in Callback.seen), Callback.seen
        for entry in driver.get_log("browser"):
            assert "Content Security Policy" not in entry.get("message", ""), entry

        form = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": "browser-test",
            "client_secret": secret, "code_verifier": verifier}).encode()
        request = urllib.request.Request(base + "/v2/oauth/token", data=form, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, timeout=10) as response:
            tokens = json.loads(response.read())
        account = urllib.request.Request(base + "/v1/account")
        account.add_header("Authorization", "Bearer " + tokens["access_token"])
        with urllib.request.urlopen(account, timeout=10) as response:
            assert json.loads(response.read())["email"] == "pat@example.com"
        # The code worked once; a second exchange is refused.
        try:
            urllib.request.urlopen(urllib.request.Request(base + "/v2/oauth/token", data=form, method="POST"),
                                   timeout=10)
            raise AssertionError("a code was exchanged twice")
        except urllib.error.HTTPError as error:
            assert error.code == 400, error.code
        print("authorize page: signed in, redirected with code and state, exchanged")
    finally:
        stop(server, None, driver)
        listener.shutdown()
        stop(None, folder)


if __name__ == "__main__":
    main()
