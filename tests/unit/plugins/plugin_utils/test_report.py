# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import diagnosis, endpoint, tls_probe
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import CATALOGUE, Finding
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import renderers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as rep
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import html_page, junit, prometheus
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import markdown as md

SCHEMA = Path(__file__).resolve().parents[4] / "docs" / "report-schema.json"
STAMP = "2026-11-23T12:00:00Z"
LEAF_A = "aa" * 32
LEAF_B = "bb" * 32
INTERMEDIATE = "11" * 32
OTHER_INTERMEDIATE = "22" * 32


def served(leaf=LEAF_A, intermediate=INTERMEDIATE, state="good", seconds_left=86400, reachable=True):
    """What one hostname served: both protocols the same chain (one shared verdict)."""
    return records.Served(
        reachable=reachable,
        leaf_sha256=leaf,
        summary=records.StapleSummary(state, {"tls1_3": state, "tls1_2": state}, seconds_left),
        protocols={"tls1_3": records.Handshake(ok=True, verdict=0), "tls1_2": records.Handshake(ok=True, verdict=0)},
        verdicts=[records.Verdict(protocols=["tls1_3", "tls1_2"], presented=[leaf, intermediate])],
    )


def audit(names, findings=(), server="nginx", short_lived=None, **served_args):
    """A node_audit result with one site serving ``names`` (with ``short_lived``, its leaf's record says so)."""
    site = "%s:/etc/nginx/sites-enabled/shop.conf:1" % server
    found = [item.to_dict() if isinstance(item, Finding) else item for item in findings]
    certificates = records.Certificates()
    if short_lived is not None:
        certificates.add(
            {
                "subject": "CN=shop.test",
                "issuer": "CN=int",
                "serial": "0a",
                "sha256": served_args.get("leaf", LEAF_A),
                "not_before": "2026-11-20T00:00:00Z",
                "not_after": "2026-11-26T00:00:00Z" if short_lived else "2027-02-18T00:00:00Z",
                "short_lived": short_lived,
            }
        )
    evidence = records.Evidence(
        certificates=certificates,
        node={"hostname": "n"},
        servers=[{"type": server}],
        sites=[
            records.Site(
                key=site,
                server=server,
                site=site,
                hostnames=list(names),
                served={name: served(**served_args) for name in names},
            )
        ],
    )
    return {"changed": False, "findings": found, "summary": {"findings": len(found)}, "evidence": evidence.to_dict()}


def parse_xml(text):
    return ET.fromstring(text)  # noqa: S314 - the report's own output, not untrusted data


def finding(code, hostname="shop.test", evidence=None, **kwargs):
    return Finding(
        code,
        evidence or ["observed %s" % code],
        server="nginx",
        site="nginx:/etc/nginx/sites-enabled/shop.conf:1",
        hostname=hostname,
        **kwargs,
    )


def fleet():
    results = {
        "eu1": audit(["shop.test", "api.test"], [finding("staple_expiring"), finding("chain_extra", "api.test")]),
        "eu2": audit(["shop.test", "api.test"], [finding("responder_unreachable"), finding("staple_missing")]),
        "us1": audit(["shop.test", "api.test"], [finding("staple_expired")], seconds_left=-60),
        "us2": audit(["shop.test", "api.test"], short_lived=True),
        "ap1": {"unreachable": True, "msg": "ssh: connect to host ap1 port 22: No route to host"},
        "ap2": {"failed": True, "msg": "pyOpenSSL missing"},
    }
    regions = {"eu1": "eu", "eu2": "eu", "us1": "us", "us2": "us", "ap1": "ap", "ap2": "ap"}
    return results, regions


