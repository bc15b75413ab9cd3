# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report: node_audit results of every host -> one report, in five formats.

Controller-side code (Python 3.11+, standard library only). ``build_report`` turns the per-host results of
``tlsfleet.stapling.node_audit`` into the ``report.json`` document; the ``render_*`` functions turn that
document into Markdown, JUnit XML, Prometheus text and one self-contained HTML page; ``merge_reports``
combines reports of sliced jobs into the report the unsliced job would have produced; ``write_report`` writes
all five files atomically. The document format is described by docs/report-schema.json.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import html
import io
import json
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET

from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as evidence_records
from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import (
    CATALOGUE,
    SEVERITIES,
    SEVERITY_RANK,
    at_or_above,
    worst_severity,
)
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.node_result import sanitise, validate_node_result

REPORT_FORMAT = 1
DEFAULT_REGION = "default"
NEVER = "never"  # a fail threshold that no finding reaches
THRESHOLDS = (*SEVERITIES, NEVER)
# Staple states a client handed this address would refuse or could not check.
BROKEN_STATES = ("unreachable", "invalid", "expired", "revoked", "unknown")
NODE_TESTCASE = "(node)"
PROTOCOL_ORDER = ("tls1_3", "tls1_2")
FILES = {
    "json": "report.json",
    "html": "report.html",
    "markdown": "report.md",
    "junit": "junit.xml",
    "prometheus": "metrics.prom",
}
NO_SITE = "no TLS site or hostname found"
FINDING_KEYS = ("host", "region", "server", "site", "hostname", "code", "severity", "evidence", "remediation")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_threshold(threshold: str) -> str:
    if threshold not in THRESHOLDS:
        raise ValueError("unknown severity threshold %r (expected one of %s)" % (threshold, ", ".join(THRESHOLDS)))
    return threshold


def _failing(items: list[dict], threshold: str) -> list[dict]:
    return [] if threshold == NEVER else at_or_above(items, threshold)


# --------------------------------------------------------------------------------------------------------------
# From node_audit results to node entries


def _chain_sha256(served: dict) -> str | None:
    """One fingerprint for the chain a hostname presents: SHA-256 over the presented certificates' SHA-256s."""
    for name in PROTOCOL_ORDER:
        prints = evidence_records.presented_fingerprints(served, name)
        if prints:
            return hashlib.sha256(":".join(prints).encode("ascii", "replace")).hexdigest()
    return None


def _leaf_sha256(served: dict) -> str | None:
    if served.get("leaf_sha256"):
        return served["leaf_sha256"]
    for name in PROTOCOL_ORDER:
        prints = evidence_records.presented_fingerprints(served, name)
        if prints:
            return prints[0]
    return None


def _served_entries(evidence: dict) -> list[dict]:
    entries = []
    for site in evidence.get("sites") or []:
        if not isinstance(site, dict):
            continue
        for hostname, raw in sorted((site.get("served") or {}).items()):
            served = raw if isinstance(raw, dict) else {}
            summary = served.get("summary") or {}
            entries.append(
                {
                    "site": site.get("site"),
                    "server": site.get("server"),
                    "hostname": hostname or None,
                    "reachable": bool(served.get("reachable")),
                    "leaf_sha256": _leaf_sha256(served),
                    "chain_sha256": _chain_sha256(served),
                    "staple_state": summary.get("staple_state"),
                    "staple_states": dict(summary.get("staple_states") or {}),
                    "seconds_left": summary.get("seconds_left"),
                }
            )
    entries.sort(key=lambda item: (item["hostname"] or "", item["site"] or "", item["server"] or ""))
    return entries


def _status(result) -> tuple[str, str | None]:
    if not isinstance(result, dict):
        return "failed", "no result for this host (got %s)" % type(result).__name__
    if result.get("unreachable"):
        return "unreachable", sanitise(result.get("msg") or "host unreachable")
    if result.get("failed"):
        return "failed", sanitise(result.get("msg") or "node_audit failed")
    if result.get("skipped"):
        return "failed", sanitise(result.get("skip_reason") or result.get("msg") or "node_audit was skipped")
    if not isinstance(result.get("evidence"), dict) or not isinstance(result.get("findings"), list):
        return "failed", "the result carries no node_audit evidence or findings"
    return "ok", None


def _node_finding(host: str, region: str, item: dict) -> dict:
    # An unknown code (a newer node side, or a lying node) stays visible as it came; the validator has made it an
    # identifier. For a known code the remedy and the fixing role are the catalogue's, never the node's words.
    code = str(item.get("code"))
    severity = item.get("severity") if item.get("severity") in SEVERITIES else None
    cause = CATALOGUE.get(code)
    evidence = item.get("evidence")
    if not isinstance(evidence, list):
        evidence = [] if evidence is None else [evidence]
    return {
        "host": host,
        "region": region,
        "server": item.get("server"),
        "site": item.get("site"),
        "hostname": item.get("hostname"),
        "code": code,
        "severity": severity or (cause.severity if cause else "error"),
        "evidence": [str(line) for line in evidence],
        "remediation": cause.remedy if cause else str(item.get("remediation") or ""),
        "fixed_by": cause.fixed_by if cause else None,
        "details": copy.deepcopy(item.get("details") or {}),
    }


def _node_entry(host: str, region: str, result, addresses=()) -> tuple[dict, list[dict]]:
    status, message = _status(result)
    node = {
        "host": host,
        "region": region,
        "addresses": sorted({sanitise(address, keep_newlines=False) for address in addresses or () if address}),
        "status": status,
        "message": message,
        "servers": [],
        "hostnames": [],
        "summary": {},
        "errors": [],
        "evidence": {},
    }
    found: list[dict] = []
    if status == "ok":
        evidence = result["evidence"]
        node["servers"] = sorted(
            {str(s.get("type")) for s in evidence.get("servers") or [] if isinstance(s, dict) and s.get("type")}
        )
        node["hostnames"] = _served_entries(evidence)
        node["summary"] = dict(result.get("summary") or {})
        node["errors"] = [str(error) for error in evidence.get("errors") or []]
        # Shared, not copied: evidence is the bulk of a large fleet's report, and nothing here changes it.
        node["evidence"] = evidence
        found = [_node_finding(host, region, item) for item in result["findings"] if isinstance(item, dict)]
    return node, found


