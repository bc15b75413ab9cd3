# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_audit is bounded: past its time budget the audit starts no new work and returns what it has."""

from __future__ import annotations

import threading
import time
import types

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import audit, servers, tls_probe
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

MARGIN = 1.0  # seconds allowed beyond the budget for the bookkeeping after it


@pytest.fixture
def release():
    """Set at the end of each test so that hung fakes end and leave no thread behind."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def node(tmp_path, pki, monkeypatch):
    """One nginx site whose certificate (with its issuer, naming an OCSP URL) is on disk; no real server."""
    _root, intermediates, leaf = pki.chain()
    cert_file = tmp_path / "site.pem"
    cert_file.write_bytes(leaf.pem + intermediates[0].pem)
    site = servers.SiteInfo(
        server="nginx",
        site_id="nginx:/etc/nginx/site.conf:1",
        source="/etc/nginx/site.conf",
        server_names=["www.example.test"],
        certificate_files=[str(cert_file)],
        listen=[{"address": "443", "ssl": True}],
    )
    server = servers.ServerInfo(type="nginx", running=True, sites=[site])
    monkeypatch.setattr(servers, "discover", lambda run, which, types=None, timeout=30.0: [server])
    logs_read = []
    monkeypatch.setattr(servers, "log_events", lambda info, since: logs_read.append(info.type) or [])
    return {"server": server, "logs_read": logs_read}


def _settings(budget, **kwargs):
    return audit.Settings(time_budget=budget, trust_anchor_paths=[], **kwargs)


def _quiet_anchors(monkeypatch):
    monkeypatch.setattr(audit, "_load_anchors", lambda paths, errors: [])


def test_hung_handshake_is_cut_at_the_budget(node, release, monkeypatch):
    _quiet_anchors(monkeypatch)
    deadlines = []

    def hung_probe(target, **kwargs):
        deadlines.append(kwargs.get("deadline"))
        release.wait(30)
        return tls_probe.EndpointProbe(endpoint=target)

    monkeypatch.setattr(tls_probe, "probe_endpoint", hung_probe)
    monkeypatch.setattr(audit, "_check_responder", lambda *args: {"url": args[0], "ok": True})
    started = time.monotonic()
    evidence = audit.gather(_settings(1.0), run=None, which=lambda name: None)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + MARGIN
    assert deadlines and deadlines[0] is not None  # the probe itself was told when to stop starting handshakes
    [sentence] = [e for e in evidence.errors if "time budget" in e]
    assert sentence.startswith("the audit's time budget of 1 s ran out after ")
    assert "1 of 1 handshakes not finished (127.0.0.1:443 www.example.test)" in sentence
    assert "1 of 1 servers' error logs not read (nginx)" in sentence
    assert node["logs_read"] == []
    # What was done before the budget ran out is still there: the site, its files, the responder check.
    [site] = evidence.sites
    assert evidence.certificate(site.configured.leaf).subject
    assert site.served == {}
    assert evidence.responders["http://ocsp.example.test/"]["ok"] is True


def test_hung_responder_is_cut_and_the_rest_is_kept(node, release, monkeypatch):
    _quiet_anchors(monkeypatch)

    def hung_responder(url, cert, issuer, settings):
        release.wait(30)
        return {"url": url}

    monkeypatch.setattr(audit, "_check_responder", hung_responder)
    monkeypatch.setattr(tls_probe, "probe_endpoint", lambda target, **kwargs: tls_probe.EndpointProbe(endpoint=target))
    started = time.monotonic()
    evidence = audit.gather(_settings(1.0), run=None, which=lambda name: None)
    assert time.monotonic() - started < 1.0 + MARGIN
    [sentence] = [e for e in evidence.errors if "time budget" in e]
    assert "1 of 1 responder probes not finished (http://ocsp.example.test/)" in sentence
    assert "handshakes" not in sentence
    assert evidence.responders == {}
    assert list(evidence.sites[0].served) == ["www.example.test"]


def test_slow_discovery_stops_running_commands(tmp_path, monkeypatch):
    _quiet_anchors(monkeypatch)

    def discover(run, which, types=None, timeout=30.0):
        first = common.run_command(run, ["nginx", "-V"], timeout)
        second = common.run_command(run, ["nginx", "-T"], timeout)
        info = servers.ServerInfo(type="nginx")
        info.errors.extend(r.describe() for r in (first, second) if not r.ok)
        return [info]

    def slow_runner(argv, timeout):
        time.sleep(1.2)
        return 0, "nginx version: nginx/1.26.0", ""

    monkeypatch.setattr(servers, "discover", discover)
    monkeypatch.setattr(servers, "log_events", lambda info, since: pytest.fail("logs read past the budget"))
    started = time.monotonic()
    evidence = audit.gather(_settings(1.0), run=slow_runner, which=lambda name: None)
    assert time.monotonic() - started < 1.2 + MARGIN  # the second 1.2 s command never ran
    [sentence] = [e for e in evidence.errors if "time budget" in e]
    assert "1 server command(s) not run (nginx -T)" in sentence
    assert "could not run" in evidence.servers[0]["errors"][0]


def test_without_a_budget_everything_is_waited_for(node, monkeypatch):
    _quiet_anchors(monkeypatch)

    def slow_probe(target, **kwargs):
        assert kwargs.get("deadline") is None
        time.sleep(1.5)
        return tls_probe.EndpointProbe(endpoint=target)

    monkeypatch.setattr(tls_probe, "probe_endpoint", slow_probe)
    monkeypatch.setattr(audit, "_check_responder", lambda *args: {"url": args[0], "ok": True})
    evidence = audit.gather(_settings(0), run=None, which=lambda name: None)
    assert not [e for e in evidence.errors if "time budget" in e]
    assert list(evidence.sites[0].served) == ["www.example.test"]
    assert node["logs_read"] == ["nginx"]


def test_a_probe_past_its_deadline_starts_no_more_handshakes(monkeypatch):
    made = []
    # A clock that only the handshakes move: a stalled test worker cannot use up the deadline first.
    clock = [1000.0]
    monkeypatch.setattr(tls_probe, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))

    def fake_handshake(endpoint, protocol, timeout):
        made.append(protocol)
        clock[0] += 0.2
        return tls_probe.Handshake(protocol_requested=protocol, ok=True)  # no staple: would warm up

    monkeypatch.setattr(tls_probe, "handshake", fake_handshake)
    probe = tls_probe.probe_endpoint(
        tls_probe.Endpoint(), protocols=["TLSv1.3", "TLSv1.2"], sleep=lambda s: None, deadline=clock[0] + 0.1
    )
    assert made == ["TLSv1.3"]  # no warm-up, no second protocol after the deadline
    assert probe.attempts == {"TLSv1.3": 1}
    made.clear()
    tls_probe.probe_endpoint(tls_probe.Endpoint(), protocols=["TLSv1.3"], sleep=lambda s: None, warmup_attempts=2)
    assert made == ["TLSv1.3"] * 3  # without a deadline the warm-ups happen