def build(results=None, regions=None, **kwargs):
    if results is None:
        results, regions = fleet()
    return rep.build_report(results, regions, "1.2.3", generated_at=STAMP, **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# report.json


def test_counts_and_statuses():
    report = build()
    summary = report["summary"]
    assert summary["nodes"] == 6
    assert summary["nodes_ok"] == 4
    assert summary["nodes_failed"] == ["ap2"]
    assert summary["nodes_unreachable"] == ["ap1"]
    assert summary["regions"] == 3
    assert summary["hostnames"] == 2
    assert summary["node_hostnames"] == 8
    assert summary["sites"] == 4
    assert summary["findings"] == 5
    assert summary["by_code"] == {
        "chain_extra": 1,
        "responder_unreachable": 1,
        "staple_expired": 1,
        "staple_expiring": 1,
        "staple_missing": 1,
    }
    assert summary["by_severity"] == {"critical": 1, "error": 2, "warning": 2}
    assert summary["worst_severity"] == "critical"
    assert summary["by_region"]["eu"] == {
        "nodes": 2,
        "nodes_ok": 2,
        "findings": 4,
        "by_severity": {"error": 2, "warning": 2},
        "worst_severity": "error",
    }
    assert summary["by_region"]["ap"]["nodes_ok"] == 0
    # eu1 has warnings only; failed and unreachable hosts always fail.
    assert summary["failing_hosts"] == ["ap1", "ap2", "eu2", "us1"]
    nodes = {node["host"]: node for node in report["nodes"]}
    assert nodes["ap1"]["status"] == "unreachable" and "No route to host" in nodes["ap1"]["message"]
    assert nodes["ap2"]["status"] == "failed" and nodes["ap2"]["message"] == "pyOpenSSL missing"
    assert nodes["us1"]["worst_severity"] == "critical"
    assert nodes["us2"]["worst_severity"] is None and nodes["us2"]["failing"] is False
    shop = next(entry for entry in nodes["eu1"]["hostnames"] if entry["hostname"] == "shop.test")
    assert shop["leaf_sha256"] == LEAF_A and shop["staple_state"] == "good" and shop["seconds_left"] == 86400
    assert [node["host"] for node in report["nodes"]] == ["ap1", "ap2", "eu1", "eu2", "us1", "us2"]
    for item in report["findings"]:
        assert set(rep.FINDING_KEYS) <= set(item)
    assert {item["region"] for item in report["findings"]} == {"eu", "us"}


def test_threshold_changes_failing_hosts():
    assert build(fail_threshold="warning")["summary"]["failing_hosts"] == ["ap1", "ap2", "eu1", "eu2", "us1"]
    assert build(fail_threshold="critical")["summary"]["failing_hosts"] == ["ap1", "ap2", "us1"]
    with pytest.raises(ValueError, match="unknown severity threshold"):
        build(fail_threshold="bad")


@pytest.mark.parametrize(
    "result",
    [None, "oops", {}, {"findings": "x", "evidence": {}}, {"skipped": True, "skip_reason": "when false"}],
)
def test_odd_results_become_failed_nodes(result):
    report = build({"n1": result, "n2": audit(["a.test"])}, {})
    nodes = {node["host"]: node for node in report["nodes"]}
    assert nodes["n1"]["status"] == "failed" and nodes["n1"]["message"]
    assert nodes["n2"]["status"] == "ok" and nodes["n2"]["region"] == rep.DEFAULT_REGION


def test_unknown_code_in_a_result_does_not_crash():
    item = {"code": "future_code", "severity": "bogus", "evidence": "one line", "hostname": "a.test"}
    report = build({"n1": audit(["a.test"], [item])}, {"n1": "eu"})
    (found,) = report["findings"]
    assert found["code"] == "future_code" and found["severity"] == "error" and found["evidence"] == ["one line"]


def test_generated_at_defaults_to_now():
    report = rep.build_report({}, {}, "1.0.0")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["generated_at"])
    assert report["summary"]["nodes"] == 0 and report["findings"] == []


# ---------------------------------------------------------------------------------------------------------------
# drift


def test_same_fingerprint_everywhere_is_no_drift():
    results, regions = fleet()
    assert rep.fleet_drift(results, regions) == []
    assert "node_drift" not in build()["summary"]["by_code"]


