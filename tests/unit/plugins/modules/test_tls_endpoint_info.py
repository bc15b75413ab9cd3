# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tls_endpoint_info against OpenSSL's s_server stapling a response we made."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

pytest.importorskip("OpenSSL")

from ansible_collections.tlsfleet.stapling.plugins.modules import tls_endpoint_info
from ansible_collections.tlsfleet.stapling.tests.unit import modrun

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(pki, tmp_path):
    root, (inter,), leaf = pki.chain()
    for name, data in (("leaf.pem", leaf.pem), ("key.pem", leaf.key_pem()), ("chain.pem", inter.pem)):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "staple.der").write_bytes(pki.ocsp_response(leaf, inter, status="revoked"))
    port = _free_port()
    argv = ["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port, "-naccept", "20"]
    argv += ["-cert", str(tmp_path / "leaf.pem"), "-key", str(tmp_path / "key.pem")]
    argv += ["-cert_chain", str(tmp_path / "chain.pem"), "-status_file", str(tmp_path / "staple.der")]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield {"port": port, "dir": tmp_path, "leaf": leaf}
    proc.kill()
    proc.wait()


def test_reports_each_protocol_and_the_revoked_staple(served, capsys, monkeypatch):
    closed = _free_port()
    args = {
        "port": served["port"],
        "server_names": ["www.example.test"],
        "endpoints": [{"port": closed}],
        "trust_anchor_paths": [str(served["dir"] / "root.pem")],
    }
    result = modrun.run_module(tls_endpoint_info.main, args, capsys, monkeypatch)[0]
    assert result["changed"] is False
    refused, site = result["endpoints"]
    assert refused["reachable"] is False
    assert refused["protocols"]["tls1_3"]["error_stage"] == "connect"
    assert site["server_name"] == "www.example.test"
    assert site["summary"]["staple_state"] == "revoked"
    for protocol, key in (("TLSv1.3", "tls1_3"), ("TLSv1.2", "tls1_2")):
        report = site["protocols"][key]
        assert report["protocol"] == protocol and report["handshakes_made"] == 1
        assert report["chain"]["complete"] is True and report["chain"]["anchored"] is True
        assert report["staple"]["cert_status"] == "revoked" and report["staple"]["valid"] is True
    assert site["leaf_sha256"] == site["protocols"]["tls1_2"]["presented"][0]["sha256"]


def test_unreadable_anchor_file_fails_with_its_name(tmp_path, capsys, monkeypatch):
    missing = str(tmp_path / "nope.pem")
    result = modrun.run_module(tls_endpoint_info.main, {"trust_anchor_paths": [missing]}, capsys, monkeypatch)[0]
    assert result["failed"] is True
    assert missing in result["msg"]


def test_bad_numbers_are_refused(capsys, monkeypatch):
    result = modrun.run_module(tls_endpoint_info.main, {"timeout": 0}, capsys, monkeypatch)[0]
    assert result["failed"] is True and "timeout must be positive" in result["msg"]
