# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.html: one self-contained page (inline CSS, no scripts, no external references); every value escaped.

The template autoescapes, and its finalize sanitises and escapes every ``{{ value }}`` with ``html.escape`` first
(quotes included), so a node string can never become markup. This file is PRIVATE to the collection: its API may
change at any time.
"""

from __future__ import annotations

import html
from collections import namedtuple

from markupsafe import Markup  # Jinja2's own dependency

from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import SEVERITIES, worst_severity
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.node_result import sanitise
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers.common import (
    NO_SITE,
    address_port,
    cell_findings,
    duration,
    findings_index,
    render_to,
    template,
)
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.report import hosts_of, node_state, without_sites

CSS = """
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
LEGEND = (*SEVERITIES, "ok", "none", "down", "empty")
# A preflight verdict's colour: the severity classes of the grid.
VERDICT_CLASS = {"ready": "ok", "ready_after_change": "warning", "will_break": "error"}
# What the grid's template reads per node and per cell (named tuples: a template reads their fields fastest).
Row = namedtuple("Row", "node state wide cells")
Wide = namedtuple("Wide", "severity text")
Cell = namedtuple("Cell", "severity title codes states left short_lived")


def _finalize(value) -> Markup:
    if isinstance(value, Markup):  # the page's own constants
        return value
    return Markup(html.escape(sanitise(value), quote=True))  # noqa: S704 - escaped on this line