def test_one_node_with_another_leaf_is_drift_naming_it():
    results, regions = fleet()
    results["us2"] = audit(["shop.test", "api.test"], leaf=LEAF_B)
    drift = rep.fleet_drift(results, regions)
    assert [item["hostname"] for item in drift] == ["api.test", "shop.test"]
    item = drift[1]
    assert item["code"] == "node_drift" and item["host"] is None and item["region"] is None
    assert item["severity"] == CATALOGUE["node_drift"].severity
    assert item["details"]["kind"] == "leaf"
    assert item["details"]["fingerprints"] == {LEAF_A: ["eu1", "eu2", "us1"], LEAF_B: ["us2"]}
    assert item["details"]["regions"] == ["eu", "us"]
    assert item["details"]["nodes"] == ["eu1", "eu2", "us1", "us2"] and item["details"]["outliers"] == ["us2"]
    assert any(LEAF_B in line and "us2 (us)" in line for line in item["evidence"])
    assert not any(LEAF_B in line and "eu1" in line for line in item["evidence"])

    report = build(results, regions)
    assert report["summary"]["by_code"]["node_drift"] == 2
    assert "us2" in report["summary"]["failing_hosts"]
    assert {node["host"]: node["worst_severity"] for node in report["nodes"]}["us2"] == "error"
    assert {node["host"]: node["findings"] for node in report["nodes"]}["us2"] == 2
    assert "us2" in rep.failing_findings(report)[0]["details"]["outliers"]


def test_chain_drift_across_regions_when_leaves_agree():
    results = {
        "eu1": audit(["shop.test"]),
        "us1": audit(["shop.test"], intermediate=OTHER_INTERMEDIATE),
    }
    (item,) = rep.fleet_drift(results, {"eu1": "eu", "us1": "us"})
    assert item["details"]["kind"] == "chain"
    assert sorted(host for hosts in item["details"]["fingerprints"].values() for host in hosts) == ["eu1", "us1"]


def test_unreachable_endpoints_and_single_nodes_are_no_drift():
    results = {"eu1": audit(["shop.test"]), "eu2": audit(["shop.test"], leaf=LEAF_B, reachable=False)}
    assert rep.fleet_drift(results, {}) == []
    assert rep.fleet_drift({"eu1": audit(["shop.test"])}, {}) == []


# ---------------------------------------------------------------------------------------------------------------
# merge


def _without_stamp(report):
    return {key: value for key, value in report.items() if key != "generated_at"}


def test_merge_of_slices_equals_the_unsliced_report():
    results, regions = fleet()
    results["us2"] = audit(["shop.test", "api.test"], leaf=LEAF_B)  # drift only visible across slices
    whole = build(results, regions)
    slice_a = build({h: results[h] for h in ("eu1", "us2", "ap1")}, regions)
    slice_b = rep.build_report(
        {h: results[h] for h in ("eu2", "us1", "ap2")}, regions, "1.2.3", generated_at="2026-11-23T12:05:00Z"
    )
    assert "node_drift" not in slice_b["summary"]["by_code"]
    merged = rep.merge_reports([slice_a, slice_b])
    assert _without_stamp(merged) == _without_stamp(whole)
    assert merged["generated_at"] == "2026-11-23T12:05:00Z"
    assert _without_stamp(rep.merge_reports([slice_b, slice_a])) == _without_stamp(whole)
    assert _without_stamp(rep.merge_reports([whole])) == _without_stamp(whole)


def test_merge_refuses_mismatched_slices():
    with pytest.raises(ValueError, match="at least one"):
        rep.merge_reports([])
    with pytest.raises(ValueError, match="fail thresholds"):
        rep.merge_reports([build(), build(fail_threshold="warning")])


def test_set_stats_summary_is_compact_json():
    stats = rep.set_stats_summary(build())
    assert stats["worst_severity"] == "critical"
    assert stats["failing_hosts"] == ["ap1", "ap2", "eu2", "us1"]
    assert stats["by_severity"]["critical"] == 1 and stats["by_code"]["staple_missing"] == 1
    assert "nodes" in stats and "findings" in stats
    assert len(json.dumps(stats)) < 1000


# ---------------------------------------------------------------------------------------------------------------
# JUnit


