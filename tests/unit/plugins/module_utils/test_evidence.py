# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit.gather() builds typed, compact evidence (evidence.py) on a fake node; its dict form is what
docs/evidence-schema.json describes, reads back to the same records, and stays small with many hostnames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import diagnosis, servers, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.fake_node import URL, FakeNode

SCHEMA = Path(__file__).resolve().parents[4] / "docs" / "evidence-schema.json"
KIB = 1024

# Acceptance bounds of issue 15 for node_audit's default (compact) evidence.
MAX_NODE_BYTES = 16 * KIB  # a node like those of the lab fleet
MAX_200_NAMES_BYTES = 1024 * KIB  # one node serving 200 names, each with its own certificate


def size(value) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def test_gather_builds_typed_evidence_with_each_certificate_once(pki, tmp_path, monkeypatch):
    node = FakeNode(pki, tmp_path, monkeypatch, [["www.example.test", "shop.example.test"], ["api.example.test"]])
    evidence = node.gather()
    assert isinstance(evidence, records.Evidence)
    assert sorted(node.probed) == ["api.example.test", "shop.example.test", "www.example.test"]
    www, api = evidence.sites
    assert (www.server, www.hostnames, api.hostnames) == (
        "nginx",
        ["www.example.test", "shop.example.test"],
        ["api.example.test"],
    )
    # configured: the leaf by fingerprint, its record once in the table; the key matches; the chain is judged
    leaf_fp = x509.fingerprint(node.leaves["www.example.test"].cert)
    assert www.configured.leaf == leaf_fp and www.configured.key_matches is True
    assert www.configured.chain.issuer == x509.fingerprint(node.inter.cert)
    assert evidence.certificate(leaf_fp).san_dns == ["www.example.test", "shop.example.test"]
    # two leaves, the intermediate and the root (on the configured chain's path): each described once
    assert set(evidence.certificates) == {
        x509.fingerprint(cert.cert)
        for cert in (node.leaves["www.example.test"], node.leaves["api.example.test"], node.inter, node.root)
    }
    # TLS 1.3 and 1.2 were served the same chain and staple: one verdict for both
    served = www.served["shop.example.test"]
    assert [v.protocols for v in served.verdicts] == [["tls1_3", "tls1_2"]]
    assert {p: h.verdict for p, h in served.protocols.items()} == {"tls1_3": 0, "tls1_2": 0}
    assert served.verdicts[0].presented == [leaf_fp, x509.fingerprint(node.inter.cert)]
    assert served.verdicts[0].staple.good and served.summary.staple_states == {"tls1_3": "good", "tls1_2": "good"}
    assert evidence.responders[URL]["ok"] is True
    assert [c["outcome"] for c in www.resolver_checks] == ["ok"]
    assert diagnosis.diagnose(evidence) == []


def test_the_dict_form_reads_back_to_the_same_records(pki, tmp_path, monkeypatch):
    evidence = FakeNode(pki, tmp_path, monkeypatch, [["www.example.test"], ["api.example.test"]]).gather()
    full = json.loads(json.dumps(evidence.to_dict(records.FULL)))
    assert records.Evidence.from_dict(full) == evidence
    compact = json.loads(json.dumps(evidence.to_dict()))
    assert compact["version"] == records.VERSION and compact["detail"] == "compact"
    assert records.Evidence.from_dict(compact).to_dict() == compact
    # compact leaves out only per-handshake detail and the chain verdicts' sentences
    handshake = full["sites"][0]["served"]["www.example.test"]["protocols"]["tls1_3"]
    assert handshake["cipher"] == "TLS_AES_128_GCM_SHA256" and handshake["elapsed_ms"] == 3
    assert set(handshake) - set(compact["sites"][0]["served"]["www.example.test"]["protocols"]["tls1_3"]) == set(
        records.HANDSHAKE_DETAIL
    )


def test_diagnosis_is_the_same_from_the_records_and_from_either_dict_form(pki, tmp_path, monkeypatch):
    node = FakeNode(pki, tmp_path, monkeypatch, [["www.example.test"]], staple=False)
    evidence = node.gather()
    found = diagnosis.diagnose(evidence)
    assert [f["code"] for f in found] == ["staple_missing"]
    assert "sends no staple after 5 handshakes" in found[0]["evidence"][0]
    assert diagnosis.diagnose(evidence.to_dict()) == found
    assert diagnosis.diagnose(evidence.to_dict(records.FULL)) == found


