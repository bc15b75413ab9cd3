# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ocsp_staple against a real OCSP responder on loopback and a fake HAProxy runtime API socket.

The HAProxy side is a stand-in (a thread serving a UNIX socket) because no HAProxy may be started here; it
answers the way HAProxy 2.6's ``cli_parse_set_ocspresponse`` does (``OCSP Response updated!``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import shutil
import socket
import stat
import tempfile
import threading
import time

import pytest

from ansible_collections.tlsfleet.stapling.plugins.modules import ocsp_staple
from ansible_collections.tlsfleet.stapling.tests.unit import modrun
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.modules.test_ocsp_responder_check import Responder

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
OCSP_TYPE = "application/ocsp-response"


@pytest.fixture
def lab(pki, tmp_path):
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Responder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/int" % server.server_address[1]
    _root, (inter,), leaf = pki.chain(ocsp_urls=[url])
    bundle = tmp_path / "www.pem"  # an HAProxy bundle: key, leaf, intermediate
    bundle.write_bytes(leaf.key_pem() + leaf.pem + inter.pem)
    Responder.requests = []
    Responder.answer = lambda req: (200, OCSP_TYPE, pki.ocsp_response(leaf, inter))
    yield {
        "pki": pki,
        "inter": inter,
        "leaf": leaf,
        "bundle": str(bundle),
        "dest": str(bundle) + ".ocsp",
        "url": url,
        "tmp": tmp_path,
    }
    server.shutdown()
    server.server_close()


def run(args, capsys, monkeypatch):
    base = {"use_proxy": False, "timeout": 5}
    base.update(args)
    return modrun.run_module(ocsp_staple.main, base, capsys, monkeypatch)