def test_junit_one_testcase_per_node_and_hostname_failing_at_threshold():
    report = build()
    root = parse_xml(junit.render_junit(report, "error"))
    cases = {(case.get("classname"), case.get("name")): case for case in root.iter("testcase")}
    ok_pairs = {("%s.%s" % (r, h), n) for r, h in (("eu", "eu1"), ("eu", "eu2"), ("us", "us1"), ("us", "us2"))
                for n in ("shop.test", "api.test")}  # fmt: skip
    down = {("ap.ap1", junit.NODE_TESTCASE), ("ap.ap2", junit.NODE_TESTCASE)}
    assert set(cases) == ok_pairs | down
    failed = {key for key, case in cases.items() if case.find("failure") is not None}
    assert failed == {("eu.eu2", "shop.test"), ("us.us1", "shop.test")}
    errors = {key for key, case in cases.items() if case.find("error") is not None}
    assert errors == down
    assert "staple_expired" in cases[("us.us1", "shop.test")].find("failure").get("message")
    # below the threshold: reported, not failing
    assert "staple_expiring" in cases[("eu.eu1", "shop.test")].find("system-out").text
    assert root.get("tests") == "10" and root.get("failures") == "2" and root.get("errors") == "2"

    warn = parse_xml(junit.render_junit(report, "warning"))
    failing = {(c.get("classname"), c.get("name")) for c in warn.iter("testcase") if c.find("failure") is not None}
    assert failing == {("eu.eu1", "shop.test"), ("eu.eu1", "api.test"), ("eu.eu2", "shop.test"),
                       ("us.us1", "shop.test")}  # fmt: skip


def test_junit_marks_drift_on_the_nodes_it_names():
    results, regions = fleet()
    results["us2"] = audit(["shop.test", "api.test"], leaf=LEAF_B)
    root = parse_xml(junit.render_junit(build(results, regions), "error"))
    failed = {(c.get("classname"), c.get("name")) for c in root.iter("testcase") if c.find("failure") is not None}
    # The drift is about us2, the one node that differs from the majority; eu1 serves what most nodes serve.
    assert ("us.us2", "api.test") in failed and ("eu.eu1", "api.test") not in failed


def test_drift_without_a_majority_is_about_every_node():
    results = {"a": audit(["shop.test"]), "b": audit(["shop.test"], leaf=LEAF_B)}
    report = build(results, {"a": "eu", "b": "us"})
    (item,) = [found for found in report["findings"] if found["code"] == "node_drift"]
    assert item["details"]["outliers"] == ["a", "b"]
    assert report["summary"]["failing_hosts"] == ["a", "b"]


# ---------------------------------------------------------------------------------------------------------------
# Prometheus

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text):
    """A tiny parser of the text exposition format: {(name, frozenset(labels)): value}; checks HELP/TYPE."""
    samples, typed = {}, set()
    for line in text.splitlines():
        assert line == line.strip() and line, "blank or padded line %r" % line
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _hash, _word, name, kind = line.split(" ")
            assert kind in ("gauge", "counter")
            typed.add(name)
            continue
        match = _SAMPLE.match(line)
        assert match, "not a sample: %r" % line
        name, _braces, body, value = match.groups()
        assert name in typed, "%s has no TYPE line before it" % name
        labels = {}
        position = 0
        while body and position < len(body):
            label = _LABEL.match(body, position)
            assert label, "bad labels in %r" % line
            raw = label.group(2)
            labels[label.group(1)] = re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), raw)
            position = label.end()
        samples[(name, frozenset(labels.items()))] = float(value)
    return samples


def test_prometheus_samples():
    text = prometheus.render_prometheus(build())
    samples = parse_prometheus(text)
    assert all(name.startswith("tlsfleet_stapling_") for name, _labels in samples)
    assert samples[("tlsfleet_stapling_last_run_timestamp_seconds", frozenset())] == 1795435200
    assert samples[("tlsfleet_stapling_nodes", frozenset())] == 6
    assert samples[("tlsfleet_stapling_node_up", frozenset({("host", "ap1"), ("region", "ap")}))] == 0
    assert samples[("tlsfleet_stapling_node_up", frozenset({("host", "eu1"), ("region", "eu")}))] == 1
    site = "nginx:/etc/nginx/sites-enabled/shop.conf"  # no line number: a stable series
    key = frozenset({("host", "us1"), ("region", "us"), ("site", site), ("hostname", "shop.test")})
    assert samples[("tlsfleet_stapling_staple_seconds_left", key)] == -60
    left = [k for k in samples if k[0] == "tlsfleet_stapling_staple_seconds_left"]
    assert len(left) == 8
    assert samples[("tlsfleet_stapling_findings", frozenset({("code", "staple_missing"), ("severity", "error")}))] == 1
    assert samples[("tlsfleet_stapling_findings_by_severity", frozenset({("severity", "info")}))] == 0
    assert samples[("tlsfleet_stapling_findings_by_severity", frozenset({("severity", "warning")}))] == 2
    node_key = frozenset({("host", "eu2"), ("region", "eu"), ("severity", "error")})
    assert samples[("tlsfleet_stapling_node_findings", node_key)] == 2
    assert text.count("# HELP ") == text.count("# TYPE ")


