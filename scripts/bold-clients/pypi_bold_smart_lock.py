#!/usr/bin/env python3
"""The PyPI library `bold-smart-lock` (lwestenberg/bold_smart_lock) against a live Keyway.

Starts `keyway serve --demo` on a temporary SQLite file and a free port on 127.0.0.1, signs in a fresh super
user of the demo organization with `POST /v2/oauth/token` grant_type=password, points the library at the
server by changing only its base URL, calls every library function, and reads the answers the way
lwestenberg/homeassistant_bold's lock entities read them (`custom_components/bold/lock.py`).

    python3 scripts/bold-clients/pypi_bold_smart_lock.py [path/to/keyway]

Exits 0 when every check passes, 1 when a check fails (each failure is printed), 2 when the server or the
sign-in could not be set up. Downloads nothing: `pip install bold-smart-lock` beforehand. The whole run is
bounded (see DEADLINE).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

# The whole run, server start included; each HTTP call gets CALL_TIMEOUT.
DEADLINE = 120
START_TIMEOUT = 60
CALL_TIMEOUT = 15
DEVICE_TYPE_LOCK = 1  # bold_smart_lock.enums.DeviceType.LOCK
DEVICE_TYPE_GATEWAY = 2  # bold_smart_lock.enums.DeviceType.GATEWAY
EMAIL = "pypi-check@example.com"
PASSWORD = "pypi check password 1"


class SetupError(Exception):
    """The server or the sign-in could not be set up: not a finding about the library."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, *, key: str | None = None, body: bytes | None = None,
         content_type: str = "application/json") -> tuple[int, Any]:
    """A plain request for the setup steps (the library is not involved)."""
    request = urllib.request.Request(url, data=body, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text.decode(errors="replace")


class Server:
    """`keyway serve --demo` on a temporary SQLite database; stopped and removed on exit."""

    def __init__(self, binary: str) -> None:
        self.folder = tempfile.mkdtemp(prefix="keyway-pypi-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.folder, "server.log")
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.key = ""

    def start(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise SetupError(f"{self.binary} is not an executable keyway (build it with `swift build` first)")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [self.binary, "serve", "--demo", "--host", "127.0.0.1", "--port", str(self.port),
                 "--database", os.path.join(self.folder, "demo.sqlite"), "--log-level", "warning"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT:
            text = self.log()
            if "Keyway listening on" in text:
                match = re.search(r"^(kw_\S+)$", text, re.MULTILINE)
                if not match:
                    raise SetupError("the demo printed no API key (a line starting kw_)")
                self.key = match.group(1)
                return
            if self.process.poll() is not None:
                raise SetupError(f"keyway exited with status {self.process.returncode}")
            time.sleep(0.2)
        raise SetupError(f"keyway did not listen within {START_TIMEOUT} s")

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return log.read()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def sign_in(server: Server) -> str:
    """A super user of the demo organization with a password, and its access token from the password grant."""
    status, created = http(
        "POST", f"{server.base}/v2/users", key=server.key,
        body=json.dumps({"organizationId": 1, "firstName": "PyPI", "lastName": "Check", "emailAddress": EMAIL,
                         "superUser": True, "invitation": {"language": "en"}}).encode())
    if status != 201 or not isinstance(created, dict) or not created.get("token"):
        raise SetupError(f"POST /v2/users answered {status}: {created}")
    status, accepted = http(
        "POST", f"{server.base}/v1/invitations/{created['token']}/accept",
        body=json.dumps({"firstName": "PyPI", "lastName": "Check", "emailAddress": EMAIL,
                         "password": PASSWORD}).encode())
    if status != 200:
        raise SetupError(f"accepting the invitation answered {status}: {accepted}")
    status, token = http(
        "POST", f"{server.base}/v2/oauth/token",
        body=urllib.parse.urlencode({"grant_type": "password", "username": EMAIL, "password": PASSWORD}).encode(),
        content_type="application/x-www-form-urlencoded")
    if status != 200 or not isinstance(token, dict) or not token.get("access_token"):
        raise SetupError(f"POST /v2/oauth/token (password grant) answered {status}: {token}")
    return token["access_token"]


class Checks:
    """Named checks; every failure is kept and printed, the run goes on where it can."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0

    def check(self, name: str, condition: bool, detail: Any = "") -> bool:
        if condition:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed.append(f"{name}: {detail}" if detail != "" else name)
            print(f"  FAIL  {name}" + (f": {detail}" if detail != "" else ""))
        return condition

    async def call(self, name: str, coroutine: Any) -> Any:
        """A library call, bounded; an exception is a failed check (the library raises on a non-OK errorCode)."""
        try:
            result = await asyncio.wait_for(coroutine, CALL_TIMEOUT)
        except Exception as error:  # the library raises bare exception classes
            self.check(name, False, f"{type(error).__name__} {error}".strip())
            return None
        self.check(name, True)
        return result


def read_entity(checks: Checks, kind: str, data: dict[str, Any]) -> None:
    """What homeassistant_bold's BoldLockEntity / BoldGatewayEntity read in __init__ and device_info."""
    label = f"{kind} {data.get('id')}"
    try:
        model = data.get("model").get("model")  # lock.py: self._data.get(CONF_MODEL).get(CONF_MODEL)
    except AttributeError:
        model = None
    checks.check(f"{label}: model.get('model') is the model's name (model is an object)",
                 isinstance(model, str) and model != "", f"model = {data.get('model')!r}")
    try:
        update_available = data.get("actualFirmwareVersion") < data.get("requiredFirmwareVersion")
    except TypeError as error:
        update_available = error
    checks.check(f"{label}: actualFirmwareVersion < requiredFirmwareVersion compares",
                 isinstance(update_available, bool), update_available)
    checks.check(f"{label}: name", isinstance(data.get("name"), str) and data.get("name") != "", data.get("name"))
    if kind == "lock":
        gateway_id = (data.get("gateway") or {}).get("gatewayId")
        checks.check(f"{label}: available (gateway.gatewayId)", gateway_id is not None, data.get("gateway"))


async def run(base: str, token: str, checks: Checks) -> None:
    import aiohttp
    import bold_smart_lock.bold_smart_lock as library
    import bold_smart_lock.const as constants
    from bold_smart_lock.auth import AbstractAuth

    # The one change a user makes: the base URL (the library copies the constant at import).
    library.API_URL = base
    constants.API_URL = base

    class PasswordGrantAuth(AbstractAuth):
        async def async_get_access_token(self) -> str:
            return token

    async with aiohttp.ClientSession() as session:
        bold = library.BoldSmartLock(PasswordGrantAuth(session))

        permissions = await checks.call("get_device_permissions()", bold.get_device_permissions())
        if not checks.check("effective device permissions are a list of objects",
                            isinstance(permissions, list) and all(isinstance(d, dict) for d in permissions),
                            type(permissions).__name__):
            return
        # lock.py's async_setup_entry: d.get(CONF_TYPE).get(CONF_ID) and d.get(CONF_PERMISSION_REMOTE_ACTIVATE).
        try:
            locks = [d for d in permissions
                     if d.get("type").get("id") == DEVICE_TYPE_LOCK and d.get("permissionRemoteActivate")]
            listed_gateways = [d for d in permissions if d.get("type").get("id") == DEVICE_TYPE_GATEWAY]
        except AttributeError as error:
            checks.check("every entry has type.id", False, error)
            return
        checks.check("a lock the user may open remotely is listed", len(locks) > 0, permissions)
        checks.check("gateways (type 2) are listed too", len(listed_gateways) > 0,
                     [(d.get("id"), d.get("type")) for d in permissions])
        # Only a gateway the user may activate (one with a controller function) becomes an entity.
        gateways = [d for d in listed_gateways if d.get("permissionRemoteActivate")]
        if listed_gateways and not gateways:
            print("  note  no listed gateway offers remote activation: homeassistant_bold makes no gateway entity")
        for lock in locks:
            read_entity(checks, "lock", lock)
        for gateway in gateways:
            read_entity(checks, "gateway", gateway)

        lock = next((d for d in locks if (d.get("gateway") or {}).get("gatewayId") is not None), None)
        if lock is None:
            checks.check("a lock with a gateway to open it through", False, locks)
            return
        # The entities pass their unique id, a string.
        activated = await checks.call(f"remote_activation('{lock['id']}')", bold.remote_activation(str(lock["id"])))
        if activated is not None:
            seconds = activated.get("activationTime")
            checks.check("activation answer: errorCode OK", activated.get("errorCode") == "OK", activated)
            checks.check("activation answer: activationTime in seconds (timedelta(seconds=...))",
                         isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
                         and timedelta(seconds=seconds).total_seconds() > 0, activated)
        deactivated = await checks.call(f"remote_deactivation('{lock['id']}')",
                                        bold.remote_deactivation(str(lock["id"])))
        checks.check("deactivation answer is truthy with errorCode OK",
                     bool(deactivated) and deactivated.get("errorCode") == "OK", deactivated)
        gateway_id = lock["gateway"]["gatewayId"]
        status = await checks.call(f"gateway_current_status({gateway_id})", bold.gateway_current_status(gateway_id))
        checks.check("gateway status: errorCode OK", isinstance(status, dict) and status.get("errorCode") == "OK",
                     status)
        for gateway in gateways:
            answer = await checks.call(f"remote_activation('{gateway['id']}') of a gateway",
                                       bold.remote_activation(str(gateway["id"])))
            checks.check(f"gateway {gateway['id']} activation: errorCode OK",
                         isinstance(answer, dict) and answer.get("errorCode") == "OK", answer)


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/keyway"
    try:
        import bold_smart_lock.bold_smart_lock  # noqa: F401
    except ImportError:
        print("bold-smart-lock is not installed: python3 -m pip install bold-smart-lock", file=sys.stderr)
        return 2

    def out_of_time(*_: Any) -> None:
        raise TimeoutError(f"the check took longer than {DEADLINE} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(DEADLINE)
    server = Server(binary)
    checks = Checks()
    try:
        server.start()
        print(f"keyway --demo on {server.base}; the PyPI library bold-smart-lock against it:")
        token = sign_in(server)
        asyncio.run(run(server.base, token, checks))
    except (SetupError, TimeoutError) as error:
        print(f"bold-smart-lock check could not run: {error}", file=sys.stderr)
        print("--- server log (last 40 lines) ---", file=sys.stderr)
        print("\n".join(server.log().splitlines()[-40:]), file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
        server.stop()
    if checks.failed:
        print(f"\nbold-smart-lock against Keyway: {len(checks.failed)} of {len(checks.failed) + checks.passed} "
              "checks failed:", file=sys.stderr)
        for failure in checks.failed:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"\nbold-smart-lock against Keyway: all {checks.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
