# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_audit on a fake node (tests/unit/plugins/module_utils/fake_node.py): findings, summary, and the evidence
in the shape its RETURN and docs/evidence-schema.json describe, compact unless asked otherwise."""

from __future__ import annotations

import json

from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils import x509
from ansible_collections.tlsfleet.stapling.plugins.modules import node_audit
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import node_result
from ansible_collections.tlsfleet.stapling.tests.unit import modrun
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.fake_node import FakeNode

SITES = [["www.example.test", "shop.example.test"], ["api.example.test"]]


def audit(pki, tmp_path, monkeypatch, capsys, staple=True, **args):
    tmp_path.mkdir(exist_ok=True)
    node = FakeNode(pki, tmp_path, monkeypatch, SITES, staple=staple)
    args = dict({"trust_anchor_paths": [str(tmp_path / "root.pem")], "time_budget": 0}, **args)
    return node, modrun.run_module(node_audit.main, args, capsys, monkeypatch)[0]


def test_run_returns_findings_a_summary_and_compact_evidence(pki, tmp_path, monkeypatch, capsys):
    node, result = audit(pki, tmp_path, monkeypatch, capsys, staple=False)
    assert not result.get("failed"), result.get("msg")
    assert sorted((f["code"], f["hostname"]) for f in result["findings"]) == [
        ("staple_missing", "api.example.test"),
        ("staple_missing", "shop.example.test"),
        ("staple_missing", "www.example.test"),
    ]
    assert result["summary"] == {
        "findings": 3,
        "by_code": {"staple_missing": 3},
        "by_severity": {"error": 3},
        "worst_severity": "error",
        "servers": ["nginx"],
        "sites": 2,
        "hostnames": 3,
    }
    evidence = result["evidence"]
    assert (evidence["version"], evidence["detail"]) == (records.VERSION, "compact")
    www = evidence["sites"][0]
    leaf = x509.fingerprint(node.leaves["www.example.test"].cert)
    assert www["configured"]["leaf"] == leaf and evidence["certificates"][leaf]["sha256"] == leaf
    served = www["served"]["www.example.test"]
    assert served["verdicts"][0]["presented"][0] == leaf and "cipher" not in served["protocols"]["tls1_3"]
    # the controller accepts it as it is
    clean, problem = node_result.validate_node_result("web-1", result)
    assert problem is None and clean["evidence"] == evidence


def test_full_evidence_carries_the_handshake_detail_and_the_same_findings(pki, tmp_path, monkeypatch, capsys):
    _node, compact = audit(pki, tmp_path / "a", monkeypatch, capsys, staple=False)
    _node, full = audit(pki, tmp_path / "b", monkeypatch, capsys, staple=False, evidence="full")
    assert full["evidence"]["detail"] == "full"
    handshake = full["evidence"]["sites"][0]["served"]["www.example.test"]["protocols"]["tls1_3"]
    assert (handshake["protocol"], handshake["cipher"]) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
    assert [(f["code"], f["hostname"]) for f in full["findings"]] == [
        (f["code"], f["hostname"]) for f in compact["findings"]
    ]
    assert len(json.dumps(full)) > len(json.dumps(compact))


def test_an_unknown_evidence_detail_is_refused_by_its_name(pki, tmp_path, monkeypatch, capsys):
    _node, result = audit(pki, tmp_path, monkeypatch, capsys, evidence="everything")
    assert result["failed"] and "evidence" in result["msg"] and "compact, full" in result["msg"]


def _renewal(node, name="www.example.test", **kw):
    """A renewal of the deployed leaf of ``name`` (same key, same issuer, same names), as PEM."""
    from ansible_collections.tlsfleet.stapling.tests.unit.pki import _name

    old = node.leaves[name]
    kw.setdefault("dns", ["www.example.test", "shop.example.test"])
    kw.setdefault("ocsp_urls", [fake_node_url()])
    return node.pki._build(_name(name), old.key, node.inter, ca=False, **kw).pem.decode()


def fake_node_url():
    from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.fake_node import URL

    return URL


def test_preflight_judges_the_candidate_per_covered_site(pki, tmp_path, monkeypatch, capsys):
    asked = []

    def good(url, cert, issuer, settings):
        asked.append((url, x509.fingerprint(cert)))
        return {"url": url, "reachable": True, "failed_stage": None, "error": None, "ocsp": {"good": True}}

    tmp_path.mkdir(exist_ok=True)
    node = FakeNode(pki, tmp_path, monkeypatch, SITES)
    monkeypatch.setattr(node_audit.audit, "_check_responder", good)
    candidate = _renewal(node)
    args = {
        "trust_anchor_paths": [str(tmp_path / "root.pem")],
        "time_budget": 0,
        "preflight": {"certificate": candidate, "chain": node.inter.pem.decode()},
    }
    result = modrun.run_module(node_audit.main, args, capsys, monkeypatch)[0]
    assert not result.get("failed"), result.get("msg")
    (site,) = result["preflight"]
    assert site["hostnames"] == ["www.example.test", "shop.example.test"]
    assert site["verdict"] == "ready", site
    assert [check["status"] for check in site["checks"]] == ["ok"] * 8
    assert asked and asked[-1][0] == fake_node_url()
    clean, problem = node_result.validate_node_result("web-1", result)
    assert problem is None and clean["preflight"] == result["preflight"]


def test_preflight_without_it_is_an_empty_list(pki, tmp_path, monkeypatch, capsys):
    _node, result = audit(pki, tmp_path, monkeypatch, capsys)
    assert result["preflight"] == []


def test_preflight_refuses_a_private_key_and_never_echoes_it(pki, tmp_path, monkeypatch, capsys):
    tmp_path.mkdir(exist_ok=True)
    node = FakeNode(pki, tmp_path, monkeypatch, SITES)
    key = node.leaves["www.example.test"].key_pem().decode()
    for preflight in ({"certificate": _renewal(node) + key}, {"certificate": _renewal(node), "chain": key}):
        args = {"trust_anchor_paths": [str(tmp_path / "root.pem")], "time_budget": 0, "preflight": preflight}
        result = modrun.run_module(node_audit.main, args, capsys, monkeypatch)[0]
        assert result["failed"] and "private key" in result["msg"]
        assert "PRIVATE KEY" not in result["msg"] and key.splitlines()[1] not in json.dumps(result)
        assert "findings" not in result  # refused before any work
        args_seen = json.dumps(result.get("invocation") or {})
        assert key.splitlines()[1] not in args_seen  # no_log: not echoed, not logged


def test_preflight_will_break_on_a_not_yet_valid_candidate_at_now_but_not_later(pki, tmp_path, monkeypatch, capsys):
    import datetime

    tmp_path.mkdir(exist_ok=True)
    node = FakeNode(pki, tmp_path, monkeypatch, SITES)
    later = pki.now + datetime.timedelta(days=3)
    candidate = _renewal(node, not_before=later)
    base = {"trust_anchor_paths": [str(tmp_path / "root.pem")], "time_budget": 0}
    now = modrun.run_module(
        node_audit.main,
        dict(base, preflight={"certificate": candidate, "chain": node.inter.pem.decode()}),
        capsys,
        monkeypatch,
    )[0]
    assert now["preflight"][0]["verdict"] == "will_break"
    assert now["preflight"][0]["reasons"][0].startswith("validity: ")
    planned = {
        "certificate": candidate + node.inter.pem.decode(),
        "at": (later + datetime.timedelta(hours=1)).isoformat(),
    }
    at = modrun.run_module(node_audit.main, dict(base, preflight=planned), capsys, monkeypatch)[0]
    assert at["preflight"][0]["verdict"] != "will_break", at["preflight"][0]


def test_preflight_at_blank_is_now_and_a_wrong_at_fails_before_the_audit(pki, tmp_path, monkeypatch, capsys):
    tmp_path.mkdir(exist_ok=True)
    node = FakeNode(pki, tmp_path, monkeypatch, SITES)
    candidate = _renewal(node)
    base = {"trust_anchor_paths": [str(tmp_path / "root.pem")], "time_budget": 0}
    blank = {"certificate": candidate, "chain": node.inter.pem.decode(), "at": "   "}
    result = modrun.run_module(node_audit.main, dict(base, preflight=blank), capsys, monkeypatch)[0]
    assert not result.get("failed") and result["preflight"]
    called = []
    monkeypatch.setattr(node_audit.audit, "gather", lambda *a, **k: called.append(a))
    wrong = dict(blank, at="next tuesday")
    failed = modrun.run_module(node_audit.main, dict(base, preflight=wrong), capsys, monkeypatch)[0]
    assert failed.get("failed") and "preflight.at" in failed["msg"] and called == []


def test_preflight_reads_no_side_file_the_audit_already_read(pki, tmp_path, monkeypatch, capsys):
    tmp_path.mkdir(exist_ok=True)
    trusted = tmp_path / "trusted.pem"
    directives = "        ssl_stapling_verify on;\n        ssl_trusted_certificate %s;\n" % trusted
    node = FakeNode(pki, tmp_path, monkeypatch, SITES, directives=directives)
    trusted.write_bytes(node.inter.pem + node.root.pem)
    reads = []
    load = x509.load_certificates_from_path

    def counting(path, *args, **kwargs):
        reads.append(path)
        return load(path, *args, **kwargs)

    monkeypatch.setattr(x509, "load_certificates_from_path", counting)
    args = {
        "trust_anchor_paths": [str(tmp_path / "root.pem")],
        "time_budget": 0,
        "preflight": {"certificate": _renewal(node), "chain": node.inter.pem.decode()},
    }
    result = modrun.run_module(node_audit.main, args, capsys, monkeypatch)[0]
    assert not result.get("failed"), result.get("msg")
    (site,) = result["preflight"]
    issuer_file = next(check for check in site["checks"] if check["name"] == "issuer_file")
    assert issuer_file["status"] == "ok" and str(trusted) in issuer_file["evidence"][0], issuer_file
    # two sites name the trusted file; the audit reads it once and the preflight reuses what it read
    assert reads.count(str(trusted)) == 1, reads


def test_preflight_that_covers_no_site_says_so_and_is_not_ready(pki, tmp_path, monkeypatch, capsys):
    tmp_path.mkdir(exist_ok=True)
    node = FakeNode(pki, tmp_path, monkeypatch, SITES)
    elsewhere = _renewal(node, dns=["www.other.test"])
    args = {
        "trust_anchor_paths": [str(tmp_path / "root.pem")],
        "time_budget": 0,
        "preflight": {"certificate": elsewhere, "chain": node.inter.pem.decode()},
    }
    result = modrun.run_module(node_audit.main, args, capsys, monkeypatch)[0]
    assert not result.get("failed"), result.get("msg")
    assert result["preflight"] == []
    summary = result["preflight_summary"]
    assert summary["verdict"] == "not_applicable" and summary["sites"] == 0
    assert "www.other.test" in summary["msg"] and "no site" in summary["msg"]
    clean, problem = node_result.validate_node_result("web-1", result)
    assert problem is None and clean["preflight_summary"] == summary
    # a covered site: the worst verdict of the sites
    args["preflight"]["certificate"] = _renewal(node)
    result = modrun.run_module(node_audit.main, args, capsys, monkeypatch)[0]
    assert result["preflight_summary"]["verdict"] == result["preflight"][0]["verdict"]
    assert result["preflight_summary"]["sites"] == 1
    # no candidate: no summary
    _node, plain = audit(pki, tmp_path / "plain", monkeypatch, capsys)
    assert plain["preflight_summary"] is None
    # the controller accepts no other verdict
    forged = dict(result, preflight_summary=dict(summary, verdict="fine"))
    assert node_result.validate_node_result("web-1", forged)[0] is None


def test_preflight_asks_the_responder_a_configuration_forces(pki, tmp_path, monkeypatch, capsys):
    asked = []

    def answer(url, cert, issuer, settings):
        asked.append(url)
        return {"url": url, "reachable": True, "failed_stage": None, "error": None, "ocsp": {"good": True}}

    tmp_path.mkdir(exist_ok=True)
    forced = "http://forced-ocsp.example.test/"
    node = FakeNode(pki, tmp_path, monkeypatch, SITES, directives="        ssl_stapling_responder %s;\n" % forced)
    monkeypatch.setattr(node_audit.audit, "_check_responder", answer)
    args = {
        "trust_anchor_paths": [str(tmp_path / "root.pem")],
        "time_budget": 0,
        "preflight": {"certificate": _renewal(node, ocsp_urls=[]), "chain": node.inter.pem.decode()},
    }
    result = modrun.run_module(node_audit.main, args, capsys, monkeypatch)[0]
    assert not result.get("failed"), result.get("msg")
    (site,) = result["preflight"]
    assert site["verdict"] == "ready" and not site["warnings"], site
    responder = next(check for check in site["checks"] if check["name"] == "responder")
    assert forced in responder["evidence"][0]
    assert asked.count(forced) == 1
