# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbooks run the way users run them: the collection installed from its tarball, ansible-playbook started
in a scratch project directory, relative paths and survey-style string extra vars.

The managed node is the controller itself (connection local) with no TLS server audited, so each run takes a
few seconds; what is checked is the contract of the playbooks: where every file lands (under the directory the
run starts in, never inside the installed collection), that ``-e tlsfleet_report_dir`` and
``-e tlsfleet_fail_severity`` mean what the docs say in remediate, and that merge_reports refuses a missing input
and accepts a list, a comma- or newline-separated string and a glob.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# node_audit's options a blank survey answer leaves at their default, by their variable (see
# plugins/action/node_audit.py, read_options)
SURVEY_AUDIT_VARIABLES = (
    "tlsfleet_audit_handshake_timeout",
    "tlsfleet_audit_responder_timeout",
    "tlsfleet_audit_staple_warning_seconds",
    "tlsfleet_audit_cert_warning_days",
    "tlsfleet_audit_crl_max_bytes",
    "tlsfleet_audit_crl_check",
    "tlsfleet_audit_use_proxy",
    "tlsfleet_audit_evidence",
    "tlsfleet_audit_trust_anchor_paths",
    "tlsfleet_audit_extra_endpoints",
)
BIN = Path(sys.executable).parent


def tool(name):
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed next to this Python")
    return found


def snapshot(directory: Path):
    return {str(path.relative_to(directory)): path.stat().st_mtime_ns for path in directory.rglob("*")}


