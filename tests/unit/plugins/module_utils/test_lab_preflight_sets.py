# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab scenarios' preflight_expect names node_audit's verdicts, checks and statuses: the lab keeps its own copy
(tests/lab/tlslab/scenario.py, read without importing it, as test_findings.py does for the cause codes)."""

from __future__ import annotations

import ast
import pathlib

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import preflight

LAB_SCENARIO = pathlib.Path(__file__).resolve().parents[4] / "tests" / "lab" / "tlslab" / "scenario.py"


def _lab_constant(name: str) -> tuple:
    tree = ast.parse(LAB_SCENARIO.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("no %s in %s" % (name, LAB_SCENARIO))


@pytest.mark.parametrize(
    ("lab_name", "ours"),
    [
        ("PREFLIGHT_VERDICTS", preflight.VERDICTS),
        ("PREFLIGHT_CHECKS", preflight.CHECKS),
        ("PREFLIGHT_STATUSES", preflight.STATUSES),
    ],
)
def test_the_labs_preflight_names_are_node_audits(lab_name, ours):
    if not LAB_SCENARIO.exists():  # ansible-test units may copy only part of tests/
        pytest.skip("tests/lab is not in this tree")
    assert _lab_constant(lab_name) == tuple(ours)
