# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What more than one report renderer needs: the findings of a grid cell, durations, addresses, Jinja2 templates.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import jinja2  # ships with ansible-core: the controller always has it

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.report import hosts_of

NO_SITE = "no TLS site or hostname found"


def duration(seconds) -> str:
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


def address_port(item: dict) -> str:
    address = "[%s]" % item["address"] if ":" in item["address"] else item["address"]
    return "%s:%s" % (address, item["port"]) if item.get("port") else address


def findings_index(report: dict) -> dict:
    """(host, hostname or None) -> the findings about that node and hostname, drift included, in report order."""
    index: dict = {}
    for item in report["findings"]:
        for host in hosts_of(item):
            index.setdefault((host, item["hostname"] or None), []).append(item)
    return index


def cell_findings(report: dict, host: str, hostname: str | None, index: dict | None = None) -> list[dict]:
    """The findings for one node and hostname (``None``: findings about no hostname), drift included."""
    if index is None:
        index = findings_index(report)
    return list(index.get((host, hostname or None), []))


def template(source: str, finalize, autoescape: bool = False, filters: dict | None = None) -> jinja2.Template:
    """A template whose every ``{{ value }}`` goes through ``finalize`` (the format's escaping).

    Blocks take no line of their own (trim_blocks, lstrip_blocks), so a template reads line for line like its output.
    The templates are string constants in the renderer files: nothing to find on disk in an installed collection.
    """
    environment = jinja2.Environment(
        # HTML autoescapes; every format's finalize escapes for that format (Markdown has no autoescape of its own).
        autoescape=autoescape,  # noqa: S701
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(filters or {})
    return environment.from_string(source)


def render_to(compiled: jinja2.Template, out, **context) -> str | None:
    """Render ``compiled`` into the text stream ``out`` piece by piece (None returned), or as a string."""
    if out is None:
        return compiled.render(**context)
    pending: list[str] = []
    for piece in compiled.generate(**context):
        pending.append(piece)
        if len(pending) >= 4096:  # pieces are small: one write per few dozen KiB
            out.write("".join(pending))
            pending.clear()
    out.write("".join(pending))
    return None


def write_text(stream, text: str) -> None:
    """Write ``text`` in slices: the stream encodes each write at once, so one write would double a large text."""
    for start in range(0, len(text), 1 << 20):
        stream.write(text[start : start + (1 << 20)])