# --------------------------------------------------------------------------------------------------------------
# Fleet-level drift


def _drift_from_nodes(nodes: list[dict]) -> list[dict]:
    by_name: dict[str, dict] = {}
    for node in nodes:
        if node["status"] != "ok":
            continue
        for entry in node["hostnames"]:
            if not entry["hostname"] or not entry["reachable"]:
                continue
            seen = by_name.setdefault(entry["hostname"], {"leaf": {}, "chain": {}, "regions": {}})
            seen["regions"][node["host"]] = node["region"]
            if entry["leaf_sha256"]:
                seen["leaf"].setdefault(entry["leaf_sha256"], set()).add(node["host"])
            if entry["chain_sha256"]:
                seen["chain"].setdefault(entry["chain_sha256"], set()).add(node["host"])

    drift = []
    for hostname in sorted(by_name):
        seen = by_name[hostname]
        if len(seen["regions"]) < 2:
            continue
        kind = "leaf" if len(seen["leaf"]) > 1 else "chain" if len(seen["chain"]) > 1 else None
        if kind is None:
            continue
        regions = seen["regions"]
        groups = {fp: sorted(hosts) for fp, hosts in seen[kind].items()}
        evidence = [
            "%s serves %d different %s fingerprints on %d nodes in %d region(s)"
            % (
                hostname,
                len(groups),
                "leaf certificate" if kind == "leaf" else "chain",
                len(regions),
                len(set(regions.values())),
            )
        ]
        for fingerprint, hosts in sorted(groups.items(), key=lambda pair: (-len(pair[1]), pair[0])):
            evidence.append(
                "%s sha256 %s: %s" % (kind, fingerprint, ", ".join("%s (%s)" % (host, regions[host]) for host in hosts))
            )
        sizes = sorted((len(hosts) for hosts in groups.values()), reverse=True)
        if sizes[0] == sizes[1]:
            outliers = sorted(regions)  # no majority: every node is suspect
        else:
            majority = max(groups.values(), key=len)
            outliers = sorted(set(regions) - set(majority))
        cause = CATALOGUE["node_drift"]
        drift.append(
            {
                "host": None,
                "region": None,
                "server": None,
                "site": None,
                "hostname": hostname,
                "code": "node_drift",
                "severity": cause.severity,
                "evidence": evidence,
                "remediation": cause.remedy,
                "fixed_by": cause.fixed_by,
                "details": {
                    "kind": kind,
                    "fingerprints": groups,
                    "nodes": sorted(regions),
                    "outliers": outliers,
                    "regions": sorted(set(regions.values())),
                },
            }
        )
    return drift


def _checked_node(host: str, region: str, result, addresses) -> tuple[dict, list[dict]]:
    """The node entry for one host's result; a malformed result, or any failure reading it, fails only that node."""
    if isinstance(result, dict):
        clean, problem = validate_node_result(host, result)
        if problem is not None:
            result = {"failed": True, "msg": problem}
        else:
            result = clean
    try:
        return _node_entry(host, region, result, addresses)
    except Exception as error:  # one node's answer must never end the report for every node
        failed = {"failed": True, "msg": "cannot read the node_audit result of %s: %s" % (host, error)}
        return _node_entry(host, region, failed, addresses)


def _nodes(host_results: dict, regions: dict, addresses=None) -> tuple[list[dict], list[dict]]:
    nodes, found = [], []
    addresses = addresses or {}
    for host in sorted(host_results, key=str):
        node, node_findings = _checked_node(
            sanitise(host, keep_newlines=False),
            sanitise(regions.get(host) or DEFAULT_REGION, keep_newlines=False),
            host_results[host],
            addresses.get(host),
        )
        nodes.append(node)
        found.extend(node_findings)
    return nodes, found


def fleet_drift(host_results: dict, regions: dict) -> list[dict]:
    """``node_drift`` findings: nodes serving one hostname present different leaf (or else chain) fingerprints.

    Each finding has host and region None, the hostname set, evidence naming which nodes hold which fingerprint
    and ``details.fingerprints`` mapping fingerprint -> nodes. Unreachable endpoints and failed hosts are left out.
    """
    nodes, _found = _nodes(host_results, regions or {})
    return _drift_from_nodes(nodes)


# --------------------------------------------------------------------------------------------------------------
# The external view: what clients are handed through DNS, set beside what each node serves


def _wants_staple(probe: dict) -> bool:
    for protocol in (probe.get("protocols") or {}).values():
        presented = (protocol or {}).get("presented") or []
        if presented and isinstance(presented[0], dict) and presented[0].get("ocsp_urls"):
            return True
    return False


def external_probes(external: dict) -> dict:
    """The vantage point's ``tls_endpoint_info`` (``resolve_all``) results, one entry per hostname and address.

    ``external`` is ``{"vantage": name, "endpoints": [...]}``; the endpoints are the module's RV(endpoints).
    """
    hostnames: dict[str, dict] = {}
    for probe in external.get("endpoints") or []:
        if not isinstance(probe, dict):
            continue
        name = probe.get("resolved_from") or probe.get("server_name") or probe.get("host")
        entry = hostnames.setdefault(str(name), {"hostname": str(name), "resolve_error": None, "addresses": []})
        if probe.get("resolve_error"):
            entry["resolve_error"] = str(probe["resolve_error"])
            continue
        summary = probe.get("summary") or {}
        entry["addresses"].append(
            {
                "address": str(probe.get("host")),
                "port": probe.get("port"),
                "reachable": bool(probe.get("reachable")),
                "staple_state": summary.get("staple_state"),
                "seconds_left": summary.get("seconds_left"),
                "leaf_sha256": probe.get("leaf_sha256"),
                "wants_staple": _wants_staple(probe),
            }
        )
    for entry in hostnames.values():
        entry["addresses"].sort(key=lambda item: (item["address"], item["port"] or 0))
    return {"vantage": external.get("vantage"), "hostnames": [hostnames[name] for name in sorted(hostnames)]}


