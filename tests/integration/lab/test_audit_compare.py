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
import yaml  # noqa: E402

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


# --pack: which scenarios share a lab, and the scenario file that holds them side by side

SCENARIOS = HERE.parents[1] / "lab" / "scenarios"
MAKE_LAB_AUDIT = [  # the order make lab-audit gives
    str(SCENARIOS / "healthy.yml"),
    *sorted(str(p) for p in (SCENARIOS / "causes").glob("*.yml")),
    str(SCENARIOS / "fleet.yml"),
    *sorted(str(p) for p in (SCENARIOS / "preflight").glob("*.yml")),
    *sorted(str(p) for p in (SCENARIOS / "revocation").glob("*.yml")),
]


def _names(path):
    data = yaml.safe_load(Path(path).read_text())
    leaves = data["leaves"]
    return len(data["nodes"]), set(leaves) | {h for leaf in leaves.values() for h in leaf.get("hostnames", [])}


def test_packed_runs_keep_every_scenario_once_within_the_node_budget_and_apart_when_they_must():
    runs = audit_scenarios.plan(MAKE_LAB_AUDIT, 24)
    assert sorted(path for run in runs for path in run) == sorted(MAKE_LAB_AUDIT)
    assert len(runs) < len(MAKE_LAB_AUDIT) / 3  # packing does happen
    for run in runs:
        if len(run) == 1:
            continue
        assert sum(_names(path)[0] for path in run) <= 24
        seen = set()
        for path in run:
            assert "preflight" not in yaml.safe_load(Path(path).read_text()), path
            assert Path(path).stem != "healthy"
            assert not seen & _names(path)[1], path  # no leaf name or hostname shared within a run
            seen |= _names(path)[1]
    assert audit_scenarios.plan(MAKE_LAB_AUDIT, 0) == [[path] for path in MAKE_LAB_AUDIT]


def test_a_scenario_sharing_a_hostname_starts_a_new_run(tmp_path):
    first = SCENARIOS / "causes" / "staple_missing.yml"
    copy_of_it = tmp_path / "again.yml"
    copy_of_it.write_text(first.read_text())
    assert audit_scenarios.plan([str(first), str(copy_of_it)], 24) == [[str(first)], [str(copy_of_it)]]


def test_a_packed_scenario_is_a_valid_lab_scenario_with_every_node_traced_to_its_own(tmp_path):
    from tlslab import scenario  # the lab's own package, on the path audit_scenarios sets

    run = next(run for run in audit_scenarios.plan(MAKE_LAB_AUDIT, 24) if len(run) > 2)
    positions = {path: index for index, path in enumerate(MAKE_LAB_AUDIT)}
    lab_file, owner = audit_scenarios.packed(run, positions, tmp_path)
    packed = scenario.load(lab_file)
    assert {node.name for node in packed.nodes} == set(owner)
    for path in run:
        alone = scenario.load(path)
        mine = [node for node in packed.nodes if owner[node.name] == path]
        assert [node.name for node in mine] == ["p%d-%s" % (positions[path], node.name) for node in alone.nodes]
        for node, original in zip(mine, alone.nodes):  # the same sites, faults and expectations, renamed only
            assert (node.sites, node.faults, node.expect, node.servers) == (
                original.sites,
                original.faults,
                original.expect,
                original.servers,
            )
        for leaf in alone.leaves:
            assert packed.leaves[leaf] == alone.leaves[leaf]