# One line of output per line here (a trailing backslash joins two lines of this text into one line of output).
TEMPLATE = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
{# Nothing may be fetched: the page is mailed, attached to tickets and opened offline. #}
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OCSP stapling fleet report</title>
<style>{{ css }}</style></head><body>
<h1>OCSP stapling fleet report</h1>
<p>Generated {{ report.generated_at }} by tlsfleet.stapling {{ report.collection_version }}. \
{{ summary.nodes }} nodes ({{ summary.nodes_ok }} audited, \
{{ (summary.get("nodes_without_sites") or []) | length }} of them without a TLS site; \
{{ summary.nodes_failed | length }} failed, {{ summary.nodes_unreachable | length }} unreachable) \
in {{ summary.regions }} regions, {{ summary.hostnames }} hostnames, {{ summary.findings }} findings; \
worst severity <strong>{{ summary.worst_severity or "none" }}</strong>; fail threshold {{ summary.fail_threshold }}.</p>
<p class="legend">{% for name in legend %}<span class="sev-{{ name }}">{{ name }}</span>{% endfor %}</p>
{% if preflight is not none %}
<h2>Preflight of {{ preflight.candidate.name or preflight.candidate.subject }}</h2>
<p>Candidate sha256 <code>{{ preflight.candidate.sha256 }}</code>, serial {{ preflight.candidate.serial }}, \
valid {{ preflight.candidate.not_before }} to {{ preflight.candidate.not_after }}; \
names {{ preflight.candidate.san_dns | join(", ") or "none" }}; \
OCSP URL {{ preflight.candidate.ocsp_urls | join(", ") or "none" }}\
{% if preflight.candidate.must_staple %}; <strong>Must-Staple</strong>{% endif %}. \
Judged for {{ preflight.at or "now" }}: {{ preflight.summary.sites }} sites on {{ preflight.summary.nodes }} nodes, \
{{ preflight.summary.ready }} ready, {{ preflight.summary.ready_after_change }} ready after a change, \
<strong>{{ preflight.summary.will_break }} will break</strong>\
{% if preflight.summary.nodes_not_judged %}; not judged: {{ preflight.summary.nodes_not_judged | join(", ") }}\
{% endif %}.</p>
<table><thead><tr><th>region</th><th>node</th><th>site</th><th>hostnames</th><th>verdict</th>\
<th>change needed / why it breaks / warnings</th></tr></thead><tbody>
{% for node in preflight.nodes %}
{% if node.status != "judged" %}
<tr><th>{{ node.region }}</th><th>{{ node.host }}</th>\
<td class="cell sev-down" colspan="4">not judged: {{ node.message }}</td></tr>
{% elif not node.sites %}
<tr><th>{{ node.region }}</th><th>{{ node.host }}</th>\
<td class="cell sev-none" colspan="4">no site the candidate's names cover</td></tr>
{% endif %}
{% for site in node.sites %}
<tr><th>{{ node.region }}</th><th>{{ node.host }}</th><td>{{ site.site or site.server }}</td>\
<td>{{ site.hostnames | join(", ") }}</td>\
<td class="cell sev-{{ verdict_class.get(site.verdict, "error") }}">{{ site.verdict | replace("_", " ") }}</td><td><ul>\
{% for reason in site.reasons %}<li>{{ reason }}</li>{% endfor %}\
{% for change in site.changes %}<li>{{ change.text or change.action }} (role <code>{{ change.by }}</code>, \
{{ change.action }}{% if change.path %}, {{ change.path }}{% endif %})</li>{% endfor %}\
{% for warning in site.warnings %}<li>warning: {{ warning }}</li>{% endfor %}</ul></td></tr>
{% endfor %}
{% endfor %}
</tbody></table>
{% if preflight.hosts_out_of_scope %}
<p>Not in the candidate's hosts (not judged): {{ preflight.hosts_out_of_scope | join(", ") }}.</p>
{% endif %}
{% endif %}
<h2>Fleet</h2>
<table><thead><tr><th>region</th><th>node</th><th>node-wide</th>\
{% for name in hostnames %}<th>{{ name }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}
<tr><th>{{ row.node.region }}</th><th class="sev-{{ row.state }}">{{ row.node.host }}</th>\
{% if row.node.status != "ok" %}\
<td class="cell sev-down" colspan="{{ hostnames | length + 1 }}">{{ row.node.status }}: {{ row.node.message }}</td>\
{% else %}\
<td class="cell sev-{{ row.wide.severity }}">{{ row.wide.text }}</td>\
{% for cell in row.cells %}\
{% if cell is none %}<td class="cell sev-none">-</td>{% else %}\
<td class="cell sev-{{ cell.severity }}" title="{{ cell.title }}">{{ cell.severity }}\
{% if cell.codes %}<small><code>{{ cell.codes }}</code></small>{% endif %}\
<small>staple {{ cell.states }}</small><small>{{ cell.left }}</small>\
{% if cell.short_lived %}<small>short-lived</small>{% endif %}</td>\
{% endif %}\
{% endfor %}\
{% endif %}\
</tr>
{% endfor %}
</tbody></table>
{% if external is not none %}
<h2>External view</h2>
<p>Each public hostname resolved and probed from <code>{{ external.vantage or "the controller" }}</code>, \
as a client there would; every address DNS hands out is a node a client may get.</p>
<table><thead><tr><th>hostname</th><th>address</th><th>node</th><th>seen from outside</th>\
<th>staple left</th><th>node's own view</th></tr></thead><tbody>
{% for entry in external.hostnames %}
{% if entry.resolve_error %}
<tr><th>{{ entry.hostname }}</th><td class="cell sev-down" colspan="5">{{ entry.resolve_error }}</td></tr>
{% endif %}
{% for item in entry.addresses %}
<tr><th>{{ entry.hostname }}</th><td>{{ item | address_port }}</td>\
<td>{{ item.node or "not in the inventory" }}</td>\
<td class="cell sev-{% if item.broken %}error{% else %}ok{% endif %}">{{ item.staple_state }}</td>\
<td>{{ item.seconds_left | duration }}</td><td>{{ item.node_staple_state or "-" }}\
{% if item.leaf_matches_node is false %}; <strong>another certificate than the node serves for this name</strong>\
{% endif %}</td></tr>
{% endfor %}
{% if entry.nodes_not_in_dns %}
<tr><th>{{ entry.hostname }}</th><td colspan="5">also served by {{ entry.nodes_not_in_dns | join(", ") }}, \
which DNS does not hand out</td></tr>
{% endif %}
{% endfor %}
</tbody></table>
{% endif %}
<h2>Findings</h2>
{% if not report.findings %}
<p>No findings.</p>
{% endif %}
{% for item in report.findings %}
<div class="finding sev-{{ item.severity }}"><h3>{{ item.severity.upper() }} <code>{{ item.code }}</code> on \
{% if item.host is none %}{{ "fleet: %s" % (item | hosts_of | join(", ")) }}\
{% else %}{{ "%s / %s" % (item.region, item.host) }}{% endif %}\
{% if item.hostname %} for {{ item.hostname }}{% endif %}</h3>\
{% if item.site %}<p>Site: {{ item.server }} {{ item.site }}</p>{% endif %}\
<ul>{% for line in item.evidence %}<li><pre>{{ line }}</pre></li>{% endfor %}</ul>\
<p>Fix: {{ item.remediation }}{% if item.get("fixed_by") %} (role <code>{{ item.fixed_by }}</code>){% endif %}</p></div>
{% endfor %}
</body></html>
"""

_TEMPLATE = template(
    TEMPLATE,
    _finalize,
    autoescape=True,
    filters={"hosts_of": hosts_of, "address_port": address_port, "duration": duration},
)


def _rows(report: dict, hostnames: list):
    """One row of the grid per node, made as the template asks for it: a large fleet is never held twice."""
    index = findings_index(report)
    for node in report["nodes"]:
        wide, cells = None, []
        if node["status"] == "ok":
            served = {}
            for entry in node["hostnames"]:
                served.setdefault(entry["hostname"], []).append(entry)
            hostless = cell_findings(report, node["host"], None, index)
            text = ", ".join(sorted({i["code"] for i in hostless}))
            empty = without_sites(node)
            if empty:
                text = "%s%s" % (NO_SITE, "; " + text if text else "")
            wide = Wide(worst_severity(hostless) or ("empty" if empty else "ok"), text or "ok")
            for name in hostnames:
                found = cell_findings(report, node["host"], name, index)
                entries = served.get(name, [])
                if not entries and not found:
                    cells.append(None)
                    continue
                lefts = [e["seconds_left"] for e in entries if isinstance(e["seconds_left"], (int, float))]
                cells.append(
                    Cell(
                        severity=worst_severity(found) or "ok",
                        title="; ".join("%s: %s" % (i["code"], " / ".join(i["evidence"])) for i in found),
                        codes=", ".join(sorted({i["code"] for i in found})),
                        states=", ".join(sorted({str(e["staple_state"]) for e in entries})) or "?",
                        left=duration(min(lefts)) if lefts else "-",
                        short_lived=any(e.get("short_lived") for e in entries),
                    )
                )
        yield Row(node, node_state(node), wide, cells)


def render_html(report: dict, out=None) -> str | None:
    """The page; with ``out`` (a text stream) it is written there as it is rendered and None is returned."""
    nodes = report["nodes"]
    hostnames = sorted(
        {e["hostname"] for n in nodes for e in n["hostnames"] if e["hostname"]}
        | {item["hostname"] for item in report["findings"] if item["hostname"]}
    )
    return render_to(
        _TEMPLATE,
        out,
        report=report,
        summary=report["summary"],
        external=report.get("external"),
        preflight=report.get("preflight"),
        verdict_class=VERDICT_CLASS,
        css=Markup(CSS),  # noqa: S704 - this file's constant
        legend=LEGEND,
        hostnames=hostnames,
        rows=_rows(report, hostnames),
    )


def render(report: dict, stream) -> None:
    render_html(report, stream)
