# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import findings

# The codes the design's cause catalogue names; tests and reports outside the collection rely on them.
DESIGN_CODES = {
    "no_ocsp_url", "stapling_disabled", "stapling_unsupported", "chain_incomplete", "chain_misordered",
    "chain_extra", "key_mismatch", "resolver_missing", "responder_unreachable", "responder_error",
    "staple_missing", "staple_expired", "staple_expiring", "staple_invalid", "cert_revoked",
    "cert_status_unknown", "must_staple_unmet", "stale_cert_path", "stapling_cache_missing",
    "trusted_cert_missing", "node_drift", "cert_expiring", "cert_expired",
    # beyond the first catalogue: a server not serving, a failing config test, a node with no site, and a
    # server's own resolver failing
    "server_down", "config_test_failed", "no_tls_site", "resolver_failing",
}  # fmt: skip


def test_catalogue_has_exactly_the_design_codes():
    assert set(findings.CODES) == DESIGN_CODES


@pytest.mark.parametrize("code", sorted(DESIGN_CODES))
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
    import pathlib

    doc = pathlib.Path(__file__).resolve().parents[4] / "docs" / "causes.md"
    if not doc.exists():  # ansible-test units copies only the collection's content; docs/ is part of it
        pytest.skip("docs/causes.md is not in this tree")
    rows = [line for line in doc.read_text().splitlines() if line.startswith("| `")]
    documented = {row.split("`")[1]: row for row in rows}
    assert set(documented) == DESIGN_CODES
    for code, row in documented.items():
        cause = findings.CATALOGUE[code]
        assert "| %s |" % cause.severity in row and cause.meaning in row and cause.remedy in row
