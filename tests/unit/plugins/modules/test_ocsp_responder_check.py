# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ocsp_responder_check against a small real OCSP responder on loopback that answers as told."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from cryptography.x509 import ocsp as cocsp

from ansible_collections.tlsfleet.stapling.plugins.modules import ocsp_responder_check
from ansible_collections.tlsfleet.stapling.tests.unit import modrun


class Responder(BaseHTTPRequestHandler):
    """Answers each OCSP POST with ``answer(request)``: (status, content type, body)."""

    answer: ClassVar[object] = None
    requests: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = cocsp.load_der_ocsp_request(body)
        self.requests.append(request.serial_number)
        status, ctype, payload = type(self).answer(request)
        if status is None:
            time.sleep(3)
            return
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def lab(pki, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Responder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/int" % server.server_address[1]
    _root, (inter,), leaf = pki.chain(ocsp_urls=[url])
    bundle = tmp_path / "fullchain.pem"
    bundle.write_bytes(leaf.pem + inter.pem)
    Responder.requests = []
    yield {"pki": pki, "inter": inter, "leaf": leaf, "bundle": str(bundle), "url": url}
    server.shutdown()
    server.server_close()


def run(args, capsys, monkeypatch):
    return modrun.run_module(ocsp_responder_check.main, args, capsys, monkeypatch)[0]


def test_good_answer_is_reachable(lab, capsys, monkeypatch):
    Responder.answer = lambda req: (
        200,
        "application/ocsp-response",
        lab["pki"].ocsp_response(lab["leaf"], lab["inter"]),
    )
    result = run({"certificate_path": lab["bundle"], "use_proxy": False}, capsys, monkeypatch)
    assert result["reachable"] is True and result["failed_stage"] is None
    (probe,) = result["responders"]
    assert probe["url"] == lab["url"]
    assert probe["ocsp"]["good"] is True and probe["ocsp_problems"] == []
    assert Responder.requests == [lab["leaf"].cert.serial_number]
    assert result["issuer"] == lab["inter"].subject


def test_try_later_fails_the_ocsp_stage(lab, capsys, monkeypatch):
    Responder.answer = lambda req: (200, "application/ocsp-response", lab["pki"].ocsp_unsuccessful("try_later"))
    result = run({"certificate_path": lab["bundle"], "use_proxy": False}, capsys, monkeypatch)
    assert result["reachable"] is False and result["failed_stage"] == "ocsp"
    assert "try_later" in result["responders"][0]["error"]


def test_html_page_and_wrong_type_fail_the_ocsp_stage(lab, capsys, monkeypatch):
    Responder.answer = lambda req: (200, "text/html", b"<!DOCTYPE html><html><body>captive portal</body></html>")
    result = run({"certificate_path": lab["bundle"], "use_proxy": False, "method": "POST"}, capsys, monkeypatch)
    problems = result["responders"][0]["ocsp_problems"]
    assert result["failed_stage"] == "ocsp"
    assert any("HTML page" in p for p in problems), problems
    assert any("Content-Type" in p for p in problems), problems


def test_response_for_another_certificate_is_not_usable(lab, capsys, monkeypatch):
    other = lab["pki"].leaf(lab["inter"], cn="other.example.test")
    Responder.answer = lambda req: (200, "application/ocsp-response", lab["pki"].ocsp_response(other, lab["inter"]))
    result = run({"certificate_path": lab["bundle"], "use_proxy": False}, capsys, monkeypatch)
    probe = result["responders"][0]
    assert probe["failed_stage"] == "ocsp"
    assert probe["ocsp"]["cert_id_matches"] is False


def test_hanging_responder_is_bounded(lab, capsys, monkeypatch):
    Responder.answer = lambda req: (None, None, None)
    started = time.monotonic()
    result = run({"certificate_path": lab["bundle"], "use_proxy": False, "timeout": 0.7}, capsys, monkeypatch)
    assert result["failed_stage"] == "timeout"
    assert time.monotonic() - started < 2.0


def test_missing_issuer_and_no_url_are_clear_failures(lab, pki, tmp_path, capsys, monkeypatch):
    lone = tmp_path / "leaf.pem"
    lone.write_bytes(lab["leaf"].pem)
    result = run({"certificate_path": str(lone)}, capsys, monkeypatch)
    assert result["failed"] is True
    assert "is not in the certificate's bundle" in result["msg"] and "issuer_path" in result["msg"]
    assert "Traceback" not in str(result)

    _root, (inter,), no_url = pki.chain(ocsp_urls=[])
    bundle = tmp_path / "nourl.pem"
    bundle.write_bytes(no_url.pem + inter.pem)
    result = run({"certificate_path": str(bundle)}, capsys, monkeypatch)
    assert result["failed"] is True and "names no OCSP responder" in result["msg"]


def test_garbage_certificate_is_a_clear_failure(tmp_path, capsys, monkeypatch):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"<html>not a certificate</html>")
    result = run({"certificate_path": str(junk)}, capsys, monkeypatch)
    assert result["failed"] is True
    assert str(junk) in result["msg"]