def clean_env():
    """The environment without PYTHONPATH (see play()), for ansible-galaxy too."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection built from the checkout and installed into an empty collections path."""
    work = tmp_path_factory.mktemp("installed")
    source = Path(subprocess.check_output([str(ROOT / "tools/sync-collection"), str(work / "src")], text=True).strip())
    subprocess.run(
        [tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
        env=clean_env(),
    )
    (tarball,) = (work / "dist").glob("tlsfleet-stapling-*.tar.gz")
    collections = work / "collections"
    subprocess.run(
        [tool("ansible-galaxy"), "collection", "install", "--offline", "--force", "-p", str(collections), str(tarball)],
        check=True,
        capture_output=True,
        timeout=300,
        env=clean_env(),
    )
    assert (collections / "ansible_collections/tlsfleet/stapling/MANIFEST.json").is_file()
    return collections


@pytest.fixture
def project(tmp_path, installed):
    """A scratch project directory with a one-node inventory, like an AWX project checkout."""
    (tmp_path / "inventory").write_text(f"node1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    before = snapshot(installed)
    yield tmp_path
    assert snapshot(installed) == before, "a run wrote inside the installed collection"


def play(project, installed, playbook, *extra, inventory="inventory"):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.pop("ANSIBLE_CONFIG", None)
    # make sets PYTHONPATH to the checkout's ansible_collections: Ansible would load the collection from there
    env.pop("PYTHONPATH", None)
    argv = [tool("ansible-playbook"), "-i", inventory, f"tlsfleet.stapling.{playbook}"]
    # no TLS server audited: the node is this machine, only the playbooks' contracts are under test; no become:
    # run by a user other than root, the plays' default become would need sudo here
    argv += ["-e", json.dumps({"tlsfleet_audit_servers": [], "tlsfleet_become": False}), *extra]
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_remediate_report_dir_is_the_base_and_fail_severity_the_final_verdict(project, installed):
    # a blank external-check answer (a survey left empty) means no external probe, in remediate as in diagnose
    run = play(
        project,
        installed,
        "remediate",
        "-e",
        "tlsfleet_report_dir=out",
        "-e",
        "tlsfleet_fail_severity=info",
        "-e",
        json.dumps({"tlsfleet_external_check": ""}),
    )
    # localhost serves no TLS site: a no_tls_site warning, which fails the final verdict at "info" - and only it
    assert run.returncode == 2, run.stdout[-3000:]
    assert run.stdout.count("Action failed: warning no_tls_site") == 1, run.stdout[-3000:]
    before = json.loads((project / "out/before/report.json").read_text())
    after = json.loads((project / "out/after/report.json").read_text())
    assert [node["host"] for node in before["nodes"]] == [node["host"] for node in after["nodes"]] == ["node1"]
    assert not (project / "out/report.json").exists()
    assert f"report in {project}/out/before" in run.stdout
    assert f"report in {project}/out/after" in run.stdout
    # the first diagnosis never fails a host (everything it finds is worked on); the extra var is the final verdict
    assert "Fail hosts with findings at or above never" in run.stdout
    assert "Fail hosts with findings at or above info" in run.stdout
    assert not (project / "stapling-report").exists()


def test_diagnose_default_report_dir_is_under_the_start_directory_and_blank_survey_answers_are_defaults(
    project, installed
):
    """A survey that leaves node_audit's fields and the external-check switch blank: AWX passes "" for each, and
    diagnose runs on the defaults (no external probe, node_audit's own option defaults)."""
    blank = {name: "" for name in (*SURVEY_AUDIT_VARIABLES, "tlsfleet_external_check")}
    run = play(project, installed, "diagnose", "-e", json.dumps(blank))
    assert run.returncode == 0, run.stdout[-3000:]
    report = json.loads((project / "stapling-report/report.json").read_text())
    assert [(node["host"], node["status"]) for node in report["nodes"]] == [("node1", "ok")]
    assert not report.get("external")


def test_merge_reports_requires_its_input(project, installed):
    run = play(project, installed, "merge_reports")
    assert run.returncode != 0
    assert "tlsfleet_report_merge is empty" in run.stdout
    assert not (project / "stapling-report").exists()
    run = play(project, installed, "merge_reports", "-e", "tlsfleet_report_merge=slices/*/report.json")
    assert run.returncode != 0
    assert "not found: slices/*/report.json (no file matches)" in run.stdout


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(json.dumps({"tlsfleet_report_merge": ["slices/a/report.json", "slices/b"]}), id="list"),
        pytest.param(json.dumps({"tlsfleet_report_merge": "slices/a/report.json,\nslices/b/report.json\n"}), id="text"),
        pytest.param("tlsfleet_report_merge=slices/*/report.json", id="glob"),
    ],
)
def test_merge_reports_accepts_list_text_and_glob(project, installed, given):
    for node in ("a", "b"):
        (project / f"inv-{node}").write_text(
            f"node-{node} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        )
        run = play(project, installed, "diagnose", "-e", f"tlsfleet_report_dir=slices/{node}", inventory=f"inv-{node}")
        assert run.returncode == 0, run.stdout[-3000:]
    run = play(project, installed, "merge_reports", "-e", given, "-e", "tlsfleet_report_dir=merged")
    assert run.returncode == 0, run.stdout[-3000:]
    merged = json.loads((project / "merged/report.json").read_text())
    assert sorted(node["host"] for node in merged["nodes"]) == ["node-a", "node-b"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A certbot-like live directory (cert.pem, chain.pem, fullchain.pem, privkey.pem) and a key of another
    certificate, as a renewal pipeline hands them over."""
    from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki

    pki = Pki()
    _root, (intermediate,), leaf = pki.chain(dns=["shop.test"])
    other = pki.leaf(intermediate, cn="other.test")
    directory = tmp_path_factory.mktemp("letsencrypt") / "live/shop.test"
    directory.mkdir(parents=True)
    (directory / "cert.pem").write_bytes(leaf.pem)
    (directory / "chain.pem").write_bytes(intermediate.pem)
    (directory / "fullchain.pem").write_bytes(leaf.pem + intermediate.pem)
    (directory / "privkey.pem").write_bytes(leaf.key_pem())
    (directory.parent / "other-key.pem").write_bytes(other.key_pem())
    return directory


def test_remediate_checks_the_certificates_before_any_node_is_audited(project, installed, live):
    certificates = [
        {"name": "shop", "lineage": str(live), "hosts": ["node1"]},
        {"name": "api", "certificate": str(live / "cert.pem"), "key": str(live.parent / "other-key.pem")},
        {"name": "www", "lineage": str(live), "certificate": str(live / "cert.pem"), "hosts": ["node1"]},
        {"name": "gone", "certificate": "gone/cert.pem", "key": "gone/privkey.pem", "hosts": ["node1"]},
    ]
    run = play(
        project,
        installed,
        "remediate",
        "-e",
        json.dumps({"tlsfleet_certificates": certificates}),
        "-e",
        "tlsfleet_cert_fetch_issuers=perhaps",
        "-e",
        json.dumps({"tlsfleet_changes": [], "tlsfleet_tls_reload_verify": []}),
    )
    assert run.returncode == 2, run.stdout[-3000:]
    out = run.stdout
    assert (
        f"tlsfleet_certificates[1] (api): key {live.parent}/other-key.pem does not match certificate {live}/cert.pem"
        in out
    )
    assert "tlsfleet_certificates[2] (www) gives both lineage and certificate: give either lineage" in out
    assert f"tlsfleet_certificates[3] (gone): certificate {project}/gone/cert.pem does not exist" in out
    assert "tlsfleet_cert_fetch_issuers must be true or false (or yes/no, on/off, 1/0), not 'perhaps'" in out
    assert "tlsfleet_certificates[0]" not in out  # the lineage entry is good
    # the playbook's own state and the names it passes its roles: an extra var would replace them
    for name in ("tlsfleet_changes", "tlsfleet_tls_reload_verify"):
        assert f"{name} is set, but the playbooks keep their own state under that name" in out
    assert "PRIVATE KEY" not in out + run.stderr
    # nothing was audited, nothing written
    assert "node_audit" not in out and "Audit certificates" not in out
    assert not (project / "stapling-report").exists()


def test_remediate_takes_a_lineage_and_survey_strings(project, installed, live):
    run = play(
        project,
        installed,
        "remediate",
        "-e",
        json.dumps({"tlsfleet_certificates": [{"name": "shop", "lineage": str(live), "hosts": ["node1"]}]}),
        "-e",
        "tlsfleet_cert_fetch_issuers=false tlsfleet_fail_severity=error tlsfleet_nginx_resolver=9.9.9.9,1.1.1.1",
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"inputs checked: 1 certificate(s); shop: {live}/cert.pem (sha256 " in run.stdout
    assert (project / "stapling-report/after/report.json").is_file()


def test_rollout_refuses_a_missing_or_wrong_certificate_before_any_node_is_audited(project, installed, live):
    run = play(project, installed, "rollout")
    assert run.returncode == 2, run.stdout[-3000:]
    assert "tlsfleet_rollout_certificate is not set: give certificate and key" in run.stdout
    wrong = {"lineage": str(live), "key": str(live.parent / "other-key.pem"), "hosts": ["node1"]}
    run = play(project, installed, "rollout", "-e", json.dumps({"tlsfleet_rollout_certificate": wrong}))
    assert run.returncode == 2, run.stdout[-3000:]
    assert "tlsfleet_rollout_certificate gives both lineage and key" in run.stdout
    moved = {"certificate": str(live / "cert.pem"), "key": str(live.parent / "other-key.pem"), "hosts": ["node1"]}
    run = play(
        project,
        installed,
        "rollout",
        "-e",
        json.dumps({"tlsfleet_rollout_certificate": moved, "tlsfleet_rollout_canary": "node9"}),
    )
    assert run.returncode == 2, run.stdout[-3000:]
    assert (
        f"tlsfleet_rollout_certificate: key {live.parent}/other-key.pem does not match certificate {live}/cert.pem"
        in run.stdout
    )
    assert "tlsfleet_rollout_canary node9 is not a host of the inventory" in run.stdout
    assert "Audit the node" not in run.stdout and "PRIVATE KEY" not in run.stdout
    assert not (project / "stapling-report").exists()


def test_rollout_takes_a_lineage(project, installed, live):
    certificate = {"name": "shop", "lineage": str(live), "hosts": ["node1"]}
    run = play(project, installed, "rollout", "-e", json.dumps({"tlsfleet_rollout_certificate": certificate}))
    # localhost serves no site the certificate covers: nothing to deploy, the summary says so
    assert run.returncode == 0, run.stdout[-3000:]
    # the gate ran first: its report holds the node, judged, with no site to judge
    gate = json.loads((project / "stapling-report/preflight/report.json").read_text())["preflight"]
    assert gate["summary"]["nodes_without_sites"] == ["node1"] and gate["candidate"]["name"] == "shop"
    summary = json.loads((project / "stapling-report/rollout-summary.json").read_text())
    assert summary["nodes"]["node1"]["sites"] == {}
    assert summary["certificate_sha256"]


def test_cert_deploy_standalone_takes_the_one_certificate_shape(project, installed, live, tmp_path_factory):
    """The role on its own: a lineage (its chain.pem), and certificate + the deprecated private_key with no chain,
    combined or site given - optional for real (the issuer comes from tlsfleet_intermediates)."""
    node = tmp_path_factory.mktemp("node")
    deployments = [
        {"lineage": str(live), "fullchain_dest": f"{node}/shop.pem", "key_dest": f"{node}/shop.key"},
        {
            "certificate": str(live / "cert.pem"),
            "private_key": str(live / "privkey.pem"),
            "fullchain_dest": f"{node}/bare.pem",
            "key_dest": f"{node}/bare.key",
        },
    ]
    (project / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  roles:\n    - role: tlsfleet.stapling.cert_deploy\n"
    )
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1")
    env.pop("PYTHONPATH", None)
    extra = {
        "tlsfleet_cert_deployments": deployments,
        "tlsfleet_intermediates": [(live / "chain.pem").read_text()],
        "tlsfleet_reload_handler": False,
        "tlsfleet_cert_fetch_issuers": False,
        "tlsfleet_backup_dir": str(node / "backups"),
    }
    run = subprocess.run(
        [tool("ansible-playbook"), "-i", "inventory", "site.yml", "-e", json.dumps(extra)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    for name in ("shop", "bare"):
        assert (node / f"{name}.pem").read_bytes() == (live / "fullchain.pem").read_bytes()
        assert (node / f"{name}.key").read_bytes() == (live / "privkey.pem").read_bytes()
        assert (node / f"{name}.key").stat().st_mode & 0o777 == 0o600
    assert "private_key is the old name of key" in run.stdout + run.stderr
    assert "PRIVATE KEY" not in run.stdout + run.stderr


def _node_audit_args(tasks):
    """The arguments of the node_audit task in a list of tasks (blocks walked)."""
    for task in tasks:
        if "tlsfleet.stapling.node_audit" in task:
            return task["tlsfleet.stapling.node_audit"] or {}
        found = _node_audit_args(task.get("block", []))
        if found is not None:
            return found
    return None


def test_diagnose_fails_only_the_host_with_a_wrong_variable_and_reports_the_rest(project, installed):
    """The audit options are checked per host (inventory may set them per host): a wrong value on one host fails
    that host, named, and the others are still audited and reported. A variable of the whole run (the fail
    severity) counts as the play's first host has it."""
    (project / "inventory").write_text(
        (project / "inventory").read_text()
        + f"node2 ansible_connection=local ansible_python_interpreter={sys.executable} tlsfleet_fail_severity=fatal"
        + " tlsfleet_audit_evidence=huge tlsfleet_audit_handshake_timeout=soon\n"
    )
    run = play(project, installed, "diagnose", "-e", "tlsfleet_external_check=false")
    assert run.returncode == 2, run.stdout[-3000:]
    assert "tlsfleet_audit_evidence must be compact or full, not 'huge'" in run.stdout
    assert "tlsfleet_audit_handshake_timeout must be a number of seconds, not 'soon'" in run.stdout
    report = json.loads((project / "stapling-report/report.json").read_text())
    nodes = {node["host"]: node for node in report["nodes"]}
    assert nodes["node1"]["status"] == "ok"
    assert nodes["node2"]["status"] == "failed" and "not 'huge'. Nothing was sent" in nodes["node2"]["message"]
    assert report["summary"]["fail_threshold"] == "error"  # the default node1 has, the play's first host
    # a wrong value of the whole run stops it before any node is audited, naming the variable
    run = play(project, installed, "diagnose", "-e", "tlsfleet_fail_severity=sometimes")
    assert run.returncode == 2, run.stdout[-3000:]
    assert "tlsfleet.stapling.diagnose: value of tlsfleet_fail_severity must be one of: " in run.stdout
    assert "TASK [tlsfleet.stapling.diagnose : Audit certificates" not in run.stdout


def _names_no_audit_variable(args):
    """A node_audit task's arguments name no tlsfleet_audit_* variable (node_audit's action reads them, as in
    diagnose) and keep the compact evidence the plans read."""
    assert "tlsfleet_audit_" not in json.dumps(args), args
    assert args.get("evidence") == "compact", args


def _checks_no_audit_options_apart(tasks):
    """No task of its own checks the audit options per host: node_audit's action reads them (a blank survey answer
    means node_audit's default there as in diagnose)."""
    flat = []
    for task in tasks:
        flat.extend(task.get("block", [task]))
    assert not [t for t in flat if "tlsfleet.stapling.validate_inputs" in t and not t.get("run_once")]
    assert not [t for t in flat if "audit_options" in str(t.get("ansible.builtin.import_tasks", ""))]


def test_rollout_audits_with_the_same_options_as_diagnose():
    """A survey's tlsfleet_audit_* answers reach the rollout's audit as they reach diagnose's (evidence aside:
    the rollout plans from the compact default)."""
    import yaml

    role = yaml.safe_load((ROOT / "roles/diagnose/tasks/audit.yml").read_text())
    rollout = yaml.safe_load((ROOT / "playbooks/rollout.yml").read_text())
    assert not _node_audit_args(role)  # diagnose names none either
    (batch,) = [p["tasks"] for p in rollout if _node_audit_args(p.get("tasks", [])) is not None]
    _names_no_audit_variable(_node_audit_args(batch))
    _checks_no_audit_options_apart(batch)


def test_preflight_refuses_a_missing_or_wrong_candidate_before_any_node_is_audited(project, installed, live):
    run = play(project, installed, "preflight")
    assert run.returncode == 2, run.stdout[-3000:]
    assert "tlsfleet_preflight_certificate is not set: give certificate" in run.stdout
    pasted = {"certificate": (live / "cert.pem").read_text() + (live / "privkey.pem").read_text(), "hosts": "node1"}
    run = play(
        project,
        installed,
        "preflight",
        "-e",
        json.dumps({"tlsfleet_preflight_certificate": pasted}),
        "-e",
        "tlsfleet_preflight_at=tomorrow",
    )
    assert run.returncode == 2, run.stdout[-3000:]
    assert (
        "tlsfleet_preflight_certificate: the preflight certificate must hold certificate PEM blocks only" in run.stdout
    )
    assert (
        "tlsfleet_preflight_at must be an ISO 8601 time such as 2026-12-20T02:00:00Z (blank: now), not 'tomorrow'"
        in (run.stdout)
    )
    assert "PRIVATE KEY" not in run.stdout + run.stderr
    assert "Judge the candidate on the node" not in run.stdout
    assert not (project / "stapling-report").exists()
    # A candidate meant for no host of the run: said so, nothing sent.
    elsewhere = {"lineage": str(live), "hosts": ["web"]}
    run = play(project, installed, "preflight", "-e", json.dumps({"tlsfleet_preflight_certificate": elsewhere}))
    assert run.returncode == 2, run.stdout[-3000:]
    assert "None of the hosts of this run (node1) is named by the candidate's hosts: (web)" in run.stdout


def test_preflight_ignores_a_key_and_writes_its_report_under_the_start_directory(project, installed, live):
    # As an AWX survey passes it: the candidate as JSON text with hosts as one string, a blank planned time.
    candidate = json.dumps({"name": "shop", "lineage": str(live), "key": str(live / "privkey.pem"), "hosts": "node1"})
    run = play(
        project,
        installed,
        "preflight",
        "-e",
        json.dumps({"tlsfleet_preflight_certificate": candidate, "tlsfleet_preflight_at": " "}),
    )
    # localhost serves no site the candidate covers: nothing will break, exit 0
    assert run.returncode == 0, run.stdout[-3000:]
    assert "tlsfleet_preflight_certificate (shop): key is ignored" in run.stdout
    assert "0 site(s) on 1 node(s) - 0 ready, 0 ready after a change, 0 will break" in run.stdout
    report = json.loads((project / "stapling-report/preflight/report.json").read_text())
    section = report["preflight"]
    assert section["candidate"]["name"] == "shop" and section["at"] is None
    assert [(node["host"], node["status"], node["sites"]) for node in section["nodes"]] == [("node1", "judged", [])]
    assert section["summary"]["nodes_without_sites"] == ["node1"]
    assert "PRIVATE KEY" not in run.stdout + run.stderr + (project / "stapling-report/preflight/report.md").read_text()


def test_rollout_gate_can_be_skipped_only_knowingly(project, installed, live):
    certificate = {"name": "shop", "lineage": str(live), "hosts": ["node1"]}
    run = play(
        project,
        installed,
        "rollout",
        "-e",
        json.dumps({"tlsfleet_rollout_certificate": certificate, "tlsfleet_rollout_preflight_gate": "maybe"}),
    )
    assert run.returncode == 2, run.stdout[-3000:]
    assert "tlsfleet_rollout_preflight_gate must be true or false" in run.stdout
    run = play(
        project,
        installed,
        "rollout",
        "-e",
        json.dumps({"tlsfleet_rollout_certificate": certificate, "tlsfleet_rollout_preflight_gate": "false"}),
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Preflight of the certificate on every host of its hosts scope" in run.stdout  # shown as skipped
    assert not (project / "stapling-report/preflight").exists()
    assert (project / "stapling-report/rollout-summary.json").is_file()


def test_preflight_audits_with_the_same_options_as_diagnose():
    """The preflight (its playbook and the rollout's gate) audits with a survey's tlsfleet_audit_* answers too."""
    import yaml

    tasks = yaml.safe_load((ROOT / "playbooks/tasks/preflight.yml").read_text())
    args = dict(_node_audit_args(tasks))
    assert set(args.pop("preflight")) == {"certificate", "chain", "at"}
    _names_no_audit_variable(args)
    _checks_no_audit_options_apart(tasks)


def test_blank_numeric_survey_answers_mean_the_default_in_the_preflight_and_a_wrong_one_is_named(
    project, installed, live
):
    """AWX passes "" for an integer or float survey field left empty: the preflight judges the node as diagnose
    would (node_audit's defaults), and a wrong value is named before anything is sent."""
    candidate = {"name": "shop", "lineage": str(live), "hosts": "node1"}
    blank = {name: "" for name in SURVEY_AUDIT_VARIABLES}
    run = play(
        project, installed, "preflight", "-e", json.dumps({"tlsfleet_preflight_certificate": candidate, **blank})
    )
    assert run.returncode == 0, run.stdout[-3000:]
    section = json.loads((project / "stapling-report/preflight/report.json").read_text())["preflight"]
    assert [(node["host"], node["status"]) for node in section["nodes"]] == [("node1", "judged")]
    wrong = dict(blank, tlsfleet_audit_handshake_timeout="soon")
    run = play(
        project, installed, "preflight", "-e", json.dumps({"tlsfleet_preflight_certificate": candidate, **wrong})
    )
    assert run.returncode == 2, run.stdout[-3000:]
    refusal = "tlsfleet_audit_handshake_timeout must be a number of seconds, not 'soon'. Nothing was sent to the node."
    assert refusal in run.stdout
    section = json.loads((project / "stapling-report/preflight/report.json").read_text())["preflight"]
    assert [(node["host"], node["status"]) for node in section["nodes"]] == [("node1", "not_judged")]


def test_rollout_gate_stops_before_the_canary_when_a_node_was_not_judged(project, installed, live):
    """A node the preflight could not audit stops the rollout at the gate: its batch would fail after the canary
    had the certificate."""
    (project / "inventory").write_text(
        # its audit fails: no Python where the inventory says
        (project / "inventory").read_text() + "node2 ansible_connection=local ansible_python_interpreter=/nonexistent\n"
    )
    certificate = {"name": "shop", "lineage": str(live), "hosts": ["node1", "node2"]}
    run = play(project, installed, "rollout", "-e", json.dumps({"tlsfleet_rollout_certificate": certificate}))
    assert run.returncode == 2, run.stdout[-3000:]
    assert "Rollout stopped before the canary: the preflight says it could not judge node2" in run.stdout
    assert "tlsfleet_rollout_preflight_gate=false" in run.stdout
    assert not (project / "stapling-report/rollout-summary.json").exists()


def test_the_restore_acts_only_on_plausible_paths_a_node_reported(project, installed):
    """tls_reload's restore, from the installed collection: ``tlsfleet_changes`` holds what the node's module
    results said, data and not orders. The honest entries are restored and removed; another file named as a
    backup is neither stashed nor copied, a directory named as a created file is not emptied, and the run fails
    naming both."""
    node = project / "node"
    (node / "dir").mkdir(parents=True)
    (node / "dir" / "keep").write_text("kept\n")
    files = {"secret": "not a backup\n", "cert.pem": "new\n", "cert.pem.12.2026-11-27@14:00:00~": "old\n"}
    files.update({"site.conf": "changed\n", "made.pem": "created\n"})
    for name, text in files.items():
        (node / name).write_text(text)
    changes = [
        {"path": str(node / "cert.pem"), "backup": str(node / "cert.pem.12.2026-11-27@14:00:00~"), "created": False},
        {"path": str(node / "site.conf"), "backup": str(node / "secret"), "created": False},
        {"path": str(node / "made.pem"), "backup": None, "created": True},
        {"path": str(node / "dir"), "backup": None, "created": True},
    ]
    # Play variables (a vars file), as a playbook sets them: the stash's set_fact must be able to replace them, which
    # it cannot do to an extra variable.
    variables = {"tlsfleet_changes": changes, "tlsfleet_backup_dir": str(project / "backups")}
    variables.update({"tlsfleet_tls_reload_servers": [], "tlsfleet_tls_reload_verify": []})
    (project / "changes.json").write_text(json.dumps(variables))
    (project / "restore.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  vars_files: [changes.json]\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: tlsfleet.stapling.tls_reload\n        tasks_from: restore\n"
    )
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("PYTHONPATH", None)
    argv = [tool("ansible-playbook"), "-i", "inventory", "restore.yml"]
    run = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 2, run.stdout[-3000:]
    assert (node / "cert.pem").read_text() == "old\n"  # restored, from where the stash moved its backup
    assert (project / "backups" / str(node).lstrip("/") / "cert.pem.12.2026-11-27@14:00:00~").is_file()
    assert (node / "site.conf").read_text() == "changed\n" and (node / "secret").read_text() == "not a backup\n"
    assert not (node / "made.pem").exists() and (node / "dir" / "keep").read_text() == "kept\n"
    assert "Is a directory" in run.stdout
    refusal = "the backup '%s' of '%s' is not named as a backup" % (node / "secret", node / "site.conf")
    assert "Not restored (what the node reported is refused): " + refusal in run.stdout, run.stdout[-3000:]


# Run a kept AnsiballZ payload as Ansible runs it (the wrapper is the script) and count how often Python compiles each
# file of the payload's zip.
COUNT_COMPILES = r"""
import builtins, collections, json, runpy, sys
counts = collections.Counter()
real_compile = builtins.compile
def counting(source, filename, *args, **kwargs):
    if isinstance(filename, str) and ".zip/" in filename:
        counts[filename.split(".zip/", 1)[1]] += 1
    return real_compile(source, filename, *args, **kwargs)
builtins.compile = counting
path = sys.argv[1]
sys.argv = [path]
try:
    runpy.run_path(path, run_name="__main__")
except SystemExit:
    pass
finally:
    sys.stdout.flush()
    sys.stderr.write("\nCOMPILES " + json.dumps(counts) + "\n")
"""


def audit_keeping_payloads(project, installed, tmp_path, *extra) -> Path:
    """Run node_audit on the node (this machine) with ansible's ad hoc command, keeping the files it sends under the
    returned directory."""
    remote = tmp_path / "remote"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1", ANSIBLE_KEEP_REMOTE_FILES="1")
    env.update(ANSIBLE_PIPELINING="False", ANSIBLE_REMOTE_TMP=str(remote))
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("PYTHONPATH", None)
    argv = [tool("ansible"), "-i", "inventory", "node1", "-m", "tlsfleet.stapling.node_audit", "-a", '{"servers": []}']
    run = subprocess.run(
        [*argv, *extra], cwd=project, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"servers": []' in run.stdout, run.stdout
    return remote


def test_node_audit_payload_compiles_ansibles_code_once(project, installed, tmp_path):
    """node_audit's action makes the wrapper import zip_import before ansible's loader (plugin_utils/ansiballz.py):
    with the real wrapper of this ansible-core, ansible's module_utils, the collection's and the module itself are
    compiled once each on the node (and the module still runs)."""
    remote = audit_keeping_payloads(project, installed, tmp_path)
    (payload,) = remote.rglob("AnsiballZ_node_audit.py")
    assert "tlsfleet.stapling: compile the payload" in payload.read_text()
    child_env = dict(clean_env(), TLSFLEET_STAPLING_CODE_CACHE="off")  # every file compiled: the counts are exact
    child = subprocess.run(
        [sys.executable, "-c", COUNT_COMPILES, str(payload)],
        cwd=tmp_path,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    result = json.loads(child.stdout[child.stdout.index("{") :])
    assert not result.get("failed"), result
    assert result["summary"]["servers"] == []
    counts = json.loads(child.stderr.rsplit("COMPILES ", 1)[1])
    assert counts["ansible/module_utils/basic.py"] == 1, counts
    assert counts["ansible_collections/tlsfleet/stapling/plugins/modules/node_audit.py"] == 1, counts
    # Twice only what comes before zip_import's finder: its parent packages, zip_import itself, and ansible's package
    # __init__ files (pkgutil.extend_path asks zipimport for them).
    twice = {name for name, count in counts.items() if count > 1}
    assert all(name.endswith("__init__.py") or name.endswith("/zip_import.py") for name in twice), sorted(twice)
    assert len([name for name in counts if name.startswith("ansible/module_utils/")]) > 20, counts


def test_node_audit_runs_async_and_only_its_own_payload_is_changed(project, installed, tmp_path):
    """For async: tasks the action also builds ansible's async_wrapper, which carries no collection: it goes out as
    ansible builds it (plugin_utils/ansiballz.py); the audit's own payload has the early import and runs."""
    remote = audit_keeping_payloads(project, installed, tmp_path, "-B", "120", "-P", "1")
    wrappers = list(remote.rglob("async_wrapper.py")) + list(remote.rglob("AnsiballZ_async_wrapper.py"))
    (audit,) = remote.rglob("AnsiballZ_node_audit.py")
    assert wrappers, sorted(str(path.relative_to(remote)) for path in remote.rglob("*"))
    assert all("tlsfleet.stapling: compile the payload" not in path.read_text() for path in wrappers)
    assert "tlsfleet.stapling: compile the payload" in audit.read_text()
