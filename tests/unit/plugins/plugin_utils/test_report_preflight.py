# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report's preflight section: per node and site the verdict node_audit gave for a candidate, the change named,
why it breaks; rendered in every format, escaped; validated by docs/report-schema.json; merged across slices."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.action import fleet_report as action
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import remediation, renderers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as rep
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import html_page
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import markdown as md
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils.test_report import audit

SCHEMA = Path(__file__).resolve().parents[4] / "docs" / "report-schema.json"
STAMP = "2026-12-02T12:00:00Z"
SITE = "nginx:/etc/nginx/sites-enabled/shop.conf:1"
LB_SITE = "haproxy:/etc/haproxy/haproxy.cfg:12"
CANDIDATE = {
    "name": "www",
    "subject": "CN=shop.test",
    "sha256": "cc" * 32,
    "serial": "1f",
    "san_dns": ["shop.test", "www.shop.test"],
    "not_before": "2026-12-01T00:00:00Z",
    "not_after": "2027-03-01T00:00:00Z",
    "ocsp_urls": ["http://ocsp.test/"],
    "must_staple": True,
    "certificate_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
}


def verdict(kind, reasons=(), changes=(), warnings=(), site=SITE, hostnames=("shop.test", "www.shop.test")):
    status = {"ready": "ok", "ready_after_change": "change", "will_break": "fail"}[kind]
    return {
        "key": site + "#0",
        "site": site,
        "server": site.split(":", 1)[0],
        "hostnames": list(hostnames),
        "verdict": kind,
        "reasons": list(reasons),
        "warnings": list(warnings),
        "changes": list(changes),
        "checks": [{"name": "must_staple", "status": status, "evidence": ["checked"], "changes": list(changes)}],
    }


CHANGE = {
    "by": "stapling_config",
    "action": "refresh_staple_file",
    "path": "/etc/haproxy/certs/www.pem.ocsp",
    "text": "refresh the staple file with a response for the candidate",
}


def results():
    ready = audit(["shop.test", "www.shop.test"])
    ready["preflight"] = [verdict("ready", warnings=["responder: slow"])]
    change = audit(["shop.test", "www.shop.test"], server="haproxy")
    change["preflight"] = [verdict("ready_after_change", changes=[CHANGE], site=LB_SITE)]
    broken = audit(["shop.test", "www.shop.test"])
    broken["preflight"] = [
        verdict("will_break", reasons=["must_staple: the responder gives no good answer from this node <b>x</b>"])
    ]
    other = audit(["api.test"])
    other["preflight"] = []
    return {
        "eu-1": ready,
        "eu-2": broken,
        "eu-lb": change,
        "us-1": other,
        "us-2": {"unreachable": True, "msg": "ssh: connect timed out"},
    }


REGIONS = {"eu-1": "eu", "eu-2": "eu", "eu-lb": "eu", "us-1": "us", "us-2": "us"}
WANTED = {"candidate": CANDIDATE, "at": "2026-12-20T02:00:00Z", "hosts_out_of_scope": ["ap-1"]}


def build(**changes):
    return rep.build_report(
        results(), REGIONS, "0.1.0", generated_at=STAMP, fail_threshold="never", preflight=dict(WANTED, **changes)
    )


def test_the_section_holds_every_node_in_scope_with_its_verdicts():
    section = build()["preflight"]
    assert [(node["host"], node["status"]) for node in section["nodes"]] == [
        ("eu-1", "judged"),
        ("eu-2", "judged"),
        ("eu-lb", "judged"),
        ("us-1", "judged"),
        ("us-2", "not_judged"),
    ]
    by_host = {node["host"]: node for node in section["nodes"]}
    assert [site["verdict"] for site in by_host["eu-1"]["sites"]] == ["ready"]
    assert by_host["eu-lb"]["sites"][0]["changes"] == [CHANGE]
    assert by_host["eu-2"]["sites"][0]["reasons"][0].startswith("must_staple: the responder gives no good answer")
    assert by_host["us-2"]["message"] == "ssh: connect timed out" and by_host["us-2"]["sites"] == []
    assert section["summary"] == {
        "nodes": 5,
        "sites": 3,
        "ready": 1,
        "ready_after_change": 1,
        "will_break": 1,
        "will_break_nodes": ["eu-2"],
        "nodes_not_judged": ["us-2"],
        "nodes_without_sites": ["us-1"],
        "hosts_out_of_scope": ["ap-1"],
    }
    # Public facts about the candidate only: its PEM text never reaches the report.
    assert "certificate_pem" not in section["candidate"] and "BEGIN CERTIFICATE" not in json.dumps(build())
    assert section["candidate"]["must_staple"] is True and section["at"] == "2026-12-20T02:00:00Z"


