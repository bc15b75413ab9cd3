# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import ast
import pathlib

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import findings

LAB_SCENARIO = pathlib.Path(__file__).resolve().parents[4] / "tests" / "lab" / "tlslab" / "scenario.py"


def _lab_cause_codes() -> set:
    """The lab's own copy of the codes (CAUSE_CODES in tests/lab/tlslab/scenario.py), read without importing it:
    the lab package runs without the collection, and its imports are the lab's."""
    tree = ast.parse(LAB_SCENARIO.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "CAUSE_CODES":
            return set(ast.literal_eval(node.value.args[0]))
    raise AssertionError("no CAUSE_CODES in %s" % LAB_SCENARIO)


def test_the_labs_copy_of_the_codes_is_the_catalogues():
    if not LAB_SCENARIO.exists():  # ansible-test units may copy only part of tests/
        pytest.skip("tests/lab is not in this tree")
    assert _lab_cause_codes() == set(findings.CODES)


def test_codes_are_unique_identifiers():
    assert len(findings.CODES) == len(set(findings.CODES)) == len(findings.CATALOGUE)
    assert all(code.isidentifier() and code == code.lower() for code in findings.CODES)


@pytest.mark.parametrize("code", sorted(findings.CODES))
def test_every_cause_is_complete(code):
    cause = findings.CATALOGUE[code]
    assert cause.severity in findings.SEVERITIES
    assert cause.meaning.endswith(".") and cause.remedy.endswith(".")
    assert cause.fixed_by in (None, "stapling_config", "cert_deploy", "tls_reload")


def test_finding_takes_catalogue_defaults_and_rejects_unknown_codes():
    finding = findings.Finding("chain_extra", ["root sent"], server="nginx", hostname="a.test")
    assert finding.severity == "warning"
    assert finding.to_dict()["remediation"] == findings.CATALOGUE["chain_extra"].remedy
    assert finding.to_dict()["fixed_by"] == "cert_deploy"
    with pytest.raises(ValueError, match="unknown finding code"):
        findings.Finding("stapling_sad", [])
    with pytest.raises(ValueError, match="unknown severity"):
        findings.Finding("chain_extra", [], severity="meh")


def test_worst_severity_and_threshold():
    items = [findings.Finding("chain_extra", []), findings.Finding("cert_revoked", []).to_dict()]
    assert findings.worst_severity(items) == "critical"
    assert findings.worst_severity([]) is None
    assert [f["code"] if isinstance(f, dict) else f.code for f in findings.at_or_above(items, "error")] == [
        "cert_revoked"
    ]
    assert len(findings.at_or_above(items, "warning")) == 2


def test_docs_causes_page_matches_the_catalogue():
    doc = pathlib.Path(__file__).resolve().parents[4] / "docs" / "causes.md"
    if not doc.exists():  # ansible-test units copies only the collection's content; docs/ is part of it
        pytest.skip("docs/causes.md is not in this tree")
    rows = [line for line in doc.read_text().splitlines() if line.startswith("| `")]
    documented = {row.split("`")[1]: row for row in rows}
    assert set(documented) == set(findings.CODES)
    for code, row in documented.items():
        cause = findings.CATALOGUE[code]
        assert "| %s |" % cause.severity in row and cause.meaning in row and cause.remedy in row
