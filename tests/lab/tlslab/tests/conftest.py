"""Fixtures for the PKI and responder tests: a PKI in a temp dir and a responder on 127.0.0.1.

No root and no namespaces: the responder runs as a subprocess on ports the kernel picks, and
reports them on its first stdout line.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

LAB_ROOT = Path(__file__).resolve().parents[2]  # tests/lab
if str(LAB_ROOT) not in sys.path:
    sys.path.insert(0, str(LAB_ROOT))

from tlslab.pki import Pki, build_pki  # noqa: E402 - needs the path above

OCSP_BASE = "http://ocsp.tlsfleet.test"
CA_BASE = "http://ca.tlsfleet.test/ca"
INITIAL_BEHAVIOUR = {
    "default": {"mode": "good"},
    "certs": {"www-revoked": {"mode": "revoked", "reason": "key_compromise", "revoked_at": "2026-01-02T03:04:05Z"}},
}


def lab_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LAB_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory) -> Pki:
    """One PKI shared by the tests that only read it (tests that change it build their own)."""
    pki = build_pki(tmp_path_factory.mktemp("state"), OCSP_BASE, CA_BASE)
    pki.issue_leaf("www-rsa", ["www.tlsfleet.test", "198.18.1.10"])
    pki.issue_leaf("www-ec", ["ec.tlsfleet.test"], issuer="int-a-ec", key_type="ecdsa")
    pki.issue_leaf("www-b", ["b.tlsfleet.test"], issuer="int-b", key_type="ecdsa")
    pki.issue_leaf("www-n", ["n.tlsfleet.test"], issuer="int-n")
    pki.issue_leaf("www-revoked", ["revoked.tlsfleet.test"])
    pki.issue_leaf("www-other", ["other.tlsfleet.test"])
    return pki


class ResponderProcess:
    """A running responder plus small HTTP helpers for its three kinds of listener."""

    def __init__(self, process: subprocess.Popen, ready: Dict[str, Any], log_path: Path):
        self.process = process
        self.ocsp = ready["ocsp"][0]
        self.ca_issuers = ready["ca_issuers"][0]
        self.control_address = ready["control"][0]
        self.log_path = log_path

    def ocsp_url(self, path: str = "") -> str:
        return "http://{}/{}".format(self.ocsp, path.lstrip("/"))

    def control(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        status, _unused, data = http_request(
            self.control_address, method, path, json.dumps(body).encode() if body else None
        )
        return status, json.loads(data.decode())

    def set_default(self, rule: Any) -> None:
        status, reply = self.control("PUT", "/behaviour", {"default": rule})
        assert status == 200, reply

    def set_cert(self, key: str, rule: Any) -> None:
        status, reply = self.control("POST", "/behaviour", {"certs": {key: rule}})
        assert status == 200, reply

    def requests(self, query: str = "") -> list:
        status, entries = self.control("GET", "/requests" + query)
        assert status == 200
        return entries

    def wait_for_requests(self, query: str, count: int = 1, timeout: float = 5.0) -> list:
        """Entries are logged when a connection ends, so give slow/silent ones a moment."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.requests(query)
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)


def http_request(
    address: str, method: str, path: str, body: Optional[bytes] = None, headers=None, timeout: float = 10.0
) -> Tuple[int, Dict[str, str], bytes]:
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def start_responder(state: Path, tmp: Path, behaviour: Optional[Path] = None, extra=()) -> subprocess.Popen:
    command = [sys.executable, "-m", "tlslab.responder", "--state", str(state), "--log", str(tmp / "requests.log")]
    command += ["--listen", "127.0.0.1:0", "--ca-listen", "127.0.0.1:0", "--control", "127.0.0.1:0"]
    if behaviour is not None:
        command += ["--behaviour", str(behaviour)]
    return subprocess.Popen(
        [*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=lab_env(), text=True
    )


def read_ready(process: subprocess.Popen, timeout: float = 15.0) -> Dict[str, Any]:
    readable, _unused, _unused = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if readable else ""
    if not line:
        process.kill()
        raise AssertionError(f"responder did not start: {process.communicate(timeout=5)[1]}")
    return json.loads(line)


def stop(process: subprocess.Popen) -> Tuple[int, str]:
    """SIGTERM, then (exit code, stderr); the pipes are closed either way."""
    if process.poll() is None:
        process.terminate()
    try:
        _unused, stderr = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        _unused, stderr = process.communicate(timeout=5)
    return process.returncode, stderr


@pytest.fixture(scope="session")
def responder(lab_pki, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("responder")
    behaviour = tmp / "behaviour.json"
    behaviour.write_text(json.dumps(INITIAL_BEHAVIOUR))
    process = start_responder(lab_pki.state_dir, tmp, behaviour)
    running = ResponderProcess(process, read_ready(process), tmp / "requests.log")
    yield running
    assert stop(process)[0] == 0


@pytest.fixture
def fresh(responder):
    """The session responder with its initial behaviour and an empty request log."""
    status, _unused = responder.control("POST", "/reset")
    assert status == 200
    return responder
