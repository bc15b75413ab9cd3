# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.json: the document itself, compact with sorted keys. Its format is docs/report-schema.json.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import json


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


render = render_json
