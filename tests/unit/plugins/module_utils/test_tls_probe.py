# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tls_probe against a real TLS server: OpenSSL's own s_server, stapling a response we made."""

from __future__ import annotations

import shutil
import socket
import time

import pytest

pytest.importorskip("OpenSSL")

from ansible_collections.tlsfleet.stapling.plugins.module_utils import tls_probe
from ansible_collections.tlsfleet.stapling.tests.unit import tlsserver

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture
def site(tmp_path, pki):
    _root, (intermediate,), leaf = pki.chain(kind="ec", depth=1)
    return tlsserver.write_site(tmp_path, leaf, intermediate, pki.ocsp_response(leaf, intermediate))


@pytest.fixture
def server(site):
    servers = tlsserver.SServer(site)
    yield servers.start
    servers.stop()


@pytest.mark.parametrize("protocol", ["TLSv1.3", "TLSv1.2"])
def test_staple_and_chain_are_returned_as_sent(site, server, protocol):
    port = server("-status_file", str(site["dir"] / "staple.der"))
    result = tls_probe.handshake(tls_probe.Endpoint("127.0.0.1", port, "www.example.test"), protocol, timeout=5)
    assert result.ok, result.error
    assert result.protocol == protocol
    assert result.staple == site["staple"]
    from cryptography.hazmat.primitives.serialization import Encoding

    assert result.chain_der == [site["leaf"].cert.public_bytes(Encoding.DER), site["intermediate"].der]


def test_no_staple_is_none_after_warmup(site, server):
    port = server()
    slept = []
    probe = tls_probe.probe_endpoint(
        tls_probe.Endpoint("127.0.0.1", port), protocols=["TLSv1.2"], timeout=5, warmup_attempts=2, sleep=slept.append
    )
    result = probe.handshakes["TLSv1.2"]
    assert result.ok and result.staple is None
    assert probe.attempts["TLSv1.2"] == 3
    assert probe.warmup_used
    assert slept == [0.25, 0.5]


def test_warmup_skipped_when_caller_expects_no_staple(site, server):
    port = server()
    probe = tls_probe.probe_endpoint(
        tls_probe.Endpoint("127.0.0.1", port), protocols=["TLSv1.3"], timeout=5, wants_staple=lambda hs: False
    )
    assert probe.attempts["TLSv1.3"] == 1
    assert not probe.warmup_used


def test_protocol_the_server_refuses_is_reported_as_unsupported(site, server):
    port = server("-no_tls1_3")
    result = tls_probe.handshake(tls_probe.Endpoint("127.0.0.1", port), "TLSv1.3", timeout=5)
    assert not result.ok
    assert result.error_stage in ("unsupported_protocol", "handshake")
    assert "TLSv1.3 handshake with 127.0.0.1" in result.error


def test_closed_port_is_a_connect_error(closed_port):
    result = tls_probe.handshake(tls_probe.Endpoint("127.0.0.1", closed_port), "TLSv1.2", timeout=2)
    assert not result.ok
    assert result.error_stage == "connect"
    assert "refused" in result.error.lower()


def test_silent_server_times_out_within_the_limit():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        result = tls_probe.handshake(tls_probe.Endpoint("127.0.0.1", port), "TLSv1.3", timeout=0.5)
        elapsed = time.monotonic() - started
    assert result.error_stage == "timeout"
    assert elapsed < 3


def test_probe_endpoints_keeps_order_and_runs_all(site, server, closed_port):
    port = server("-status_file", str(site["dir"] / "staple.der"))
    closed = closed_port
    endpoints = [tls_probe.Endpoint("127.0.0.1", closed), tls_probe.Endpoint("127.0.0.1", port, "a.test")]
    probes = tls_probe.probe_endpoints(endpoints, protocols=["TLSv1.2"], timeout=3, warmup_attempts=0)
    assert [p.endpoint.port for p in probes] == [closed, port]
    assert probes[0].handshakes["TLSv1.2"].error_stage == "connect"
    assert probes[1].handshakes["TLSv1.2"].staple == site["staple"]


def test_timed_out_handshake_is_retried_once(monkeypatch):
    calls = []

    def fake(endpoint, protocol, timeout):
        calls.append(protocol)
        if len(calls) == 1:
            return tls_probe.Handshake(protocol_requested=protocol, error="slow", error_stage="timeout")
        return tls_probe.Handshake(protocol_requested=protocol, ok=True, staple=b"0")

    monkeypatch.setattr(tls_probe, "handshake", fake)
    probe = tls_probe.probe_endpoint(tls_probe.Endpoint(), protocols=["TLSv1.2"], sleep=lambda s: None)
    assert calls == ["TLSv1.2", "TLSv1.2"]
    assert probe.handshakes["TLSv1.2"].ok and probe.attempts["TLSv1.2"] == 2 and probe.warmup_used


def test_warmup_is_not_repeated_for_the_next_protocol(site, server):
    port = server()
    probe = tls_probe.probe_endpoint(
        tls_probe.Endpoint("127.0.0.1", port), timeout=5, warmup_attempts=2, sleep=lambda s: None
    )
    assert probe.attempts == {"TLSv1.3": 3, "TLSv1.2": 1}
