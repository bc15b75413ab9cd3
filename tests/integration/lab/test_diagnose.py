# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnose playbook against the lab's fleet scenario (root; run by ``make lab-diagnose``).

One ``labctl up`` of tests/lab/scenarios/fleet.yml, then:
- the unsliced run through ansible-runner (what AWX runs), with the external view from a vantage node: exit
  status, the five files, findings equal to the scenario's expect per node and hostname plus its fleet-level
  expect, the external view agreeing with the lab's oracle, and the set_stats artifact equal to report.json;
- two ``--limit`` slices merged by the merge_reports playbook equal the unsliced report;
- ansible-core 2.19 over paramiko_ssh finds the same;
- exit semantics (a healthy slice passes; fail severity ``never`` passes) and a wrong-typed role variable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

import report_expect  # noqa: E402
from audit_scenarios import ORACLE_TO_AUDIT, collections_path  # noqa: E402

LABCTL = ROOT / "tests" / "lab" / "labctl"
FLEET = ROOT / "tests" / "lab" / "scenarios" / "fleet.yml"
INVENTORY = "/var/lib/tlsfleet-lab/inventory.yml"
PROJECT = HERE / "project"
VANTAGE = "eu-web-1"  # healthy; its resolver is the lab's DNS, which hands out every node serving a name
VENV_MAIN = ROOT / ".venv" / "ansible-2.21"
VENV_OLD = ROOT / ".venv" / "ansible-2.19"
FIVE = ("report.json", "report.html", "report.md", "junit.xml", "metrics.prom")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def env_for(venv: Path, collections: str) -> dict:
    env = dict(os.environ)
    env.update(
        PATH="%s:%s" % (venv / "bin", os.environ.get("PATH", "")),
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_PARAMIKO_HOST_KEY_CHECKING="False",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_FORKS="20",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_SSH_ARGS="-o ControlMaster=no",
    )
    return env


