# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""responder_probe against a real HTTP server on loopback that misbehaves on request."""

from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.error
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import responder_probe

OCSP_BODY = b"0\x03\n\x01\x03"  # an OCSPResponse with status tryLater: small and well-formed
REQUEST = b"0\x00fake-ocsp-request"


class Handler(BaseHTTPRequestHandler):
    mode = "ok"
    seen: ClassVar[list] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self, body=OCSP_BODY, status=200, ctype="application/ocsp-response"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.seen.append(("POST", self.path, self.headers.get("Content-Type"), self.rfile.read(length)))
        self._dispatch()

    def do_GET(self):
        self.seen.append(("GET", self.path, None, None))
        self._dispatch()

    def _dispatch(self):
        if self.mode == "ok":
            self._answer()
        elif self.mode == "html":
            self._answer(b"<html><body>Service Unavailable</body></html>", 503, "text/html")
        elif self.mode == "ftp":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1:9/ocsp")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.mode == "hang":
            time.sleep(5)
        elif self.mode == "flood":
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _chunk in range(200):  # 12.5 MiB unless the client hangs up first
                    self.wfile.write(chunk)
            except OSError:
                pass


@pytest.fixture
def http_server():
    Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def url(mode):
        Handler.mode = mode
        return "http://127.0.0.1:%d/ocsp" % server.server_address[1]

    yield url
    server.shutdown()
    server.server_close()


def test_post_reaches_the_responder_with_the_ocsp_content_type(http_server):
    result = responder_probe.probe(http_server("ok"), REQUEST, timeout=5, use_env_proxy=False)
    assert result.reachable and result.failed_stage is None
    assert result.body == OCSP_BODY
    assert result.http.status == 200 and result.http.content_type == "application/ocsp-response"
    assert result.addresses == ["127.0.0.1"] and result.connected_to == "127.0.0.1"
    assert Handler.seen == [("POST", "/ocsp", "application/ocsp-request", REQUEST)]
    assert "body" not in result.to_dict()


def test_get_encodes_the_request_in_the_path(http_server):
    result = responder_probe.probe(http_server("ok"), REQUEST, timeout=5, method="GET", use_env_proxy=False)
    assert result.reachable
    method, path = Handler.seen[0][:2]
    assert method == "GET"
    assert base64.b64decode(urllib.parse.unquote(path.split("/ocsp/", 1)[1])) == REQUEST


def test_http_error_page_fails_the_http_stage(http_server):
    result = responder_probe.probe(http_server("html"), REQUEST, timeout=5, use_env_proxy=False)
    assert not result.reachable
    assert result.failed_stage == "http"
    assert result.http.status == 503
    assert "503" in result.error


def test_a_redirect_away_from_http_is_refused(http_server):
    for method in ("GET", "POST"):
        result = responder_probe.probe(http_server("ftp"), REQUEST, timeout=5, method=method, use_env_proxy=False)
        assert not result.reachable and result.failed_stage == "http"
        assert result.http.status == 302 and "ftp:// URL refused" in result.error, result.error


def test_hanging_responder_cannot_hold_the_probe_past_its_timeout(http_server):
    started = time.monotonic()
    result = responder_probe.probe(http_server("hang"), REQUEST, timeout=1.0, use_env_proxy=False)
    elapsed = time.monotonic() - started
    assert result.failed_stage == "timeout"
    assert elapsed < 2.0, elapsed


@pytest.mark.parametrize(
    "raised",
    [socket.timeout("timed out"), urllib.error.URLError(socket.timeout("timed out")), None],
    ids=["socket-timeout", "urlerror-timeout", "thread-deadline"],
)
def test_a_silent_responder_reads_the_same_whichever_timer_fires_first(monkeypatch, http_server, raised):
    # The socket timeout and the thread deadline share one budget; which fires first is a race.
    url = http_server("ok")

    def exchange(*_args):
        if raised is None:
            time.sleep(5)
        raise raised

    monkeypatch.setattr(responder_probe, "_http_exchange", exchange)
    result = responder_probe.probe(url, REQUEST, timeout=0.5, use_env_proxy=False)
    assert result.failed_stage == "timeout"
    assert result.error == "POST %s: the responder accepted the connection but sent no complete answer in time" % url
    assert result.http.error == "no complete answer within the time limit"