def _link_external(view: dict, nodes: list[dict]) -> dict:
    """Name the node behind each address, and the nodes a client may be handed with a broken staple."""
    by_address = {address: node["host"] for node in nodes for address in node.get("addresses") or []}
    own_view = {}  # (host, hostname) -> the node's own staple state for that name
    own_leaves: dict[tuple, set] = {}  # (host, hostname) -> the leaves the node serves for that name
    serving: dict[str, set] = {}
    for node in nodes:
        for entry in node["hostnames"]:
            if entry["hostname"]:
                own_view[(node["host"], entry["hostname"])] = entry["staple_state"]
                own_leaves.setdefault((node["host"], entry["hostname"]), set()).add(entry["leaf_sha256"])
                serving.setdefault(entry["hostname"], set()).add(node["host"])
    linked = []
    for raw in view.get("hostnames") or []:
        entry = {key: copy.deepcopy(raw[key]) for key in ("hostname", "resolve_error", "addresses")}
        for item in entry["addresses"]:
            item["node"] = by_address.get(item["address"])
            item["node_staple_state"] = own_view.get((item["node"], entry["hostname"])) if item["node"] else None
            # A client handed this address got another certificate than the node serves the name with itself
            # (another listener, a NAT or load balancer in between, a default site answering the name).
            leaves = own_leaves.get((item["node"], entry["hostname"]))
            item["leaf_matches_node"] = None if not leaves or not item["leaf_sha256"] else item["leaf_sha256"] in leaves
            state = item["staple_state"]
            item["broken"] = state in BROKEN_STATES or (state == "none" and bool(item["wants_staple"]))
        behind_dns = {item["node"] for item in entry["addresses"] if item["node"]}
        entry["broken_addresses"] = [item["address"] for item in entry["addresses"] if item["broken"]]
        entry["broken_nodes"] = sorted({item["node"] for item in entry["addresses"] if item["broken"] and item["node"]})
        entry["nodes_not_in_dns"] = sorted(serving.get(entry["hostname"], set()) - behind_dns)
        linked.append(entry)
    return {"vantage": view.get("vantage"), "hostnames": linked}


# --------------------------------------------------------------------------------------------------------------
# The document


def _finding_sort_key(item: dict):
    return (
        item["host"] is not None,
        item["region"] or "",
        item["host"] or "",
        item["hostname"] or "",
        -SEVERITY_RANK.get(item["severity"], 0),
        item["code"],
        item["site"] or "",
        item["server"] or "",
        item["evidence"],
    )


def _count(items, key) -> dict:
    counts: dict = {}
    for item in items:
        counts[item[key]] = counts.get(item[key], 0) + 1
    return dict(sorted(counts.items()))


def failing_findings(report: dict) -> list[dict]:
    """The findings at or above the report's fail threshold."""
    return _failing(report["findings"], report["summary"]["fail_threshold"])


def hosts_of(item: dict) -> list[str]:
    """The hosts a finding is about: its host, or for fleet-level findings the nodes it names."""
    return _hosts_of(item)


def _hosts_of(item: dict) -> list[str]:
    if item["host"] is not None:
        return [item["host"]]
    details = item.get("details") or {}
    # A fleet-level finding is about the nodes that differ from the majority (all of them when there is none).
    return list(details.get("outliers") or details.get("nodes") or [])


def _without_sites(node: dict) -> bool:
    """An audited node that found nothing to check: never shown as ok, whatever its findings."""
    return node["status"] == "ok" and not any(entry["hostname"] for entry in node["hostnames"])


def node_state(node: dict) -> str:
    """How a node is coloured everywhere: ``down``, its worst severity (findings without hostname or site
    included), ``empty`` (audited, no finding, but no TLS site or hostname found) or ``ok``."""
    if node["status"] != "ok":
        return "down"
    if node.get("worst_severity"):
        return node["worst_severity"]
    return "empty" if _without_sites(node) else "ok"


def _assemble(nodes, node_findings, collection_version, generated_at, fail_threshold, external=None) -> dict:
    _check_threshold(fail_threshold)
    nodes = sorted(nodes, key=lambda node: (node["region"], node["host"]))
    drift = _drift_from_nodes(nodes)
    everything = sorted([*node_findings, *drift], key=_finding_sort_key)

    failing = set()
    for item in _failing(everything, fail_threshold):
        failing.update(_hosts_of(item))
    if fail_threshold != NEVER:
        failing.update(node["host"] for node in nodes if node["status"] != "ok")

    by_host: dict = {}
    for item in everything:
        for host in _hosts_of(item):
            by_host.setdefault(host, []).append(item)
    for node in nodes:
        own = by_host.get(node["host"], [])
        node["findings"] = len(own)
        node["worst_severity"] = worst_severity(own)
        node["failing"] = node["host"] in failing

    by_region = {}
    for region in sorted({node["region"] for node in nodes}):
        members = [node for node in nodes if node["region"] == region]
        own = [item for item in node_findings if item["region"] == region]
        by_region[region] = {
            "nodes": len(members),
            "nodes_ok": sum(1 for node in members if node["status"] == "ok"),
            "findings": len(own),
            "by_severity": _count(own, "severity"),
            "worst_severity": worst_severity(own),
        }

    severities = _count(everything, "severity")
    pairs = {(node["host"], entry["hostname"]) for node in nodes for entry in node["hostnames"] if entry["hostname"]}
    summary = {
        "nodes": len(nodes),
        "nodes_ok": sum(1 for node in nodes if node["status"] == "ok"),
        "nodes_failed": sorted(node["host"] for node in nodes if node["status"] == "failed"),
        "nodes_unreachable": sorted(node["host"] for node in nodes if node["status"] == "unreachable"),
        "regions": len(by_region),
        "sites": len({(node["host"], entry["site"]) for node in nodes for entry in node["hostnames"]}),
        "hostnames": len({name for _host, name in pairs}),
        "node_hostnames": len(pairs),
        "findings": len(everything),
        "by_code": _count(everything, "code"),
        "by_severity": {sev: severities[sev] for sev in SEVERITIES if sev in severities},
        "by_region": by_region,
        "worst_severity": worst_severity(everything),
        "fail_threshold": fail_threshold,
        "failing_hosts": sorted(failing),
        "nodes_without_sites": sorted(node["host"] for node in nodes if _without_sites(node)),
    }
    report = {
        "report_format": REPORT_FORMAT,
        "generated_at": generated_at or _now(),
        "collection_version": str(collection_version),
        "summary": summary,
        "nodes": nodes,
        "findings": everything,
    }
    if external is not None:
        report["external"] = _link_external(external, nodes)
        summary["external_broken_nodes"] = sorted(
            {host for entry in report["external"]["hostnames"] for host in entry["broken_nodes"]}
        )
    return report