def sha(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def answer_with(der, status=200, ctype=OCSP_TYPE):
    Responder.answer = lambda req: (status, ctype, der)


# ---------------------------------------------------------------------------------------------
# writing


def test_missing_file_is_written_then_left_alone(lab, capsys, monkeypatch):
    der = lab["pki"].ocsp_response(lab["leaf"], lab["inter"])
    answer_with(der)
    result, out = run({"certificate_path": lab["bundle"]}, capsys, monkeypatch)
    assert result["changed"] is True and result["written"] is True and result["fetched"] is True
    assert result["reason"] == "missing" and result["previous"] is None
    assert result["dest"] == lab["dest"]
    assert result["responder_url"] == lab["url"]
    assert result["response"]["good"] is True and result["response"]["cert_status"] == "good"
    assert result["response"]["seconds_until_next_update"] > 2 * 86400
    with open(lab["dest"], "rb") as handle:
        assert handle.read() == der
    assert result["pushed"] is False and result["haproxy_reply"] is None
    assert Responder.requests == [lab["leaf"].cert.serial_number]
    # the key in the bundle never reaches the output
    assert "PRIVATE KEY" not in out
    key_body = lab["leaf"].key_pem().decode().splitlines()[1]
    assert key_body not in out

    again, _out = run({"certificate_path": lab["bundle"]}, capsys, monkeypatch)
    assert again["changed"] is False and again["reason"] == "current" and again["fetched"] is False
    assert again["response"]["response_sha256"] == hashlib.sha256(der).hexdigest()
    assert again["previous"]["good"] is True
    assert Responder.requests == [lab["leaf"].cert.serial_number]  # the responder was not asked again


def test_response_inside_the_refresh_window_is_replaced(lab, capsys, monkeypatch):
    pki, leaf, inter = lab["pki"], lab["leaf"], lab["inter"]
    old = pki.ocsp_response(leaf, inter, this_update=pki.now - 3 * DAY, next_update=pki.now + 2 * HOUR)
    with open(lab["dest"], "wb") as handle:
        handle.write(old)
    new = pki.ocsp_response(leaf, inter)
    answer_with(new)
    result, _out = run({"certificate_path": lab["bundle"], "backup": True}, capsys, monkeypatch)
    assert result["changed"] is True and result["reason"] == "refresh_window"
    assert result["previous"]["good"] is True
    assert result["previous"]["response_sha256"] == hashlib.sha256(old).hexdigest()
    assert result["response"]["response_sha256"] == hashlib.sha256(new).hexdigest()
    with open(lab["dest"], "rb") as handle:
        assert handle.read() == new
    with open(result["backup_file"], "rb") as handle:
        assert handle.read() == old


def test_explicit_refresh_window(lab, capsys, monkeypatch):
    pki, leaf, inter = lab["pki"], lab["leaf"], lab["inter"]
    # 1 day left of a 2-day response: outside a 1-hour window, inside a 2-day one, and inside the default (half)
    old = pki.ocsp_response(leaf, inter, this_update=pki.now - DAY, next_update=pki.now + DAY)
    with open(lab["dest"], "wb") as handle:
        handle.write(old)
    result, _out = run({"certificate_path": lab["bundle"], "refresh_window": 3600}, capsys, monkeypatch)
    assert result["changed"] is False and result["reason"] == "current" and Responder.requests == []

    result, _out = run({"certificate_path": lab["bundle"], "refresh_window": 2 * 86400}, capsys, monkeypatch)
    assert result["changed"] is True and result["reason"] == "refresh_window"


def test_min_validity_raises_the_window(lab, capsys, monkeypatch):
    pki, leaf, inter = lab["pki"], lab["leaf"], lab["inter"]
    old = pki.ocsp_response(leaf, inter, this_update=pki.now - HOUR, next_update=pki.now + 3 * HOUR)
    with open(lab["dest"], "wb") as handle:
        handle.write(old)
    args = {"certificate_path": lab["bundle"], "refresh_window": 60}
    result, _out = run(args, capsys, monkeypatch)
    assert result["reason"] == "current"
    result, _out = run(dict(args, min_validity=4 * 3600), capsys, monkeypatch)
    assert result["reason"] == "refresh_window" and result["changed"] is True


@pytest.mark.parametrize(
    "content",
    [b"<html><body>oops</body></html>", b"", b"\x30\x03\x02\x01"],
    ids=["html", "empty", "truncated-der"],
)
def test_unusable_existing_file_is_replaced(lab, content, capsys, monkeypatch):
    with open(lab["dest"], "wb") as handle:
        handle.write(content)
    result, _out = run({"certificate_path": lab["bundle"]}, capsys, monkeypatch)
    assert result["changed"] is True and result["written"] is True
    if content:
        assert result["reason"] == "invalid"
        assert result["previous"]["response_status"] is None and result["previous"]["problems"]
        assert lab["dest"] in result["previous"]["problems"][0]
    else:
        assert result["reason"] == "missing" and result["previous"] is None
    assert result["response"]["good"] is True


def test_existing_response_for_another_certificate_is_replaced(lab, capsys, monkeypatch):
    pki = lab["pki"]
    other = pki.leaf(lab["inter"], cn="other.example.test")
    with open(lab["dest"], "wb") as handle:
        handle.write(pki.ocsp_response(other, lab["inter"]))
    result, _out = run({"certificate_path": lab["bundle"]}, capsys, monkeypatch)
    assert result["reason"] == "invalid" and result["changed"] is True
    assert result["previous"]["cert_id_matches"] is False


def test_fetched_response_not_newer_than_a_good_one_is_not_written(lab, capsys, monkeypatch):
    pki, leaf, inter = lab["pki"], lab["leaf"], lab["inter"]
    old = pki.ocsp_response(leaf, inter, this_update=pki.now - 3 * DAY, next_update=pki.now + 2 * HOUR)
    with open(lab["dest"], "wb") as handle:
        handle.write(old)
    answer_with(pki.ocsp_response(leaf, inter, this_update=pki.now - 4 * DAY, next_update=pki.now + HOUR))
    result, _out = run({"certificate_path": lab["bundle"]}, capsys, monkeypatch)
    assert result["changed"] is False and result["written"] is False and result["fetched"] is True
    assert "no newer" in str(result["warnings"])
    assert result["response"]["response_sha256"] == hashlib.sha256(old).hexdigest()
    with open(lab["dest"], "rb") as handle:
        assert handle.read() == old


def test_force_fetches_and_writes_a_different_good_response(lab, capsys, monkeypatch):
    pki, leaf, inter = lab["pki"], lab["leaf"], lab["inter"]
    old = pki.ocsp_response(leaf, inter)
    with open(lab["dest"], "wb") as handle:
        handle.write(old)
    new = pki.ocsp_response(leaf, inter, this_update=pki.now - 2 * HOUR)
    answer_with(new)
    result, _out = run({"certificate_path": lab["bundle"], "force": True}, capsys, monkeypatch)
    assert result["reason"] == "forced" and result["changed"] is True
    with open(lab["dest"], "rb") as handle:
        assert handle.read() == new
    # the same bytes again: fetched, nothing to write
    result, _out = run({"certificate_path": lab["bundle"], "force": True}, capsys, monkeypatch)
    assert result["reason"] == "forced" and result["fetched"] is True and result["changed"] is False


def test_mode_and_explicit_dest_and_issuer(lab, capsys, monkeypatch):
    leaf_only = lab["tmp"] / "leaf.pem"
    leaf_only.write_bytes(lab["leaf"].pem)
    issuer = lab["tmp"] / "issuer.pem"
    issuer.write_bytes(lab["inter"].pem)
    dest = lab["tmp"] / "nginx" / "www.der"
    dest.parent.mkdir()
    args = {"certificate_path": str(leaf_only), "issuer_path": str(issuer), "dest": str(dest), "mode": "0640"}
    result, _out = run(args, capsys, monkeypatch)
    assert result["changed"] is True and result["dest"] == str(dest)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640
    result, _out = run(dict(args, mode="0600"), capsys, monkeypatch)
    assert result["changed"] is True and result["reason"] == "current" and result["written"] is False
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600


def test_haproxy_issuer_file_is_used(lab, capsys, monkeypatch):
    leaf_only = lab["tmp"] / "site.pem"
    leaf_only.write_bytes(lab["leaf"].key_pem() + lab["leaf"].pem)
    (lab["tmp"] / "site.pem.issuer").write_bytes(lab["inter"].pem)
    result, _out = run({"certificate_path": str(leaf_only)}, capsys, monkeypatch)
    assert result["changed"] is True and os.path.exists(str(leaf_only) + ".ocsp")


# ---------------------------------------------------------------------------------------------
# refusing


def _failing_case(lab, capsys, monkeypatch, args=None):
    old = b"previous content"
    with open(lab["dest"], "wb") as handle:
        handle.write(old)
    before = sha(lab["dest"])
    mtime = os.stat(lab["dest"]).st_mtime_ns
    result, out = run(dict({"certificate_path": lab["bundle"]}, **(args or {})), capsys, monkeypatch)
    assert result["failed"] is True and result["changed"] is False
    assert sha(lab["dest"]) == before and os.stat(lab["dest"]).st_mtime_ns == mtime
    assert "left unchanged" in result["msg"] and lab["dest"] in result["msg"]
    assert "Traceback" not in out and "PRIVATE KEY" not in out
    return result


def test_revoked_fails_and_leaves_the_file(lab, capsys, monkeypatch):
    answer_with(lab["pki"].ocsp_response(lab["leaf"], lab["inter"], status="revoked"))
    result = _failing_case(lab, capsys, monkeypatch)
    assert "revoked since" in result["msg"]
    assert result["response"]["cert_status"] == "revoked" and result["response"]["valid"] is True


def test_unknown_fails_and_leaves_the_file(lab, capsys, monkeypatch):
    answer_with(lab["pki"].ocsp_response(lab["leaf"], lab["inter"], status="unknown"))
    result = _failing_case(lab, capsys, monkeypatch)
    assert "does not know the certificate" in result["msg"]


def test_unauthorized_fails_and_leaves_the_file(lab, capsys, monkeypatch):
    answer_with(lab["pki"].ocsp_unsuccessful("unauthorized"))
    result = _failing_case(lab, capsys, monkeypatch)
    assert "unauthorized" in result["msg"]


def test_html_page_fails_and_leaves_the_file(lab, capsys, monkeypatch):
    answer_with(b"<!DOCTYPE html><html><body>captive portal</body></html>", ctype="text/html")
    result = _failing_case(lab, capsys, monkeypatch)
    assert "HTML page" in result["msg"]


def test_badly_signed_response_fails(lab, capsys, monkeypatch):
    answer_with(lab["pki"].ocsp_response(lab["leaf"], lab["inter"], tamper_signature=True))
    result = _failing_case(lab, capsys, monkeypatch)
    assert "signature" in result["msg"]


def test_short_lived_response_is_refused(lab, capsys, monkeypatch):
    pki = lab["pki"]
    answer_with(pki.ocsp_response(lab["leaf"], lab["inter"], next_update=pki.now + datetime.timedelta(seconds=100)))
    result = _failing_case(lab, capsys, monkeypatch)
    assert "min_validity" in result["msg"]


def test_hanging_responder_fails_in_time(lab, capsys, monkeypatch):
    Responder.answer = lambda req: (None, None, None)
    started = time.monotonic()
    result = _failing_case(lab, capsys, monkeypatch, {"timeout": 0.7})
    assert time.monotonic() - started < 2.5
    assert "stage timeout" in result["msg"]


def test_unreachable_responder_fails(lab, closed_port, capsys, monkeypatch):
    port = closed_port
    result = _failing_case(lab, capsys, monkeypatch, {"responder_url": "http://127.0.0.1:%d/" % port})
    assert "stage connect" in result["msg"]


def test_no_ocsp_url_and_missing_issuer_are_clear(pki, tmp_path, capsys, monkeypatch):
    _root, (inter,), no_url = pki.chain(ocsp_urls=[])
    bundle = tmp_path / "nourl.pem"
    bundle.write_bytes(no_url.pem + inter.pem)
    result, _out = run({"certificate_path": str(bundle)}, capsys, monkeypatch)
    assert result["failed"] is True and "names no OCSP responder" in result["msg"]
    assert not os.path.exists(str(bundle) + ".ocsp")

    lone = tmp_path / "lone.pem"
    lone.write_bytes(no_url.pem)
    result, _out = run({"certificate_path": str(lone)}, capsys, monkeypatch)
    assert result["failed"] is True and "issuer_path" in result["msg"] and str(lone) in result["msg"]

    result, _out = run(
        {"certificate_path": str(bundle), "dest": str(tmp_path / "nodir" / "x.ocsp")}, capsys, monkeypatch
    )
    assert result["failed"] is True and "does not exist" in result["msg"]


# ---------------------------------------------------------------------------------------------
# state=absent: the OCSP sunset


def test_absent_removes_the_staple_of_a_certificate_without_ocsp_url_with_a_backup(pki, tmp_path, capsys, monkeypatch):
    _root, (inter,), no_url = pki.chain(ocsp_urls=[])
    bundle = tmp_path / "legacy.pem"
    bundle.write_bytes(no_url.key_pem() + no_url.pem + inter.pem)
    dest = tmp_path / "legacy.pem.ocsp"
    dest.write_bytes(b"old staple")
    args = {"certificate_path": str(bundle), "state": "absent", "backup": True}
    result, _out = run(dict(args, _ansible_check_mode=True), capsys, monkeypatch)
    assert (result["changed"], result["removed"], result["reason"]) == (True, True, "removed")
    assert dest.read_bytes() == b"old staple" and "backup_file" not in result
    result, _out = run(args, capsys, monkeypatch)
    assert (result["changed"], result["removed"], result["reason"], result["fetched"]) == (True, True, "removed", False)
    assert not dest.exists()
    with open(result["backup_file"], "rb") as handle:
        assert handle.read() == b"old staple"
    result, _out = run(args, capsys, monkeypatch)
    assert (result["changed"], result["removed"], result["reason"]) == (False, False, "absent")


def test_absent_never_removes_the_staple_of_a_certificate_that_names_a_responder(lab, capsys, monkeypatch):
    with open(lab["dest"], "wb") as handle:
        handle.write(b"kept")
    result, _out = run({"certificate_path": lab["bundle"], "state": "absent"}, capsys, monkeypatch)
    assert result["failed"] is True and "names the OCSP responder %s" % lab["url"] in result["msg"]
    assert "is kept" in result["msg"] and "BEGIN" not in result["msg"]
    with open(lab["dest"], "rb") as handle:
        assert handle.read() == b"kept"
    assert Responder.requests == []


# ---------------------------------------------------------------------------------------------
# check mode


def test_check_mode_fetches_but_writes_nothing(lab, capsys, monkeypatch):
    result, _out = run({"certificate_path": lab["bundle"], "_ansible_check_mode": True}, capsys, monkeypatch)
    assert result["changed"] is True and result["written"] is True and result["reason"] == "missing"
    assert result["response"]["good"] is True
    assert not os.path.exists(lab["dest"])

    with open(lab["dest"], "wb") as handle:
        handle.write(b"junk")
    result, _out = run(
        {"certificate_path": lab["bundle"], "_ansible_check_mode": True, "_ansible_diff": True}, capsys, monkeypatch
    )
    assert result["changed"] is True and result["reason"] == "invalid"
    assert "cert_status: good" in result["diff"]["after"] and "unreadable" in result["diff"]["before"]
    with open(lab["dest"], "rb") as handle:
        assert handle.read() == b"junk"


# ---------------------------------------------------------------------------------------------
# HAProxy runtime API


class FakeHaproxy:
    """Serves a UNIX socket like HAProxy's stats socket: one command line per connection, one reply, close."""

    def __init__(self, reply=b"OCSP Response updated!\n\n"):
        self.dir = tempfile.mkdtemp(prefix="h2hap", dir="/tmp")  # short: AF_UNIX paths are limited to 108 bytes
        self.path = os.path.join(self.dir, "admin.sock")
        self.reply = reply
        self.lines = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.lines.append(data)
                if self.reply is not None:
                    conn.sendall(self.reply)
                else:
                    time.sleep(2)

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def haproxy():
    servers = []

    def make(**kw):
        server = FakeHaproxy(**kw)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def test_written_response_is_pushed_to_haproxy(lab, haproxy, capsys, monkeypatch):
    hap = haproxy()
    result, _out = run({"certificate_path": lab["bundle"], "haproxy_socket": hap.path}, capsys, monkeypatch)
    assert result["changed"] is True and result["pushed"] is True
    assert result["haproxy_reply"] == "OCSP Response updated!"
    with open(lab["dest"], "rb") as handle:
        written = handle.read()
    assert hap.lines == [b"set ssl ocsp-response " + base64.b64encode(written) + b"\n"]

    # nothing changed: nothing pushed; with haproxy_push=always the file in place is pushed again
    result, _out = run({"certificate_path": lab["bundle"], "haproxy_socket": hap.path}, capsys, monkeypatch)
    assert result["changed"] is False and result["pushed"] is False and len(hap.lines) == 1
    args = {"certificate_path": lab["bundle"], "haproxy_socket": hap.path, "haproxy_push": "always"}
    result, _out = run(args, capsys, monkeypatch)
    assert result["changed"] is True and result["pushed"] is True and result["reason"] == "current"
    assert hap.lines[1] == hap.lines[0]


def test_push_never_and_check_mode_send_nothing(lab, haproxy, capsys, monkeypatch):
    hap = haproxy()
    args = {"certificate_path": lab["bundle"], "haproxy_socket": hap.path}
    result, _out = run(dict(args, _ansible_check_mode=True), capsys, monkeypatch)
    assert result["changed"] is True and result["pushed"] is False
    result, _out = run(dict(args, haproxy_push="never"), capsys, monkeypatch)
    assert result["changed"] is True and result["pushed"] is False
    assert hap.lines == []


@pytest.mark.parametrize(
    "reply",
    [
        b"OCSP single response: Certificate ID does not match any certificate or issuer.\n\n",
        b"Unknown command. Please enter one of the following commands only :\n  help\n\n",
        b"",
    ],
    ids=["certid", "not-admin", "empty"],
)
def test_haproxy_refusal_fails_with_its_reply(lab, haproxy, reply, capsys, monkeypatch):
    hap = haproxy(reply=reply)
    result, _out = run({"certificate_path": lab["bundle"], "haproxy_socket": hap.path}, capsys, monkeypatch)
    assert result["failed"] is True and result["pushed"] is False
    assert result["changed"] is True and result["written"] is True and os.path.exists(lab["dest"])
    assert "did not accept" in result["msg"] and "was written" in result["msg"]
    shown = reply.split(b"\n")[0].decode() or "(an empty answer)"
    assert shown in result["msg"]
    assert len(hap.lines) == 1


def test_haproxy_socket_missing_or_silent_fails_clearly(lab, haproxy, tmp_path, capsys, monkeypatch):
    args = {"certificate_path": lab["bundle"], "haproxy_socket": str(tmp_path / "nope.sock")}
    result, _out = run(args, capsys, monkeypatch)
    assert result["failed"] is True and "cannot connect" in result["msg"] and "nope.sock" in result["msg"]

    hap = haproxy(reply=None)
    started = time.monotonic()
    args = {"certificate_path": lab["bundle"], "haproxy_socket": hap.path, "haproxy_push": "always", "timeout": 0.5}
    result, _out = run(args, capsys, monkeypatch)
    assert time.monotonic() - started < 2.0
    assert result["failed"] is True and "no complete answer within 0.5 seconds" in result["msg"]


def test_symlinked_dest_keeps_its_link(lab, capsys, monkeypatch):
    target = lab["tmp"] / "store" / "www.ocsp"
    target.parent.mkdir()
    target.write_bytes(b"")
    os.symlink(str(target), lab["dest"])
    result, _out = run({"certificate_path": lab["bundle"]}, capsys, monkeypatch)
    assert result["changed"] is True and result["reason"] == "missing"
    assert os.path.islink(lab["dest"])
    assert target.read_bytes()[:1] == b"\x30"


@pytest.mark.parametrize("given", ["other.ocsp", "legacy.pem", "legacy.pem.ocsp.bak", "sub/legacy.pem.ocsp"])
def test_absent_removes_only_the_certificates_own_staple_file(pki, tmp_path, capsys, monkeypatch, given):
    """state=absent takes dest only as <certificate_path>.ocsp (HAProxy's file): any other path is refused."""
    _root, (inter,), no_url = pki.chain(ocsp_urls=[])
    bundle = tmp_path / "legacy.pem"
    bundle.write_bytes(no_url.key_pem() + no_url.pem + inter.pem)
    (tmp_path / "sub").mkdir()
    dest = tmp_path / given
    if dest != bundle:  # dest: the certificate itself is kept as it is
        dest.write_bytes(b"someone's file")
    before = dest.read_bytes()
    args = {"certificate_path": str(bundle), "state": "absent", "dest": str(dest)}
    result, _out = run(args, capsys, monkeypatch)
    assert result["failed"] is True and "Traceback" not in result["msg"]
    assert "%s.ocsp" % bundle in result["msg"] and str(dest) in result["msg"]
    assert dest.read_bytes() == before
    # The certificate's own file, named explicitly (with a redundant separator), is removed.
    own = tmp_path / "legacy.pem.ocsp"
    own.write_bytes(b"old staple")
    result, _out = run(dict(args, dest=str(tmp_path) + "//legacy.pem.ocsp"), capsys, monkeypatch)
    assert (result["changed"], result["removed"]) == (True, True) and not own.exists()
