#!/usr/bin/env python3
"""The Keyway console in a real headless Chromium, driven by Selenium.

Starts `keyway serve --demo --manual-clock` on a free loopback port with a fresh database and sets its clock to
Wednesday 2030-03-06 10:00 UTC (11:00 in Amsterdam). Then, as the demo's manager: signs in, registers a lock
(Europe/Amsterdam, behind the demo's gateway), invites a person, sends a share form with a bad date (the message
comes back next to the field, nothing lost) and then a good one (Monday and Wednesday 09:00-12:00, open remotely,
administrate), finds the share's two bars on the lock's week chart at the right hours with the now line inside the
Wednesday bar, asks "Why?", creates a web key, opens the door with it in a second tab while the events page is open
in the first, and sees the opening appear there without a reload. A form posted without its token is refused and
writes nothing; at 375 px no page scrolls sideways. The invited person accepts the invitation, signs in with the
keyboard, and sees only the lock it administers (another lock's page is not found).

With KEYWAY_SCREENSHOTS=DIR, saves a screenshot of each page there (scripts/console-screenshots.sh).

Usage: console_test.py PATH_TO_KEYWAY_BINARY
Exits 0 on success; prints what failed otherwise.
"""
import http.server
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from keyway_helpers import call, chromium, demo_key, free_port, serve, stop, wait_for

SHOTS = os.environ.get("KEYWAY_SCREENSHOTS")


def shot(driver, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        # The whole page: as tall as its content.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        width = driver.get_window_size()["width"]
        driver.set_window_size(width, min(max(height + 140, 600), 4000))
        driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def set_value(driver, element_id, value):
    # Date and time inputs take their value in the input's own (locale-dependent) format when typed; set directly.
    driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", element_id, value)


def sign_in(driver, base, username, password, keyboard=False):
    driver.get(base + "/console")
    WebDriverWait(driver, 10).until(EC.url_contains("/console/sign-in"))
    field = driver.find_element(By.ID, "username")
    if keyboard:
        # The username field has the focus; the password follows it, and Enter sends the form.
        driver.switch_to.active_element.send_keys(username, Keys.TAB, password, Keys.ENTER)
    else:
        field.send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 10).until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Overview"))


def no_sideways_scroll(driver, url):
    driver.get(url)
    wide = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert wide[0] <= wide[1], f"{url} scrolls sideways at 375 px: {wide}"


