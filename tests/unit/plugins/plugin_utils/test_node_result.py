# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A node that lies in its node_audit answer: the controller validates, sanitises and reports the rest."""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import CATALOGUE, Finding
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import node_result as nr
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import renderers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as rep
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import (
    common,
    html_page,
    json_doc,
    junit,
    prometheus,
)
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import markdown as md
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils import test_report as fx

DOCUMENTED_SCHEMA = Path(__file__).resolve().parents[4] / "docs" / "node-audit-result-schema.json"
MUTATIONS = [None, 0, 1.5, "s", [], {}, float("nan"), float("inf"), True]


def parse_xml(text):
    return ET.fromstring(text)  # noqa: S314 - the report's own output, not untrusted data


@pytest.fixture(scope="module")
def realistic():
    """A node result with real evidence (judged handshakes, a diagnosed finding) plus the fixtures' own shapes."""
    from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki

    pki = Pki()
    root, (inter,), leaf = pki.chain(ocsp_urls=[fx.REAL_URL])
    result = fx.real_result(pki, (root, inter, leaf), staple=False)
    result["summary"] = {"findings": len(result["findings"]), "by_code": {}, "sites": 1, "hostnames": 1}
    result["findings"].append(
        Finding("resolver_missing", ["no resolver"], server="nginx", site="nginx:/etc/nginx/site.conf:1").to_dict()
    )
    result["evidence"]["errors"] = ["one error"]
    assert result["findings"] and result["evidence"]["sites"][0]["served"]
    return result


def paths(value, path=()):
    """Every path into ``value``: containers and leaves, the root excluded."""
    found = []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return found
    for key, item in items:
        found.append((*path, key))
        found.extend(paths(item, (*path, key)))
    return found


def replaced(value, path, new):
    value = json.loads(json.dumps(value))  # no shared parts: one change changes one place
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = copy.deepcopy(new)
    return value


def shown_path(path) -> str:
    """The path as the validator names it: ``a.b[0]['x.y']``."""
    text = ""
    for key in path:
        if isinstance(key, int):
            text += "[%d]" % key
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            text += ("." if text else "") + key
        else:
            text += "[%r]" % key
    return text


def render_all(report):
    """Every format, in memory (write_report runs the same renderers); raises on any failure."""
    html_page.render_html(report, io.StringIO())
    junit.render_junit(report, "error", io.StringIO())
    stream = io.StringIO()
    json_doc.render_json(report, stream)
    json.loads(stream.getvalue())
    md.render_markdown(report)
    prometheus.render_prometheus(report)


# ---------------------------------------------------------------------------------------------------------------
# The validator


def test_realistic_result_is_valid_and_cleaned_to_plain_types(realistic):
    clean, problem = nr.validate_node_result("eu-web-1", realistic)
    assert problem is None
    assert clean == realistic
    # a part with a string to sanitise is rebuilt; the input is never changed
    dirty = replaced(realistic, ("evidence", "errors", 0), "bad\x1b")
    clean, problem = nr.validate_node_result("eu-web-1", dirty)
    assert problem is None and clean["evidence"]["errors"] == ["bad\ufffd"]
    assert dirty["evidence"]["errors"] == ["bad\x1b"]
    assert clean["evidence"]["sites"] is dirty["evidence"]["sites"]  # shared, not copied
    assert json.loads(json.dumps(clean, allow_nan=False)) == clean


def test_the_published_schema_is_the_validators_own(realistic):
    """docs/node-audit-result-schema.json is SCHEMA, and the JSON Schema reading of it agrees on real data."""
    assert json.loads(DOCUMENTED_SCHEMA.read_text(encoding="utf-8")) == nr.SCHEMA
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this environment")
    validator = jsonschema.Draft202012Validator(nr.SCHEMA)
    assert not list(validator.iter_errors(json.loads(json.dumps(realistic))))
    bad = replaced(realistic, ("findings", 0, "code"), "<b>")
    assert not validator.is_valid(bad) and nr.validate_node_result("h", bad)[1]