def playbook(venv: Path, collections: str, name: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    argv = [str(venv / "bin" / "ansible-playbook"), "-i", INVENTORY, str(PROJECT / name), *args]
    return subprocess.run(
        argv, capture_output=True, text=True, env=env_for(venv, collections), timeout=600, check=False, cwd=cwd
    )


def load(directory) -> dict:
    return json.loads((Path(directory) / "report.json").read_text(encoding="utf-8"))


def normalized(report: dict) -> dict:
    """What must not differ between two runs over the same fleet: no times, no timings, no log excerpts."""
    return {
        "summary": report["summary"],
        "nodes": [
            {
                "host": node["host"],
                "region": node["region"],
                "status": node["status"],
                "addresses": node["addresses"],
                "servers": node["servers"],
                "hostnames": [
                    (e["hostname"], e["site"], e["server"], e["leaf_sha256"], e["chain_sha256"], e["staple_state"])
                    for e in node["hostnames"]
                ],
                "findings": node["findings"],
                "failing": node["failing"],
            }
            for node in report["nodes"]
        ],
        "findings": sorted(
            (f["host"] or "", f["hostname"] or "", f["code"], f["severity"], f["server"] or "", f["site"] or "")
            for f in report["findings"]
        ),
        "external": [
            (entry["hostname"], item["address"], item["node"], item["staple_state"], item["broken"])
            for entry in (report.get("external") or {}).get("hostnames", [])
            for item in entry["addresses"]
        ],
    }


@pytest.fixture(scope="module")
def lab():
    up = subprocess.run([str(LABCTL), "up", str(FLEET)], capture_output=True, text=True, timeout=300, check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    collections = collections_path(VENV_MAIN)
    out = subprocess.run(
        [str(VENV_MAIN / "bin" / "ansible-inventory"), "-i", INVENTORY, "--list"],
        capture_output=True,
        text=True,
        env=env_for(VENV_MAIN, collections),
        check=True,
    )
    inventory = json.loads(out.stdout)
    work = Path(tempfile.mkdtemp(prefix="tlsfleet-diagnose-"))
    yield {
        "hostvars": inventory["_meta"]["hostvars"],
        "expect_fleet": inventory["_meta"]["hostvars"][VANTAGE].get("tlsfleet_lab_expect_fleet") or [],
        "collections": collections,
        "work": work,
    }
    subprocess.run([str(LABCTL), "down"], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def runner_run(lab):
    """The unsliced run, through ansible-runner's Python API as AWX drives it."""
    ansible_runner = pytest.importorskip("ansible_runner")
    os.environ["PATH"] = "%s:%s" % (VENV_MAIN / "bin", os.environ.get("PATH", ""))
    report_dir = lab["work"] / "unsliced"
    private = lab["work"] / "runner"
    (private / "project").mkdir(parents=True)
    for name in ("site.yml", "merge.yml"):
        (private / "project" / name).write_text((PROJECT / name).read_text())
    env = env_for(VENV_MAIN, lab["collections"])
    run = ansible_runner.run(
        private_data_dir=str(private),
        playbook="site.yml",
        inventory=INVENTORY,
        ident="diagnose",
        quiet=True,
        limit="tlsfleet_lab",
        envvars={key: env[key] for key in env if key.startswith("ANSIBLE_")},
        extravars={
            "tlsfleet_report_dir": str(report_dir),
            "tlsfleet_external_check": True,
            "tlsfleet_external_vantage": VANTAGE,
        },
    )
    events = list(run.events)
    return {"run": run, "events": events, "report_dir": report_dir, "artifacts": Path(run.config.artifact_dir)}


def test_runner_run_fails_after_writing_all_five_files(runner_run):
    run = runner_run["run"]
    assert run.status == "failed" and run.rc == 2, (run.status, run.rc)
    for name in FIVE:
        assert (runner_run["report_dir"] / name).stat().st_size > 0, name
    # The failing hosts are the ones the recap reports failed; the report was written before they failed.
    stats = next(e for e in runner_run["events"] if e["event"] == "playbook_on_stats")["event_data"]
    report = load(runner_run["report_dir"])
    assert sorted(stats["failures"]) == report["summary"]["failing_hosts"]
    assert not stats.get("dark"), stats.get("dark")


def test_set_stats_artifact_matches_report_json(runner_run):
    from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as fleet

    stats = next(e for e in runner_run["events"] if e["event"] == "playbook_on_stats")["event_data"]
    artifact = stats["artifact_data"]["tlsfleet_stapling"]
    report = load(runner_run["report_dir"])
    assert artifact == json.loads(json.dumps(fleet.set_stats_summary(report)))
    assert artifact["worst_severity"] == "critical"  # the revoked promo certificate
    assert (runner_run["artifacts"] / "status").read_text() == "failed"


def test_findings_equal_the_scenario_expect(lab, runner_run):
    report = load(runner_run["report_dir"])
    problems = report_expect.compare(report, lab["hostvars"])
    assert not problems, "\n".join(problems)
    assert report["summary"]["nodes"] == len([d for d in lab["hostvars"].values() if "tlsfleet_lab_expect" in d])
    assert {node["region"] for node in report["nodes"]} == {"eu", "us", "ap"}
    assert [f["code"] for f in report["findings"] if f["host"] is None] == ["node_drift", "node_drift"]


def test_report_expect_check_can_fail(lab, runner_run):
    report = load(runner_run["report_dir"])
    report["findings"] = [f for f in report["findings"] if f["code"] != "cert_revoked"]
    assert any("us-web-1 promo.shop.test" in line for line in report_expect.compare(report, lab["hostvars"]))


def test_external_view_agrees_with_the_oracle(lab, runner_run):
    report = load(runner_run["report_dir"])
    view = report["external"]
    assert view["vantage"] == VANTAGE
    addresses = {data["ansible_host"]: host for host, data in lab["hostvars"].items()}
    checked = 0
    for entry in view["hostnames"]:
        assert entry["resolve_error"] is None, entry
        for item in entry["addresses"]:
            host = addresses.get(item["address"])
            assert item["node"] == host, item
            oracle = lab["hostvars"][host].get("tlsfleet_lab_staple") or {}
            states = [state for key, state in oracle.items() if key.endswith(":443:" + entry["hostname"])]
            if len(states) != 1:
                continue
            assert item["staple_state"] == ORACLE_TO_AUDIT.get(states[0], states[0]), (entry["hostname"], item)
            checked += 1
        broken = {item["node"] for item in entry["addresses"] if item["broken"]}
        assert set(entry["broken_nodes"]) == broken
    assert checked >= 20
    www = {entry["hostname"]: entry for entry in view["hostnames"]}["www.shop.test"]
    # eu-web-2 cannot reach the responder: DNS hands it out for www.shop.test with no staple.
    assert "eu-web-2" in www["broken_nodes"] and VANTAGE not in www["broken_nodes"]
    assert "eu-web-2" in report["summary"]["external_broken_nodes"]


def test_merged_slices_equal_the_unsliced_report(lab, runner_run):
    slices = []
    for index, limit in enumerate(("eu,us", "ap")):
        directory = lab["work"] / ("slice%d" % index)
        # As in an AWX sliced job, every slice runs with the same variables: each probes its own hostnames.
        args = ["--limit", limit, "-e", "tlsfleet_report_dir=%s" % directory]
        args += ["-e", "tlsfleet_external_check=true", "-e", "tlsfleet_external_vantage=%s" % VANTAGE]
        out = playbook(VENV_MAIN, lab["collections"], "site.yml", *args)
        assert out.returncode == 2, out.stdout[-3000:]
        slices.append(directory / "report.json")
    # Leaf drift (ap-web-3 serves the previous certificate) shows only once the slices meet.
    kinds = {f["details"]["kind"] for f in load(lab["work"] / "slice0")["findings"] if f["code"] == "node_drift"}
    assert "leaf" not in kinds
    merged = lab["work"] / "merged"
    out = playbook(
        VENV_MAIN,
        lab["collections"],
        "merge.yml",
        "-e",
        json.dumps({"tlsfleet_report_merge": [str(path) for path in slices], "tlsfleet_report_dir": str(merged)}),
    )
    assert out.returncode == 2, out.stdout[-3000:]  # the merged fleet has error findings, like the whole
    # ... and it fails on them, naming each failing host with its reasons (not on its own arguments).
    assert "unable to convert" not in out.stdout and "eu-web-2: " in out.stdout, out.stdout[-3000:]
    assert normalized(load(merged)) == normalized(load(runner_run["report_dir"]))
    drift = [f for f in load(merged)["findings"] if f["code"] == "node_drift"]
    assert drift and all(f["details"]["kind"] == "leaf" and f["details"]["outliers"] == ["ap-web-3"] for f in drift)


def test_ansible_core_2_19_over_paramiko_finds_the_same(lab, runner_run):
    collections = collections_path(VENV_OLD)
    directory = lab["work"] / "old"
    out = playbook(
        VENV_OLD,
        collections,
        "site.yml",
        "-c",
        "paramiko_ssh",
        "--limit",
        "tlsfleet_lab",
        "-e",
        "tlsfleet_report_dir=%s" % directory,
    )
    assert out.returncode == 2, out.stdout[-3000:]
    old, new = normalized(load(directory)), normalized(load(runner_run["report_dir"]))
    assert old["findings"] == new["findings"] and old["summary"]["by_code"] == new["summary"]["by_code"]


def test_healthy_slice_passes_and_never_passes_everything(lab):
    # The default report directory is ./stapling-report, relative to where ansible-playbook runs.
    out = playbook(VENV_MAIN, lab["collections"], "site.yml", "--limit", "eu-web-1,eu-lb-1", cwd=lab["work"])
    assert out.returncode == 0, out.stdout[-3000:]
    assert load(lab["work"] / "stapling-report")["summary"]["failing_hosts"] == []
    out = playbook(
        VENV_MAIN,
        lab["collections"],
        "site.yml",
        "--limit",
        "us",
        "-e",
        "tlsfleet_report_dir=%s" % (lab["work"] / "never"),
        "-e",
        "tlsfleet_fail_severity=never",
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert load(lab["work"] / "never")["summary"]["findings"] > 0


def test_wrong_typed_role_variable_is_refused_before_any_audit(lab):
    out = playbook(
        VENV_MAIN,
        lab["collections"],
        "site.yml",
        "--limit",
        VANTAGE,
        "-e",
        "tlsfleet_audit_handshake_timeout=soon",
        "-e",
        "tlsfleet_report_dir=%s" % (lab["work"] / "refused"),
    )
    assert out.returncode != 0
    # refused on the controller by node_audit's action, for this host, with one sentence naming the variable the user
    # set; nothing was sent to the node, and the report says why the host was not audited
    refusal = "tlsfleet_audit_handshake_timeout must be a number of seconds, not 'soon'. Nothing was sent to the node."
    assert refusal in out.stdout, out.stdout[-2000:]
    (node,) = json.loads((lab["work"] / "refused" / "report.json").read_text())["nodes"]
    assert (node["host"], node["status"], node["message"]) == (VANTAGE, "failed", refusal)


def test_blank_numeric_survey_answers_mean_the_modules_defaults(lab):
    """AWX passes "" for an integer or float survey field left empty: the audit runs with node_audit's defaults."""
    out = playbook(
        VENV_MAIN,
        lab["collections"],
        "site.yml",
        "--limit",
        VANTAGE,
        "-e",
        '{"tlsfleet_audit_cert_warning_days": "", "tlsfleet_audit_handshake_timeout": "", '
        '"tlsfleet_audit_responder_timeout": " ", "tlsfleet_audit_staple_warning_seconds": ""}',
        "-e",
        "tlsfleet_fail_severity=never",
        "-e",
        "tlsfleet_report_dir=%s" % (lab["work"] / "blank"),
    )
    assert out.returncode == 0, out.stdout[-3000:]
    report = load(lab["work"] / "blank")
    assert [node["status"] for node in report["nodes"]] == ["ok"], report["nodes"]
