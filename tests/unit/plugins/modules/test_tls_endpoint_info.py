# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tls_endpoint_info against OpenSSL's s_server stapling a response we made."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("OpenSSL")

from ansible_collections.tlsfleet.stapling.plugins.modules import tls_endpoint_info
from ansible_collections.tlsfleet.stapling.tests.unit import modrun, tlsserver

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture
def served(pki, tmp_path):
    root, (inter,), leaf = pki.chain()
    site = tlsserver.write_site(tmp_path, leaf, inter, pki.ocsp_response(leaf, inter, status="revoked"))
    (tmp_path / "root.pem").write_bytes(root.pem)
    servers = tlsserver.SServer(site)
    port = servers.start("-status_file", str(tmp_path / "staple.der"))
    yield {"port": port, "dir": tmp_path, "leaf": leaf}
    servers.stop()


def test_reports_each_protocol_and_the_revoked_staple(served, closed_port, capsys, monkeypatch):
    closed = closed_port
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


def test_resolve_all_probes_every_address_with_the_name_as_sni(served, capsys, monkeypatch):
    import socket

    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(name, port, *args):
        if name.startswith("127."):
            return real_getaddrinfo(name, port, *args)
        if name == "www.example.test":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in ("127.0.0.1", "127.0.0.2")
            ] + [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(tls_endpoint_info.socket, "getaddrinfo", fake_getaddrinfo)
    args = {
        "port": served["port"],
        "endpoints": [{"host": "www.example.test"}, {"host": "nowhere.test"}],
        "resolve_all": True,
        "protocols": ["TLSv1.2"],
    }
    result = modrun.run_module(tls_endpoint_info.main, args, capsys, monkeypatch)[0]
    first, second, missing = result["endpoints"]
    assert [first["host"], second["host"]] == ["127.0.0.1", "127.0.0.2"]
    for entry in (first, second):
        assert entry["resolved_from"] == "www.example.test" and entry["server_name"] == "www.example.test"
        assert entry["resolve_error"] is None
    # The server listens on 127.0.0.1 only: the second address stands for a broken member behind the name.
    assert first["summary"]["staple_state"] == "revoked"
    assert second["reachable"] is False and second["summary"]["staple_state"] == "unreachable"
    assert missing["reachable"] is False and missing["resolved_from"] == "nowhere.test"
    assert "cannot resolve nowhere.test" in missing["resolve_error"]
    assert missing["summary"]["staple_state"] == "unreachable"


def test_without_resolve_all_nothing_is_resolved_by_the_module(served, capsys, monkeypatch):
    def refuse(*args):
        raise AssertionError("getaddrinfo must not be called by the module without resolve_all")

    monkeypatch.setattr(tls_endpoint_info, "resolve", refuse)
    args = {"port": served["port"], "server_names": ["www.example.test"], "protocols": ["TLSv1.2"]}
    site = modrun.run_module(tls_endpoint_info.main, args, capsys, monkeypatch)[0]["endpoints"][0]
    assert site["resolved_from"] is None and site["host"] == "127.0.0.1"


@pytest.mark.parametrize("skew", [-1, 86401, 10**9])
def test_clock_skew_beyond_a_day_is_refused(capsys, monkeypatch, skew):
    from ansible_collections.tlsfleet.stapling.plugins.modules import (
        node_audit,
        ocsp_responder_check,
        ocsp_response_info,
    )

    required = {
        ocsp_responder_check.main: {"endpoint": {"host": "127.0.0.1", "port": 9}},
        ocsp_response_info.main: {"content": "MA==", "certificate_content": "x", "issuer_content": "x"},
    }
    for main in (tls_endpoint_info.main, node_audit.main, ocsp_responder_check.main, ocsp_response_info.main):
        args = dict(required.get(main, {}), clock_skew=skew)
        result = modrun.run_module(main, args, capsys, monkeypatch)[0]
        assert result["failed"] is True and "clock_skew must be between 0 and 86400" in result["msg"], main
