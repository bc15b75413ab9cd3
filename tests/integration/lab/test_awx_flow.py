# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as AWX runs it, against the lab fleet (root; run by ``make lab-awx``).

The tarball is built from the checkout and installed into a fresh collections directory; an AWX-style project
(one line per playbook importing the collection's) runs through ansible-runner, whose working directory is the
project directory, with relative paths and survey-style extra vars (every value a string, as surveys send them):

- diagnose writes its report under the project directory;
- remediate with ``tlsfleet_report_dir`` and ``tlsfleet_fail_severity=info`` works on every finding (the first
  diagnosis fails no host), and writes ``before/`` and ``after/`` under that directory;
- merge_reports merges a newline-separated list (a survey textarea) into a relative directory, and refuses to
  run without input;
- rollout in check mode with the default report directory writes ``rollout-summary.json`` under the project
  directory and publishes the ``tlsfleet_rollout`` artifact naming that file;
- nothing is ever written inside the installed collection.

The rollout certificate carries ``hosts: [all]``, the per-entry scope the certificate inputs take.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import labrun  # noqa: E402

FLEET = labrun.ROOT / "tests" / "lab" / "scenarios" / "fleet.yml"
FIVE = ("report.json", "report.html", "report.md", "junit.xml", "metrics.prom")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def snapshot(directory: Path) -> dict:
    return {str(path.relative_to(directory)): path.stat().st_mtime_ns for path in directory.rglob("*")}


@pytest.fixture(scope="module", autouse=True)
def no_source_collection():
    """make runs pytest with PYTHONPATH at the checkout's ansible_collections; Ansible would take the collection
    from there. Jobs and tools must see only the installed one, as in an execution environment."""
    saved = os.environ.pop("PYTHONPATH", None)
    yield
    if saved is not None:
        os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def work():
    """Own scratch directory (not pytest's shared numbered ones, which concurrent pytest runs prune)."""
    directory = Path(tempfile.mkdtemp(prefix="tlsfleet-awx-"))
    yield directory
    for path in [directory, *directory.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(work):
    galaxy = str(labrun.VENV / "bin" / "ansible-galaxy")
    source = subprocess.check_output([str(labrun.ROOT / "tools" / "sync-collection"), str(work / "src")], text=True)
    out = labrun.run([galaxy, "collection", "build", "--force", "--output-path", work / "dist", source.strip()])
    assert out.returncode == 0, out.stderr
    (tarball,) = (work / "dist").glob("tlsfleet-stapling-*.tar.gz")
    collections = work / "collections"
    out = labrun.run([galaxy, "collection", "install", "--offline", "--force", "-p", collections, tarball])
    assert out.returncode == 0, out.stderr
    assert (collections / "ansible_collections/tlsfleet/stapling/MANIFEST.json").is_file(), out.stdout
    # read-only as in an execution environment image (root ignores the bits; the snapshot below is the check)
    for path in [collections, *collections.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return collections


@pytest.fixture(scope="module")
def awx(installed, work):
    ansible_runner = pytest.importorskip("ansible_runner")
    up = labrun.labctl("up", FLEET, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    private = work / "job"
    project = private / "project"
    project.mkdir(parents=True)
    for name in ("site.yml", "remediate.yml", "merge.yml", "rollout.yml"):
        (project / name).write_text((labrun.PROJECT / name).read_text())
    os.environ["PATH"] = "%s:%s" % (labrun.VENV / "bin", os.environ.get("PATH", ""))
    environ = labrun.env(str(installed))
    before = snapshot(installed)

    def job(ident, playbook, extravars, cmdline=None, limit="tlsfleet_lab"):
        # ansible-runner merges into env/extravars left by an earlier run of the same private data dir; an AWX
        # job starts from a fresh one, so each job here does too
        shutil.rmtree(private / "env", ignore_errors=True)
        run = ansible_runner.run(
            private_data_dir=str(private),
            playbook=playbook,
            inventory=labrun.INVENTORY,
            ident=ident,
            quiet=True,
            limit=limit,
            cmdline=cmdline,
            envvars={key: environ[key] for key in environ if key.startswith("ANSIBLE_")},
            extravars=extravars,
        )
        events = list(run.events)
        stats = next(e for e in events if e["event"] == "playbook_on_stats")["event_data"]
        text = "".join(e.get("stdout", "") + "\n" for e in events)
        return {"run": run, "events": events, "stats": stats, "stdout": text}

    yield {"job": job, "project": project, "installed": installed}
    labrun.labctl("down", timeout=300)
    assert snapshot(installed) == before, "a job wrote inside the installed collection"


def test_diagnose_report_lands_in_the_project_directory(awx):
    result = awx["job"](
        "diagnose", "site.yml", {"tlsfleet_report_dir": "reports/diagnose", "tlsfleet_external_check": "false"}
    )
    assert result["run"].rc == 2, result["stdout"][-3000:]  # the fleet scenario has findings at error and above
    for name in FIVE:
        assert (awx["project"] / "reports/diagnose" / name).stat().st_size > 0
    assert f"report in {awx['project']}/reports/diagnose" in result["stdout"]
    artifact = result["stats"]["artifact_data"]["tlsfleet_stapling"]
    assert artifact["fail_threshold"] == "error"


def test_remediate_before_after_under_the_report_dir_and_severity_on_the_verdict(awx):
    values = {
        "tlsfleet_report_dir": "reports/remediate",
        "tlsfleet_fail_severity": "info",
        "tlsfleet_cert_fetch_issuers": "false",
        "tlsfleet_hosts": "tlsfleet_lab",
    }
    result = awx["job"]("remediate", "remediate.yml", values)
    base = awx["project"] / "reports/remediate"
    before = json.loads((base / "before/report.json").read_text())
    after = json.loads((base / "after/report.json").read_text())
    assert before["generated_at"] <= after["generated_at"]
    assert before["summary"]["fail_threshold"] == "never"
    assert after["summary"]["fail_threshold"] == "info"
    assert not (base / "report.json").exists()
    # the first diagnosis failed no host: every node with a finding reached the fix play
    fixing = {
        e["event_data"]["host"]
        for e in result["events"]
        if e["event"] == "runner_on_ok" and e["event_data"].get("task") == "Plan the changes from the findings"
    }
    with_findings = {node["host"] for node in before["nodes"] if node["findings"]}
    assert with_findings and with_findings <= fixing
    # severity info on the verdict: anything left at info or above fails the job
    assert result["run"].rc == (2 if after["summary"]["failing_hosts"] else 0)


def test_merge_reports_takes_a_textarea_and_requires_input(awx):
    # merge_reports runs on localhost: its job template has no limit
    refused = awx["job"]("merge-empty", "merge.yml", {"tlsfleet_report_dir": "reports/merged-empty"}, limit=None)
    assert refused["run"].rc == 2
    assert "tlsfleet_report_merge is empty" in refused["stdout"]
    assert not (awx["project"] / "reports/merged-empty").exists()
    # two slices as a sliced job template writes them (the same threshold), merged from a survey textarea
    for name, limit in (("eu", "tlsfleet_lab:&eu-*"), ("rest", "tlsfleet_lab:!eu-*")):
        values = {"tlsfleet_report_dir": f"reports/slices/{name}", "tlsfleet_fail_severity": "never"}
        sliced = awx["job"](f"slice-{name}", "site.yml", values, limit=limit)
        assert sliced["run"].rc == 0, sliced["stdout"][-3000:]
    textarea = "reports/slices/eu/report.json\nreports/slices/rest/report.json\n"
    values = {"tlsfleet_report_merge": textarea, "tlsfleet_report_dir": "reports/merged"}
    values["tlsfleet_fail_severity"] = "never"
    merged = awx["job"]("merge", "merge.yml", values, limit=None)
    assert merged["run"].rc == 0, merged["stdout"][-3000:]
    report = json.loads((awx["project"] / "reports/merged/report.json").read_text())
    diagnose = json.loads((awx["project"] / "reports/diagnose/report.json").read_text())
    assert sorted(node["host"] for node in report["nodes"]) == sorted(node["host"] for node in diagnose["nodes"])


def test_rollout_summary_under_the_project_directory(awx):
    out = labrun.labctl("renew", "www")
    assert out.returncode == 0, out.stderr
    cert = json.loads(out.stdout)
    values = {
        "tlsfleet_hosts": "tlsfleet_lab",
        "tlsfleet_rollout_certificate": {
            "certificate": cert["certificate"],
            "key": cert["key"],
            "chain": cert["chain"],
            "hosts": ["all"],
        },
    }
    result = awx["job"]("rollout", "rollout.yml", values, cmdline="--check")
    summary = awx["project"] / "stapling-report" / "rollout-summary.json"
    at = result["stdout"].find("Resolve where the rollout summary goes")
    assert summary.is_file(), result["stdout"][at : at + 4000] if at >= 0 else result["stdout"][-3000:]
    assert json.loads(summary.read_text())["nodes"]
    artifact = result["stats"]["artifact_data"]["tlsfleet_rollout"]
    assert artifact["summary_file"] == str(summary)
    assert f"details in {summary}" in result["stdout"]
    assert not list(awx["installed"].rglob("rollout-summary.json"))
