# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report model: node_audit results of every host -> the report.json document.

Controller-side code (Python 3.11+, standard library only). ``build_report`` turns the per-host results of
``tlsfleet.stapling.node_audit`` into the ``report.json`` document, with fleet-level drift and the external view;
``merge_reports`` combines reports of sliced jobs into the report the unsliced job would have produced;
``set_stats_summary`` is the AWX artifact. The document format is described by docs/report-schema.json. The
files written from it (one per format) come from plugins/plugin_utils/renderers/.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import copy
import datetime
import hashlib

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
PROTOCOL_ORDER = ("tls1_3", "tls1_2")
FINDING_KEYS = ("host", "region", "server", "site", "hostname", "code", "severity", "evidence", "remediation")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_threshold(threshold: str) -> str:
    if threshold not in THRESHOLDS:
        raise ValueError("unknown severity threshold %r (expected one of %s)" % (threshold, ", ".join(THRESHOLDS)))
    return threshold


def at_threshold(items: list[dict], threshold: str) -> list[dict]:
    """The findings among ``items`` at or above ``threshold`` (none for ``never``)."""
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


def _short_lived(evidence: dict, fingerprint: str | None) -> bool:
    return evidence_records.short_lived_of(evidence_records.certificate_of(evidence, fingerprint))


