# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the bad-input corpus (cases.py): each input gives a clear message naming it, never a traceback."""

from __future__ import annotations

import json

import pytest

from ansible_collections.tlsfleet.stapling.tests.unit import modrun
from ansible_collections.tlsfleet.stapling.tests.unit.corpus.cases import CASES

RAN = []


class Ctx:
    """What a case needs: a scratch directory, the test PKI, and a way to run a module in-process."""

    def __init__(self, tmp, pki, capsys, monkeypatch):
        self.tmp = tmp
        self.pki = pki
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.cleanup = []
        self.outputs = []

    def run(self, main, args):
        # No proxy from the environment may take a loopback or .invalid request elsewhere.
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            self.monkeypatch.delenv(name, raising=False)
        result, out = modrun.run_module(main, args, self.capsys, self.monkeypatch)
        self.outputs.append(out)
        return result


def _no_traceback(ctx, message):
    for out in ctx.outputs:
        assert "Traceback" not in out, out[:2000]
        result = json.loads(out)
        assert "exception" not in result, result.get("exception")
        assert "module_stderr" not in result
    assert "Traceback" not in message
    assert "PRIVATE KEY" not in message or "contains" in message or "PEM blocks found" in message


@pytest.mark.parametrize("row", CASES, ids=[row.id for row in CASES])
def test_corpus_case(row, tmp_path, pki, capsys, monkeypatch):
    ctx = Ctx(tmp_path, pki, capsys, monkeypatch)
    try:
        message = row.build(ctx)
    finally:
        for step in reversed(ctx.cleanup):
            step()
    assert isinstance(message, str) and message.strip(), f"{row.id}: no message"
    _no_traceback(ctx, message)
    assert row.fragment in message, f"{row.id}: {row.fragment!r} not in {message[:1500]!r}"
    RAN.append(row.id)


def test_corpus_count():
    """The table itself: enough cases, unique ids, every module option family present. Prints the count."""
    ids = [row.id for row in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60
    targets = {row.target for row in CASES}
    for module in (
        "ocsp_response_info",
        "tls_endpoint_info",
        "ocsp_responder_check",
        "node_audit",
        "tls_server_info",
        "certificate_bundle",
        "ocsp_staple",
        "site_stapling",
        "server_reload",
    ):
        assert module in targets, module
    width = max(len(row.id) for row in CASES)
    for row in CASES:
        print(f"{row.id:<{width}}  {row.target:<36} {row.kind:<55} {row.fragment!r}")
    print(f"corpus: {len(CASES)} cases")