def test_type_mutation_sweep_never_breaks_the_report(realistic, tmp_path):
    """Every leaf and container of a real result replaced in turn by a value of another type, NaN or infinity."""
    good = fx.audit(["shop.test"], [fx.finding("staple_expiring")])
    baseline = fx.build({"eu-web-1": realistic, "eu-web-2": good}, {"eu-web-1": "eu", "eu-web-2": "eu"})
    other = next(node for node in baseline["nodes"] if node["host"] == "eu-web-2")
    other_findings = [item for item in baseline["findings"] if item["host"] == "eu-web-2"]
    every = paths(realistic)
    assert len(every) > 100  # real evidence, not a toy
    failed = 0
    for path in every:
        for new in MUTATIONS:
            mutated = replaced(realistic, path, new)
            report = fx.build({"eu-web-1": mutated, "eu-web-2": good}, {"eu-web-1": "eu", "eu-web-2": "eu"})
            render_all(report)
            nodes = {node["host"]: node for node in report["nodes"]}
            assert nodes["eu-web-2"] == other, (path, new)
            assert [item for item in report["findings"] if item["host"] == "eu-web-2"] == other_findings
            node = nodes["eu-web-1"]
            if node["status"] == "failed":
                failed += 1
                assert node["message"].startswith("malformed node_audit result from eu-web-1: "), node["message"]
                assert shown_path(path) in node["message"], (path, new, node["message"])
            else:
                assert node["status"] == "ok", (path, new)
            if isinstance(new, float) and not math.isfinite(new):
                assert node["status"] == "failed", (path, new)
                assert ("NaN" if math.isnan(new) else "infinite") in node["message"]
    assert failed > len(every)  # the sweep did meet the schema, not only lenient fields
    renderers.write_report(report, str(tmp_path))


def test_the_message_names_the_field(realistic):
    hostname = next(iter(realistic["evidence"]["sites"][0]["served"]))
    mutated = replaced(realistic, ("evidence", "sites", 0, "served", hostname, "summary", "seconds_left"), math.nan)
    report = fx.build({"eu-web-2": mutated}, {})
    assert report["nodes"][0]["status"] == "failed"
    assert report["nodes"][0]["message"] == (
        "malformed node_audit result from eu-web-2: evidence.sites[0].served['%s'].summary.seconds_left is NaN"
        % hostname
    )
    assert report["findings"] == [] and report["summary"]["failing_hosts"] == ["eu-web-2"]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda r: r["findings"].extend([r["findings"][0]] * nr.MAX_FINDINGS), "findings has"),
        (lambda r: r["evidence"]["errors"].append("x" * (nr.MAX_STRING + 1)), "evidence.errors[1] is longer than"),
        (lambda r: r["evidence"].update(deep=_nested(nr.MAX_DEPTH + 2)), "nested deeper than"),
        (lambda r: r["evidence"].update(big=10**30), "evidence.big is out of range"),
        (lambda r: r["evidence"].update({"timings": {1: 2}}), "evidence.timings has a key that is a number"),
        (lambda r: r["evidence"].update(when=object()), "evidence.when is a object, which is not JSON data"),
        (lambda r: r["findings"][0].update(code="<img src=x>"), "findings[0].code is not of the form"),
        (lambda r: r["findings"][0].update(fixed_by="x](http://evil)"), "findings[0].fixed_by is not of the form"),
        (
            lambda r: r["evidence"]["sites"][0]["served"].update({"h%d" % i: {} for i in range(nr.MAX_ITEMS)}),
            "served has",
        ),
        (
            lambda r: r["evidence"]["sites"].extend([r["evidence"]["sites"][0]] * nr.MAX_SITES),
            "evidence.sites has",
        ),
    ],
)
def test_bounds(realistic, change, expected):
    mutated = copy.deepcopy(realistic)
    change(mutated)
    clean, problem = nr.validate_node_result("n1", mutated)
    assert clean is None and expected in problem, problem


def _nested(depth):
    value = "leaf"
    while depth > 0:
        value, depth = [value], depth - 1
    return value