def test_another_version_is_refused_with_a_sentence():
    with pytest.raises(InputError, match="the evidence is of version 1; this collection reads version 2"):
        records.Evidence.from_dict({"version": 1, "sites": []})
    with pytest.raises(InputError, match="evidence must be one of compact, full, not 'everything'"):
        records.Evidence().to_dict("everything")
    with pytest.raises(InputError, match="version None"):
        diagnosis.diagnose({"sites": []})


def test_the_published_schema_describes_the_dict_form(pki, tmp_path, monkeypatch):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["properties"]["version"]["const"] == records.VERSION
    evidence = FakeNode(pki, tmp_path, monkeypatch, [["www.example.test", "shop.example.test"]]).gather()
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this environment")
    validator = jsonschema.Draft202012Validator(schema)
    for detail in records.DETAILS:
        document = json.loads(json.dumps(evidence.to_dict(detail)))
        assert not [error.message for error in validator.iter_errors(document)]
    broken = json.loads(json.dumps(evidence.to_dict()))
    broken["sites"][0]["served"]["www.example.test"]["verdicts"][0]["presented"] = [{"sha256": "aa"}]
    assert not validator.is_valid(broken)  # a certificate described in place instead of named


def test_a_node_like_the_lab_fleet_stays_under_16_kib(pki, tmp_path, monkeypatch):
    sites = [["www.example.test", "shop.example.test"], ["api.example.test"], ["static.example.test"]]
    evidence = FakeNode(pki, tmp_path, monkeypatch, sites).gather()
    assert size(evidence.to_dict()) <= MAX_NODE_BYTES
    assert size(evidence.to_dict(records.FULL)) > size(evidence.to_dict())


def test_200_names_each_with_its_own_certificate_stay_under_1_mb(pki, tmp_path, monkeypatch):
    """The 200-name benchmark node (tests/lab/scenarios/bench/many_names.yml), built from fakes."""
    sites = [["site%d.bench.test" % n] for n in range(1, 201)]
    evidence = FakeNode(pki, tmp_path, monkeypatch, sites).gather()
    compact = evidence.to_dict()
    # the leaves and their intermediate, each once (the root is named only by the chains' paths: full only)
    assert len(compact["sites"]) == 200 and len(compact["certificates"]) == 200 + 1
    assert diagnosis.diagnose(evidence) == []
    assert size(compact) <= MAX_200_NAMES_BYTES, size(compact)


class _Event:
    def __init__(self, line_no, code, hint):
        self.data = {
            "server": "nginx",
            "code": code,
            "site_hint": hint,
            "file": "/var/log/nginx/error.log",
            "line_no": line_no,
            "message": "line %d" % line_no,
            "level": "warn",
            "offset": line_no * 80,
        }

    def to_dict(self):
        return dict(self.data)


def test_compact_log_events_keep_every_line_the_diagnosis_quotes(pki, tmp_path, monkeypatch):
    node = FakeNode(pki, tmp_path, monkeypatch, [["www.example.test"], ["api.example.test"]], staple=False)
    kinds = [
        ("staple_missing", ""),
        ("staple_missing", "www.example.test"),
        ("responder_unreachable", "api.example.test"),
        ("responder_unreachable", ""),
    ]
    events = [_Event(n, *kinds[(n * 7) % len(kinds)]) for n in range(1, 41)]  # the kinds interleaved
    monkeypatch.setattr(servers, "log_events", lambda info, since: events)
    evidence = node.gather()
    compact = evidence.to_dict()
    assert len(evidence.log_events) == 40 and len(compact["log_events"]) == 3 * len(kinds)
    assert [e["line_no"] for e in compact["log_events"]] == sorted(e["line_no"] for e in compact["log_events"])
    found = diagnosis.diagnose(evidence)
    quoted = [line for f in found for line in f["evidence"] if line.startswith("log ")]
    assert quoted and diagnosis.diagnose(compact) == found
