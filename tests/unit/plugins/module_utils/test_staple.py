# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""staple: judging a stapling file, refresh thresholds, and the HAProxy runtime API client."""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import staple
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, TlsfleetError

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def chain(pki):
    _root, (inter,), leaf = pki.chain()
    return pki, inter, leaf


def _assess(path, leaf, inter, pki, **kw):
    kw.setdefault("refresh_window", None)
    kw.setdefault("min_validity", 300)
    return staple.assess_existing(str(path), leaf.cert, inter.cert, at=pki.now, skew=300, **kw)


def test_assess_missing_current_and_window(chain, tmp_path):
    pki, inter, leaf = chain
    dest = tmp_path / "x.ocsp"
    missing = _assess(dest, leaf, inter, pki)
    assert missing.reason == "missing" and missing.needs_fetch and missing.previous is None

    dest.write_bytes(pki.ocsp_response(leaf, inter, this_update=pki.now - HOUR, next_update=pki.now + 3 * DAY))
    current = _assess(dest, leaf, inter, pki)
    assert current.reason == "current" and not current.needs_fetch
    assert current.window == int((3 * DAY + HOUR).total_seconds() // 2)
    assert current.remaining == int((3 * DAY).total_seconds())
    assert current.der == dest.read_bytes()
    assert _assess(dest, leaf, inter, pki, force=True).reason == "forced"
    assert _assess(dest, leaf, inter, pki, refresh_window=4 * 86400).reason == "refresh_window"
    assert _assess(dest, leaf, inter, pki, min_validity=4 * 86400).reason == "refresh_window"


def test_assess_expired_revoked_and_unreadable_are_invalid(chain, tmp_path):
    pki, inter, leaf = chain
    dest = tmp_path / "x.ocsp"
    dest.write_bytes(pki.ocsp_response(leaf, inter, this_update=pki.now - 4 * DAY, next_update=pki.now - DAY))
    expired = _assess(dest, leaf, inter, pki)
    assert expired.reason == "invalid" and expired.previous["valid"] is False
    assert any("expired" in p for p in expired.previous["problems"])

    dest.write_bytes(pki.ocsp_response(leaf, inter, status="revoked"))
    revoked = _assess(dest, leaf, inter, pki)
    assert revoked.reason == "invalid" and revoked.previous["cert_status"] == "revoked"

    dest.write_bytes(b"not an ocsp response at all")
    junk = _assess(dest, leaf, inter, pki)
    assert junk.reason == "invalid" and junk.previous["response_status"] is None
    assert str(dest) in junk.previous["problems"][0]

    dest.write_bytes(b"  \n")
    assert _assess(dest, leaf, inter, pki).reason == "missing"


def test_assess_unreadable_file_raises(chain, tmp_path):
    pki, inter, leaf = chain
    with pytest.raises(InputError, match="is a directory"):
        _assess(tmp_path, leaf, inter, pki)


def test_refresh_threshold():
    verdict = {"this_update": "2026-01-01T00:00:00Z", "next_update": "2026-01-08T00:00:00Z"}
    assert staple.refresh_threshold(verdict, None, 300) == 7 * 86400 // 2
    assert staple.refresh_threshold(verdict, 3600, 300) == 3600
    assert staple.refresh_threshold(verdict, 60, 300) == 300
    assert staple.refresh_threshold({"this_update": "2026-01-01T00:00:00Z", "next_update": None}, None, 0) is None


def test_is_newer():
    old = {"good": True, "this_update": "2026-01-01T00:00:00Z", "next_update": "2026-01-08T00:00:00Z"}
    assert staple.is_newer(dict(old, next_update="2026-01-09T00:00:00Z"), old)
    assert staple.is_newer(dict(old, this_update="2026-01-02T00:00:00Z"), old)
    assert not staple.is_newer(dict(old), old)
    assert not staple.is_newer(dict(old, this_update="2025-12-31T00:00:00Z", next_update="2026-01-07T00:00:00Z"), old)
    assert staple.is_newer(dict(old), dict(old, good=False))
    assert staple.is_newer(dict(old), None)


def test_summary_never_holds_bytes():
    text = staple.summary({"response_status": "successful", "cert_status": "good", "response_sha256": "ab" * 32})
    assert "cert_status: good" in text and "sha256: " + "ab" * 32 in text
    assert staple.summary(None) == ""
    assert staple.summary({"response_status": None, "problems": ["broken"]}) == "unreadable: broken\n"


@pytest.mark.parametrize(
    ("reply", "ok"),
    [
        ("OCSP Response updated!\n\n", True),
        ("OCSP Response updated!", True),
        ("[6]: OCSP Response updated!\n\n", True),
        ("[info]: OCSP Response updated!\n", True),
        ("'set ssl ocsp-response' received invalid base64 encoded response.\n\n", False),
        ("OCSP single response: Certificate ID does not match any certificate or issuer.\n", False),
        ("Permission denied\n\n", False),
        ("", False),
        ("OCSP Response updated!\nUnknown command\n", False),
    ],
)
def test_haproxy_reply_ok(reply, ok):
    assert staple.haproxy_reply_ok(reply) is ok


@pytest.fixture
def unix_server():
    workdir = tempfile.mkdtemp(prefix="h2u", dir="/tmp")
    path = os.path.join(workdir, "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(2)
    received = []

    def serve(reply, delay):
        conn, _addr = server.accept()
        with conn:
            received.append(conn.recv(65536))
            time.sleep(delay)
            if reply is not None:
                conn.sendall(reply)

    def start(reply, delay=0.0):
        threading.Thread(target=serve, args=(reply, delay), daemon=True).start()
        return path

    yield start, received
    server.close()
    shutil.rmtree(workdir, ignore_errors=True)


def test_haproxy_set_ocsp_response_sends_one_line(unix_server):
    start, received = unix_server
    path = start(b"OCSP Response updated!\n\n")
    assert staple.haproxy_set_ocsp_response(path, b"\x30\x03\x0a\x01\x00", 2) == "OCSP Response updated!"
    assert received == [b"set ssl ocsp-response MAMKAQA=\n"]


def test_haproxy_error_reply_is_in_the_message(unix_server):
    start, _received = unix_server
    path = start(b"'set ssl ocsp-response' received invalid base64 encoded response.\n\n")
    with pytest.raises(TlsfleetError, match="received invalid base64 encoded response"):
        staple.haproxy_set_ocsp_response(path, b"\x30\x00", 2)


def test_haproxy_silence_is_bounded(unix_server):
    start, _received = unix_server
    path = start(None, delay=3)
    started = time.monotonic()
    with pytest.raises(TlsfleetError, match=r"no complete answer within 0\.4 seconds"):
        staple.haproxy_command(path, "show info", 0.4)
    assert time.monotonic() - started < 1.5


def test_haproxy_missing_socket(tmp_path):
    with pytest.raises(TlsfleetError, match=r"cannot connect to the HAProxy runtime API socket .*No such file"):
        staple.haproxy_command(str(tmp_path / "gone.sock"), "show info", 1)
