# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight playbook and the rollout's gate on the lab (root; run by ``make lab-preflight``).

One ``labctl up`` of tests/lab/scenarios/healthy.yml (nginx, Apache, HAProxy; the leaf shop on every node), then
issue 16's acceptance:
(a) a plain renewal of shop (same key) is not breaking anywhere: ready on nginx and Apache, and on HAProxy ready or
    ready once its static .ocsp file is refreshed (which the rollout does itself); the playbook exits 0 and no node
    file changes;
(d) a Must-Staple candidate for shop (``labctl renew --variant must-staple``), with the responder blocked from
    eu-nginx-1 (``labctl egress``): that site ``will_break`` (must_staple), the others do not; the playbook - in
    check mode, to show it is safe there too - exits non-zero naming the node, the site and why;
(e) the rollout of (d) stops in its gate, before the canary: every node's files byte-identical with the same
    mtimes, no backup anywhere, every node still serving the certificate it served before.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

from audit_scenarios import collections_path  # noqa: E402
from labrun import INVENTORY, LABCTL, PROJECT, VENV, WATCHED, backup_modes, env, node_sh, recap, run  # noqa: E402

HEALTHY = ROOT / "tests" / "lab" / "scenarios" / "healthy.yml"
NODES = ("eu-nginx-1", "us-apache-1", "ap-haproxy-1")
BLOCKED = "eu-nginx-1"  # its egress to the responder is rejected for (d) and (e)
NAMES = ("www.shop.test", "shop.test")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


@pytest.fixture(scope="module")
def lab():
    up = run([LABCTL, "up", HEALTHY])
    assert up.returncode == 0, up.stdout + up.stderr
    work = Path(tempfile.mkdtemp(prefix="tlsfleet-preflight-"))
    try:
        yield {"collections": collections_path(VENV), "work": work, "timings": {}}
    finally:
        run([LABCTL, "down"])


def playbook(lab, name, extra, *args):
    extra = dict(extra, tlsfleet_hosts="tlsfleet_lab")
    started = time.monotonic()
    argv = [VENV / "bin" / "ansible-playbook", "-i", INVENTORY, PROJECT / name, "-e", json.dumps(extra), *args]
    out = run(argv, env=env(lab["collections"]))
    lab["timings"][name + " ".join(args)] = round(time.monotonic() - started, 1)
    return out


def renewal(variant="plain") -> dict:
    """shop renewed by the lab CA with its key kept (``labctl renew --variant``): its files and hosts."""
    out = run([LABCTL, "renew", "shop", "--keep-key", "--variant", variant])
    assert out.returncode == 0, out.stderr
    renewed = json.loads(out.stdout)
    assert renewed["variant"] == variant, renewed
    return renewed


def node_state(nodes=NODES) -> dict:
    """node -> {path: (sha256, mtime)} of every file under the servers' and certificates' directories."""
    state = {}
    for node in nodes:
        out = node_sh(
            node,
            "find %s -type f -printf '%%T@ %%p\\n' 2>/dev/null | sort -k2 | while read -r m p; do "
            'echo "$m $(sha256sum "$p" | cut -d" " -f1) $p"; done' % WATCHED,
        )
        assert out.returncode == 0, out.stderr
        state[node] = {line.split(" ", 2)[2]: tuple(line.split(" ", 2)[:2]) for line in out.stdout.splitlines()}
    return state


def served(lab, node) -> dict:
    """hostname -> the SHA-256 of the leaf ``node`` serves for it (a TLS handshake from the node itself)."""
    args = json.dumps({"server_names": list(NAMES), "protocols": ["TLSv1.2"], "warmup_attempts": 0})
    out = run(
        [VENV / "bin" / "ansible", "-i", INVENTORY, node, "-m", "tlsfleet.stapling.tls_endpoint_info", "-a", args],
        env=env(lab["collections"]),
    )
    body = out.stdout[out.stdout.index("{") :]
    return {item["server_name"]: item["leaf_sha256"] for item in json.loads(body)["endpoints"]}


def verdicts(report: dict) -> dict:
    """node -> [(verdict, sorted hostnames, changes' actions, reasons)] from the report's preflight section."""
    return {
        node["host"]: [
            (
                site["verdict"],
                sorted(site["hostnames"]),
                [change["action"] for change in site["changes"]],
                site["reasons"],
            )
            for site in node["sites"]
        ]
        for node in report["preflight"]["nodes"]
    }


