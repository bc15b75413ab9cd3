# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""junit.xml: one testsuite per node, one testcase per node and hostname, failing at the report's fail threshold.
A preflight report adds a testsuite ``preflight``: one testcase per node and site the candidate covers, failing when
it will break; a node that was not judged is an error.

Every text goes through the sanitiser, which leaves no character an XML parser refuses. This file is PRIVATE to the
collection: its API may change at any time.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import worst_severity
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.node_result import sanitise
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers.common import (
    NO_SITE,
    cell_findings,
    findings_index,
)
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.report import (
    at_threshold,
    check_threshold,
    without_sites,
)

NODE_TESTCASE = "(node)"
PREFLIGHT_SUITE = "preflight"


def _preflight_suite(section: dict):
    """The ``preflight`` testsuite: per node and site its verdict (will_break fails, ready_after_change passes with
    the changes it needs in system-out); a node not judged is one erroring testcase."""
    suite = ET.Element("testsuite", name=PREFLIGHT_SUITE)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for node in section["nodes"]:
        classname = _xml("preflight.%s.%s" % (node["region"], node["host"]))
        if node["status"] != "judged":
            case = ET.SubElement(suite, "testcase", classname=classname, name=NODE_TESTCASE, time="0")
            error = ET.SubElement(case, "error", message=_xml("not judged: %s" % (node["message"] or "")))
            error.text = _xml(node["message"] or "not judged")
            counts["tests"] += 1
            counts["errors"] += 1
            continue
        for site in node["sites"]:
            case = ET.SubElement(
                suite, "testcase", classname=classname, name=_xml("%s %s" % (site["site"], ",".join(site["hostnames"])))
            )
            case.set("time", "0")
            counts["tests"] += 1
            if site["verdict"] == "will_break":
                failure = ET.SubElement(case, "failure", message=_xml("will break"), type="will_break")
                failure.text = _xml("\n".join(site["reasons"]))
                counts["failures"] += 1
            elif site["verdict"] == "ready_after_change":
                system_out = ET.SubElement(case, "system-out")
                system_out.text = _xml("ready after a change: " + "; ".join(c["text"] for c in site["changes"]))
    for key, value in counts.items():
        suite.set(key, str(value))
    return suite, counts


def _testcases(report: dict) -> list[tuple[dict, str, list[dict]]]:
    """(node, name, findings) per node and hostname; plus ``(node)`` for node-wide findings or a failed node."""
    cases = []
    index = findings_index(report)
    own_names: dict = {}
    for item in report["findings"]:
        if item["host"] is not None:
            own_names.setdefault(item["host"], set()).add(item["hostname"])
    for node in report["nodes"]:
        names = {entry["hostname"] for entry in node["hostnames"] if entry["hostname"]}
        names.update(own_names.get(node["host"], set()))
        hostless = cell_findings(report, node["host"], None, index)
        if hostless or not names or node["status"] != "ok":
            cases.append((node, NODE_TESTCASE, hostless))
        for name in sorted(names - {None}):
            cases.append((node, name, cell_findings(report, node["host"], name, index)))
    return cases


def render_junit(report: dict, threshold: str = "error", out=None) -> str | None:
    """One testcase per node and hostname; it fails when it has findings at or above ``threshold``.

    With ``out`` (a text stream) the document is written there and None is returned. Written one testsuite (node)
    at a time: the totals come from a first, counting pass, so the whole tree is never held in memory.
    """
    check_threshold(threshold)
    by_node: dict[str, list] = {}
    for node, name, found in _testcases(report):
        by_node.setdefault(node["host"], []).append((node, name, found))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for cases in by_node.values():
        for node, name, found in cases:
            totals["tests"] += 1
            if node["status"] != "ok":
                totals["errors"] += 1
            elif at_threshold(found, threshold):
                totals["failures"] += 1
            elif name == NODE_TESTCASE and without_sites(node):
                totals["skipped"] += 1
    preflight = _preflight_suite(report["preflight"]) if report.get("preflight") is not None else None
    if preflight is not None:
        for key, value in preflight[1].items():
            totals[key] += value
    stream = out if out is not None else io.StringIO()
    root = ET.Element("testsuites", name="tlsfleet.stapling", **{k: str(v) for k, v in totals.items()})
    opening = ET.tostring(root, encoding="unicode")
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    if not by_node and preflight is None:
        stream.write(opening + "\n")
    else:
        stream.write(opening[: -len(" />")] + ">\n")
        suites = (_junit_suite(host, cases, threshold) for host, cases in by_node.items())
        for suite in [*([preflight[0]] if preflight is not None else []), *suites]:
            ET.indent(suite, level=1)
            stream.write("  " + ET.tostring(suite, encoding="unicode").rstrip("\n") + "\n")
        stream.write("</testsuites>\n")
    return None if out is not None else stream.getvalue()


def _xml(value) -> str:
    """Text XML 1.0 can carry: the sanitiser leaves no character an XML parser refuses."""
    return sanitise(value)


def _junit_suite(host: str, cases: list, threshold: str):
    node = cases[0][0]
    suite = ET.Element("testsuite", name=_xml(host))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for _node, name, found in cases:
        case = ET.SubElement(
            suite, "testcase", classname=_xml("%s.%s" % (node["region"], host)), name=_xml(name), time="0"
        )
        counts["tests"] += 1
        if node["status"] != "ok":
            error = ET.SubElement(case, "error", message=_xml("%s: %s" % (node["status"], node["message"])))
            error.text = _xml(node["message"] or node["status"])
            counts["errors"] += 1
            continue
        failing = at_threshold(found, threshold)
        if failing:
            failure = ET.SubElement(
                case,
                "failure",
                message=_xml(", ".join(sorted({item["code"] for item in failing}))),
                type=_xml(worst_severity(failing)),
            )
            failure.text = _xml(
                "\n".join(
                    "[%s] %s: %s\n  fix: %s"
                    % (item["severity"], item["code"], "; ".join(item["evidence"]), item["remediation"])
                    for item in failing
                )
            )
            counts["failures"] += 1
        elif name == NODE_TESTCASE and without_sites(node):
            # Nothing was checked on this node: not a pass.
            ET.SubElement(case, "skipped", message=NO_SITE)
            counts["skipped"] += 1
        below = [item for item in found if item not in failing]
        if below:
            system_out = ET.SubElement(case, "system-out")
            system_out.text = _xml(
                "\n".join(
                    "[%s] %s: %s" % (item["severity"], item["code"], "; ".join(item["evidence"])) for item in below
                )
            )
    for key, value in counts.items():
        suite.set(key, str(value))
    return suite


def render(report: dict, stream) -> None:
    render_junit(report, report["summary"].get("fail_threshold", "error"), stream)