def build_report(
    host_results: dict,
    regions: dict,
    collection_version: str,
    generated_at: str | None = None,
    fail_threshold: str = "error",
    addresses: dict | None = None,
    external: dict | None = None,
) -> dict:
    """The report.json document for ``host_results`` (host -> node_audit result) grouped by ``regions``.

    Hosts whose audit failed or that were unreachable appear with status ``failed``/``unreachable`` and their
    message. Fleet-level ``node_drift`` findings (``fleet_drift``) are included in ``findings``.
    ``addresses`` (host -> addresses it is reached at) lets the external view name the node behind an address;
    ``external`` is what a vantage point saw (``external_probes``), or None when no external check ran.
    """
    nodes, found = _nodes(host_results or {}, regions or {}, addresses)
    view = external_probes(external) if external is not None else None
    return _assemble(nodes, found, collection_version, generated_at, fail_threshold, view)


def merge_reports(reports: list[dict]) -> dict:
    """One report from the reports of sliced jobs, equal to the unsliced report (apart from ``generated_at``).

    Node-level findings are taken from each slice; fleet-level findings (drift) are computed again over all
    nodes. When a host appears in more than one slice, the last one wins.
    """
    if not reports:
        raise ValueError("merge_reports needs at least one report")
    nodes: dict[str, dict] = {}
    found: dict[str, list] = {}
    thresholds, versions, stamps = set(), set(), []
    external: dict | None = None
    for report in reports:
        own: dict = {}
        for item in report["findings"]:
            if item["host"] is not None:
                own.setdefault(item["host"], []).append(item)
        if report.get("external") is not None:
            external = external or {"vantage": report["external"].get("vantage"), "hostnames": {}}
            for entry in report["external"]["hostnames"]:
                external["hostnames"][entry["hostname"]] = copy.deepcopy(entry)
        thresholds.add(report["summary"]["fail_threshold"])
        versions.add(report["collection_version"])
        stamps.append(report.get("generated_at") or "")
        for node in report["nodes"]:
            entry = {k: v for k, v in node.items() if k not in ("findings", "worst_severity", "failing")}
            nodes[node["host"]] = entry
            found[node["host"]] = [copy.deepcopy(item) for item in own.get(node["host"], [])]
    if len(thresholds) != 1:
        raise ValueError("the reports use different fail thresholds: %s" % ", ".join(sorted(thresholds)))
    if len(versions) != 1:
        raise ValueError("the reports come from different collection versions: %s" % ", ".join(sorted(versions)))
    merged_findings = [item for items in found.values() for item in items]
    if external is not None:
        hostnames = [external["hostnames"][name] for name in sorted(external["hostnames"])]
        external = {"vantage": external["vantage"], "hostnames": hostnames}
    return _assemble(
        list(nodes.values()), merged_findings, versions.pop(), max(stamps) or None, thresholds.pop(), external
    )


def set_stats_summary(report: dict) -> dict:
    """A compact summary for AWX artifacts (set_stats): counts, worst severity, failing hosts."""
    summary = report["summary"]
    return {
        "generated_at": report["generated_at"],
        "collection_version": report["collection_version"],
        "nodes": summary["nodes"],
        "nodes_failed": list(summary["nodes_failed"]),
        "nodes_unreachable": list(summary["nodes_unreachable"]),
        "hostnames": summary["hostnames"],
        "findings": summary["findings"],
        "by_code": dict(summary["by_code"]),
        "by_severity": dict(summary["by_severity"]),
        "worst_severity": summary["worst_severity"],
        "fail_threshold": summary["fail_threshold"],
        "failing_hosts": list(summary["failing_hosts"]),
        "nodes_without_sites": list(summary.get("nodes_without_sites") or []),
        "external_broken_nodes": list(summary.get("external_broken_nodes") or []),
    }