def test_breaking_lines_name_node_site_hostnames_and_why():
    document = build()
    assert rep.preflight_breaking(document["preflight"]) == [
        {
            "host": "eu-2",
            "region": "eu",
            "site": SITE,
            "server": "nginx",
            "hostnames": ["shop.test", "www.shop.test"],
            "reasons": ["must_staple: the responder gives no good answer from this node <b>x</b>"],
        }
    ]
    assert action.breaking_lines(document) == {
        "eu-2": [
            "site %s (shop.test, www.shop.test) will break: must_staple: the responder gives no good answer "
            "from this node <b>x</b>" % SITE
        ]
    }
    assert document["summary"]["preflight_will_break_nodes"] == ["eu-2"]
    assert rep.set_stats_summary(document)["preflight"]["will_break"] == 1


def test_no_section_without_a_candidate_and_a_report_without_one_is_unchanged():
    plain = rep.build_report(results(), REGIONS, "0.1.0", generated_at=STAMP, fail_threshold="never")
    assert "preflight" not in plain and "preflight_will_break_nodes" not in plain["summary"]
    assert "preflight" not in rep.set_stats_summary(plain)
    assert all("_preflight" not in node for node in plain["nodes"] + build()["nodes"])
    assert "Preflight" not in md.render_markdown(plain) and "Preflight" not in html_page.render_html(plain)


def test_a_lying_node_cannot_forge_a_verdict_or_break_the_section():
    lying = results()
    lying["eu-1"]["preflight"] = [dict(verdict("ready"), verdict="fine\n")]
    document = rep.build_report(lying, REGIONS, "0.1.0", generated_at=STAMP, fail_threshold="never", preflight=WANTED)
    node = next(node for node in document["preflight"]["nodes"] if node["host"] == "eu-1")
    # The whole result is refused (the node result schema): the node is not judged, never counted ready.
    assert node["status"] == "not_judged" and "preflight" in node["message"]
    assert document["preflight"]["summary"]["ready"] == 0


def test_the_section_validates_against_the_documented_schema():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this environment")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    for document in (build(), build(at=None, hosts_out_of_scope=[])):
        errors = sorted(validator.iter_errors(json.loads(json.dumps(document))), key=str)
        assert not errors, errors[0]
    broken = json.loads(json.dumps(build()))
    broken["preflight"]["nodes"][0]["sites"][0]["verdict"] = "fine"
    assert not validator.is_valid(broken)


def test_markdown_names_the_change_and_why_and_escapes_node_text():
    text = md.render_markdown(build())
    assert "## Preflight of www" in text and "**Must-Staple**" in text and "Judged for 2026-12-20T02:00:00Z" in text
    assert (
        "| eu | eu-lb | %s | shop.test, www.shop.test | ready after change | refresh the staple file with a "
        "response for the candidate (`stapling_config` refresh\\_staple\\_file) |" % md.md_escape(LB_SITE)
    ) in text
    assert (
        "**WILL BREAK** | must\\_staple: the responder gives no good answer from this node &lt;b&gt;x&lt;/b&gt;" in text
    )
    assert "| ready | warning: responder: slow |" in text
    assert "| us | us-1 | - | - | - | no site the candidate's names cover |" in text
    assert "| us | us-2 | - | - | not judged | ssh: connect timed out |" in text
    assert "Not in the candidate's hosts (not judged): ap-1." in text
    assert "<b>" not in text


def test_html_shows_every_verdict_escaped():
    page = html_page.render_html(build())
    assert "<h2>Preflight of www</h2>" in page
    assert '<td class="cell sev-error">will break</td>' in page and '<td class="cell sev-ok">ready</td>' in page
    assert "role <code>stapling_config</code>, refresh_staple_file, /etc/haproxy/certs/www.pem.ocsp" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "not judged: ssh: connect timed out" in page


def test_every_format_renders_and_json_keeps_the_section(tmp_path):
    paths = renderers.write_report(build(), str(tmp_path))
    assert json.loads(Path(paths["json"]).read_text())["preflight"]["summary"]["will_break"] == 1
    stream = io.StringIO()
    renderers.RENDERERS["junit"].render(build(), stream)
    assert stream.getvalue().startswith("<?xml")