def test_prometheus_escapes_label_values():
    odd = 'we"ird\\re\ngion\x07'
    text = prometheus.render_prometheus(build({"n1": audit(["a.test"])}, {"n1": odd}))
    samples = parse_prometheus(text)
    # newline and tab become spaces in an inventory region, a control character U+FFFD
    shown = 'we"ird\\re gion\ufffd'
    assert samples[("tlsfleet_stapling_node_up", frozenset({("host", "n1"), ("region", shown)}))] == 1
    assert 'region="we\\"ird\\\\re gion\ufffd"' in text


# ---------------------------------------------------------------------------------------------------------------
# HTML and Markdown

NASTY = '<script>alert("x")</script> & | *bold* `tick` [link](http://evil.test) _u_ # hash'


def nasty_report():
    results, regions = fleet()
    results["eu1"] = audit(["shop.test"], [finding("staple_missing", evidence=[NASTY])])
    results["ap2"] = {"failed": True, "msg": "<b>boom</b>"}
    return build(results, regions)


def test_html_is_self_contained_and_escaped():
    page = html_page.render_html(nasty_report())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "<link" not in page.lower()
    assert not re.search(r"\b(src|href|action)\s*=", page, re.IGNORECASE)
    assert "url(" not in page and "@import" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom" not in page
    # every URL in the page is escaped evidence text: in a <pre> or in a cell's title attribute
    for match in re.finditer(r"https?://", page):
        before = page[: match.start()]
        in_pre = before.rfind("<pre>") > before.rfind("</pre>")
        title = before.rfind('title="')
        in_title = title >= 0 and '"' not in before[title + len('title="') :]
        assert in_pre or in_title, page[match.start() - 80 : match.end()]


def test_html_grid_coloured_by_worst_severity():
    page = html_page.render_html(build())
    assert "<table>" in page
    for code in build()["summary"]["by_code"]:
        assert code in page
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><th>[^<]*</th><th[^>]*>([^<]*)</th>.*?</tr>", page)}
    rows.pop("node")  # the header row
    assert set(rows) == {"eu1", "eu2", "us1", "us2", "ap1", "ap2"}
    assert "sev-critical" in rows["us1"] and "sev-critical" not in rows["eu2"]
    assert "sev-error" in rows["eu2"] and "sev-warning" in rows["eu1"]
    assert "sev-down" in rows["ap1"] and "sev-ok" in rows["us2"]
    assert "1d 0h" in rows["us2"]


def test_markdown_lists_every_code_and_escapes():
    report = build()
    text = md.render_markdown(report)
    for item in report["findings"]:
        assert "`%s`" % item["code"] in text
    nasty = md.render_markdown(nasty_report())
    assert "<script>" not in nasty and "&lt;script&gt;" in nasty
    assert "\\*bold\\*" in nasty and "\\`tick\\`" in nasty and "\\[link\\]" in nasty and "\\|" in nasty
    assert "&lt;b&gt;boom&lt;/b&gt;" in nasty
    assert md.md_escape("a|b\nc") == "a\\|b c"


# ---------------------------------------------------------------------------------------------------------------
# schema and files


def test_report_validates_against_the_documented_schema():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this environment")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    results, regions = fleet()
    results["us2"] = audit(["shop.test", "api.test"], leaf=LEAF_B)
    for report in (build(results, regions), nasty_report(), rep.build_report({}, {}, "0.1.0")):
        document = json.loads(json.dumps(report))
        errors = sorted(validator.iter_errors(document), key=str)
        assert not errors, errors[0]
    broken = json.loads(json.dumps(build()))
    broken["findings"][0]["severity"] = "meh"
    assert not validator.is_valid(broken)