def main():
    binary = os.path.abspath(sys.argv[1])
    folder = tempfile.mkdtemp(prefix="keyway-console-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(binary, "--demo", "--manual-clock", "--port", str(port), "--database",
                   os.path.join(folder, "k.sqlite"), "--log-level", "warning", "--allow-private-targets")
    driver = None
    try:
        lines = wait_for(server, "Console: ")
        if lines and lines[-1].startswith("Console: "):
            assert lines[-1].startswith(f"Console: {base}/console"), lines[-1]
        key = demo_key(lines)
        password = next((line.split()[-1] for line in reversed(lines)
                         if line.startswith("  manager@keyway.example ")), None)
        assert key and password, "no demo API key or sign-in printed"
        call("PUT", base + "/v1/dev/clock", key, {"now": "2030-03-06T10:00:00Z"})
        gateways = [d for d in call("GET", base + "/v2/devices", key) if d["model"]["type"]["id"] == 2]
        assert gateways, "the demo has no gateway"

        driver = chromium((1280, 900), browser_log=True)
        wait = WebDriverWait(driver, 15)

        # Sign in.
        driver.get(base + "/console/sign-in")
        shot(driver, "sign-in")
        driver.set_window_size(1280, 900)
        sign_in(driver, base, "manager@keyway.example", password)
        shot(driver, "overview")
        driver.set_window_size(1280, 900)

        # Register a lock behind the demo's gateway.
        driver.get(base + "/console/locks")
        before = len(driver.find_elements(By.CSS_SELECTOR, "#locks tbody tr"))
        driver.find_element(By.ID, "lock-name").send_keys("Garden gate")
        driver.find_element(By.ID, "lock-location").send_keys("Back garden")
        driver.find_element(By.ID, "lock-zone").send_keys("Europe/Amsterdam")
        Select(driver.find_element(By.ID, "lock-gateway")).select_by_value(str(gateways[0]["id"]))
        driver.find_element(By.ID, "register-lock").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Garden gate"))
        lock = int(re.search(r"/console/locks/(\d+)$", driver.current_url).group(1))

        # A form posted without its token is refused, and writes nothing.
        driver.get(base + "/console/locks")
        driver.find_element(By.ID, "lock-name").send_keys("Forged lock")
        driver.execute_script("document.querySelector('form.stack input[name=csrf]').remove()")
        driver.find_element(By.ID, "register-lock").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "not sent from this console"))
        assert "token is missing or wrong" in driver.find_element(By.ID, "message").text
        driver.get(base + "/console/locks")
        rows = driver.find_elements(By.CSS_SELECTOR, "#locks tbody tr")
        assert len(rows) == before + 1, f"{len(rows)} locks after one registration and one forged form"
        assert "Forged lock" not in driver.page_source
        shot(driver, "locks")
        driver.set_window_size(1280, 900)

        # Invite a person.
        driver.get(base + "/console/people")
        driver.find_element(By.ID, "firstName").send_keys("Noor")
        driver.find_element(By.ID, "lastName").send_keys("Bakker")
        driver.find_element(By.ID, "emailAddress").send_keys("noor@example.com")
        driver.find_element(By.ID, "invite").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Noor Bakker"))
        person = int(re.search(r"/console/people/(\d+)$", driver.current_url).group(1))
        invitation = driver.find_element(By.ID, "invitation-url").get_attribute("value")
        token = invitation.rstrip("/").split("/")[-1]
        driver.get(base + "/console/people")
        shot(driver, "people")
        driver.set_window_size(1280, 900)

        # A share with a bad date: the message is next to the field and nothing typed is lost.
        def fill_share(end_date):
            driver.get(f"{base}/console/shares/new?lock={lock}&person={person}")
            driver.find_element(By.ID, "externalId").send_keys("booking-2030")
            set_value(driver, "startDate", "2030-03-01")
            set_value(driver, "endDate", end_date)
            set_value(driver, "period0-start", "09:00")
            set_value(driver, "period0-end", "12:00")
            driver.find_element(By.ID, "period0-Monday").click()
            driver.find_element(By.ID, "period0-Wednesday").click()
            driver.find_element(By.ID, "administrate").click()
            driver.find_element(By.ID, "save-share").click()

        fill_share("2030-02-01")
        wait.until(EC.presence_of_element_located((By.ID, "error-endDate")))
        assert "end" in driver.find_element(By.ID, "error-endDate").text
        assert driver.find_element(By.ID, "externalId").get_attribute("value") == "booking-2030"
        assert driver.find_element(By.ID, "period0-Wednesday").is_selected()
        assert driver.find_element(By.ID, "period0-start").get_attribute("value") == "09:00"
        assert not call("GET", base + "/v2/shares?externalId=booking-2030", key), "a refused form wrote a share"
        shot(driver, "share-error")
        driver.set_window_size(1280, 900)

        fill_share("2030-03-31")
        wait.until(EC.url_contains("saved=1"))
        share = int(re.search(r"/console/shares/(\d+)", driver.current_url).group(1))
        stored = call("GET", f"{base}/v2/shares/{share}", key)
        assert stored["externalId"] == "booking-2030", stored
        days = sorted(entry["dayOfWeek"] for entry in stored["schedule"])
        assert days == ["Monday", "Wednesday"], stored["schedule"]
        assert all(e["period"]["startTime"].startswith("09:00") for e in stored["schedule"]), stored["schedule"]

        # The web key.
        driver.find_element(By.ID, "create-web-key").click()
        wait.until(EC.presence_of_element_located((By.ID, "web-key-url")))
        web_key = driver.find_element(By.ID, "web-key-url").get_attribute("value")
        assert web_key.startswith(base + "/webkey/"), web_key
        shot(driver, "share")
        driver.set_window_size(1280, 900)

        # The week chart: Monday and Wednesday 09:00-12:00 (5 units an hour from Monday's line), now inside Wednesday.
        driver.get(f"{base}/console/locks/{lock}")
        monday = float(driver.find_element(By.CSS_SELECTOR, "#week-chart line.day").get_attribute("x1"))
        bars = driver.find_elements(By.CSS_SELECTOR, f"#week-chart rect.grant[data-share='{share}']")
        spans = sorted((float(b.get_attribute("x")), float(b.get_attribute("width"))) for b in bars)
        expected = [(monday + 9 * 5, 15.0), (monday + (2 * 24 + 9) * 5, 15.0)]
        assert len(spans) == 2 and all(abs(a[0] - b[0]) < 0.2 and abs(a[1] - b[1]) < 0.2
                                       for a, b in zip(spans, expected)), f"bars {spans}, expected {expected}"
        now = float(driver.find_element(By.ID, "now-line").get_attribute("x1"))
        assert abs(now - (monday + (2 * 24 + 11) * 5)) < 0.2, f"now line at {now}"
        ActionChains(driver).move_to_element(bars[0]).perform()
        wait.until(EC.text_to_be_present_in_element((By.ID, "chart-caption"), f"share {share}"))
        driver.execute_script("arguments[0].focus()", bars[-1])
        wait.until(EC.text_to_be_present_in_element((By.ID, "chart-caption"), "2030-03-06 09:00 to 2030-03-06 12:00"))
        shot(driver, "lock")
        driver.set_window_size(1280, 900)

        # Why?
        driver.get(f"{base}/console/why?person={person}&lock={lock}&at=2030-03-06T11:00")
        answer = driver.find_element(By.ID, "answer").text
        assert answer.startswith("Yes"), answer
        assert f"share {share}" in answer and "12:00" in answer, answer
        shot(driver, "why")
        driver.set_window_size(1280, 900)

        # The events page open; the door opened with the web key in another tab; the opening appears, no reload.
        driver.get(base + "/console/events")
        driver.execute_script("window.keywayMarker = 'same page'")
        events_tab = driver.current_window_handle
        time.sleep(1.5)  # the stream is open and has sent its first round
        driver.switch_to.new_window("tab")
        driver.get(web_key)
        driver.find_element(By.CSS_SELECTOR, f"button[data-device='{lock}']").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "result"), "Opened"))
        driver.close()
        driver.switch_to.window(events_tab)
        WebDriverWait(driver, 20).until(
            lambda d: any("WebKey" in row.text and "Garden gate" in row.text
                          for row in d.find_elements(By.CSS_SELECTOR, "#event-rows tr.new")))
        assert driver.execute_script("return window.keywayMarker") == "same page", "the events page was reloaded"
        shot(driver, "events")
        driver.set_window_size(1280, 900)
        csv = urllib.request.Request(base + "/console/events.csv")
        csv.add_header("Cookie", "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies()))
        with urllib.request.urlopen(csv, timeout=10) as response:
            text = response.read().decode()
        assert text.startswith("id,time,type,lock,person,result,method") and "WebKey" in text, text[:500]

        driver.get(base + "/console/shares")
        shot(driver, "shares")
        driver.get(f"{base}/console/people/{person}")
        shot(driver, "person")

        # Groups: a new group with Noor in it.
        driver.get(base + "/console/groups")
        driver.find_element(By.ID, "group-name").send_keys("Gardeners")
        driver.find_element(By.ID, "add-group").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Gardeners"))
        group = int(re.search(r"/console/groups/(\d+)$", driver.current_url).group(1))
        Select(driver.find_element(By.ID, "member")).select_by_value(str(person))
        driver.find_element(By.ID, "add-member").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "members"), "Noor Bakker"))
        members = call("GET", f"{base}/v1/user-groups/{group}?includeMembers=true", key)
        assert "Noor" in json.dumps(members), members
        shot(driver, "group")
        driver.set_window_size(1280, 900)

        # Webhooks: one to a receiver on loopback, sent a test delivery; an API key, its secret shown once.
        received = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.headers.get("X-Keyway-Signature"), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        receiver = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        driver.get(base + "/console/settings")
        driver.find_element(By.ID, "webhookUrl").send_keys(hook_url)
        driver.find_element(By.ID, "add-webhook").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "webhooks"), hook_url))
        driver.find_element(By.CSS_SELECTOR, "#webhooks button.small").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "note"), "answered the test delivery"))
        assert any(body == b"[]" and signature for signature, body in received), received
        driver.find_element(By.ID, "key-name").send_keys("console test")
        for box in driver.find_elements(By.CSS_SELECTOR, "input[name=scopes]"):
            if box.get_attribute("value") != "read" and box.is_selected():
                box.click()
        driver.find_element(By.ID, "add-key").click()
        wait.until(EC.presence_of_element_located((By.ID, "new-key-secret")))
        secret = driver.find_element(By.ID, "new-key-secret").get_attribute("value")
        assert secret.startswith("kw_"), secret
        assert call("GET", base + "/v2/devices", secret), "the new key reads nothing"
        shot(driver, "settings")
        driver.set_window_size(1280, 900)
        driver.get(base + "/console/settings")
        assert secret not in driver.page_source, "the key's secret is shown again"
        rows = driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr")
        row = next(r for r in rows if "console test" in r.text)
        row.find_element(By.TAG_NAME, "button").click()
        driver.switch_to.alert.accept()
        wait.until(lambda d: "console test" not in d.find_element(By.ID, "keys").text)
        try:
            call("GET", base + "/v2/devices", secret)
            raise AssertionError("a revoked key still reads")
        except urllib.error.HTTPError as error:
            assert error.code == 401, error.code
        receiver.shutdown()

        # At a phone's width nothing scrolls sideways.
        driver.set_window_size(375, 812)
        for path in ["", "/locks", f"/locks/{lock}", "/people", f"/people/{person}", "/groups", f"/groups/{group}",
                     "/shares", "/shares/new", f"/shares/{share}", f"/why?person={person}&lock={lock}", "/events",
                     "/settings"]:
            no_sideways_scroll(driver, base + "/console" + path)
        driver.get(f"{base}/console/locks/{lock}")
        shot(driver, "lock-phone")

        # No Content-Security-Policy violations anywhere on the way.
        for entry in driver.get_log("browser"):
            assert "Content Security Policy" not in entry.get("message", ""), entry

        # The invited person accepts, signs in with the keyboard, and sees only the lock it administers.
        call("POST", f"{base}/v1/invitations/{token}/accept", None,
             {"firstName": "Noor", "lastName": "Bakker", "emailAddress": "noor@example.com",
              "password": "a long garden password"})
        driver.set_window_size(1280, 900)
        driver.get(base + "/console")
        driver.find_element(By.ID, "sign-out").click()
        wait.until(EC.url_contains("/console/sign-in"))
        sign_in(driver, base, "noor@example.com", "a long garden password", keyboard=True)
        driver.get(base + "/console/locks")
        names = [row.find_element(By.TAG_NAME, "td").text
                 for row in driver.find_elements(By.CSS_SELECTOR, "#locks tbody tr")]
        assert names == ["Garden gate"], f"a device administrator sees {names}"
        driver.get(base + "/console/locks/1")
        assert "Not possible" in driver.find_element(By.TAG_NAME, "h1").text, driver.page_source[:500]
        print(f"console: signed in, lock {lock}, person {person}, share {share} on the week chart, "
              "opened by web key and seen live, group, webhook tested, key shown once and revoked, CSRF refused, "
              "375 px, device administrator sees its lock only")
    finally:
        stop(server, folder, driver)


if __name__ == "__main__":
    main()
