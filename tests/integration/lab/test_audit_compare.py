# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_scenarios.py's preflight comparison, without a lab: what it accepts and what it reports (make lab-unit)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import audit_scenarios  # noqa: E402

SCENARIO = HERE.parents[1] / "lab" / "scenarios" / "preflight" / "no_ocsp_url.yml"
SITE = {"server": "haproxy", "name": "shop", "port": 443, "hostnames": ["www.shop.test", "shop.test"]}


def verdict(server="haproxy", hostnames=("www.shop.test", "shop.test"), result="ready_after_change", **statuses):
    checks = dict.fromkeys(("validity", "key_match", "chain", "issuer_file", "responder", "must_staple"), "ok")
    checks.update(ocsp_url="warning", staple_file="change")
    checks.update(statuses)
    return {
        "server": server,
        "hostnames": list(hostnames),
        "verdict": result,
        "reasons": [],
        "changes": [{"text": "remove /etc/haproxy/certs/shop.pem.ocsp"}],
        "checks": [{"name": k, "status": v, "evidence": ["why %s" % k]} for k, v in checks.items()],
    }


EXPECTED = {
    "us-lb-1": [dict(SITE, verdict="ready_after_change", checks={"staple_file": "change", "ocsp_url": "warning"})]
}


def test_the_expected_verdict_passes():
    assert audit_scenarios.compare_preflight(EXPECTED, {"us-lb-1": {"preflight": [verdict()]}}) == []


def test_a_wrong_verdict_or_status_is_named_with_its_evidence():
    problems = audit_scenarios.compare_preflight(
        EXPECTED, {"us-lb-1": {"preflight": [verdict(result="ready", staple_file="ok")]}}
    )
    assert problems == [
        "us-lb-1 haproxy shop: verdict ready, expected ready_after_change [remove /etc/haproxy/certs/shop.pem.ocsp]",
        "us-lb-1 haproxy shop: staple_file is ok, expected change [why staple_file]",
    ]


def test_a_missing_or_unexpected_verdict_and_a_failed_audit_are_problems():
    assert audit_scenarios.compare_preflight(EXPECTED, {"us-lb-1": {"preflight": []}}) == [
        "us-lb-1 haproxy shop: 0 preflight verdicts, expected one"
    ]
    extra = [verdict(), verdict(server="nginx", hostnames=["api.shop.test"])]
    assert audit_scenarios.compare_preflight(EXPECTED, {"us-lb-1": {"preflight": extra}}) == [
        "us-lb-1: a preflight verdict for nginx api.shop.test, which the scenario does not expect"
    ]
    assert audit_scenarios.compare_preflight({"n": []}, {"n": {"failed": True, "msg": "boom"}}) == [
        "n: node_audit with the candidate failed: boom"
    ]


def test_expectations_are_the_scenarios_completed_by_the_oracle():
    hostvars = {"us-lb-1": {"tlsfleet_lab_preflight_expect": copy.deepcopy(EXPECTED["us-lb-1"])}}
    wanted = audit_scenarios.preflight_expectations(str(SCENARIO), hostvars)["us-lb-1"][0]
    # The scenario names two checks; the oracle adds the ones it computes (all of them here).
    assert wanted["checks"]["staple_file"] == "change" and wanted["checks"]["responder"] == "ok"
    assert len(wanted["checks"]) == 8