def test_write_report_writes_five_files_atomically(tmp_path):
    report = build()
    target = tmp_path / "out" / "deep"
    paths = renderers.write_report(report, str(target))
    assert set(paths) == set(renderers.FILES)
    assert sorted(os.listdir(target)) == sorted(renderers.FILES.values())
    for path in paths.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert json.loads(Path(paths["json"]).read_text(encoding="utf-8")) == report
    # streamed node by node, yet byte for byte what one json.dumps gives
    expected = json.dumps(report, sort_keys=True, separators=(",", ":")) + "\n"
    assert Path(paths["json"]).read_text(encoding="utf-8") == expected
    assert len(report["nodes"]) > 1 and report["findings"]
    parse_xml(Path(paths["junit"]).read_text(encoding="utf-8"))
    parse_prometheus(Path(paths["prometheus"]).read_text(encoding="utf-8"))
    # a second run replaces in place and leaves no temporary files behind
    renderers.write_report(build(fail_threshold="critical"), str(target))
    assert sorted(os.listdir(target)) == sorted(renderers.FILES.values())
    assert json.loads(Path(paths["json"]).read_text(encoding="utf-8"))["summary"]["fail_threshold"] == "critical"


# ---------------------------------------------------------------------------------------------------------------
# real evidence, built the way test_diagnosis builds it

REAL_HOST = "www.example.test"
REAL_URL = "http://ocsp.example.test/int"


def real_result(pki, chain, staple=True):
    root, inter, leaf = chain
    data = pki.ocsp_response(leaf, inter) if staple else None
    probe = tls_probe.EndpointProbe(endpoint=tls_probe.Endpoint("127.0.0.1", 443, REAL_HOST))
    for protocol in ("TLSv1.3", "TLSv1.2"):
        probe.handshakes[protocol] = tls_probe.Handshake(
            protocol_requested=protocol, ok=True, protocol=protocol, chain_der=[leaf.der, inter.der], staple=data
        )
        probe.attempts[protocol] = 1
    certificates = records.Certificates()
    site = records.Site(
        key="nginx:/etc/nginx/site.conf:1#0",
        server="nginx",
        site="nginx:/etc/nginx/site.conf:1",
        hostnames=[REAL_HOST],
        stapling={"ssl_stapling": True, "ssl_stapling_verify": False, "resolver": ["198.18.0.2"]},
        configured=records.Configured(key_matches=True),
        served={REAL_HOST: records.Served.from_report(endpoint.judge_probe(probe, anchors=[root.cert]), certificates)},
    )
    evidence = records.Evidence(
        node={"checked_at": STAMP},
        servers=[{"type": "nginx"}],
        certificates=certificates,
        sites=[site],
        responders={REAL_URL: {"url": REAL_URL, "reachable": True, "failed_stage": None, "ocsp": None}},
    )
    found = diagnosis.diagnose(evidence, diagnosis.Thresholds())
    return {
        "findings": [item.to_dict() if isinstance(item, Finding) else item for item in found],
        "evidence": evidence.to_dict(),
    }


def test_real_evidence_feeds_the_report_and_drift(pki):
    root, (inter,), leaf = pki.chain(ocsp_urls=[REAL_URL])
    other_root, (other_inter,), other_leaf = pki.chain(ocsp_urls=[REAL_URL])
    same = (root, inter, leaf)
    results = {
        "eu1": real_result(pki, same),
        "us1": real_result(pki, same),
        "us2": real_result(pki, (other_root, other_inter, other_leaf)),
    }
    regions = {"eu1": "eu", "us1": "us", "us2": "us"}
    report = build({k: results[k] for k in ("eu1", "us1")}, regions)
    (entry,) = report["nodes"][0]["hostnames"]
    assert entry["hostname"] == REAL_HOST and entry["staple_state"] == "good"
    assert entry["leaf_sha256"] and entry["chain_sha256"] and entry["seconds_left"] > 0
    assert report["findings"] == [] and rep.fleet_drift(results, {}) != []

    report = build(results, regions)
    (drift,) = [item for item in report["findings"] if item["code"] == "node_drift"]
    assert drift["details"]["kind"] == "leaf"
    assert sorted(map(sorted, drift["details"]["fingerprints"].values())) == [["eu1", "us1"], ["us2"]]
    samples = parse_prometheus(prometheus.render_prometheus(report))
    assert len([key for key in samples if key[0] == "tlsfleet_stapling_staple_seconds_left"]) == 3