# --------------------------------------------------------------------------------------------------------------
# Helpers shared by the renderers


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds >= 86400:
        return "%s%dd %dh" % (sign, seconds // 86400, seconds % 86400 // 3600)
    if seconds >= 3600:
        return "%s%dh %dm" % (sign, seconds // 3600, seconds % 3600 // 60)
    return "%s%dm" % (sign, seconds // 60)


def _findings_index(report: dict) -> dict:
    """(host, hostname or None) -> the findings about that node and hostname, drift included, in report order."""
    index: dict = {}
    for item in report["findings"]:
        for host in _hosts_of(item):
            index.setdefault((host, item["hostname"] or None), []).append(item)
    return index


def _cell_findings(report: dict, host: str, hostname: str | None, index: dict | None = None) -> list[dict]:
    """The findings for one node and hostname (``None``: findings about no hostname), drift included."""
    if index is None:
        index = _findings_index(report)
    return list(index.get((host, hostname or None), []))


def _testcases(report: dict) -> list[tuple[dict, str, list[dict]]]:
    """(node, name, findings) per node and hostname; plus ``(node)`` for node-wide findings or a failed node."""
    cases = []
    index = _findings_index(report)
    own_names: dict = {}
    for item in report["findings"]:
        if item["host"] is not None:
            own_names.setdefault(item["host"], set()).add(item["hostname"])
    for node in report["nodes"]:
        names = {entry["hostname"] for entry in node["hostnames"] if entry["hostname"]}
        names.update(own_names.get(node["host"], set()))
        hostless = _cell_findings(report, node["host"], None, index)
        if hostless or not names or node["status"] != "ok":
            cases.append((node, NODE_TESTCASE, hostless))
        for name in sorted(names - {None}):
            cases.append((node, name, _cell_findings(report, node["host"], name, index)))
    return cases


# --------------------------------------------------------------------------------------------------------------
# Markdown


_MD_SPECIAL = "\\`*_[]|#~"  # [ ] escaped, so ( ) and ! cannot form links or images
# What would open a block (list, heading underline, thematic break, ordered list) at the start of a line.
_MD_LINE_START = re.compile(r"^(\d{0,9})([.)]|[-+=])(?=[\s=-]|$)")


def md_escape(text) -> str:
    """Text safe inside Markdown prose and table cells: one line, specials backslash-escaped, < > & as entities.

    No node string can open a link, an image, an autolink, raw HTML, a code span or a new block.
    """
    text = sanitise(text, keep_newlines=False).replace("\r", " ").strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = "".join("\\" + char if char in _MD_SPECIAL else char for char in text)
    return _MD_LINE_START.sub(lambda match: match.group(1) + "\\" + match.group(2), text)


def _md_code(code) -> str:
    """A finding code: a code span for a catalogue code, escaped text marked unknown for any other."""
    if code in CATALOGUE:
        return "`%s`" % code
    return "%s (unknown code)" % md_escape(code)


def _markdown_external(view) -> list[str]:
    if view is None:
        return []
    lines = [
        "",
        "## External view (from %s)" % md_escape(view.get("vantage") or "the controller"),
        "",
        "| hostname | address | node | seen from outside | staple left | node's own view |",
        "|---|---|---|---|---|---|",
    ]
    for entry in view["hostnames"]:
        if entry["resolve_error"]:
            lines.append(
                "| %s | - | - | %s | - | - |" % (md_escape(entry["hostname"]), md_escape(entry["resolve_error"]))
            )
        for item in entry["addresses"]:
            lines.append(
                "| %s | %s | %s | %s%s | %s | %s%s |"
                % (
                    md_escape(entry["hostname"]),
                    md_escape(_address_port(item)),
                    md_escape(item["node"] or "not in the inventory"),
                    "**BROKEN** " if item["broken"] else "",
                    md_escape(item["staple_state"]),
                    md_escape(_duration(item["seconds_left"])),
                    md_escape(item["node_staple_state"] or "-"),
                    "; **another certificate than the node serves for this name**"
                    if item["leaf_matches_node"] is False
                    else "",
                )
            )
    broken = sorted({host for entry in view["hostnames"] for host in entry["broken_nodes"]})
    lines += ["", "Nodes a client may be handed with a broken staple: %s." % (md_escape(", ".join(broken)) or "none")]
    return lines


def render_markdown(report: dict) -> str:
    summary = report["summary"]
    lines = [
        "# OCSP stapling fleet report",
        "",
        "Generated %s by tlsfleet.stapling %s. Worst severity: **%s**."
        % (
            md_escape(report["generated_at"]),
            md_escape(report["collection_version"]),
            md_escape(summary["worst_severity"] or "none"),
        ),
        "",
        "| nodes | ok | failed | unreachable | no TLS site | hostnames | findings | failing hosts |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        "| %d | %d | %d | %d | %d | %d | %d | %d |"
        % (
            summary["nodes"],
            summary["nodes_ok"],
            len(summary["nodes_failed"]),
            len(summary["nodes_unreachable"]),
            len(summary.get("nodes_without_sites") or []),
            summary["hostnames"],
            summary["findings"],
            len(summary["failing_hosts"]),
        ),
        "",
    ]
    if summary["by_severity"]:
        lines.append(
            "By severity: %s." % ", ".join("%s %d" % (sev, count) for sev, count in summary["by_severity"].items())
        )
    if summary["by_code"]:
        lines.append(
            "By code: %s." % ", ".join("%s %d" % (_md_code(code), count) for code, count in summary["by_code"].items())
        )
    lines.append("")
    lines += ["## Nodes", "", "| region | node | status | worst | findings | note |", "|---|---|---|---|---:|---|"]
    for node in report["nodes"]:
        lines.append(
            "| %s | %s | %s | %s | %d | %s |"
            % (
                md_escape(node["region"]),
                md_escape(node["host"]),
                md_escape(node["status"]),
                md_escape(node["worst_severity"]) if node["worst_severity"] else "-",
                node["findings"],
                md_escape(node["message"] or (NO_SITE if _without_sites(node) else "")),
            )
        )
    lines += _markdown_external(report.get("external"))
    lines += ["", "## Findings", ""]
    if not report["findings"]:
        lines.append("No findings.")
    for item in report["findings"]:
        where = (
            "fleet (%s)" % ", ".join(_hosts_of(item))
            if item["host"] is None
            else "%s / %s" % (item["region"], item["host"])
        )
        cause = CATALOGUE.get(item["code"])
        lines.append(
            "### %s %s on %s%s"
            % (
                md_escape(item["severity"].upper()),
                _md_code(item["code"]),
                md_escape(where),
                " for %s" % md_escape(item["hostname"]) if item["hostname"] else "",
            )
        )
        lines.append("")
        if item["server"] or item["site"]:
            lines.append("Site: %s %s" % (md_escape(item["server"] or ""), md_escape(item["site"] or "")))
            lines.append("")
        lines += ["- %s" % md_escape(line) for line in item["evidence"]]
        remedy = cause.remedy if cause else item["remediation"]
        lines += ["", "Fix: %s" % (md_escape(remedy) if remedy else "none known (the code is not in the catalogue)")]
        if cause and cause.fixed_by:
            lines.append("(role `%s`)" % cause.fixed_by)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------------------------
# JUnit


def render_junit(report: dict, threshold: str = "error", out=None) -> str | None:
    """One testcase per node and hostname; it fails when it has findings at or above ``threshold``.

    With ``out`` (a text stream) the document is written there and None is returned. Written one testsuite (node)
    at a time: the totals come from a first, counting pass, so the whole tree is never held in memory.
    """
    _check_threshold(threshold)
    by_node: dict[str, list] = {}
    for node, name, found in _testcases(report):
        by_node.setdefault(node["host"], []).append((node, name, found))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for cases in by_node.values():
        for node, name, found in cases:
            totals["tests"] += 1
            if node["status"] != "ok":
                totals["errors"] += 1
            elif _failing(found, threshold):
                totals["failures"] += 1
            elif name == NODE_TESTCASE and _without_sites(node):
                totals["skipped"] += 1
    stream = out if out is not None else io.StringIO()
    root = ET.Element("testsuites", name="tlsfleet.stapling", **{k: str(v) for k, v in totals.items()})
    opening = ET.tostring(root, encoding="unicode")
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    if not by_node:
        stream.write(opening + "\n")
    else:
        stream.write(opening[: -len(" />")] + ">\n")
        for host, cases in by_node.items():
            suite = _junit_suite(host, cases, threshold)
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
        failing = _failing(found, threshold)
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
        elif name == NODE_TESTCASE and _without_sites(node):
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


# --------------------------------------------------------------------------------------------------------------
# Prometheus text format


def prom_label(value) -> str:
    return sanitise(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_SITE_LINE = re.compile(r":\d+$")


def site_label(site) -> str:
    """The ``site`` label: the site id without its line number, so that a line added above the site's block does
    not start a new series (``nginx:/etc/nginx/sites-enabled/shop.conf:12`` -> ``nginx:/etc/...shop.conf``)."""
    return _SITE_LINE.sub("", "" if site is None else str(site))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _staple_samples(report: dict) -> list:
    """One sample per node, site label and hostname: the least time left among the site's certificates (an RSA
    and an ECDSA certificate, or two blocks of one file, would otherwise be duplicate series)."""
    least: dict = {}
    for node in report["nodes"]:
        for entry in node["hostnames"]:
            if not _finite(entry["seconds_left"]):
                continue
            key = (node["host"], node["region"], site_label(entry["site"]), entry["hostname"])
            if key not in least or entry["seconds_left"] < least[key]:
                least[key] = entry["seconds_left"]
    return [
        ({"host": host, "region": region, "site": site, "hostname": hostname}, value)
        for (host, region, site, hostname), value in sorted(least.items(), key=lambda pair: str(pair[0]))
    ]


def _labels(**labels) -> str:
    return "{%s}" % ",".join('%s="%s"' % (key, prom_label(value)) for key, value in labels.items())


def _timestamp(text: str) -> float | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return None


def render_prometheus(report: dict) -> str:
    """Metrics for node_exporter's textfile collector."""
    prefix = "tlsfleet_stapling_"
    out: list[str] = []

    def metric(name, help_text, samples):
        out.append("# HELP %s%s %s" % (prefix, name, help_text))
        out.append("# TYPE %s%s gauge" % (prefix, name))
        for labels, value in samples:
            if not _finite(value):
                continue  # the text format has NaN and Inf, but no node may put them into an alert
            out.append("%s%s%s %s" % (prefix, name, _labels(**labels) if labels else "", _number(value)))

    summary = report["summary"]
    stamp = _timestamp(report.get("generated_at") or "")
    if stamp is not None:
        metric("last_run_timestamp_seconds", "When the report was generated (Unix time).", [({}, stamp)])
    metric("nodes", "Nodes in the report.", [({}, summary["nodes"])])
    metric(
        "node_up",
        "1 when node_audit ran on the node, 0 when it failed or the node was unreachable.",
        [({"host": n["host"], "region": n["region"]}, 1 if n["status"] == "ok" else 0) for n in report["nodes"]],
    )
    metric(
        "staple_seconds_left",
        "Seconds until the served staple's nextUpdate (negative: expired), per node, site and hostname.",
        _staple_samples(report),
    )
    metric(
        "node_hostnames",
        "Hostnames the node's audit found and checked; 0 on an audited node means no TLS site was found.",
        [
            ({"host": n["host"], "region": n["region"]}, len({e["hostname"] for e in n["hostnames"] if e["hostname"]}))
            for n in report["nodes"]
            if n["status"] == "ok"
        ],
    )
    by_code_severity: dict = {}
    for item in report["findings"]:
        key = (item["code"], item["severity"])
        by_code_severity[key] = by_code_severity.get(key, 0) + 1
    metric(
        "findings",
        "Findings by cause code and severity.",
        [({"code": code, "severity": sev}, count) for (code, sev), count in sorted(by_code_severity.items())],
    )
    metric(
        "findings_by_severity",
        "Findings by severity.",
        [({"severity": sev}, summary["by_severity"].get(sev, 0)) for sev in SEVERITIES],
    )
    node_counts: dict = {}
    for item in report["findings"]:
        for host in _hosts_of(item):
            node_counts[(host, item["severity"])] = node_counts.get((host, item["severity"]), 0) + 1
    metric(
        "node_findings",
        "Findings per node and severity (fleet-level findings count on every node they name).",
        [
            ({"host": n["host"], "region": n["region"], "severity": sev}, node_counts.get((n["host"], sev), 0))
            for n in report["nodes"]
            for sev in SEVERITIES
        ],
    )
    return "\n".join(out) + "\n"


def _number(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


# --------------------------------------------------------------------------------------------------------------
# HTML


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left}
th{background:#f3f3f3}td.cell{text-align:center;min-width:7em}
.sev-critical{background:#b71c1c;color:#fff}.sev-error{background:#ef6c00;color:#fff}
.sev-warning{background:#fdd835}.sev-info{background:#90caf9}.sev-ok{background:#a5d6a7}
.sev-none{background:#eee;color:#777}.sev-down{background:#424242;color:#fff}.sev-empty{background:#ffcc80}
.finding{border-left:.4em solid #ccc;padding:.2em .8em;margin:.8em 0}
.finding.sev-critical,.finding.sev-error,.finding.sev-warning,.finding.sev-info{color:inherit;background:none}
.finding.sev-critical{border-color:#b71c1c}.finding.sev-error{border-color:#ef6c00}
.finding.sev-warning{border-color:#fdd835}.finding.sev-info{border-color:#90caf9}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}pre{white-space:pre-wrap;margin:0}
.legend span{display:inline-block;padding:.1em .6em;margin-right:.3em}
small{display:block;font-size:.8em}
"""


def _esc(value) -> str:
    return html.escape(sanitise(value), quote=True)


_LEAF_DIFFERS = "; <strong>another certificate than the node serves for this name</strong>"


def _address_port(item: dict) -> str:
    address = "[%s]" % item["address"] if ":" in item["address"] else item["address"]
    return "%s:%s" % (address, item["port"]) if item.get("port") else address


def _html_external(view) -> list[str]:
    if view is None:
        return []
    parts = [
        "<h2>External view</h2>",
        "<p>Each public hostname resolved and probed from <code>%s</code>, as a client there would; every "
        "address DNS hands out is a node a client may get.</p>" % _esc(view.get("vantage") or "the controller"),
        "<table><thead><tr><th>hostname</th><th>address</th><th>node</th><th>seen from outside</th>"
        "<th>staple left</th><th>node's own view</th></tr></thead><tbody>",
    ]
    for entry in view["hostnames"]:
        if entry["resolve_error"]:
            parts.append(
                '<tr><th>%s</th><td class="cell sev-down" colspan="5">%s</td></tr>'
                % (_esc(entry["hostname"]), _esc(entry["resolve_error"]))
            )
        for item in entry["addresses"]:
            parts.append(
                '<tr><th>%s</th><td>%s</td><td>%s</td><td class="cell sev-%s">%s</td><td>%s</td><td>%s%s</td></tr>'
                % (
                    _esc(entry["hostname"]),
                    _esc(_address_port(item)),
                    _esc(item["node"] or "not in the inventory"),
                    "error" if item["broken"] else "ok",
                    _esc(item["staple_state"]),
                    _esc(_duration(item["seconds_left"])),
                    _esc(item["node_staple_state"] or "-"),
                    _LEAF_DIFFERS if item["leaf_matches_node"] is False else "",
                )
            )
        if entry["nodes_not_in_dns"]:
            parts.append(
                '<tr><th>%s</th><td colspan="5">also served by %s, which DNS does not hand out</td></tr>'
                % (_esc(entry["hostname"]), _esc(", ".join(entry["nodes_not_in_dns"])))
            )
    parts.append("</tbody></table>")
    return parts


def render_html(report: dict, out=None) -> str | None:
    """One self-contained page: inline CSS, no scripts, no external references; every value escaped.

    With ``out`` (a text stream) the page is written there as it is rendered, a batch of rows at a time, and
    None is returned: a large fleet's page is never held whole in memory.
    """
    summary = report["summary"]
    nodes = report["nodes"]
    hostnames = sorted(
        {e["hostname"] for n in nodes for e in n["hostnames"] if e["hostname"]}
        | {item["hostname"] for item in report["findings"] if item["hostname"]}
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be fetched: the page is mailed, attached to tickets and opened offline.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>OCSP stapling fleet report</title>",
        "<style>%s</style></head><body>" % _CSS,
        "<h1>OCSP stapling fleet report</h1>",
        "<p>Generated %s by tlsfleet.stapling %s. %d nodes (%d audited, %d of them without a TLS site; %d failed, "
        "%d unreachable) in %d regions, "
        "%d hostnames, %d findings; worst severity <strong>%s</strong>; fail threshold %s.</p>"
        % (
            _esc(report["generated_at"]),
            _esc(report["collection_version"]),
            summary["nodes"],
            summary["nodes_ok"],
            len(summary.get("nodes_without_sites") or []),
            len(summary["nodes_failed"]),
            len(summary["nodes_unreachable"]),
            summary["regions"],
            summary["hostnames"],
            summary["findings"],
            _esc(summary["worst_severity"] or "none"),
            _esc(summary["fail_threshold"]),
        ),
        '<p class="legend">%s</p>'
        % "".join(
            '<span class="sev-%s">%s</span>' % (name, name) for name in (*SEVERITIES, "ok", "none", "down", "empty")
        ),
        "<h2>Fleet</h2>",
        "<table><thead><tr><th>region</th><th>node</th><th>node-wide</th>%s</tr></thead><tbody>"
        % "".join("<th>%s</th>" % _esc(name) for name in hostnames),
    ]
    index = _findings_index(report)
    for node in nodes:
        served = {}
        for entry in node["hostnames"]:
            served.setdefault(entry["hostname"], []).append(entry)
        state = node_state(node)
        row = ['<tr><th>%s</th><th class="sev-%s">%s</th>' % (_esc(node["region"]), state, _esc(node["host"]))]
        if node["status"] != "ok":
            row.append(
                '<td class="cell sev-down" colspan="%d">%s: %s</td>'
                % (len(hostnames) + 1, _esc(node["status"]), _esc(node["message"]))
            )
        else:
            hostless = _cell_findings(report, node["host"], None, index)
            worst = worst_severity(hostless)
            text = ", ".join(sorted({i["code"] for i in hostless}))
            if _without_sites(node):
                text = "%s%s" % (NO_SITE, "; " + text if text else "")
            row.append(
                '<td class="cell sev-%s">%s</td>'
                % (worst or ("empty" if _without_sites(node) else "ok"), _esc(text or "ok"))
            )
            for name in hostnames:
                found = _cell_findings(report, node["host"], name, index)
                entries = served.get(name, [])
                if not entries and not found:
                    row.append('<td class="cell sev-none">-</td>')
                    continue
                worst = worst_severity(found)
                states = ", ".join(sorted({str(e["staple_state"]) for e in entries})) or "?"
                lefts = [e["seconds_left"] for e in entries if isinstance(e["seconds_left"], (int, float))]
                title = "; ".join("%s: %s" % (i["code"], " / ".join(i["evidence"])) for i in found)
                codes = ", ".join(sorted({i["code"] for i in found}))
                row.append(
                    '<td class="cell sev-%s" title="%s">%s%s<small>staple %s</small><small>%s</small></td>'
                    % (
                        worst or "ok",
                        _esc(title),
                        _esc(worst or "ok"),
                        "<small><code>%s</code></small>" % _esc(codes) if codes else "",
                        _esc(states),
                        _esc(_duration(min(lefts)) if lefts else "-"),
                    )
                )
        row.append("</tr>")
        parts.append("".join(row))
        if out is not None and len(parts) >= 500:
            out.write("\n".join(parts) + "\n")
            parts.clear()
    parts.append("</tbody></table>")
    parts.extend(_html_external(report.get("external")))

    parts.append("<h2>Findings</h2>")
    if not report["findings"]:
        parts.append("<p>No findings.</p>")
    for item in report["findings"]:
        where = (
            "fleet: %s" % ", ".join(_hosts_of(item))
            if item["host"] is None
            else "%s / %s" % (item["region"], item["host"])
        )
        parts.append(
            '<div class="finding sev-%s"><h3>%s <code>%s</code> on %s%s</h3>%s<ul>%s</ul><p>Fix: %s%s</p></div>'
            % (
                _esc(item["severity"]),
                _esc(item["severity"].upper()),
                _esc(item["code"]),
                _esc(where),
                " for %s" % _esc(item["hostname"]) if item["hostname"] else "",
                "<p>Site: %s %s</p>" % (_esc(item["server"]), _esc(item["site"])) if item["site"] else "",
                "".join("<li><pre>%s</pre></li>" % _esc(line) for line in item["evidence"]),
                _esc(item["remediation"]),
                " (role <code>%s</code>)" % _esc(item["fixed_by"]) if item.get("fixed_by") else "",
            )
        )
    parts.append("</body></html>")
    if out is not None:
        out.write("\n".join(parts) + "\n")
        return None
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------------------------
# Files


class ReportWriteError(ValueError):
    """The report files could not be written; the message says which and that the previous ones are untouched."""


def _render_to_temporary(directory: str, name: str, text) -> str:
    """Render ``text`` (a string, or a function that writes to the stream it is given) into a new temporary file
    beside ``name`` in ``directory``, synced to disk, mode 0644; return its path."""
    handle, temporary = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            if callable(text):
                text(stream)
            else:
                # In slices: the stream encodes each write at once, so one write would double a large text.
                for start in range(0, len(text), 1 << 20):
                    stream.write(text[start : start + (1 << 20)])
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
    except BaseException:
        _remove(temporary)
        raise
    return temporary


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def render_json(report: dict, stream) -> None:
    """report.json, compact with sorted keys - byte for byte ``json.dumps(report, sort_keys=True, separators=...)``.

    Streamed list by list and node by node: the C encoder builds a whole document's text in memory and joins it, so
    a 5,000-node report was briefly held twice (its 114 MiB text on top of the report itself).
    """

    def dump(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    stream.write("{")
    for index, key in enumerate(sorted(report)):
        stream.write(("," if index else "") + dump(key) + ":")
        value = report[key]
        if isinstance(value, list):
            stream.write("[")
            for position, item in enumerate(value):
                stream.write(("," if position else "") + dump(item))
            stream.write("]")
        else:
            stream.write(dump(value))
    stream.write("}\n")


def write_report(report: dict, directory: str) -> dict:
    """Write the five report files into ``directory`` (created when missing), together, mode 0644.

    Each file is rendered into a temporary file in ``directory``, one at a time (a large fleet's report never holds
    all five in memory); only when all five are rendered are they renamed into place. When rendering fails, the
    temporary files are removed and the previous five files are left as they were: ``ReportWriteError`` says so.
    """
    os.makedirs(directory, mode=0o755, exist_ok=True)
    renderers = {
        # Compact (Python's fast encoder only runs without indent) and streamed, like the next two largest files.
        "json": lambda: lambda stream: render_json(report, stream),
        "html": lambda: lambda stream: render_html(report, stream),
        "markdown": lambda: render_markdown(report),
        "junit": lambda: lambda stream: render_junit(report, report["summary"].get("fail_threshold", "error"), stream),
        "prometheus": lambda: render_prometheus(report),
    }
    rendered: dict[str, str] = {}
    try:
        for kind, name in FILES.items():
            rendered[kind] = _render_to_temporary(directory, name, renderers[kind]())
    except BaseException as error:
        for temporary in rendered.values():
            _remove(temporary)
        if not isinstance(error, Exception):
            raise
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ReportWriteError(
            "the report was not written: rendering %s failed (%s: %s); the previous report files in %s are unchanged"
            % (FILES[kind], type(error).__name__, sanitise(detail, keep_newlines=False), directory)
        ) from error
    paths = {}
    for done, (kind, name) in enumerate(FILES.items()):
        paths[kind] = os.path.join(directory, name)
        try:
            os.replace(rendered[kind], paths[kind])
        except OSError as error:
            for temporary in list(rendered.values())[done:]:
                _remove(temporary)
            replaced = ", ".join(list(FILES.values())[:done]) or "none"
            raise ReportWriteError(
                "the report was written only in part: cannot move %s into place in %s (%s); already replaced: %s"
                % (name, directory, error.strerror or error, replaced)
            ) from error
    return paths