def _served_entries(evidence: dict) -> list[dict]:
    entries = []
    for site in evidence.get("sites") or []:
        if not isinstance(site, dict):
            continue
        for hostname, raw in sorted((site.get("served") or {}).items()):
            served = raw if isinstance(raw, dict) else {}
            summary = served.get("summary") or {}
            leaf = _leaf_sha256(served)
            entries.append(
                {
                    "site": site.get("site"),
                    "server": site.get("server"),
                    "hostname": hostname or None,
                    "reachable": bool(served.get("reachable")),
                    "leaf_sha256": leaf,
                    "chain_sha256": _chain_sha256(served),
                    "staple_state": summary.get("staple_state"),
                    "staple_states": dict(summary.get("staple_states") or {}),
                    "seconds_left": summary.get("seconds_left"),
                    # 7 days or less (x509.SHORT_LIVED_SECONDS): needs no revocation; the report says so.
                    "short_lived": _short_lived(evidence, leaf),
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
# The preflight of a candidate certificate (docs/preflight.md): per node and site, what deploying it would do

_VERDICTS = "_preflight"  # the node's verdicts, kept on its entry between _checked_node and build_report
PREFLIGHT_VERDICTS = ("ready", "ready_after_change", "will_break")
CANDIDATE_KEYS = (
    "name",
    "subject",
    "sha256",
    "serial",
    "san_dns",
    "not_before",
    "not_after",
    "ocsp_urls",
    "must_staple",
)


def _lines(value) -> list:
    return [str(line) for line in value] if isinstance(value, list) else []


def _change(item) -> dict:
    item = item if isinstance(item, dict) else {}
    return {
        "by": str(item.get("by") or ""),
        "action": str(item.get("action") or ""),
        "path": item.get("path"),
        "text": str(item.get("text") or ""),
    }


def _preflight_site(item: dict) -> dict:
    """One site's verdict from a (validated) node answer, every list present."""
    return {
        "key": item.get("key"),
        "site": item.get("site"),
        "server": item.get("server"),
        "hostnames": _lines(item.get("hostnames")),
        "verdict": item.get("verdict") if item.get("verdict") in PREFLIGHT_VERDICTS else "will_break",
        "reasons": _lines(item.get("reasons")),
        "warnings": _lines(item.get("warnings")),
        "changes": [_change(change) for change in item.get("changes") or []],
        "checks": [
            {
                "name": str(check.get("name")),
                "status": str(check.get("status")),
                "evidence": _lines(check.get("evidence")),
                "changes": [_change(change) for change in check.get("changes") or []],
            }
            for check in item.get("checks") or []
            if isinstance(check, dict)
        ],
    }


def _candidate(candidate) -> dict:
    """What the report says about the candidate: public facts only (never its PEM, never a key)."""
    candidate = candidate if isinstance(candidate, dict) else {}
    found = {key: copy.deepcopy(candidate.get(key)) for key in CANDIDATE_KEYS}
    for key in ("san_dns", "ocsp_urls"):
        found[key] = [str(item) for item in found[key] or []]
    found["must_staple"] = bool(found["must_staple"])
    for key in ("name", "subject", "sha256", "serial", "not_before", "not_after"):
        found[key] = None if found[key] is None else sanitise(found[key], keep_newlines=False)
    return found


def preflight_breaking(section: dict) -> list[dict]:
    """Every (node, site) the candidate will break, in report order: host, region, site, server, hostnames,
    reasons."""
    return [
        {
            "host": node["host"],
            "region": node["region"],
            "site": site["site"],
            "server": site["server"],
            "hostnames": list(site["hostnames"]),
            "reasons": list(site["reasons"]),
        }
        for node in section["nodes"]
        for site in node["sites"]
        if site["verdict"] == "will_break"
    ]


def preflight_changes(section: dict) -> list[dict]:
    """Every change a ``ready_after_change`` site needs, in report order: host, site, hostnames and the change
    (by, action, path, text)."""
    return [
        {
            "host": node["host"],
            "site": site["site"],
            "server": site["server"],
            "hostnames": list(site["hostnames"]),
            **change,
        }
        for node in section["nodes"]
        for site in node["sites"]
        if site["verdict"] == "ready_after_change"
        for change in site["changes"]
    ]


def _preflight_summary(section: dict) -> dict:
    sites = [site for node in section["nodes"] for site in node["sites"]]
    counts = {verdict: sum(1 for site in sites if site["verdict"] == verdict) for verdict in PREFLIGHT_VERDICTS}
    return {
        "nodes": len(section["nodes"]),
        "sites": len(sites),
        **counts,
        "will_break_nodes": sorted({item["host"] for item in preflight_breaking(section)}),
        "nodes_not_judged": sorted(node["host"] for node in section["nodes"] if node["status"] != "judged"),
        "nodes_without_sites": sorted(
            node["host"] for node in section["nodes"] if node["status"] == "judged" and not node["sites"]
        ),
        "hosts_out_of_scope": list(section["hosts_out_of_scope"]),
    }


def _preflight_section(nodes: list[dict], preflight: dict) -> dict:
    """The report's ``preflight`` section: the candidate, and per node (in scope) its status and the verdict of
    every site the candidate's names cover. A node whose audit did not run is ``not_judged`` with its message."""
    entries = []
    for node in sorted(nodes, key=lambda item: (item["region"], item["host"])):
        judged = node["status"] == "ok"
        entries.append(
            {
                "host": node["host"],
                "region": node["region"],
                "status": "judged" if judged else "not_judged",
                "message": None if judged else node["message"],
                "sites": list(node.get(_VERDICTS) or []) if judged else [],
            }
        )
    at = preflight.get("at")
    section = {
        "candidate": _candidate(preflight.get("candidate")),
        "at": None if at in (None, "") else sanitise(at, keep_newlines=False),
        "hosts_out_of_scope": sorted(
            {sanitise(host, keep_newlines=False) for host in preflight.get("hosts_out_of_scope") or []}
        ),
        "nodes": entries,
    }
    section["summary"] = _preflight_summary(section)
    return section


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
        node, found = _node_entry(host, region, result, addresses)
        if node["status"] == "ok":
            # Taken out again by build_report: the preflight section holds them (_preflight_section).
            node[_VERDICTS] = [
                _preflight_site(item) for item in result.get("preflight") or [] if isinstance(item, dict)
            ]
        return node, found
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
    return at_threshold(report["findings"], report["summary"]["fail_threshold"])


def hosts_of(item: dict) -> list[str]:
    """The hosts a finding is about: its host, or for fleet-level findings the nodes it names."""
    return _hosts_of(item)


def _hosts_of(item: dict) -> list[str]:
    if item["host"] is not None:
        return [item["host"]]
    details = item.get("details") or {}
    # A fleet-level finding is about the nodes that differ from the majority (all of them when there is none).
    return list(details.get("outliers") or details.get("nodes") or [])


def without_sites(node: dict) -> bool:
    """An audited node that found nothing to check: never shown as ok, whatever its findings."""
    return node["status"] == "ok" and not any(entry["hostname"] for entry in node["hostnames"])


def node_state(node: dict) -> str:
    """How a node is coloured everywhere: ``down``, its worst severity (findings without hostname or site
    included), ``empty`` (audited, no finding, but no TLS site or hostname found) or ``ok``."""
    if node["status"] != "ok":
        return "down"
    if node.get("worst_severity"):
        return node["worst_severity"]
    return "empty" if without_sites(node) else "ok"


def _assemble(
    nodes, node_findings, collection_version, generated_at, fail_threshold, external=None, preflight=None
) -> dict:
    check_threshold(fail_threshold)
    nodes = sorted(nodes, key=lambda node: (node["region"], node["host"]))
    drift = _drift_from_nodes(nodes)
    everything = sorted([*node_findings, *drift], key=_finding_sort_key)

    failing = set()
    for item in at_threshold(everything, fail_threshold):
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
        "nodes_without_sites": sorted(node["host"] for node in nodes if without_sites(node)),
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
    if preflight is not None:
        report["preflight"] = preflight
        summary["preflight_will_break_nodes"] = list(preflight["summary"]["will_break_nodes"])
    return report


def build_report(
    host_results: dict,
    regions: dict,
    collection_version: str,
    generated_at: str | None = None,
    fail_threshold: str = "error",
    addresses: dict | None = None,
    external: dict | None = None,
    preflight: dict | None = None,
) -> dict:
    """The report.json document for ``host_results`` (host -> node_audit result) grouped by ``regions``.

    Hosts whose audit failed or that were unreachable appear with status ``failed``/``unreachable`` and their
    message. Fleet-level ``node_drift`` findings (``fleet_drift``) are included in ``findings``.
    ``addresses`` (host -> addresses it is reached at) lets the external view name the node behind an address;
    ``external`` is what a vantage point saw (``external_probes``), or None when no external check ran.
    ``preflight`` (``{"candidate": ..., "at": ..., "hosts_out_of_scope": [...]}``) adds the ``preflight`` section:
    the verdicts the nodes' audits gave for that candidate (node_audit's ``preflight``); ``host_results`` are then
    the hosts in the candidate's scope.
    """
    nodes, found = _nodes(host_results or {}, regions or {}, addresses)
    section = _preflight_section(nodes, preflight) if preflight is not None else None
    for node in nodes:
        node.pop(_VERDICTS, None)
    view = external_probes(external) if external is not None else None
    return _assemble(nodes, found, collection_version, generated_at, fail_threshold, view, section)


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
    preflight: dict | None = None
    candidates = set()
    for report in reports:
        if report.get("preflight") is not None:
            own_section = report["preflight"]
            candidates.add(own_section["candidate"].get("sha256"))
            preflight = preflight or {
                "candidate": copy.deepcopy(own_section["candidate"]),
                "at": own_section.get("at"),
                "hosts_out_of_scope": set(),
                "nodes": {},
            }
            preflight["hosts_out_of_scope"].update(own_section.get("hosts_out_of_scope") or [])
            for entry in own_section["nodes"]:
                preflight["nodes"][entry["host"]] = copy.deepcopy(entry)
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
    if len(candidates) > 1 or (preflight is not None and any(r.get("preflight") is None for r in reports)):
        raise ValueError("the reports are not the preflight of one candidate certificate: they cannot be merged")
    if preflight is not None:
        judged = {entry["host"] for entry in preflight["nodes"].values()}
        preflight["hosts_out_of_scope"] = sorted(preflight["hosts_out_of_scope"] - judged)
        preflight["nodes"] = sorted(preflight["nodes"].values(), key=lambda item: (item["region"], item["host"]))
        preflight["summary"] = _preflight_summary(preflight)
    merged_findings = [item for items in found.values() for item in items]
    if external is not None:
        hostnames = [external["hostnames"][name] for name in sorted(external["hostnames"])]
        external = {"vantage": external["vantage"], "hostnames": hostnames}
    return _assemble(
        list(nodes.values()),
        merged_findings,
        versions.pop(),
        max(stamps) or None,
        thresholds.pop(),
        external,
        preflight,
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
        **(
            {"preflight": {key: copy.deepcopy(value) for key, value in report["preflight"]["summary"].items()}}
            if report.get("preflight") is not None
            else {}
        ),
    }
