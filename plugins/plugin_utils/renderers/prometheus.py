# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""metrics.prom: gauges for node_exporter's textfile collector, finite values only, label values escaped.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import datetime
import math
import re

from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import SEVERITIES
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.node_result import sanitise
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers.common import write_text
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.report import PREFLIGHT_VERDICTS, hosts_of


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
        for host in hosts_of(item):
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
    section = report.get("preflight")
    if section is not None:
        metric(
            "preflight_sites",
            "Sites the preflight's candidate covers, by verdict (ready, ready_after_change, will_break).",
            [({"verdict": verdict}, section["summary"][verdict]) for verdict in PREFLIGHT_VERDICTS],
        )
        metric(
            "preflight_node_judged",
            "1 when the preflight judged the node, 0 when its audit failed or the node was unreachable.",
            [
                ({"host": n["host"], "region": n["region"]}, 1 if n["status"] == "judged" else 0)
                for n in section["nodes"]
            ],
        )
        metric(
            "preflight_site_will_break",
            "1 when the candidate will break the site (per node and site), 0 when it is ready (after a change).",
            _preflight_site_samples(section),
        )
    return "\n".join(out) + "\n"


def _preflight_site_samples(section: dict) -> list:
    """One sample per node and site label: 1 if any of the site's certificates (an RSA and an ECDSA one) will
    break."""
    worst: dict = {}
    for node in section["nodes"]:
        for site in node["sites"]:
            key = (node["host"], node["region"], site_label(site["site"]))
            worst[key] = max(worst.get(key, 0), 1 if site["verdict"] == "will_break" else 0)
    return [
        ({"host": host, "region": region, "site": site}, value) for (host, region, site), value in sorted(worst.items())
    ]


def _number(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def render(report: dict, stream) -> None:
    write_text(stream, render_prometheus(report))