def test_an_http_error_that_mentions_a_timeout_is_still_an_http_answer(monkeypatch, http_server):
    url = http_server("ok")

    def exchange(*_args):
        raise urllib.error.HTTPError(url, 504, "upstream timed out", {}, None)

    monkeypatch.setattr(responder_probe, "_http_exchange", exchange)
    result = responder_probe.probe(url, REQUEST, timeout=5, use_env_proxy=False)
    assert result.failed_stage == "http" and result.http.status == 504
    assert "answered HTTP 504" in result.error


def test_flooding_responder_is_cut_at_the_body_limit(http_server):
    started = time.monotonic()
    result = responder_probe.probe(http_server("flood"), REQUEST, timeout=5, body_limit=100000, use_env_proxy=False)
    assert result.failed_stage == "http"
    assert result.http.truncated and result.http.bytes == 100000
    assert result.body is None
    assert "more than 100000 bytes" in result.error
    assert time.monotonic() - started < 5


def test_refused_connection_is_the_connect_stage(closed_port):
    port = closed_port
    result = responder_probe.probe("http://127.0.0.1:%d/" % port, REQUEST, timeout=3, use_env_proxy=False)
    assert result.failed_stage == "connect"
    assert result.dns.ok and not result.connect.ok
    assert "refused" in result.error.lower()


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_an_address_is_not_sent_to_the_resolver_thread(monkeypatch, host):
    # A stalled resolver thread could otherwise report an address as unresolvable.
    def no_thread(*_args):
        raise AssertionError("an address went through the bounded resolver")

    monkeypatch.setattr(responder_probe, "_run_bounded", no_thread)
    result = responder_probe.ResponderProbe(url="http://%s/" % host)
    infos = responder_probe._stage_dns(result, host.strip("[]"), 80, responder_probe._Deadline(0), host)
    assert result.dns.ok and infos and infos[0][4][0] == host.strip("[]")


def test_dns_failure_is_the_dns_stage(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(responder_probe.socket, "getaddrinfo", no_such_host)
    result = responder_probe.probe("http://ocsp.nowhere.test/", REQUEST, timeout=3, use_env_proxy=False)
    assert result.failed_stage == "dns"
    assert result.error == "cannot resolve ocsp.nowhere.test: Name or service not known"


def test_hanging_resolver_is_bounded(monkeypatch):
    monkeypatch.setattr(responder_probe.socket, "getaddrinfo", lambda *a, **k: time.sleep(5))
    started = time.monotonic()
    result = responder_probe.probe("http://ocsp.slow.test/", REQUEST, timeout=0.5, use_env_proxy=False)
    assert result.failed_stage == "dns"
    assert "timed out" in result.error
    assert time.monotonic() - started < 1.5


def test_environment_proxy_is_used_and_its_failure_named(monkeypatch, closed_port):
    port = closed_port
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:%d" % port)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    result = responder_probe.probe("http://ocsp.example.test/", REQUEST, timeout=3)
    assert result.proxy == "http://127.0.0.1:%d" % port
    assert result.failed_stage == "proxy"
    assert "proxy 127.0.0.1" in result.error or "proxy http://127.0.0.1" in result.error


def test_explicit_proxy_forwards_the_request(http_server):
    # The loopback server plays the proxy: urllib sends it the absolute URL.
    proxy = http_server("ok").rsplit("/", 1)[0]
    result = responder_probe.probe("http://ocsp.example.test/x", REQUEST, timeout=5, proxy=proxy)
    assert result.reachable, result.error
    assert Handler.seen[0][1] == "http://ocsp.example.test/x"


def test_not_an_http_url_is_reported_not_raised():
    result = responder_probe.probe("ldap://ocsp.example.test/", REQUEST, timeout=1, use_env_proxy=False)
    assert result.failed_stage == "http"
    assert "not an http:// or https:// URL" in result.error
