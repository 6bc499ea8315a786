#!/usr/bin/env python3
"""The web-key page in a real headless Chromium, driven by Selenium.

Starts `keyway serve --demo` on a free loopback port with a fresh database, gives the demo's invited guest
a temporary share on the front door with remoteActivate and a web key, opens the web-key page, presses
Open, waits for the success message, and finds the activation (method WebKey) in the event log.

Usage: webkey_page_test.py PATH_TO_KEYWAY_BINARY
Exits 0 on success; prints what failed otherwise.
"""
import os
import sys
import tempfile

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from keyway_helpers import call, chromium, demo_key, free_port, serve, stop, wait_for


def main():
    binary = os.path.abspath(sys.argv[1])
    folder = tempfile.mkdtemp(prefix="keyway-browser-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(binary, "--demo", "--port", str(port), "--database", os.path.join(folder, "k.sqlite"),
                   "--log-level", "warning")
    driver = None
    try:
        key = demo_key(wait_for(server))
        assert key, "no demo API key printed"

        # A week-long share for the demo's invited guest (user 4) on the front door (device 1, behind gateway 3).
        share = call("POST", base + "/v2/shares", key, {
            "organizationId": 1, "source": {"deviceId": 1}, "receiver": {"userId": 4},
            "permissions": {"remoteActivate": True}, "endDate": "2099-12-31"})["shareId"]
        call("POST", f"{base}/v2/shares/{share}/web-key", key)
        web_key = call("GET", f"{base}/v2/shares/{share}", key)["webKey"]
        assert web_key.startswith(base + "/webkey/"), web_key

        driver = chromium()
        driver.get(web_key)
        name = call("GET", base + "/v2/devices/1", key)["name"]
        lock = driver.find_element(By.ID, "lock").text
        assert lock == name, f"lock name not shown: {lock!r}, expected {name!r}"
        validity = driver.find_element(By.ID, "validity").text
        assert "2099-12-31" in validity, f"validity not shown: {validity!r}"
        driver.find_element(By.CSS_SELECTOR, "button[data-device='1']").click()
        WebDriverWait(driver, 15).until(EC.text_to_be_present_in_element((By.ID, "result"), "Opened"))
        result = driver.find_element(By.ID, "result")
        assert "ok" in result.get_attribute("class"), result.get_attribute("class")
        # The browser console has no Content-Security-Policy violations (the script and style are allowed).
        for entry in driver.get_log("browser") if hasattr(driver, "get_log") else []:
            assert "Content Security Policy" not in entry.get("message", ""), entry

        events = call("GET", base + "/v2/events?deviceId=1&type=DeviceActivation", key)
        opened = [e for e in events if e.get("method") == "WebKey" and e.get("result") == "Success"]
        assert len(opened) == 1, events
        assert opened[0].get("shareId") == share, opened[0]
        print(f"web-key page: loaded, opened, event {opened[0]['id']} recorded")
    finally:
        stop(server, folder, driver)


if __name__ == "__main__":
    main()
