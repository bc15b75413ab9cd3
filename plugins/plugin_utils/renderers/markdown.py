# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.md: summary counts, the node table, the external view and each finding with evidence and fix.

Every ``{{ value }}`` of the template is escaped by ``md_escape`` (the template's finalize), so no node string can
open a link, an image, raw HTML or a new block; only the ``Trusted`` pieces this file builds (code spans of
catalogue codes and roles) pass unchanged. This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import re

from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import CATALOGUE
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.node_result import sanitise
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers.common import (
    NO_SITE,
    address_port,
    duration,
    template,
    write_text,
)
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.report import hosts_of, without_sites

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


class Trusted(str):
    """Markdown this file built from the cause catalogue: written as it is."""


def _finalize(value) -> str:
    return value if isinstance(value, Trusted) else md_escape(value)


def md_code(code) -> str:
    """A finding code: a code span for a catalogue code, escaped text marked unknown for any other."""
    if code in CATALOGUE:
        return Trusted("`%s`" % code)
    return Trusted("%s (unknown code)" % md_escape(code))


def _role(code) -> str | None:
    cause = CATALOGUE.get(code)
    return Trusted("`%s`" % cause.fixed_by) if cause and cause.fixed_by else None


def _remedy(item: dict) -> str:
    cause = CATALOGUE.get(item["code"])
    remedy = cause.remedy if cause else item["remediation"]
    return md_escape(remedy) if remedy else "none known (the code is not in the catalogue)"


TEMPLATE = """\
# OCSP stapling fleet report

Generated {{ report.generated_at }} by tlsfleet.stapling {{ report.collection_version }}. \
Worst severity: **{{ summary.worst_severity or "none" }}**.

| nodes | ok | failed | unreachable | no TLS site | hostnames | findings | failing hosts |
|---:|---:|---:|---:|---:|---:|---:|---:|
| {{ summary.nodes }} | {{ summary.nodes_ok }} | {{ summary.nodes_failed | length }} | \
{{ summary.nodes_unreachable | length }} | {{ (summary.get("nodes_without_sites") or []) | length }} | \
{{ summary.hostnames }} | {{ summary.findings }} | {{ summary.failing_hosts | length }} |

{% if summary.by_severity %}
By severity: {% for severity, count in summary.by_severity.items() %}{{ severity }} {{ count }}\
{% if not loop.last %}, {% endif %}{% endfor %}.
{% endif %}
{% if summary.by_code %}
By code: {% for code, count in summary.by_code.items() %}{{ code | md_code }} {{ count }}\
{% if not loop.last %}, {% endif %}{% endfor %}.
{% endif %}

{% if preflight is not none %}
## Preflight of {{ preflight.candidate.name or preflight.candidate.subject }}

Candidate sha256 {{ preflight.candidate.sha256 }}, serial {{ preflight.candidate.serial }}, valid \
{{ preflight.candidate.not_before }} to {{ preflight.candidate.not_after }}; \
names {{ preflight.candidate.san_dns | join(", ") or "none" }}; \
OCSP URL {{ preflight.candidate.ocsp_urls | join(", ") or "none" }}\
{% if preflight.candidate.must_staple %}; **Must-Staple**{% endif %}. \
Judged for {{ preflight.at or "now" }}.

| nodes | sites | ready | ready after change | will break | not judged |
|---:|---:|---:|---:|---:|---:|
| {{ preflight.summary.nodes }} | {{ preflight.summary.sites }} | {{ preflight.summary.ready }} | \
{{ preflight.summary.ready_after_change }} | {{ preflight.summary.will_break }} | \
{{ preflight.summary.nodes_not_judged | length }} |

| region | node | site | hostnames | verdict | change needed / why it breaks / warnings |
|---|---|---|---|---|---|
{% for node in preflight.nodes %}
{% if node.status != "judged" %}
| {{ node.region }} | {{ node.host }} | - | - | not judged | {{ node.message }} |
{% elif not node.sites %}
| {{ node.region }} | {{ node.host }} | - | - | - | no site the candidate's names cover |
{% endif %}
{% for site in node.sites %}
| {{ node.region }} | {{ node.host }} | {{ site.site or site.server or "-" }} | \
{{ site.hostnames | join(", ") }} | \
{% if site.verdict == "will_break" %}**WILL BREAK**{% elif site.verdict == "ready_after_change" %}\
ready after change{% else %}ready{% endif %} | {{ site | preflight_detail }} |
{% endfor %}
{% endfor %}
{% if preflight.hosts_out_of_scope %}

Not in the candidate's hosts (not judged): {{ preflight.hosts_out_of_scope | join(", ") }}.
{% endif %}

{% endif %}
## Nodes

| region | node | status | worst | findings | note |
|---|---|---|---|---:|---|
{% for node in report.nodes %}
| {{ node.region }} | {{ node.host }} | {{ node.status }} | \
{% if node.worst_severity %}{{ node.worst_severity }}{% else %}-{% endif %} | {{ node.findings }} | \
{{ node.message or (NO_SITE if node | without_sites else "") }} |
{% endfor %}
{% if external is not none %}

## External view (from {{ external.vantage or "the controller" }})

| hostname | address | node | seen from outside | staple left | node's own view |
|---|---|---|---|---|---|
{% for entry in external.hostnames %}
{% if entry.resolve_error %}
| {{ entry.hostname }} | - | - | {{ entry.resolve_error }} | - | - |
{% endif %}
{% for item in entry.addresses %}
| {{ entry.hostname }} | {{ item | address_port }} | {{ item.node or "not in the inventory" }} | \
{% if item.broken %}**BROKEN** {% endif %}{{ item.staple_state }} | {{ item.seconds_left | duration }} | \
{{ item.node_staple_state or "-" }}\
{% if item.leaf_matches_node is false %}; **another certificate than the node serves for this name**{% endif %} |
{% endfor %}
{% endfor %}

Nodes a client may be handed with a broken staple: {{ external_broken or Trusted("none") }}.
{% endif %}

{% if short_lived %}
## Short-lived certificates

Valid 7 days or less: no OCSP or CRL is needed for them, and none is expected.

| region | node | hostname | site |
|---|---|---|---|
{% for node, entry in short_lived %}
| {{ node.region }} | {{ node.host }} | {{ entry.hostname or "-" }} | {{ entry.server or "" }} {{ entry.site or "" }} |
{% endfor %}

{% endif %}
## Findings

{% if not report.findings %}
No findings.
{% endif %}
{% for item in report.findings %}
### {{ item.severity.upper() }} {{ item.code | md_code }} on \
{% if item.host is none %}{{ "fleet (%s)" % (item | hosts_of | join(", ")) }}\
{% else %}{{ "%s / %s" % (item.region, item.host) }}{% endif %}\
{% if item.hostname %} for {{ item.hostname }}{% endif %}


{% if item.server or item.site %}
Site: {{ item.server or "" }} {{ item.site or "" }}

{% endif %}
{% for line in item.evidence %}
- {{ line }}
{% endfor %}

Fix: {{ item | remedy }}
{% if item.code | role %}
(role {{ item.code | role }})
{% endif %}

{% endfor %}
"""

_IDENTIFIER = re.compile(r"[a-z0-9_]{1,64}")


def _maker(change: dict) -> str:
    """The role and action of a change as code spans; anything but an identifier (a lying node) as escaped text."""
    words = [change["by"], change["action"]]
    if all(_IDENTIFIER.fullmatch(word) for word in words):
        return "`%s` %s" % (change["by"], md_escape(change["action"]))
    return md_escape(" ".join(words))


def preflight_detail(site: dict) -> Trusted:
    """What a preflight row says: the changes (with the role making each) for ready_after_change, the reasons for
    will_break, the warnings otherwise; each piece escaped, joined with "; "."""
    if site["verdict"] == "will_break":
        pieces = [md_escape(reason) for reason in site["reasons"]] or ["no reason given"]
    elif site["verdict"] == "ready_after_change":
        pieces = [
            "%s (%s)" % (md_escape(change["text"] or change["action"]), _maker(change)) for change in site["changes"]
        ]
    else:
        pieces = []
    pieces.extend("warning: %s" % md_escape(line) for line in site["warnings"])
    return Trusted("; ".join(pieces) or "-")


_TEMPLATE = template(
    TEMPLATE,
    _finalize,
    filters={
        "preflight_detail": preflight_detail,
        "md_code": md_code,
        "role": _role,
        "remedy": lambda item: Trusted(_remedy(item)),
        "hosts_of": hosts_of,
        "without_sites": without_sites,
        "address_port": address_port,
        "duration": duration,
    },
)


def render_markdown(report: dict) -> str:
    external = report.get("external")
    broken = None
    if external is not None:
        broken = ", ".join(sorted({host for entry in external["hostnames"] for host in entry["broken_nodes"]}))
    text = _TEMPLATE.render(
        report=report,
        summary=report["summary"],
        external=external,
        external_broken=broken,
        preflight=report.get("preflight"),
        short_lived=[
            (node, entry) for node in report["nodes"] for entry in node["hostnames"] if entry.get("short_lived")
        ],
        NO_SITE=NO_SITE,
        Trusted=Trusted,
    )
    return text.rstrip("\n") + "\n"


def render(report: dict, stream) -> None:
    write_text(stream, render_markdown(report))