def test_total_pairs_per_node_are_bounded(realistic):
    mutated = copy.deepcopy(realistic)
    site = mutated["evidence"]["sites"][0]
    site["served"] = {"h%d.test" % i: {} for i in range(nr.MAX_NODE_HOSTNAMES // 4 + 1)}
    mutated["evidence"]["sites"] = [site] * 4
    assert "more than %d (site, hostname) pairs" % nr.MAX_NODE_HOSTNAMES in nr.validate_node_result("n", mutated)[1]


@pytest.mark.parametrize("result", [None, "text", 3, [1]])
def test_no_dict_is_no_result(result):
    assert nr.validate_node_result("n1", result) == (
        None,
        "no node_audit result for n1 (got %s)" % nr._describe(result),
    )


def test_sanitise_replaces_controls_del_c1_surrogates_and_noncharacters():
    text = "a\tb\nc\rd\x00e\x1bf\x7fg\x85h\ud800i\ufdd0j\ufffek\U0001fffel\U0010ffffm\u00e9\u2603"
    assert (
        nr.sanitise(text) == "a\tb\nc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh\ufffdi\ufffdj\ufffdk\ufffdl\ufffdm\u00e9\u2603"
    )
    assert nr.sanitise("a\tb\nc", keep_newlines=False) == "a b c"
    assert nr.sanitise(None) == "" and nr.sanitise(12) == "12"
    # every string of a validated result, keys included, is sanitised
    clean, problem = nr.validate_node_result("n", {"msg": "x\x00", "failed": True, "odd\x1b": ["\x9b"]})
    assert problem is None and clean == {"msg": "x\ufffd", "failed": True, "odd\ufffd": ["\ufffd"]}


# ---------------------------------------------------------------------------------------------------------------
# The renderers with hostile node strings

HOSTILE = [
    "[x](http://evil.test/a)",
    "![i](http://evil.test/i.png)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<http://evil.test/auto>",
    "``code`` `x`",
    "a | b || c",
    "line one\nline two\r\n| --- |",
    "[ref]: http://evil.test/ref",
    "- list\n# heading\n===\n---\n1. one",
    "&lt;b&gt;entity&lt;/b&gt; &#60;i&#62;",
    "\x00\x01\x1b[31mred\x7f\x85\ud800\ufffe",
]


def hostile_fleet():
    """Hostile strings in every node field the renderers show: hostnames, sites, servers, evidence, codes."""
    results = {}
    for index, text in enumerate(HOSTILE):
        hostname = "h%d.test %s" % (index, text)
        found = [
            {
                "code": "staple_missing",
                "severity": "error",
                "server": text,
                "site": "nginx:%s:3" % text,
                "hostname": hostname,
                "evidence": [text, "second " + text],
                "remediation": "do " + text,
                "fixed_by": "tls_reload",
                "details": {"note": text},
            },
            {"code": "future_code", "severity": "warning", "evidence": text, "remediation": "see " + text},
        ]
        result = fx.audit([hostname], found)
        result["evidence"]["sites"][0]["site"] = "nginx:%s:1" % text
        result["evidence"]["errors"] = [text]
        results["node%d" % index] = result
    results["failed-node"] = {"failed": True, "msg": " / ".join(HOSTILE)}
    regions = {"node%d" % index: "r " + text for index, text in enumerate(HOSTILE)}
    return rep.build_report(results, regions, "1.2.3", generated_at=fx.STAMP)


def test_junit_parses_with_control_characters_everywhere():
    report = hostile_fleet()
    assert all(node["status"] == "ok" for node in report["nodes"] if node["host"] != "failed-node")
    text = junit.render_junit(report)
    root = parse_xml(text.encode("utf-8"))
    names = {case.get("name") for case in root.iter("testcase")}
    assert "h11.test \ufffd\ufffd\ufffd[31mred\ufffd\ufffd\ufffd\ufffd" in names
    assert root.get("failures") == str(len(HOSTILE))
    assert "\x1b" not in text and "\x00" not in text


def _markdown_it():
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is not installed in this environment")
    return markdown_it.MarkdownIt("commonmark").enable("table")


def test_markdown_has_no_html_or_link_from_a_node_string():
    parser = _markdown_it()
    text = md.render_markdown(hostile_fleet())
    tokens = parser.parse(text)

    def walk(items):
        for token in items:
            yield token
            yield from walk(token.children or [])

    kinds = {token.type for token in walk(tokens)}
    assert not kinds & {"html_inline", "html_block", "link_open", "image", "code_block", "fence", "hr"}, kinds
    assert kinds >= {"table_open", "heading_open", "bullet_list_open"}
    html = parser.render(text)
    assert "<script" not in html and "<img" not in html and "<a " not in html and "evil" in html
    # one table row per node: no cell broke out of its row, no pipe made an extra cell
    table = text.split("## Nodes", 1)[1].split("\n\n")[1].splitlines()[2:]
    rows = [line for line in table if line.startswith("|")]
    assert len(rows) == len(table) == len(HOSTILE) + 1
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 7 for row in rows), rows
    # code spans only for catalogue codes; the unknown code is marked unknown
    spans = {token.content for token in walk(tokens) if token.type == "code_inline"}
    assert spans <= set(CATALOGUE) | {cause.fixed_by for cause in CATALOGUE.values()}, spans
    assert "future\\_code (unknown code)" in text
    # the remedy and the fixing role come from the catalogue for a known code, never from the node
    assert "do [x]" not in html and "Fix: %s" % md.md_escape(CATALOGUE["staple_missing"].remedy) in text


def test_markdown_escape_round_trips_through_commonmark():
    parser = _markdown_it()
    for text in HOSTILE:
        rendered = parser.renderInline(md.md_escape(text))
        assert "<" not in rendered.replace("&lt;", ""), (text, rendered)
        expected = nr.sanitise(text, keep_newlines=False).replace("\r", " ").strip()
        assert _unescape(rendered) == expected, (text, rendered)


def _unescape(html_text: str) -> str:
    import html

    return html.unescape(html_text)


def test_html_shows_hostile_strings_escaped():
    page = html_page.render_html(hostile_fleet())
    assert "<script" not in page and "<img" not in page and "<a " not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\x1b" not in page and "\ud800" not in page


def test_prometheus_site_label_is_stable_and_series_unique():
    def node_with(line, extra_line=None):
        result = fx.audit(["shop.test"])
        site = result["evidence"]["sites"][0]
        site["site"] = "nginx:/etc/nginx/sites-enabled/shop.conf:%d" % line
        ecdsa = copy.deepcopy(site)
        ecdsa["key"] += "#ecdsa"
        ecdsa["served"]["shop.test"]["summary"]["seconds_left"] = 600
        result["evidence"]["sites"].append(ecdsa)  # RSA + ECDSA: one site, two certificates
        return result

    def series(report):
        text = prometheus.render_prometheus(report)
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert len(lines) == len({line.rsplit(" ", 1)[0] for line in lines}), "duplicate series"
        return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in lines if "staple_seconds_left" in line}

    before = series(fx.build({"n1": node_with(12)}, {}))
    after = series(fx.build({"n1": node_with(13)}, {}))  # a line added above the site's block
    assert before == after
    assert list(before.values()) == ["600"]  # the certificate that runs out first
    assert 'site="nginx:/etc/nginx/sites-enabled/shop.conf"' in next(iter(before))


