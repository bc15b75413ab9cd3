# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A node that lies in its node_audit answer gets no key (root; run by ``make lab-remediate``).

On tests/lab/scenarios/healthy.yml, eu-nginx-1's answer is rewritten on the way to the controller (a test-only
action plugin in a throw-away copy of the collection, liar/node_audit.py): its pay.shop.test site claims to serve
api.shop.test and to hold a key that does not match. The api certificate is scoped (hosts:) to the two other nodes.
remediate and rollout must deploy nothing to eu-nginx-1 - no file on it changes, no key file appears - and say
why, naming the certificate entry.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import labrun  # noqa: E402
from audit_scenarios import collections_path  # noqa: E402

SCENARIO = labrun.ROOT / "tests" / "lab" / "scenarios" / "healthy.yml"
LIAR = "eu-nginx-1"
HONEST = ["us-apache-1", "ap-haproxy-1"]
LIE = {"host": LIAR, "site_hostnames": ["pay.shop.test"], "claim": ["api.shop.test"], "finding": "key_mismatch"}
REFUSAL = "certificate entry 'api' is not scoped to %s" % LIAR

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def every_file(node: str) -> dict:
    """{path: sha256} of every file under the servers' and certificates' directories, backups included."""
    out = labrun.node_sh(node, "find %s -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum" % labrun.WATCHED)
    assert out.returncode == 0, out.stderr
    return {path: digest for digest, _sep, path in (line.partition("  ") for line in out.stdout.splitlines())}


@pytest.fixture(scope="module")
def lab():
    up = labrun.labctl("up", SCENARIO, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    work = Path(tempfile.mkdtemp(prefix="tlsfleet-liar-"))
    # A throw-away copy of the collection with the lying action plugin in it; the real one stays untouched.
    collections = work / "collections"
    shutil.copytree(collections_path(labrun.VENV), collections, symlinks=True)
    action = collections / "ansible_collections" / "tlsfleet" / "stapling" / "plugins" / "action"
    action.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "liar" / "node_audit.py", action / "node_audit.py")
    out = labrun.run(
        [labrun.VENV / "bin" / "ansible-inventory", "-i", labrun.INVENTORY, "--list"],
        env=labrun.env(str(collections)),
    )
    hostvars = json.loads(out.stdout)["_meta"]["hostvars"]
    certificates = hostvars[HONEST[0]]["tlsfleet_lab_certificates"]
    api = dict(certificates["api"], hosts=HONEST)  # not the liar, although it serves api.shop.test itself
    yield {
        "collections": str(collections),
        "work": work,
        "api": api,
        "keys": labrun.key_lines(certificates),
        "before": every_file(LIAR),
    }
    labrun.labctl("down")
    shutil.rmtree(work, ignore_errors=True)


def playbook(lab, name, values, lie=None):
    argv = [labrun.VENV / "bin" / "ansible-playbook", "-i", labrun.INVENTORY, labrun.PROJECT / name]
    environ = labrun.env(lab["collections"], TLSFLEET_TEST_LIE=json.dumps(lie or LIE))
    out = labrun.run([*argv, "-e", json.dumps(values)], env=environ, timeout=600)
    text = out.stdout + out.stderr
    assert labrun.TRACEBACK not in text, text[-6000:]
    assert not labrun.key_leaks(text, lab["keys"]), labrun.key_leaks(text, lab["keys"])
    return out


def test_remediate_deploys_nothing_to_a_node_that_claims_another_scope(lab):
    report_dir = lab["work"] / "remediate"
    values = {
        "tlsfleet_hosts": "tlsfleet_lab",
        "tlsfleet_remediate_report_dir": str(report_dir),
        "tlsfleet_certificates": [lab["api"]],
    }
    out = playbook(lab, "remediate.yml", values)
    assert out.returncode in (0, 2), out.stdout[-6000:]
    # The lie arrived: the controller's report holds the claimed finding...
    before = json.loads((report_dir / "before" / "report.json").read_text())
    assert (LIAR, "key_mismatch", "api.shop.test") in {
        (f["host"], f["code"], f["hostname"]) for f in before["findings"]
    }
    # ...the plan refused it, naming the entry, and nothing on the liar changed.
    assert REFUSAL in out.stdout, out.stdout[-6000:]
    assert labrun.recap(out.stdout)[LIAR]["changed"] == 0, out.stdout[-4000:]
    assert every_file(LIAR) == lab["before"]


def test_rollout_deploys_nothing_to_a_node_outside_the_certificates_hosts(lab):
    report_dir = lab["work"] / "rollout"
    values = {
        "tlsfleet_hosts": LIAR,
        "tlsfleet_report_dir": str(report_dir),
        "tlsfleet_rollout_certificate": lab["api"],
    }
    out = playbook(lab, "rollout.yml", values)
    assert out.returncode == 0, out.stdout[-6000:]
    summary = json.loads((report_dir / "rollout-summary.json").read_text())
    node = summary["nodes"][LIAR]
    assert node["status"] == "refused" and summary["counts"] == {"refused": 1}, summary
    assert any(REFUSAL in reason for reason in node["refused"]), node
    assert every_file(LIAR) == lab["before"]  # no file changed, none appeared (no key, no backup)


REPORT_FILES = ("report.html", "report.md", "report.json", "junit.xml", "metrics.prom")


def test_a_node_answering_nan_and_wrong_types_fails_alone(lab):
    """The liar's answer carries NaN, infinity and wrong types: it alone is failed, naming a field; diagnose and
    remediate go on for every other node and write all five report files, before and after."""
    report_dir = lab["work"] / "poison"
    values = {"tlsfleet_hosts": "tlsfleet_lab", "tlsfleet_remediate_report_dir": str(report_dir)}
    out = playbook(lab, "remediate.yml", values, lie={"host": LIAR, "poison": True})
    assert out.returncode in (0, 2), out.stdout[-6000:]
    recap = labrun.recap(out.stdout)
    assert all(recap[host]["unreachable"] == 0 for host in HONEST), recap
    for stage in ("before", "after"):
        for name in REPORT_FILES:
            assert (report_dir / stage / name).stat().st_size > 0, (stage, name)
        report = json.loads((report_dir / stage / "report.json").read_text())
        nodes = {node["host"]: node for node in report["nodes"]}
        assert nodes[LIAR]["status"] == "failed", nodes[LIAR]
        # "after": the liar left the run when its plan was refused; the report says it failed earlier in the run.
        if stage == "before":
            assert "malformed node_audit result from %s" % LIAR in nodes[LIAR]["message"], nodes[LIAR]
        assert all(nodes[host]["status"] == "ok" for host in HONEST), {h: nodes[h]["status"] for h in HONEST}
        assert "NaN" not in (report_dir / stage / "metrics.prom").read_text()
    assert every_file(LIAR) == lab["before"]
