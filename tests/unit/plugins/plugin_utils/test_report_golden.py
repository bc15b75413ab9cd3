# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The five report files, byte for byte, for fixed inputs: a renderer change that alters output shows here.

The golden files under golden/<case>/ were written by the string-concatenating renderers before the Markdown and
HTML ones moved to Jinja2 templates. After an intended output change, regenerate them with
``REGEN_GOLDEN=1 python -m pytest tests/unit/plugins/plugin_utils/test_report_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import renderers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as rep
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import html_page
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils import test_node_result as hostile
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils import test_report as fx

GOLDEN = Path(__file__).resolve().parent / "golden"


def _fleet_with_external(threshold):
    return fx.build(addresses=fx.ADDRESSES, external=fx.external_view(), fail_threshold=threshold)


def _merged():
    results, regions = fx.fleet()
    slices = [
        fx.build({host: results[host] for host in hosts}, regions, addresses=fx.ADDRESSES, external=fx.external_view())
        for hosts in (("eu1", "us1", "ap1"), ("eu2", "us2", "ap2"))
    ]
    return rep.merge_reports(slices)


CASES = {
    "fleet": fx.build,
    "fleet-external-warning": lambda: _fleet_with_external("warning"),
    "fleet-external-never": lambda: _fleet_with_external("never"),
    "merged": _merged,
    "nasty": fx.nasty_report,
    "hostile": hostile.hostile_fleet,
    "node-level": hostile.node_level_fleet,
    "empty": lambda: fx.build({}, {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_files_equal_the_golden_files(case, tmp_path):
    written = renderers.write_report(CASES[case](), str(tmp_path))
    expected = GOLDEN / case
    if os.environ.get("REGEN_GOLDEN"):
        expected.mkdir(parents=True, exist_ok=True)
        for path in written.values():
            (expected / Path(path).name).write_bytes(Path(path).read_bytes())
    assert sorted(Path(path).name for path in written.values()) == sorted(p.name for p in expected.iterdir())
    for kind, path in written.items():
        assert Path(path).read_bytes() == (expected / Path(path).name).read_bytes(), "%s of %s differs" % (kind, case)


def test_a_finding_without_fixed_by_renders_as_before(tmp_path):
    """Older reports merged in may lack keys the model adds today: the templates read them as the old code did."""
    report = fx.build()
    for item in report["findings"]:
        item.pop("fixed_by", None)
    page = html_page.render_html(report)
    assert "(role <code>" not in page and page.count('<div class="finding') == len(report["findings"])