def test_prometheus_has_finite_values_only():
    report = fx.build()
    report["nodes"][2]["hostnames"][0]["seconds_left"] = math.inf  # as if a node had slipped one through
    text = prometheus.render_prometheus(report)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert math.isfinite(float(line.rsplit(" ", 1)[1])), line


# ---------------------------------------------------------------------------------------------------------------
# Never green


def node_level_fleet():
    down = fx.audit(["shop.test"], [{"code": "some_node_level_code", "severity": "critical", "evidence": ["down"]}])
    empty = fx.audit([])
    empty["evidence"]["sites"] = []
    return fx.build({"down": down, "empty": empty, "fine": fx.audit(["shop.test"])}, {})


def test_node_level_findings_and_empty_nodes_are_never_green():
    report = node_level_fleet()
    nodes = {node["host"]: node for node in report["nodes"]}
    assert rep.node_state(nodes["down"]) == "critical" and nodes["down"]["failing"]
    assert rep.node_state(nodes["empty"]) == "empty" and rep.node_state(nodes["fine"]) == "ok"
    assert report["summary"]["nodes_without_sites"] == ["empty"]
    assert rep.set_stats_summary(report)["nodes_without_sites"] == ["empty"]

    page = html_page.render_html(report)
    rows = {
        m.group(2): m.group(0)
        for m in re.finditer(r'<tr><th>[^<]*</th><th class="sev-(\w+)">([^<]*)</th>.*?</tr>', page)
    }
    assert 'class="sev-critical">down<' in rows["down"] and "sev-ok" not in rows["down"].split("</td>")[0]
    assert 'class="sev-empty">empty<' in rows["empty"] and "sev-ok" not in rows["empty"]
    assert common.NO_SITE in rows["empty"] and 'class="sev-ok">fine<' in rows["fine"]

    markdown = md.render_markdown(report)
    assert re.search(r"\| default \| empty \| ok \| - \| 0 \| %s \|" % re.escape(common.NO_SITE), markdown)
    assert re.search(r"\| default \| down \| ok \| critical \| 1 \|", markdown)

    root = parse_xml(junit.render_junit(report))
    cases = {(case.get("classname"), case.get("name")): case for case in root.iter("testcase")}
    assert cases[("default.empty", junit.NODE_TESTCASE)].find("skipped").get("message") == common.NO_SITE
    assert cases[("default.down", junit.NODE_TESTCASE)].find("failure") is not None
    assert root.get("skipped") == "1"

    samples = fx.parse_prometheus(prometheus.render_prometheus(report))
    assert samples[("tlsfleet_stapling_node_hostnames", frozenset({("host", "empty"), ("region", "default")}))] == 0
    critical = frozenset({("host", "down"), ("region", "default"), ("severity", "critical")})
    assert samples[("tlsfleet_stapling_node_findings", critical)] == 1