# ---------------------------------------------------------------------------------------------------------------
# The external view, regions, the "never" threshold


ADDRESSES = {"eu1": ["198.18.0.11"], "eu2": ["198.18.0.12"], "us1": ["198.18.0.13"], "us2": ["198.18.0.14"]}


def external_probe(address, name, state="good", ocsp=True, resolve_error=None):
    if resolve_error:
        return {"host": name, "resolved_from": name, "resolve_error": resolve_error, "summary": {}}
    # tls_endpoint_info's endpoint (the external view keeps that shape: each certificate described in place)
    presented = [{"sha256": LEAF_A, "subject": "CN=leaf"}, {"sha256": INTERMEDIATE, "subject": "CN=int"}]
    protocol = {"presented": presented, "chain": {}, "staple": {}}
    probe = {
        "label": "x",
        "reachable": True,
        "leaf_sha256": LEAF_A,
        "summary": {"staple_state": state, "staple_states": {"tls1_3": state, "tls1_2": state}, "seconds_left": 86400},
        "protocols": {"tls1_3": protocol, "tls1_2": protocol},
    }
    if ocsp:
        probe["protocols"]["tls1_2"]["presented"][0]["ocsp_urls"] = ["http://ocsp.test/"]
    probe.update({"host": address, "server_name": name, "resolved_from": name, "resolve_error": None})
    return probe


def external_view():
    return {
        "vantage": "localhost",
        "endpoints": [
            external_probe("198.18.0.11", "shop.test"),
            external_probe("198.18.0.12", "shop.test", state="none"),
            external_probe("198.18.0.13", "shop.test", state="expired"),
            external_probe("198.18.0.99", "shop.test"),
            external_probe("198.18.0.12", "api.test", state="none", ocsp=False),
            external_probe(None, "gone.test", resolve_error="cannot resolve gone.test: Name or service not known"),
        ],
    }


def test_external_view_names_the_nodes_a_client_may_get_with_a_broken_staple():
    report = build(addresses=ADDRESSES, external=external_view())
    view = {entry["hostname"]: entry for entry in report["external"]["hostnames"]}
    assert report["external"]["vantage"] == "localhost"
    shop = view["shop.test"]
    assert [item["node"] for item in shop["addresses"]] == ["eu1", "eu2", "us1", None]
    # No staple although the leaf names a responder is broken; so is an expired one.
    assert shop["broken_addresses"] == ["198.18.0.12", "198.18.0.13"]
    assert shop["broken_nodes"] == ["eu2", "us1"]
    assert shop["nodes_not_in_dns"] == ["us2"]
    assert shop["addresses"][1]["node_staple_state"] == "good"  # what eu2's own audit recorded for shop.test
    # A certificate without an OCSP URL serves no staple, and that is not broken.
    assert view["api.test"]["broken_nodes"] == [] and view["api.test"]["addresses"][0]["broken"] is False
    assert view["gone.test"]["resolve_error"].startswith("cannot resolve gone.test")
    assert report["summary"]["external_broken_nodes"] == ["eu2", "us1"]
    assert rep.set_stats_summary(report)["external_broken_nodes"] == ["eu2", "us1"]
    html = html_page.render_html(report)
    assert "External view" in html and "not in the inventory" in html and "which DNS does not hand out" in html
    markdown = md.render_markdown(report)
    assert "Nodes a client may be handed with a broken staple: eu2, us1." in markdown


def test_external_view_flags_another_certificate_than_the_node_serves():
    view = external_view()
    view["endpoints"][0]["leaf_sha256"] = LEAF_B  # eu1 answers shop.test with a certificate it does not serve
    view["endpoints"][0]["port"] = 8443
    report = build(addresses=ADDRESSES, external=view)
    shop = {entry["hostname"]: entry for entry in report["external"]["hostnames"]}["shop.test"]
    first, second = shop["addresses"][:2]
    assert first["leaf_matches_node"] is False and second["leaf_matches_node"] is True
    assert shop["addresses"][3]["leaf_matches_node"] is None  # no node behind 198.18.0.99
    assert "198.18.0.11:8443" in md.render_markdown(report)
    assert "another certificate than the node serves for this name" in html_page.render_html(report)