def test_a_plain_renewal_is_ready_wherever_it_applies(lab):
    candidate = renewal()
    before = node_state()
    out = playbook(
        lab,
        "preflight.yml",
        {
            "tlsfleet_preflight_certificate": {
                "name": "shop",
                "certificate": candidate["certificate"],
                "chain": candidate["chain"],
                "hosts": candidate["hosts"],
            },
            "tlsfleet_report_dir": str(lab["work"] / "plain"),
        },
    )
    assert out.returncode == 0, out.stdout[-5000:]
    report = json.loads((lab["work"] / "plain" / "preflight" / "report.json").read_text())
    found = verdicts(report)
    assert set(found) == set(NODES), found
    for node in ("eu-nginx-1", "us-apache-1"):
        assert found[node] == [("ready", sorted(NAMES), [], [])], (node, found[node])
    # HAProxy keeps a static .ocsp file per certificate: ready, or ready once the rollout refreshes it.
    ((verdict, names, actions, reasons),) = found["ap-haproxy-1"]
    assert names == sorted(NAMES) and reasons == [], found
    assert (verdict, actions) in (("ready", []), ("ready_after_change", ["refresh_staple_file"])), found
    assert report["preflight"]["candidate"]["sha256"] == candidate["sha256"]
    assert report["preflight"]["summary"]["will_break"] == 0
    assert node_state() == before
    assert "PRIVATE KEY" not in out.stdout + out.stderr


def test_a_must_staple_candidate_breaks_where_the_responder_is_blocked(lab):
    candidate = renewal("must-staple")
    lab["must_staple"] = candidate
    before = node_state()
    assert run([LABCTL, "egress", BLOCKED, "ocsp=reject"]).returncode == 0
    try:
        out = playbook(
            lab,
            "preflight.yml",
            {
                "tlsfleet_preflight_certificate": {
                    "name": "shop-must-staple",
                    "certificate": candidate["certificate"],
                    "chain": candidate["chain"],
                    "hosts": candidate["hosts"],
                },
                "tlsfleet_report_dir": str(lab["work"] / "must-staple"),
            },
            "--check",
        )
    finally:
        run([LABCTL, "egress", BLOCKED])
    assert out.returncode == 2, out.stdout[-5000:]
    report = json.loads((lab["work"] / "must-staple" / "preflight" / "report.json").read_text())
    assert report["preflight"]["candidate"]["must_staple"] is True
    found = verdicts(report)
    ((verdict, names, _actions, reasons),) = found[BLOCKED]
    assert verdict == "will_break" and names == sorted(NAMES), found
    assert any(reason.startswith("must_staple: ") for reason in reasons), reasons
    assert all(site[0] != "will_break" for node in NODES if node != BLOCKED for site in found[node]), found
    assert report["preflight"]["summary"]["will_break_nodes"] == [BLOCKED]
    # The run fails on that node only, naming the site and why; the others pass.
    counts = recap(out.stdout)
    assert {node for node, count in counts.items() if count["failed"]} == {BLOCKED}, counts
    assert "Preflight of shop-must-staple on %s: site " % BLOCKED in out.stdout
    assert "will break: must_staple: " in out.stdout
    assert node_state() == before


def test_the_rollout_of_a_breaking_candidate_stops_before_the_canary_with_nothing_changed(lab):
    candidate = lab.get("must_staple") or renewal("must-staple")
    before = node_state()
    old = {node: served(lab, node) for node in NODES}
    assert run([LABCTL, "egress", BLOCKED, "ocsp=reject"]).returncode == 0
    try:
        out = playbook(
            lab,
            "rollout.yml",
            {
                "tlsfleet_rollout_certificate": {
                    "name": "shop",
                    "certificate": candidate["certificate"],
                    "chain": candidate["chain"],
                    "key": candidate["key"],
                    "hosts": candidate["hosts"],
                },
                # The canary is another node: the gate stops the rollout before it, not its own responder check.
                "tlsfleet_rollout_canary": "us-apache-1",
                "tlsfleet_report_dir": str(lab["work"] / "rollout"),
            },
        )
    finally:
        run([LABCTL, "egress", BLOCKED])
    assert out.returncode == 2, out.stdout[-5000:]
    assert "Rollout stopped before the canary: the preflight says the certificate will break 1 site(s)" in out.stdout
    assert BLOCKED + ": site " in out.stdout and "must_staple: " in out.stdout
    # Nothing after the gate ran: no order, no audit of a batch, no deployment.
    for task in ("Compute the order and the batches", "Plan the rollout on this node", "Deploy the certificate"):
        assert task not in out.stdout, task
    counts = recap(out.stdout)
    assert counts and all(count["changed"] == 0 for count in counts.values()), counts
    assert node_state() == before
    assert {node: backup_modes(node) for node in NODES} == {node: {} for node in NODES}
    assert {node: served(lab, node) for node in NODES} == old
    assert not (lab["work"] / "rollout" / "rollout-summary.json").exists()
    gate = json.loads((lab["work"] / "rollout" / "preflight" / "report.json").read_text())
    assert gate["preflight"]["summary"]["will_break_nodes"] == [BLOCKED]
    assert "PRIVATE KEY" not in out.stdout + out.stderr
    print("playbook durations (s):", lab["timings"])