# ---------------------------------------------------------------------------------------------------------------
# Five files together


@pytest.mark.parametrize("failing", sorted(renderers.RENDERERS))
def test_a_failing_renderer_leaves_the_previous_five_files_byte_identical(tmp_path, monkeypatch, failing):
    written = renderers.write_report(fx.build(), str(tmp_path))
    before = {name: Path(path).read_bytes() for name, path in written.items()}

    def broken(*_args, **_kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(renderers.RENDERERS[failing], "render", broken)
    with pytest.raises(renderers.ReportWriteError) as caught:
        renderers.write_report(fx.build(fail_threshold="critical"), str(tmp_path))
    message = str(caught.value)
    assert "the report was not written" in message and "renderer exploded" in message
    assert "previous report files in %s are unchanged" % tmp_path in message
    assert {name: Path(path).read_bytes() for name, path in written.items()} == before
    assert sorted(os.listdir(tmp_path)) == sorted(renderers.FILES.values())  # no temporary file left behind


def test_type_mutation_sweep_never_breaks_the_remediation_planner(realistic, tmp_path):
    """What the schema lets through, the planners read without a traceback: a plan, or one AnsibleFilterError."""
    from ansible.errors import AnsibleFilterError

    from ansible_collections.tlsfleet.stapling.plugins.filter.remediation_plan import remediation_plan, rollout_plan
    from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki

    result = json.loads(json.dumps(realistic))
    site = result["evidence"]["sites"][0]
    served = next(iter(site["served"].values()))
    site.update(source="/etc/nginx/site.conf:1", endpoint={"host": "127.0.0.1", "port": 443})
    site["configured"].update(
        certificate_file="/etc/tls/site.pem",
        key_file="/etc/tls/site.key",
        leaf=served["leaf_sha256"],
        trusted={"path": "/etc/tls/trusted.pem", "has_issuer": True, "anchors_issuer": False},
    )
    fixes = ("stapling_disabled", "resolver_missing", "chain_incomplete", "trusted_cert_missing", "key_mismatch")
    hostname = site["hostnames"][0]
    result["findings"] += [{"code": code, "site": site["site"], "hostname": hostname} for code in fixes]
    pki = Pki()
    _root, (inter,), leaf = pki.chain(ocsp_urls=[fx.REAL_URL], dns=[hostname])
    (tmp_path / "cert.pem").write_bytes(leaf.pem + inter.pem)
    (tmp_path / "key.pem").write_bytes(leaf.key_pem())
    certificates = [{"certificate": str(tmp_path / "cert.pem"), "key": str(tmp_path / "key.pem"), "hosts": ["n1"]}]

    def plans(value):
        deploying = remediation_plan(value, "n1", certificates=certificates, resolvers=["198.18.0.4"])
        rebuilding = remediation_plan(value, "n1", resolvers=["198.18.0.4"])  # no certificate: the chain in place
        return deploying, rebuilding, rollout_plan(value, certificates[0], "n1")

    deploying, rebuilding, rollout = plans(result)  # the sweep starts from plans taking every step the roles read
    assert deploying["stapling"] and deploying["deployments"] and deploying["verify"]
    assert rebuilding["bundles"][0]["trusted_dest"] == "/etc/tls/trusted.pem"
    assert rollout["deployments"] and rollout["verify"]
    swept = [path for path in paths(result) if path[:2] in (("evidence", "sites"), ("evidence", "certificates"))]
    for path in swept:
        for new in MUTATIONS:
            try:
                plans(replaced(result, path, new))
            except AnsibleFilterError:
                pass