def test_without_external_check_the_report_has_no_external_section():
    report = build()
    assert "external" not in report and "external_broken_nodes" not in report["summary"]
    assert "External view" not in html_page.render_html(report)


def test_merge_links_external_addresses_to_nodes_of_other_slices():
    results, regions = fleet()
    whole = build(results, regions, addresses=ADDRESSES, external=external_view())
    view = external_view()
    # Each slice probes the hostnames it knows of; here the first one only shop.test, the second the others.
    first = {"vantage": "localhost", "endpoints": [e for e in view["endpoints"] if e["resolved_from"] == "shop.test"]}
    second = {"vantage": "localhost", "endpoints": [e for e in view["endpoints"] if e["resolved_from"] != "shop.test"]}
    slice_a = build({h: results[h] for h in ("eu1", "us2", "ap1")}, regions, addresses=ADDRESSES, external=first)
    slice_b = build({h: results[h] for h in ("eu2", "us1", "ap2")}, regions, addresses=ADDRESSES, external=second)
    assert _without_stamp(rep.merge_reports([slice_a, slice_b])) == _without_stamp(whole)
    assert _without_stamp(rep.merge_reports([slice_b, slice_a])) == _without_stamp(whole)


def test_region_falls_back_to_default_and_never_fails_nobody():
    results, _regions = fleet()
    report = build(results, {})
    assert {node["region"] for node in report["nodes"]} == {"default"}
    assert report["summary"]["failing_hosts"]
    calm = build(results, {}, fail_threshold="never")
    assert calm["summary"]["failing_hosts"] == [] and not any(node["failing"] for node in calm["nodes"])
    assert "<failure" not in junit.render_junit(calm, "never")
    with pytest.raises(ValueError, match="unknown severity threshold"):
        build(results, {}, fail_threshold="sometimes")


def test_report_with_external_view_validates_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this environment")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    document = json.loads(json.dumps(build(addresses=ADDRESSES, external=external_view())))
    errors = sorted(validator.iter_errors(document), key=str)
    assert not errors, errors[0]


def test_streamed_html_and_junit_equal_the_strings(tmp_path):
    import io

    report = build(addresses=ADDRESSES, external=external_view())
    for render in (html_page.render_html, lambda r, out=None: junit.render_junit(r, "error", out)):
        stream = io.StringIO()
        assert render(report, stream) is None
        assert stream.getvalue() == render(report)
    # More rows than one streamed batch (500), so the page is written in several pieces.
    large = build({"n%04d" % i: audit(["shop.test"]) for i in range(1200)}, {})
    stream = io.StringIO()
    html_page.render_html(large, stream)
    assert stream.getvalue() == html_page.render_html(large)
    paths = renderers.write_report(report, str(tmp_path))
    assert Path(paths["html"]).read_text(encoding="utf-8") == html_page.render_html(report)
    assert Path(paths["junit"]).read_text(encoding="utf-8") == junit.render_junit(report, "error")


def test_short_lived_certificates_are_named_in_every_human_report():
    report = build()
    by_node = {n["host"]: n for n in report["nodes"]}
    assert [e["short_lived"] for e in by_node["us2"]["hostnames"]] == [True, True]
    assert [e["short_lived"] for e in by_node["eu1"]["hostnames"]] == [False, False]
    text = md.render_markdown(report)
    assert "## Short-lived certificates" in text
    assert "| us | us2 | shop.test |" in text and "| eu | eu1 |" not in text.split("## Short-lived")[1].split("##")[0]
    page = html_page.render_html(report)
    assert page.count("<small>short-lived</small>") == 2
    # A record without the field (an older node side) is read from its validity window.
    old = audit(["a.test"], short_lived=True)
    del old["evidence"]["certificates"][LEAF_A]["short_lived"]
    assert build({"n1": old}, {"n1": "eu"})["nodes"][0]["hostnames"][0]["short_lived"] is True
    assert "Short-lived" not in md.render_markdown(build({"n1": audit(["a.test"], short_lived=False)}, {"n1": "eu"}))
