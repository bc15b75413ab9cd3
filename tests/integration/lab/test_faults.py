# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault injection over the lab (issue #8): break one thing, then diagnose, remediate and roll out.

Every case starts from a fresh ``labctl up`` of tests/lab/scenarios/reliability/fleet.yml (6 healthy nodes over
eu/us/ap, nginx, Apache and HAProxy, certificates www and api), injects one fault, and asserts:
- the diagnosis names the right cause on the right nodes and hostnames, and nothing anywhere else;
- remediation (and, where the fault is about deploying, a rollout) does not make any node worse: files
  byte-identical unless the run meant to change them, what clients get (the lab's independent oracle) no worse;
- nothing prints a traceback; no key material is printed.

``make reliability`` runs every case; ``make test`` runs the ones marked ``ci`` (make lab-faults). The counts
(cases, passed, failed) are written to $TLSFLEET_BUILD_DIR/reliability-counts.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import labrun  # noqa: E402
from audit_scenarios import collections_path  # noqa: E402

SCENARIO = labrun.ROOT / "tests" / "lab" / "scenarios" / "reliability" / "fleet.yml"
NODES = ("eu-nginx-1", "eu-apache-1", "us-nginx-1", "us-haproxy-1", "ap-nginx-1", "ap-apache-1")
REGION = {node: node.split("-", 1)[0] for node in NODES}
WWW, API = "www.rel.test", "api.rel.test"
BUILD = Path(os.environ.get("TLSFLEET_BUILD_DIR", labrun.ROOT / ".build"))
# Switch stapling off on an nginx node (something for remediate to fix).
STAPLING_OFF = "sed -i 's/ssl_stapling on;/ssl_stapling off;/' /etc/nginx/sites-enabled/*.conf && nginx -s reload"
COUNTS = BUILD / "reliability-counts.json"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


# ----------------------------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="module")
def suite():
    collections = collections_path(labrun.VENV)
    work = Path(tempfile.mkdtemp(prefix="tlsfleet-faults-"))
    state = {"collections": collections, "work": work, "results": {}}
    yield state
    labrun.labctl("down")
    results = state["results"]
    BUILD.mkdir(parents=True, exist_ok=True)
    COUNTS.write_text(
        json.dumps(
            {
                "cases": len(results),
                "passed": sum(1 for ok in results.values() if ok),
                "failed": sorted(name for name, ok in results.items() if not ok),
                "results": results,
            },
            indent=1,
        )
        + "\n"
    )


@pytest.fixture
def lab(suite, request):
    """A fresh fleet for each case; the case's outcome is counted."""
    up = labrun.labctl("up", SCENARIO, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    out = labrun.run(
        [labrun.VENV / "bin" / "ansible-inventory", "-i", labrun.INVENTORY, "--list"],
        env=labrun.env(suite["collections"]),
    )
    hostvars = json.loads(out.stdout)["_meta"]["hostvars"]
    certificates = {}
    for data in hostvars.values():  # a group variable: the same on every host
        certificates = data["tlsfleet_lab_certificates"]
        break
    case = dict(
        suite,
        name=request.node.name,
        hostvars=hostvars,
        certificates=certificates,
        keys=labrun.key_lines(certificates),
    )
    case["dir"] = suite["work"] / request.node.name
    case["dir"].mkdir(parents=True, exist_ok=True)
    suite["results"][request.node.name] = False
    yield case
    suite["results"][request.node.name] = getattr(request.node, "passed_call", False)


def checked(case, out, *allowed_rc, name=None):
    """No traceback and no key material in anything printed; the exit code is one of ``allowed_rc``."""
    text = out.stdout + out.stderr
    if name:  # kept beside the case's reports, for whoever reads a failure
        (case["dir"] / ("%s.log" % name)).write_text(text)
    assert labrun.TRACEBACK not in text, text[-6000:]
    assert not labrun.key_leaks(text, case["keys"]), labrun.key_leaks(text, case["keys"])
    assert out.returncode in allowed_rc, (out.returncode, out.stdout[-6000:], out.stderr[-2000:])
    return out


def diagnose(case, name, *extra) -> dict:
    """The diagnose playbook over the whole fleet; returns report.json."""
    report_dir = case["dir"] / name
    args = {"tlsfleet_hosts": "tlsfleet_lab", "tlsfleet_report_dir": str(report_dir), "tlsfleet_fail_severity": "never"}
    out = labrun.playbook(case["collections"], "site.yml", "-e", json.dumps(args), *extra)
    checked(case, out, 0, name=name)
    report = json.loads((report_dir / "report.json").read_text())
    assert_files_clean(case, report_dir)
    return report


def remediate(case, name, on_line=None, **extra):
    values = {"tlsfleet_hosts": "tlsfleet_lab", "tlsfleet_remediate_report_dir": str(case["dir"] / name)}
    values.update(extra)
    out = labrun.playbook(case["collections"], "remediate.yml", "-e", json.dumps(values), on_line=on_line)
    return checked(case, out, 0, 2, 4, name=name)


def rollout(case, name, certificate, canary="eu-nginx-1", **extra):
    values = {
        "tlsfleet_hosts": "tlsfleet_lab",
        "tlsfleet_report_dir": str(case["dir"] / name),
        "tlsfleet_rollout_certificate": certificate,
        "tlsfleet_rollout_canary": canary,
    }
    values.update(extra)
    out = labrun.playbook(case["collections"], "rollout.yml", "-e", json.dumps(values))
    checked(case, out, 0, 2, 4, name=name)
    summary_path = case["dir"] / name / "rollout-summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {"nodes": {}}
    return out, summary


def assert_files_clean(case, directory: Path):
    for path in directory.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not labrun.key_leaks(text, case["keys"]), path


def found(report) -> set:
    """{(node, hostname, code)} of every finding in a report."""
    return {(f["host"], f.get("hostname"), f["code"]) for f in report["findings"]}


def expect_exactly(report, wanted: set):
    got = found(report)
    assert got == wanted, {"missing": sorted(wanted - got), "unexpected": sorted(got - wanted)}
    assert not report["summary"].get("nodes_unreachable"), report["summary"]


def staples(results) -> dict:
    """{(node, "server:port hostname"): staple state} from the oracle's results."""
    return {(r["node"], r["what"]): r["observed"] for r in results if r["kind"] == "staple"}


def served_leaf(case, node: str, hostname: str) -> str:
    """SHA-256 fingerprint of the certificate a client gets from ``node`` for ``hostname`` (openssl, not us)."""
    address = case["hostvars"][node]["ansible_host"]
    script = (
        "openssl s_client -connect %s:443 -servername %s </dev/null 2>/dev/null"
        " | openssl x509 -noout -fingerprint -sha256" % (address, hostname)
    )
    out = labrun.run(["sh", "-c", script], timeout=60)
    return out.stdout.strip().split("=", 1)[-1].replace(":", "").lower()


def renew(leaf: str) -> dict:
    out = labrun.labctl("renew", leaf)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def set_responder(leaf: str, rule: dict):
    """Change what the lab responder answers for one certificate, at once (its control API)."""
    script = (
        "import json,sys,urllib.request\n"
        "req=urllib.request.Request('http://198.18.0.2:8080/behaviour',data=sys.argv[1].encode(),method='POST',"
        "headers={'Content-Type':'application/json'})\n"
        "print(urllib.request.urlopen(req,timeout=10).read().decode())\n"
    )
    out = labrun.run([sys.executable, "-c", script, json.dumps({"certs": {leaf: rule}})])
    assert out.returncode == 0, out.stderr


def not_worse(case, before_sums, before_view, after_view=None, changed_ok=()):
    """Every node's files as before (except nodes in ``changed_ok``) and no client sees a worse staple."""
    after_sums = labrun.all_file_sums(NODES)
    for node in NODES:
        if node not in changed_ok:
            assert after_sums[node] == before_sums[node], "files changed on %s" % node
    after_view = after_view if after_view is not None else staples(labrun.oracle())
    rank = {"good": 3, "expiring": 2}
    for key, state in before_view.items():
        now = after_view.get(key)
        assert now is not None, "the oracle lost %s" % (key,)
        assert rank.get(now, 0) >= rank.get(state, 0), "%s: %s before, %s after" % (key, state, now)
    return after_sums


# ----------------------------------------------------------------------------------------------------------------
# responder faults: the api certificate's responder misbehaves; www is the control

RESPONDER_FAULTS = [
    pytest.param("down", {"mode": "down"}, "responder_unreachable", id="responder_down"),
    pytest.param(
        "silent", {"mode": "silent", "hold": 30}, "responder_unreachable", id="responder_silent", marks=pytest.mark.ci
    ),
    pytest.param("slow", {"mode": "slow", "delay": 8, "then": "good"}, "responder_unreachable", id="responder_slow"),
    pytest.param("flood", {"mode": "flood"}, "responder_error", id="responder_flood"),
    pytest.param("try_later", {"mode": "try_later"}, "responder_error", id="responder_try_later"),
    pytest.param("unauthorized", {"mode": "unauthorized"}, "responder_error", id="responder_unauthorized"),
    pytest.param("html", {"mode": "html"}, "responder_error", id="responder_html"),
    pytest.param("expired", {"mode": "expired"}, "responder_error", id="responder_expired"),
    pytest.param(
        "wrong_signer",
        {"mode": "unauthorized_signer"},
        "responder_error",
        id="responder_wrong_signer",
        marks=pytest.mark.ci,
    ),
    pytest.param("other_serial", {"mode": "other_serial"}, "responder_error", id="responder_other_serial"),
]


@pytest.mark.parametrize(("fault", "rule", "code"), RESPONDER_FAULTS)
def test_responder_fault(lab, fault, rule, code):
    before_sums = labrun.all_file_sums(NODES)
    before_view = staples(labrun.oracle())
    assert len(before_view) == 2 * len(NODES) and set(before_view.values()) == {"good"}, before_view
    set_responder("api", rule)
    started = time.monotonic()
    report = diagnose(lab, "diagnose")
    elapsed = time.monotonic() - started
    # Every node staples api from its cache and cannot refresh it: named on every node, for api only.
    expect_exactly(report, {(node, API, code) for node in NODES})
    assert elapsed < 90, "the diagnosis waited %.0f s on a misbehaving responder" % elapsed
    out = remediate(lab, "remediate")
    after = json.loads((lab["dir"] / "remediate" / "after" / "report.json").read_text())
    assert found(after) <= found(report), sorted(found(after) - found(report))
    # Nothing to fix by configuration: no file may change, and no reload may cost a node its cached staple.
    not_worse(lab, before_sums, before_view)
    assert all(c.get("changed", 0) == 0 for c in labrun.recap(out.stdout).values()), labrun.recap(out.stdout)


# ----------------------------------------------------------------------------------------------------------------
# the path to the responder: DNS on one node, egress from one region


@pytest.mark.ci
def test_dns_failing_on_one_node(lab):
    before_sums, before_view = labrun.all_file_sums(NODES), staples(labrun.oracle())
    assert labrun.labctl("egress", "us-nginx-1", "dns=reject").returncode == 0
    report = diagnose(lab, "diagnose")
    expect_exactly(report, {("us-nginx-1", WWW, "responder_unreachable"), ("us-nginx-1", API, "responder_unreachable")})
    stages = {f["details"].get("stage") for f in report["findings"]}
    assert stages == {"dns"}, stages
    remediate(lab, "remediate")
    not_worse(lab, before_sums, before_view)


def test_egress_blocked_from_one_region(lab):
    before_sums, before_view = labrun.all_file_sums(NODES), staples(labrun.oracle())
    eu = [node for node in NODES if REGION[node] == "eu"]
    for node in eu:
        assert labrun.labctl("egress", node, "ocsp=drop").returncode == 0
    report = diagnose(lab, "diagnose")
    expect_exactly(report, {(node, name, "responder_unreachable") for node in eu for name in (WWW, API)})
    remediate(lab, "remediate")
    not_worse(lab, before_sums, before_view)


# ----------------------------------------------------------------------------------------------------------------
# a node lost in the middle of a run


@pytest.mark.ci
def test_sshd_killed_mid_run(lab):
    """The node has something to fix; its sshd dies as the fixing starts: it is reported lost, left as it was."""
    victim = "ap-nginx-1"
    off = labrun.node_sh(victim, STAPLING_OFF)
    assert off.returncode == 0, off.stderr
    before_sums = labrun.all_file_sums(NODES)
    before_view = staples(labrun.oracle())
    killed = []

    def kill_when_fixing_starts(line):
        if not killed and line.startswith("PLAY [Fix what the diagnosis found]"):
            pid = labrun.sshd_pid(victim)
            os.kill(pid, 9)
            killed.append(pid)

    out = remediate(lab, "remediate", on_line=kill_when_fixing_starts)
    assert killed, "the run never reached the fix play"
    counts = labrun.recap(out.stdout)
    assert counts[victim]["failed"] + counts[victim]["unreachable"] >= 1, counts
    assert "UNREACHABLE" in out.stdout and "Connection refused" in out.stdout
    assert all(c["unreachable"] == 0 and c["failed"] == 0 for h, c in counts.items() if h != victim), counts
    before = json.loads((lab["dir"] / "remediate" / "before" / "report.json").read_text())
    after = json.loads((lab["dir"] / "remediate" / "after" / "report.json").read_text())
    assert found(before) == {(victim, WWW, "stapling_disabled"), (victim, API, "stapling_disabled")}, found(before)
    # The victim left the run: reported as not audited, never with the stale findings of the first diagnosis.
    assert found(after) == set(), found(after)
    lost = {n["host"]: n for n in after["nodes"]}[victim]
    assert lost["status"] in ("failed", "unreachable") and "left the run" in (lost["message"] or ""), lost
    assert victim in after["summary"]["failing_hosts"], after["summary"]
    # The lost node is as it was (stapling still off, nothing half-done); nobody else was touched.
    not_worse(lab, before_sums, before_view)


# ----------------------------------------------------------------------------------------------------------------
# deploying: the certificate directory read-only or full on one node, during a rollout


def file_sums_seen_by_ssh(node: str) -> dict:
    """The node's files as Ansible sees them (the sshd's mount namespace, where the disk fault is)."""
    out = labrun.in_sshd_namespace(
        node, "find %s -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum" % labrun.WATCHED
    )
    sums = {}
    for line in out.stdout.splitlines():
        digest, _sep, path = line.partition("  ")
        if path.startswith("/") and not labrun.BACKUP.search(path) and not path.endswith("/.fill"):
            sums[path] = digest
    return sums


READ_ONLY = "mount --bind {dir} {dir} && mount -o remount,bind,ro {dir}"
FULL = (
    "mkdir -p /var/tmp/tlsfleet-full && cp -a {dir}/. /var/tmp/tlsfleet-full/ && "
    "mount -t tmpfs -o size=256k tmpfs {dir} && cp -a /var/tmp/tlsfleet-full/. {dir}/ && "
    "rm -rf /var/tmp/tlsfleet-full && (dd if=/dev/zero of={dir}/.fill bs=4k 2>/dev/null; true) && "
    "df -k {dir} | tail -1"
)
# Where the node keeps the certificate the rollout replaces (the lab's layout).
CERT_DIR = {"nginx": "/etc/tlsfleet/certs", "apache": "/etc/tlsfleet/certs", "haproxy": "/etc/haproxy/certs"}


@pytest.mark.parametrize(
    ("victim", "fault"),
    [
        pytest.param("us-nginx-1", READ_ONLY, id="read_only", marks=pytest.mark.ci),
        pytest.param("us-haproxy-1", FULL, id="full"),
    ],
)
def test_certificate_directory_unwritable_during_rollout(lab, victim, fault):
    cert = renew("www")
    before_sums, before_view = labrun.all_file_sums(NODES), staples(labrun.oracle())
    before_ssh = file_sums_seen_by_ssh(victim)
    old_leaf = served_leaf(lab, victim, WWW)
    injected = labrun.in_sshd_namespace(victim, fault.format(dir=CERT_DIR[victim.split("-")[1]]))
    assert injected.returncode == 0, injected.stderr
    out, summary = rollout(lab, "rollout", cert)
    assert out.returncode != 0 and "Rollout stopped" in out.stdout, out.stdout[-5000:]
    nodes = summary["nodes"]
    assert nodes[victim]["status"] in ("failed", "restored"), nodes
    batch = [n for n in NODES if REGION[n] == REGION[victim]]
    for node in NODES:
        status = nodes[node]["status"]
        if node in batch or status == "untouched":
            assert labrun.file_sums(node) == before_sums[node], "files changed on %s (%s)" % (node, status)
        else:
            assert status == "verified", (node, status)
            assert served_leaf(lab, node, WWW) == cert["sha256"], node
    # The victim: what Ansible sees is as before, and clients get the old certificate with its staple.
    assert file_sums_seen_by_ssh(victim) == before_ssh
    assert served_leaf(lab, victim, WWW) == old_leaf
    after_view = staples(labrun.oracle())
    assert {k: v for k, v in after_view.items() if k[0] in batch} == {
        k: v for k, v in before_view.items() if k[0] in batch
    }


# ----------------------------------------------------------------------------------------------------------------
# reloading: a config test that fails, a reload that would take the server down


def test_config_test_fails_on_one_node(lab):
    victim = "ap-nginx-1"
    before_view = staples(labrun.oracle())
    broken = labrun.node_sh(victim, "echo 'not_a_directive on;' > /etc/nginx/conf.d/zz-broken.conf")
    assert broken.returncode == 0, broken.stderr
    before_sums = labrun.all_file_sums(NODES)
    report = diagnose(lab, "diagnose")
    # The node cannot be read through its configuration: the report says so; every other node is healthy.
    assert {f["host"] for f in report["findings"]} <= {victim}, report["findings"]
    node = {n["host"]: n for n in report["nodes"]}[victim]
    assert "not_a_directive" in json.dumps(node), node
    remediate(lab, "remediate")
    not_worse(lab, before_sums, before_view)


def hold_port(node: str, address: str, port: int):
    """A process in the node that listens on ``address:port`` (as an unrelated service would), left running."""
    script = (
        'setsid python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,'
        "socket.SO_REUSEADDR,1); s.bind(('%s',%d)); s.listen(); time.sleep(3600)\" >/dev/null 2>&1 < /dev/null &"
        % (address, port)
    )
    out = labrun.node_sh(node, script)
    assert out.returncode == 0, out.stderr
    assert labrun.wait_until(lambda: ":%d " % port in labrun.node_sh(node, "ss -ltn").stdout, 10)


@pytest.mark.ci
def test_reload_that_would_take_apache_down(lab):
    """Apache passes apache2 -t, but a graceful restart that cannot bind a Listen address stops the whole server."""
    victim = "eu-apache-1"
    cert = renew("www")
    address = lab["hostvars"][victim]["ansible_host"]
    hold_port(victim, address, 8444)
    latent = labrun.node_sh(victim, "echo 'Listen %s:8444' > /etc/apache2/conf-enabled/zz-latent.conf" % address)
    assert latent.returncode == 0, latent.stderr
    assert labrun.node_sh(victim, "apache2ctl -t").returncode == 0  # the config test cannot see it
    before_sums, before_view = labrun.all_file_sums(NODES), staples(labrun.oracle())
    out, summary = rollout(lab, "rollout", cert, canary="us-nginx-1")
    assert out.returncode != 0 and "Rollout stopped" in out.stdout, out.stdout[-5000:]
    assert "8444" in out.stdout, out.stdout[-5000:]  # the holder of the address is named
    nodes = summary["nodes"]
    for node in NODES:
        if REGION[node] == "eu" or nodes[node]["status"] == "untouched":
            assert labrun.file_sums(node) == before_sums[node], node
    # Apache still runs and serves what it served.
    assert labrun.node_sh(victim, "pgrep -x apache2 >/dev/null").returncode == 0
    after_view = staples(labrun.oracle(victim))
    assert after_view == {k: v for k, v in before_view.items() if k[0] == victim}


# ----------------------------------------------------------------------------------------------------------------
# a rollout while the responder cannot vouch for the new certificate


@pytest.mark.ci
def test_rollout_while_the_responder_fails_keeps_every_staple(lab):
    cert = renew("api")
    set_responder("api", {"mode": "silent", "hold": 30})
    before_sums, before_view = labrun.all_file_sums(NODES), staples(labrun.oracle())
    out, summary = rollout(lab, "rollout", cert, canary="ap-nginx-1")
    assert out.returncode != 0 and "Rollout stopped" in out.stdout, out.stdout[-5000:]
    assert "responder gives no good answer" in out.stdout
    # Stopped at the canary before anything changed: every node's files and staples as before.
    not_worse(lab, before_sums, before_view)
    assert summary["nodes"]["ap-nginx-1"]["status"] in ("failed", "restored"), summary["nodes"]
    assert all(n["status"] == "untouched" for h, n in summary["nodes"].items() if h != "ap-nginx-1"), summary


# ----------------------------------------------------------------------------------------------------------------
# secrets: every playbook at -vvv, in check/diff mode and for real; nothing printed or written holds key material


def verbose(case, name, playbook, values, *flags):
    out = labrun.playbook(case["collections"], playbook, "-vvv", "-e", json.dumps(values), *flags)
    checked(case, out, 0, 2, name=name)
    return out


@pytest.mark.ci
def test_no_key_material_in_any_playbook_run(lab):
    """Also check mode on a fleet with something to fix: stapling is off on eu-nginx-1 (remediate shows the diff)."""
    cert = renew("www")
    off = labrun.node_sh("eu-nginx-1", STAPLING_OFF)
    assert off.returncode == 0, off.stderr
    before = labrun.all_file_sums(NODES)
    work = lab["dir"]
    fleet = {"tlsfleet_hosts": "tlsfleet_lab"}
    deploy = {"certificate": cert["certificate"], "key": cert["key"], "chain": cert["chain"], "hosts": cert["hosts"]}
    rollout_values = dict(fleet, tlsfleet_rollout_certificate=deploy, tlsfleet_rollout_canary="eu-nginx-1")
    remediate_values = dict(fleet, tlsfleet_certificates=[deploy])
    # (name, playbook, variables, flags); the diagnosis in two slices, merged as sliced AWX jobs would be.
    plan = [
        (
            "diagnose-check",
            "site.yml",
            {"tlsfleet_report_dir": str(work / "diagnose-check")},
            ["--check", "--limit", "eu-*"],
        ),
        ("diagnose-real", "site.yml", {"tlsfleet_report_dir": str(work / "diagnose-real")}, ["--limit", "!eu-*"]),
        (
            "rollout-check",
            "rollout.yml",
            dict(rollout_values, tlsfleet_report_dir=str(work / "rollout-check")),
            ["--check"],
        ),
        (
            "remediate-check",
            "remediate.yml",
            dict(remediate_values, tlsfleet_remediate_report_dir=str(work / "remediate-check")),
            ["--check"],
        ),
        # The rollout's variable as it is, key included: the preflight ignores the key, never reads or sends it.
        (
            "preflight",
            "preflight.yml",
            {"tlsfleet_preflight_certificate": deploy, "tlsfleet_report_dir": str(work / "preflight")},
            [],
        ),
    ]
    # Three side by side: none of them changes a node (three run in check mode, diagnose-real and the preflight only
    # read; the sums below say so), and each spends much of its time waiting for the nodes and the responder. Not all
    # five: on 2 cores that would press on the audit's handshake and responder timeouts.
    with ThreadPoolExecutor(max_workers=3) as pool:
        started = {
            name: pool.submit(
                labrun.playbook,
                lab["collections"],
                book,
                "-vvv",
                "-e",
                json.dumps(dict(fleet, **values)),
                "--diff",
                *flags,
            )
            for name, book, values, flags in plan
        }
    runs = {name: checked(lab, future.result(), 0, 2, name=name) for name, future in started.items()}
    assert labrun.all_file_sums(NODES) == before, "check mode changed a file"
    merge = {
        "tlsfleet_report_merge": [str(work / d / "report.json") for d in ("diagnose-check", "diagnose-real")],
        "tlsfleet_report_dir": str(work / "merged"),
    }
    verbose(lab, "merge", "merge.yml", merge)
    assert json.loads((work / "merged" / "report.json").read_text())["summary"]["nodes"] == len(NODES)
    assert "ssl_stapling on" in runs["remediate-check"].stdout  # the diff of the site that gets stapling back
    assert "key is ignored - a preflight compares public keys only" in runs["preflight"].stdout
    assert json.loads((work / "preflight" / "preflight" / "report.json").read_text())["preflight"]["summary"]["nodes"]
    # For real: remediate switches stapling on again, then the rollout verifies the new certificate everywhere.
    for name, book, values in (
        (
            "remediate-real",
            "remediate.yml",
            dict(remediate_values, tlsfleet_remediate_report_dir=str(work / "remediate-real")),
        ),
        ("rollout-real", "rollout.yml", dict(rollout_values, tlsfleet_report_dir=str(work / "rollout-real"))),
    ):
        runs[name] = verbose(lab, name, book, values, "--diff")
    fixed = json.loads((work / "remediate-real" / "after" / "report.json").read_text())
    assert fixed["findings"] == [], fixed["findings"]
    for name, out in runs.items():  # -vvv really printed module arguments and results for the nodes
        assert "<198.18.0." in out.stdout and len(out.stdout) > 10000, (name, len(out.stdout))
    summary = json.loads((work / "rollout-real" / "rollout-summary.json").read_text())
    assert summary["counts"] == {"verified": len(NODES)}, summary["counts"]
    # Everything printed (checked() looked at each run) and every file the runs wrote.
    written = [p for p in work.rglob("*") if p.is_file()]
    assert len(written) >= 20, written
    for path in written:
        assert not labrun.key_leaks(path.read_text(errors="replace"), lab["keys"]), path
    # Every file holding a key (deployed keys, HAProxy bundles, their backups): 0600 or 0640, never more.
    holders = 0
    for node in NODES:
        script = "grep -rl 'PRIVATE KEY-----' %s 2>/dev/null | xargs -r stat -c '%%a %%n'" % labrun.WATCHED
        for line in labrun.node_sh(node, script).stdout.splitlines():
            mode, _sep, path = line.partition(" ")
            holders += 1
            assert int(mode, 8) & 0o037 == 0, (node, path, mode)
    assert holders >= 2 * len(NODES), holders
