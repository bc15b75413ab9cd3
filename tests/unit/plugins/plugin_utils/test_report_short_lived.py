# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report's "short-lived" mark comes from the certificate's dates, read on the controller, never from the node's
``short_lived`` flag (a node's word: plugins/plugin_utils/node_result.py trusts no node)."""

from __future__ import annotations

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils.test_report import LEAF_A, audit, build


def _record(not_before, not_after, flag):
    return {"sha256": LEAF_A, "not_before": not_before, "not_after": not_after, "short_lived": flag}


@pytest.mark.parametrize(
    ("not_before", "not_after", "flag", "expected"),
    [
        ("2026-11-20T00:00:00Z", "2027-02-18T00:00:00Z", True, False),  # 90 days, the node says short-lived
        ("2026-11-20T00:00:00Z", "2026-11-26T00:00:00Z", False, True),  # 6 days, the node says not
        ("2026-11-20T00:00:00Z", "2026-11-26T23:59:59Z", None, True),  # 7 days, both ends included
        ("2026-11-20T00:00:00Z", "2026-11-27T00:00:00Z", True, False),  # one second more than 7 days
        ("garbage", "2026-11-26T00:00:00Z", True, False),  # unreadable dates: not short-lived, whatever the flag
    ],
)
def test_short_lived_is_read_from_the_dates(not_before, not_after, flag, expected):
    assert records.short_lived_of(_record(not_before, not_after, flag)) is expected


def test_a_lying_node_cannot_mark_a_long_certificate_short_lived_in_the_report():
    liar = audit(["a.test"], short_lived=False)
    liar["evidence"]["certificates"][LEAF_A]["short_lived"] = True  # 2026-11-20 .. 2027-02-18 is 90 days
    assert build({"n1": liar}, {"n1": "eu"})["nodes"][0]["hostnames"][0]["short_lived"] is False
    modest = audit(["a.test"], short_lived=True)
    modest["evidence"]["certificates"][LEAF_A]["short_lived"] = False  # 6 days
    assert build({"n1": modest}, {"n1": "eu"})["nodes"][0]["hostnames"][0]["short_lived"] is True
