# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""remediate and rollout against the lab's fleet scenario (root; run by ``make lab-remediate``).

In order, on one ``labctl up`` of tests/lab/scenarios/fleet.yml:
(Check and diff mode with -vvv, and the search for key material in everything printed and written, are in
test_faults.py::test_no_key_material_in_any_playbook_run, for every playbook.)
2. remediate: every finding with a remedy is gone; what stays is what no configuration fixes;
3. remediate again: changed=0 on every host;
4. rollout of a renewed certificate the responder cannot vouch for from the canary (blocked there): stops at the
   canary before any change, whose files are byte-identical afterwards, serving the old certificate; nobody else
   touched;
5. rollout with a config test failing on one node of the second region: that batch restored, later regions untouched;
6. rollout with everything in order: every node verified; a second rollout changes nothing;
7. the OCSP sunset: a renewal of static without an OCSP URL deployed on its four nodes (nginx, Apache, HAProxy);
   remediate without tlsfleet_stapling_sunset switches nothing off and says so; with it, those sites serve the new
   certificate without a staple (nginx/Apache stapling off, the HAProxy .ocsp removed) while every other site of
   those nodes keeps a good staple (judged by the lab's openssl oracle).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

import labrun  # noqa: E402
from audit_scenarios import collections_path  # noqa: E402
from labrun import env, recap, run  # noqa: E402

LABCTL = ROOT / "tests" / "lab" / "labctl"
FLEET = ROOT / "tests" / "lab" / "scenarios" / "fleet.yml"
INVENTORY = "/var/lib/tlsfleet-lab/inventory.yml"
PROJECT = HERE / "project"
VENV = ROOT / ".venv" / "ansible-2.21"
WATCHED = "/etc/nginx /etc/apache2 /etc/haproxy /etc/tlsfleet"
# What no configuration change fixes on the fleet: eu-web-2 cannot reach its responder, promo is revoked.
BACKUP = re.compile(r"\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$")
UNFIXABLE = {
    ("eu-web-2", "responder_unreachable"),
    ("us-web-1", "cert_revoked"),
}
# Fixable, but only with the OCSP sunset opt-in (tlsfleet_stapling_sunset): legacy's CA has no OCSP.
SKIPPED = ("ap-web-3", "stapling_without_ocsp")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def playbook(lab, name, *args) -> subprocess.CompletedProcess:
    environ = env(lab["collections"])
    return run([str(VENV / "bin" / "ansible-playbook"), "-i", INVENTORY, str(PROJECT / name), *args], env=environ)


def checksums(lab, hosts=None) -> dict:
    """host -> {path: sha256} of every file under the servers' and certificates' directories on the node."""
    environ = env(lab["collections"])
    out = run(
        [
            str(VENV / "bin" / "ansible"),
            "-i",
            INVENTORY,
            hosts or "tlsfleet_lab",
            "-o",
            "-m",
            "ansible.builtin.shell",
            "-a",
            "find %s -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum" % WATCHED,
        ],
        env=environ,
    )
    sums = {}
    for line in out.stdout.splitlines():
        host, _sep, rest = line.partition(" | ")
        text = rest.split("(stdout) ", 1)[-1].replace("\\n", "\n")
        files = dict(reversed(part.split("  ", 1)) for part in text.splitlines() if "  /" in part)
        # Backups (Ansible's <file>.<pid>.<time>~) are kept on purpose; the files in use are what must match.
        sums[host.strip()] = {path: digest for path, digest in files.items() if not BACKUP.search(path)}
    return sums


def backups(lab) -> dict:
    """host -> {backup path: mode} of every backup the runs left."""
    environ = env(lab["collections"])
    out = run(
        [
            str(VENV / "bin" / "ansible"),
            "-i",
            INVENTORY,
            "tlsfleet_lab",
            "-o",
            "-m",
            "ansible.builtin.shell",
            "-a",
            "find %s -type f -name '*~' -printf '%%m %%p\\n' 2>/dev/null" % WATCHED,
        ],
        env=environ,
    )
    found = {}
    for line in out.stdout.splitlines():
        host, _sep, rest = line.partition(" | ")
        text = rest.split("(stdout) ", 1)[-1].replace("\\n", "\n")
        found[host.strip()] = {
            p.split(" ", 1)[1]: p.split(" ", 1)[0] for p in text.splitlines() if " /" in p and BACKUP.search(p)
        }
    return found


@pytest.fixture(scope="module")
def lab():
    up = run([str(LABCTL), "up", str(FLEET)])
    assert up.returncode == 0, up.stdout + up.stderr
    collections = collections_path(VENV)
    out = run(
        [str(VENV / "bin" / "ansible-inventory"), "-i", INVENTORY, "--list"],
        env=env(collections),
    )
    hostvars = json.loads(out.stdout)["_meta"]["hostvars"]
    work = Path(tempfile.mkdtemp(prefix="tlsfleet-remediate-"))
    certificates = {}
    for data in hostvars.values():  # a group variable: the same on every host
        certificates = data["tlsfleet_lab_certificates"]
        break
    yield {"collections": collections, "hostvars": hostvars, "work": work, "certificates": certificates}
    run([str(LABCTL), "down"])


def remediate_args(lab, name):
    www = lab["certificates"]["www"]
    extra = {
        "tlsfleet_hosts": "tlsfleet_lab",
        "tlsfleet_remediate_report_dir": str(lab["work"] / name),
        # Scoped to the nodes that serve www (the lab inventory's hosts:); unscoped it would be deployed nowhere.
        "tlsfleet_certificates": [
            {"certificate": www["certificate"], "key": www["key"], "chain": www["chain"], "hosts": www["hosts"]}
        ],
    }
    return ["-e", json.dumps(extra)]


def test_2_remediate_fixes_every_finding_that_has_a_remedy(lab):
    out = playbook(lab, "remediate.yml", *remediate_args(lab, "first"))
    assert out.returncode == 2, out.stdout[-6000:]  # revoked and unreachable stay, at error and above
    before = json.loads((lab["work"] / "first" / "before" / "report.json").read_text())
    after = json.loads((lab["work"] / "first" / "after" / "report.json").read_text())
    assert {(f["host"], f["code"]) for f in before["findings"] if f["host"]} > UNFIXABLE
    left = {(f["host"], f["code"]) for f in after["findings"]}
    # legacy's CA dropped OCSP: without tlsfleet_stapling_sunset its stapling stays on, and the plan says why.
    assert left == UNFIXABLE | {SKIPPED}, after["findings"]
    assert re.search(r"legacy\.shop\.test: skipped \(opt-in\).*tlsfleet_stapling_sunset: true", out.stdout), out.stdout[
        -6000:
    ]
    counts = recap(out.stdout)
    # Only the hosts with findings no configuration fixes fail - in the diagnosis after, not in remediation.
    assert {host for host, c in counts.items() if c["failed"]} == {host for host, _code in UNFIXABLE}, counts
    assert "the change failed" not in out.stdout
    lab["after_first"] = checksums(lab)


def test_2b_backups_are_kept_and_keys_never_readable_by_others(lab):
    # A backup keeps the mode of the file it copies: key backups stay 0600, public files stay as they were.
    found = backups(lab)
    assert sum(len(files) for files in found.values()) > 0, found
    for host, files in found.items():
        for path, mode in files.items():
            # Never beside the live file, where a HAProxy crt directory or an nginx wildcard include would load it.
            assert path.startswith("/etc/tlsfleet/backups/"), (host, path)
            assert int(mode, 8) & 0o002 == 0, (host, path, mode)
            if "/private/" in path or path.endswith(".key"):
                assert int(mode, 8) & 0o077 == 0, (host, path, mode)


def test_3_second_remediate_changes_nothing(lab):
    out = playbook(lab, "remediate.yml", *remediate_args(lab, "second"))
    assert out.returncode == 2, out.stdout[-4000:]
    counts = recap(out.stdout)
    assert counts and all(c["changed"] == 0 for c in counts.values()), counts
    assert checksums(lab) == lab["after_first"]


def rollout_args(lab, name, certificate, **extra):
    values = {
        "tlsfleet_hosts": "tlsfleet_lab",
        "tlsfleet_report_dir": str(lab["work"] / name),
        "tlsfleet_rollout_certificate": certificate,
    }
    values.update(extra)
    return ["-e", json.dumps(values)]


def renewed(lab):
    out = run([str(LABCTL), "renew", "www"])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def served_fingerprints(lab, host, names=("www.shop.test",)):
    environ = env(lab["collections"])
    args = json.dumps({"server_names": list(names), "protocols": ["TLSv1.2"], "warmup_attempts": 0})
    out = run(
        [str(VENV / "bin" / "ansible"), "-i", INVENTORY, host, "-m", "tlsfleet.stapling.tls_endpoint_info", "-a", args],
        env=environ,
    )
    body = out.stdout[out.stdout.index("{") :]
    return {e["server_name"]: e["leaf_sha256"] for e in json.loads(body)["endpoints"]}


def test_4_rollout_stops_at_the_canary_when_its_staple_cannot_be_verified(lab):
    cert = renewed(lab)
    canary = "eu-web-1"
    before = checksums(lab)
    old = served_fingerprints(lab, canary)
    assert run([str(LABCTL), "egress", canary, "ocsp=reject"]).returncode == 0
    try:
        out = playbook(lab, "rollout.yml", *rollout_args(lab, "rollout-canary", cert, tlsfleet_rollout_canary=canary))
    finally:
        run([str(LABCTL), "egress", canary])
    assert out.returncode != 0
    assert "Rollout stopped" in out.stdout, out.stdout[-4000:]
    after = checksums(lab)
    assert after[canary] == before[canary], "the canary's files differ after the restore"
    assert all(after[h] == before[h] for h in before), "a node other than the canary was touched"
    assert served_fingerprints(lab, canary) == old
    # The canary asked the responder before changing anything (it cannot answer from there): nothing to restore.
    assert "responder gives no good answer" in out.stdout, out.stdout[-4000:]
    summary = json.loads((lab["work"] / "rollout-canary" / "rollout-summary.json").read_text())
    assert summary["nodes"][canary]["status"] == "failed", summary["nodes"][canary]
    assert any("Nothing was changed" in p for p in summary["nodes"][canary]["problems"]), summary["nodes"][canary]
    assert summary["counts"].get("verified", 0) == 0
    lab["renewed"] = cert


def test_5_config_test_failure_in_region_two_restores_that_batch_only(lab):
    cert = lab["renewed"]
    # Order with canary ap-web-1: ap-web-1 | ap-web-2 ap-web-3 | eu-lb-1 eu-web-1 | us-lb-1 us-web-1 us-web-2.
    # eu-web-2 is left out: its firewall rejects the responder (test 4 covers a failed verification).
    hosts = "tlsfleet_lab:!eu-web-2"
    broken = "eu-web-1"  # region eu, the second region: nginx -t fails once the rollout reloads it
    before = checksums(lab)  # taken before the breaking file, which the test removes again afterwards
    breaking = "echo 'not_a_directive on;' > /etc/nginx/conf.d/zz-broken.conf"
    bad = run([str(LABCTL), "exec", broken, "--", "sh", "-c", breaking])
    assert bad.returncode == 0, bad.stderr
    try:
        out = playbook(
            lab,
            "rollout.yml",
            *rollout_args(lab, "rollout-region", cert, tlsfleet_rollout_canary="ap-web-1", tlsfleet_hosts=hosts),
        )
    finally:
        run([str(LABCTL), "exec", broken, "--", "rm", "-f", "/etc/nginx/conf.d/zz-broken.conf"])
    assert out.returncode != 0 and "Rollout stopped" in out.stdout, out.stdout[-4000:]
    nodes = json.loads((lab["work"] / "rollout-region" / "rollout-summary.json").read_text())["nodes"]
    after = checksums(lab)
    assert {h: nodes[h]["status"] for h in ("ap-web-1", "ap-web-2", "ap-web-3")} == dict.fromkeys(
        ("ap-web-1", "ap-web-2", "ap-web-3"), "verified"
    )
    for host in ("eu-lb-1", "eu-web-1"):  # the failed batch: restored byte for byte
        assert nodes[host]["status"] in ("restored", "failed"), (host, nodes[host])
        assert after[host] == before[host], host
    for host in ("us-lb-1", "us-web-1", "us-web-2"):  # later region: untouched
        assert nodes[host]["status"] == "untouched", (host, nodes[host])
        assert after[host] == before[host], host
    assert "not_a_directive" in out.stdout  # the config test's own words reach the user


def test_6_rollout_verified_everywhere_then_again_changes_nothing(lab):
    cert = lab["renewed"]
    # Every node but eu-web-2, whose firewall rejects the responder: there no staple can be verified (test 4 showed
    # what the rollout does then).
    hosts = "tlsfleet_lab:!eu-web-2"
    args = rollout_args(lab, "rollout-all", cert, tlsfleet_rollout_canary="eu-web-1", tlsfleet_hosts=hosts)
    out = playbook(lab, "rollout.yml", *args)
    assert out.returncode == 0, out.stdout[-5000:]
    summary = json.loads((lab["work"] / "rollout-all" / "rollout-summary.json").read_text())
    assert summary["counts"] == {"verified": 8}, summary["counts"]
    assert summary["certificate_sha256"] == cert["sha256"]
    for host, node in summary["nodes"].items():
        assert set(node["sites"].values()) == {cert["sha256"]}, (host, node)
    assert served_fingerprints(lab, "us-lb-1") == {"www.shop.test": cert["sha256"]}
    again = playbook(lab, "rollout.yml", *args)
    assert again.returncode == 0, again.stdout[-3000:]
    counts = recap(again.stdout)
    assert counts and all(c["changed"] == 0 for c in counts.values()), counts


# ------------------------------------------------------------------------------------------------ 7. OCSP sunset


def static_sites() -> dict:
    """node -> server of each site of the leaf static in the fleet scenario (its files are named static)."""
    scenario = yaml.safe_load(FLEET.read_text())
    return {
        node["name"]: site["server"]
        for node in scenario["nodes"]
        for site in node.get("sites", [])
        if site["leaf"] == "static"
    }


def deploy_directly(lab, cert: dict, sites: dict) -> None:
    """What a deploy hook does: the renewed files over the site's own (same key), then a test and reload."""
    pem = "".join(Path(cert[part]).read_text() for part in ("certificate", "chain"))
    key = Path(cert["key"]).read_text()
    for node, server in sites.items():
        dest, text = (
            ("/etc/haproxy/certs/static.pem", pem + key)
            if server == "haproxy"
            else ("/etc/tlsfleet/certs/static.crt", pem)
        )
        wrote = subprocess.run(
            [str(LABCTL), "exec", node, "--", "sh", "-c", "cat > %s" % dest],
            input=text,
            text=True,
            capture_output=True,
            check=False,
            timeout=60,
        )
        assert wrote.returncode == 0, wrote.stderr
    # One run for the four nodes: each reloads the server of its static site (tlsfleet_lab_sites, the inventory's).
    server = "{{ tlsfleet_lab_sites | selectattr('leaf', 'eq', 'static') | map(attribute='server') | first }}"
    out = run(
        [
            str(VENV / "bin" / "ansible"),
            "-i",
            INVENTORY,
            ":".join(sites),
            "-m",
            "tlsfleet.stapling.server_reload",
            "-a",
            json.dumps({"server": server, "state": "reloaded"}),
        ],
        env=env(lab["collections"]),
    )
    assert out.returncode == 0, out.stdout[-2000:]


def sunset_args(lab, name, hosts, **extra):
    values = {"tlsfleet_hosts": ":".join(hosts), "tlsfleet_remediate_report_dir": str(lab["work"] / name)}
    values.update(extra)
    return ["-e", json.dumps(values)]


def test_7_ocsp_sunset_is_opt_in_and_per_certificate(lab):
    sites = static_sites()
    assert sorted(set(sites.values())) == ["apache", "haproxy", "nginx"], sites
    out = run([str(LABCTL), "renew", "static", "--variant", "no-ocsp-url", "--keep-key"])
    assert out.returncode == 0, out.stderr
    cert = json.loads(out.stdout)
    assert cert["ocsp_urls"] == [] and sorted(cert["hosts"]) == sorted(sites)
    deploy_directly(lab, cert, sites)
    deployed = checksums(lab)
    assert deployed["eu-lb-1"]["/etc/haproxy/certs/static.pem.ocsp"]  # the old certificate's staple, still there

    # Without the opt-in: reported, listed as skipped, nothing switched off.
    # Only the nodes that serve static, and ap-web-3 (legacy, a CA without OCSP since the scenario began).
    hosts = [*sites, "ap-web-3"]
    out = playbook(lab, "remediate.yml", *sunset_args(lab, "sunset-no", hosts))
    assert out.returncode == 0, out.stdout[-4000:]  # stapling_without_ocsp is a warning
    after = json.loads((lab["work"] / "sunset-no" / "after" / "report.json").read_text())
    left = {(f["host"], f["hostname"]) for f in after["findings"] if f["code"] == "stapling_without_ocsp"}
    assert {(node, "static.shop.test") for node in sites} <= left, after["findings"]
    assert re.search(r"static\.shop\.test: skipped \(opt-in\)", out.stdout), out.stdout[-4000:]
    now = checksums(lab)
    for node in hosts:
        assert now[node] == deployed[node], node

    # With it: only the sites of certificates without an OCSP URL stop stapling.
    out = playbook(lab, "remediate.yml", *sunset_args(lab, "sunset-yes", hosts, tlsfleet_stapling_sunset="true"))
    assert out.returncode == 0, out.stdout[-4000:]
    after = json.loads((lab["work"] / "sunset-yes" / "after" / "report.json").read_text())
    assert after["findings"] == [], after["findings"]
    assert not re.search(r": skipped \(opt-in\)", out.stdout), out.stdout[-4000:]
    files = checksums(lab)
    assert "/etc/haproxy/certs/static.pem.ocsp" not in files["eu-lb-1"]
    assert {"/etc/haproxy/certs/www.pem.ocsp", "/etc/haproxy/certs/pay.pem.ocsp"} <= set(files["eu-lb-1"])
    assert files["eu-lb-1"]["/etc/haproxy/certs/static.pem"] == deployed["eu-lb-1"]["/etc/haproxy/certs/static.pem"]
    # The lab's openssl oracle (independent of the collection), per node and hostname, after its warm-up.
    names = set(yaml.safe_load(FLEET.read_text())["leaves"]["static"]["hostnames"])
    seen = {}
    for result in labrun.oracle():  # every node at once, in parallel
        if result["node"] in sites and result["kind"] in ("staple", "cert"):
            seen[(result["node"], result["what"].split()[-1], result["kind"])] = result["observed"]
    for node in sites:
        for name in names:
            assert seen[(node, name, "staple")] == "none", (node, name, seen)
            assert seen[(node, name, "cert")] == "deployed", (node, name, seen)  # the new certificate
        others = {k: v for k, v in seen.items() if k[0] == node and k[2] == "staple" and k[1] not in names}
        assert others and set(others.values()) == {"good"}, (node, others)
    assert served_fingerprints(lab, "eu-lb-1", ("static.shop.test",)) == {"static.shop.test": cert["sha256"]}