def test_slices_of_one_preflight_merge_and_other_candidates_do_not():
    everything = results()
    first = {host: everything[host] for host in ("eu-1", "eu-2")}
    second = {host: everything[host] for host in ("eu-lb", "us-1", "us-2")}
    slices = [
        rep.build_report(part, REGIONS, "0.1.0", generated_at=STAMP, fail_threshold="never", preflight=WANTED)
        for part in (first, second)
    ]
    merged = rep.merge_reports(json.loads(json.dumps(slices)))
    assert merged["preflight"] == build()["preflight"]
    other = json.loads(json.dumps(slices[1]))
    other["preflight"]["candidate"]["sha256"] = "dd" * 32
    with pytest.raises(ValueError, match="not the preflight of one candidate"):
        rep.merge_reports([slices[0], other])
    plain = rep.build_report(second, REGIONS, "0.1.0", generated_at=STAMP, fail_threshold="never")
    with pytest.raises(ValueError, match="not the preflight of one candidate"):
        rep.merge_reports([slices[0], plain])


def test_the_changes_a_ready_site_needs_are_listed_with_whether_the_rollout_makes_them():
    changes = rep.preflight_changes(build()["preflight"])
    assert changes == [
        {
            "host": "eu-lb",
            "site": LB_SITE,
            "server": "haproxy",
            "hostnames": ["shop.test", "www.shop.test"],
            **CHANGE,
        }
    ]
    # The rollout deploys a new key and rewrites a staple file loaded with the certificate (HAProxy's .ocsp);
    # nginx's ssl_stapling_file, a stale issuer or trusted file, stapling switched on: not by the rollout.
    assert remediation.rollout_makes(changes[0], "haproxy") is True
    assert remediation.rollout_makes(changes[0], "nginx") is False
    assert remediation.rollout_makes({"action": "deploy_key"}, "apache") is True
    for name in ("replace_issuer_file", "add_trusted", "enable_stapling", "remove_staple_file", "replace_chain_file"):
        assert remediation.rollout_makes({"action": name}, "haproxy") is False, name
    assert remediation.rollout_makes({"action": "refresh_staple_file"}, "lighttpd") is False


def test_junit_has_a_preflight_suite_failing_where_the_candidate_will_break():
    import xml.etree.ElementTree as ET

    stream = io.StringIO()
    renderers.RENDERERS["junit"].render(build(), stream)
    root = ET.fromstring(stream.getvalue())  # noqa: S314 - the report's own output, not untrusted data
    (suite,) = [s for s in root.findall("testsuite") if s.get("name") == "preflight"]
    cases = {(case.get("classname"), case.get("name")): case for case in suite.findall("testcase")}
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    broken = cases[("preflight.eu.eu-2", SITE + " shop.test,www.shop.test")]
    assert broken.find("failure").text.startswith("must_staple: the responder gives no good answer")
    assert cases[("preflight.us.us-2", "(node)")].find("error").text == "ssh: connect timed out"
    lb = cases[("preflight.eu.eu-lb", LB_SITE + " shop.test,www.shop.test")]
    assert lb.find("failure") is None and "refresh the staple file" in lb.find("system-out").text
    assert cases[("preflight.eu.eu-1", SITE + " shop.test,www.shop.test")].find("failure") is None
    # the totals count the preflight suite too
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root.findall("testsuite"))
    # a report without a candidate has no such suite
    plain = io.StringIO()
    renderers.RENDERERS["junit"].render(rep.build_report(results(), REGIONS, "0.1.0", generated_at=STAMP), plain)
    assert 'name="preflight"' not in plain.getvalue()


def test_metrics_count_the_verdicts_and_flag_each_breaking_site():
    from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import prometheus

    text = prometheus.render_prometheus(build())
    assert 'tlsfleet_stapling_preflight_sites{verdict="will_break"} 1' in text
    assert 'tlsfleet_stapling_preflight_sites{verdict="ready_after_change"} 1' in text
    assert 'tlsfleet_stapling_preflight_node_judged{host="us-2",region="us"} 0' in text
    assert 'tlsfleet_stapling_preflight_node_judged{host="eu-1",region="eu"} 1' in text
    site = "nginx:/etc/nginx/sites-enabled/shop.conf"
    assert 'tlsfleet_stapling_preflight_site_will_break{host="eu-2",region="eu",site="%s"} 1' % site in text
    assert 'tlsfleet_stapling_preflight_site_will_break{host="eu-1",region="eu",site="%s"} 0' % site in text
    plain = prometheus.render_prometheus(rep.build_report(results(), REGIONS, "0.1.0", generated_at=STAMP))
    assert "preflight" not in plain
