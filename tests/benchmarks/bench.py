# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmarks of issue #7: every figure a ratio of two things measured in the same run, or a count.

    bench.py [--runs N] [--only 1,2,5] [--nodes 3,6,12,24] [--results PATH] [--no-lab]
    bench.py fleet-scenario N DIR      write DIR/fleet_N.yml (N healthy nodes over eu/us/ap) and print its path

Benchmarks (tests/benchmarks/README.md has the details and the results schema):
  1 fleet audit vs the floor: diagnose playbook / ansible -m ping, same inventory, same run (lab, root)
  2 200 hostnames on one node: node_audit vs an openssl s_client loop vs sslyze --certinfo (lab, root)
  3 responder outage on that node: node_audit with the responder dropping packets (lab, root)
  4 rollout of a renewed certificate across the fleet in 3 regions, per batch (lab, root)
  5 scaling: benchmark 1 at 3/6/12/24 nodes (lab, root); the controller report step on 5,000 x 10 (no lab)
  6 server commands: AnsibleModule.run_command() vs the collection's run_process, side by side (no lab)
Each figure is the median of N runs. A benchmark that cannot run says why in the table, never a traceback.
Prints the table and writes the results JSON (default tests/benchmarks/results/latest.json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LABCTL = ROOT / "tests" / "lab" / "labctl"
MANY_NAMES = ROOT / "tests" / "lab" / "scenarios" / "bench" / "many_names.yml"
VENV = Path(os.environ.get("TLSFLEET_BENCH_VENV", ROOT / ".venv" / "ansible-2.21"))
SSLYZE_VENV = ROOT / ".venv" / "sslyze"
SSLYZE_PIN = "sslyze==6.3.1"
PYROOT = ROOT / ".build" / "pyroot"
COLLECTIONS = ROOT / ".build" / "lab-collections"
RESULTS = HERE / "results" / "latest.json"
# Shared between the controller and the lab nodes (nodes get private /tmp, /run and /var/log only).
SHARED_TMP = Path("/var/tmp/tlsfleet-bench")
NODE_PYTHON = "/usr/bin/python3"
REGIONS = ("eu", "us", "ap")
SERVER_CYCLE = ("nginx", "apache", "haproxy")
RESPONDER_TIMEOUT = 5.0  # node_audit's default responder_timeout, used by benchmark 3's target
MIB = 1024 * 1024

# Runs a command, then prints one marker line to stderr: its wall time and the peak RSS of the command's process
# tree (getrusage children maxrss: the largest single process). Python 3.8+, standard library: runs on the nodes.
MEASURE = (
    "import json,resource,subprocess,sys,time\n"
    "t=time.monotonic()\n"
    "rc=subprocess.call(sys.argv[1:])\n"
    "w=time.monotonic()-t\n"
    "m=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write('\\nTLSFLEET_BENCH '+json.dumps({'rc':rc,'wall_s':w,'maxrss_kib':m})+'\\n')\n"
    "sys.exit(rc)\n"
)
MARKER = re.compile(r"^TLSFLEET_BENCH (\{.*\})$", re.M)


class Skip(Exception):
    """A benchmark that cannot run here: the message goes into the table."""


# ----------------------------------------------------------------------------------------------------------------
# Small helpers


def sh(argv, timeout=900, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except FileNotFoundError as exc:
        raise Skip("%s is not installed" % exc.filename) from exc
    except subprocess.TimeoutExpired as exc:
        raise Skip("%s timed out after %s s" % (Path(str(argv[0])).name, timeout)) from exc


def measured(argv, timeout=900, **kwargs) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``argv`` under MEASURE (with the Python that starts it): the result and {rc, wall_s, maxrss_kib}."""
    out = sh(argv, timeout=timeout, **kwargs)
    found = MARKER.findall(out.stderr)
    if not found:
        raise Skip("no measurement from %s (rc %s): %s" % (Path(str(argv[0])).name, out.returncode, tail(out)))
    return out, json.loads(found[-1])


def tail(out: subprocess.CompletedProcess, size=300) -> str:
    text = (out.stderr or "").strip() or (out.stdout or "").strip()
    text = MARKER.sub("", text).strip()
    return " ".join(text[-size:].split())


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def figure(name, value, unit, target=None, op=None, note="", runs=None, samples=None) -> dict:
    """One row of the table. ``op`` is '<=', '>=', '<' or '>' against ``target``; met is None without a target."""
    met = None
    if value is not None and target is not None and op:
        met = {"<=": value <= target, ">=": value >= target, "<": value < target, ">": value > target}[op]
    row = {"name": name, "value": value, "unit": unit, "target": target, "op": op, "met": met, "note": note}
    if runs is not None:
        row["runs"] = runs
    if samples is not None:
        row["samples"] = samples
    return row


def not_run(name, why, target=None, op=None, unit="") -> dict:
    row = figure(name, None, unit, target, op, note=why)
    row["skipped"] = why
    return row


# ----------------------------------------------------------------------------------------------------------------
# Versions and machine


def _first_line(argv, pattern=None) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout + out.stderr).strip()
    if pattern:
        match = re.search(pattern, text)
        return match.group(1) if match else None
    return text.splitlines()[0] if text else None


def _py_versions(python) -> dict:
    code = (
        "import json,sys\n"
        "out={'python':sys.version.split()[0]}\n"
        "for mod,key in (('ansible.release','ansible-core'),('cryptography','cryptography'),('OpenSSL','pyOpenSSL')):\n"
        "    try:\n"
        "        m=__import__(mod,fromlist=['x'])\n"
        "        out[key]=getattr(m,'__version__',None)\n"
        "    except Exception:\n"
        "        out[key]=None\n"
        "print(json.dumps(out))\n"
    )
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, check=False)
        return json.loads(out.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {"python": None}


def versions() -> dict:
    controller = _py_versions(VENV / "bin" / "python")
    node = _py_versions(NODE_PYTHON)
    node.pop("ansible-core", None)
    sslyze = None
    if (SSLYZE_VENV / "bin" / "python").exists():
        sslyze = _first_line(
            [str(SSLYZE_VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('sslyze'))"]
        )
    return {
        "ansible-core": controller.get("ansible-core"),
        "controller": controller,
        "managed_node": dict(node, interpreter=NODE_PYTHON),
        "nginx": _first_line(["nginx", "-v"], r"nginx/(\S+)"),
        "apache": _first_line(["apache2", "-v"], r"Apache/(\S+)"),
        "haproxy": _first_line(["haproxy", "-v"], r"version (\S+)"),
        "openssl": _first_line(["openssl", "version"], r"OpenSSL (\S+)"),
        "sslyze": sslyze,
        "collection": _collection_version(),
    }


def _collection_version() -> str | None:
    match = re.search(r"^version:\s*(\S+)", (ROOT / "galaxy.yml").read_text(), re.M)
    return match.group(1) if match else None


def machine() -> dict:
    memory = None
    try:
        meminfo = Path("/proc/meminfo").read_text()
        memory = int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1)) * 1024
    except (OSError, AttributeError):
        pass
    cpu = None
    try:
        cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M).group(1)
    except (OSError, AttributeError):
        pass
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": memory,
        "memory_gib": round(memory / 1024**3, 1) if memory else None,
        "cpu": cpu,
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "hostname": platform.node(),
    }


# ----------------------------------------------------------------------------------------------------------------
# Scenarios


def fleet_scenario(count: int) -> str:
    """A healthy fleet of ``count`` nodes over eu/us/ap, nginx/Apache/HAProxy in turn, every node serving www."""
    lines = [
        "# Generated by tests/benchmarks/bench.py (benchmarks 1, 4 and 5): %d healthy nodes over 3 regions." % count,
        "name: fleet_%d" % count,
        "description: %d healthy nodes, 3 regions, nginx / Apache / HAProxy in turn, www and api on every node."
        % count,
        "",
        "leaves:",
        "  www:",
        "    hostnames: [www.bench.test, bench.test]",
        "    issuer: int-a-rsa",
        "  api:",
        "    hostnames: [api.bench.test]",
        "    issuer: int-a-ec",
        "    key_type: ecdsa",
        "",
        "nodes:",
    ]
    for i in range(count):
        region = REGIONS[i % len(REGIONS)]
        server = SERVER_CYCLE[(i // len(REGIONS)) % len(SERVER_CYCLE)]
        lines += [
            "  - name: %s-%s-%d" % (region, server, i // len(REGIONS) + 1),
            "    region: %s" % region,
            "    sites:",
            "      - {server: %s, leaf: www}" % server,
            "      - {server: %s, leaf: api}" % server,
        ]
    return "\n".join(lines) + "\n"


def write_fleet_scenario(count: int, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ("fleet_%d.yml" % count)
    path.write_text(fleet_scenario(count))
    return path


# ----------------------------------------------------------------------------------------------------------------
# Benchmark 5b: the controller report step on a generated result set (no lab)

REPORT_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as rep
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import renderers
with open(sys.argv[2]) as handle:
    data = json.load(handle)
started = time.monotonic()
document = rep.build_report(data["results"], data["regions"], "bench", generated_at="2026-01-01T00:00:00Z")
built = time.monotonic()
paths = renderers.write_report(document, sys.argv[3])
done = time.monotonic()
print(json.dumps({"build_s": built - started, "write_s": done - built, "total_s": done - started,
                  "summary": {k: document["summary"][k] for k in ("nodes", "nodes_ok", "node_hostnames", "findings")},
                  "bytes": {k: __import__("os").path.getsize(p) for k, p in paths.items()}}))
"""


INTERMEDIATE = "11" * 32


def _synthetic_certificate(sha256: str, subject: str, issuer: str, not_after: str) -> dict:
    return {
        "subject": subject,
        "issuer": issuer,
        "serial": sha256[:16],
        "sha256": sha256,
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": not_after,
        "san_dns": [subject[3:]],
        "ocsp_urls": ["http://ocsp.tlsfleet.test/int-a-rsa"],
        "must_staple": False,
        "self_signed": False,
        "public_key_sha256": sha256[::-1],
    }


def _synthetic_served(index: int, name: str, leaf: str, state: str) -> dict:
    """What one hostname served, in node_audit's compact evidence (docs/evidence-schema.json)."""
    staple = None
    if state != "none":
        staple = {
            "response_status": "successful",
            "cert_status": state,
            "revocation_time": None,
            "next_update": "2026-01-05T00:00:00Z",
            "seconds_until_next_update": 302400 + index % 1000,
            "signature_valid": True,
            "signer_authorized": True,
            "cert_id_matches": True,
            "valid": True,
            "good": state == "good",
            "problems": [],
        }
    chain = {
        "order_ok": True,
        "complete": True,
        "anchored": True,
        "missing_issuer": None,
        "missing_issuer_of": None,
        "issuer_found_in": "presented",
        "extra": [],
        "duplicates": [],
        "root_sent": False,
        "presented_count": 2,
    }
    handshake = {"ok": True, "error": None, "error_stage": None, "staple_present": state != "none", "verdict": 0}
    verdict = {
        "protocols": ["tls1_3", "tls1_2"],
        "presented": [leaf, INTERMEDIATE],
        "chain": chain,
        "chain_error": None,
        "staple": staple,
        "staple_error": None,
    }
    return {
        "reachable": True,
        "leaf_sha256": leaf,
        "same_leaf_for_all_protocols": True,
        "warmup_used": state == "none",
        "summary": {"staple_state": state, "staple_states": {"tls1_3": state, "tls1_2": state}, "seconds_left": 302400},
        "protocols": {"tls1_3": dict(handshake, handshakes_made=1), "tls1_2": dict(handshake, handshakes_made=1)},
        "verdicts": [verdict],
    }


def synthetic_results(nodes: int, hostnames: int) -> tuple[dict, dict]:
    """node_audit results with compact evidence (docs/evidence-schema.json), for a whole fleet.

    Every node serves the same ``hostnames`` names (5 sites of 2 names, or fewer), so fleet drift compares
    ``nodes`` leaves per name. A realistic mix: 1 % unreachable, 0.5 % failed, 5 % with an expiring staple,
    2 % with a staple missing, every 50th node serving an older certificate (node_drift).
    """
    names = ["h%d.bench.test" % i for i in range(hostnames)]
    leaf_now = {name: ("%02x" % (i + 1)) * 32 for i, name in enumerate(names)}
    leaf_old = {name: ("%02x" % (i + 101)) * 32 for i, name in enumerate(names)}
    results, regions = {}, {}
    for n in range(nodes):
        host = "node-%05d" % n
        regions[host] = REGIONS[n % len(REGIONS)]
        if n % 100 == 7:
            results[host] = {"unreachable": True, "msg": "ssh: connect to host %s port 22: No route to host" % host}
            continue
        if n % 200 == 13:
            results[host] = {"failed": True, "msg": "pyOpenSSL is missing on the node"}
            continue
        findings, sites = [], []
        certificates = {
            INTERMEDIATE: _synthetic_certificate(INTERMEDIATE, "CN=int-a-rsa", "CN=root-a", "2030-01-01T00:00:00Z")
        }
        for s in range(0, hostnames, 2):
            group = names[s : s + 2]
            site = "nginx:/etc/nginx/sites-enabled/site%d.conf:1" % s
            served = {}
            for name in group:
                state = "good"
                if n % 20 == 3 and name == names[0]:
                    state = "good"
                    findings.append(_finding("staple_expiring", "warning", site, name))
                if n % 50 == 11 and name == names[1 % hostnames]:
                    state = "none"
                    findings.append(_finding("staple_missing", "error", site, name))
                leaf = leaf_old[name] if n % 50 == 17 else leaf_now[name]
                certificates[leaf] = _synthetic_certificate(
                    leaf, "CN=%s" % name, "CN=int-a-rsa", "2026-04-01T00:00:00Z"
                )
                served[name] = _synthetic_served(n, name, leaf, state)
            sites.append(
                {
                    "key": site,
                    "server": "nginx",
                    "site": site,
                    "hostnames": group,
                    "endpoint": {"host": "127.0.0.1", "port": 443},
                    "stapling": {"ssl_stapling": True, "ssl_stapling_verify": True, "resolver": ["198.18.0.4"]},
                    "configured": {
                        "certificate_file": "/etc/tlsfleet/certs/site%d.crt" % s,
                        "key_file": "/etc/tlsfleet/private/site%d.key" % s,
                        "errors": [],
                        "leaf": served[group[0]]["leaf_sha256"],
                        "chain": None,
                        "key_matches": True,
                        "trusted": None,
                        "staple_file": None,
                    },
                    "served": served,
                    "resolver_checks": [],
                }
            )
        results[host] = {
            "changed": False,
            "findings": findings,
            "summary": {"findings": len(findings)},
            "evidence": {
                "version": 2,
                "detail": "compact",
                "node": {"hostname": host, "checked_at": "2026-01-01T12:00:00Z"},
                "servers": [{"type": "nginx", "version": "1.22.1"}],
                "certificates": certificates,
                "sites": sites,
                "responders": {
                    "http://ocsp.tlsfleet.test/int-a-rsa": {
                        "url": "http://ocsp.tlsfleet.test/int-a-rsa",
                        "reachable": True,
                        "failed_stage": None,
                        "error": None,
                    }
                },
                "log_events": [],
                "errors": [],
                "timings": {"total_ms": 400},
            },
        }
    return results, regions


def _finding(code, severity, site, hostname) -> dict:
    return {
        "code": code,
        "severity": severity,
        "server": "nginx",
        "site": site,
        "hostname": hostname,
        "evidence": ["observed %s on %s" % (code, hostname)],
        "remediation": "",
    }


def ensure_pyroot() -> Path:
    link = PYROOT / "ansible_collections" / "tlsfleet" / "stapling"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(ROOT)
    return PYROOT


COMMAND_RUNS = 200
# What node_audit runs on a node: a server's version command under coreutils timeout. Both runners read it the
# same way; run_command() then polls the child twice and, when it exits between the two, sleeps a second.
COMMAND_RACE = """
import json, sys, time
from ansible.module_utils import basic
basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": {}}).encode()
basic._ANSIBLE_PROFILE = "legacy"
module = basic.AnsibleModule(argument_spec={})
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common
argv, count = json.loads(sys.argv[1]), int(sys.argv[2])
runners = {
    "run_command": lambda: module.run_command(argv, environ_update={"LC_ALL": "C"}, check_rc=False),
    "run_process": lambda: common.run_process(argv, {"LC_ALL": "C"}, 30),
}
out = {name: {"wall_s": 0.0, "over_0_9_s": 0} for name in runners}
for _ in range(count):
    for name, run in runners.items():
        started = time.monotonic()
        run()
        took = time.monotonic() - started
        out[name]["wall_s"] += took
        out[name]["over_0_9_s"] += took > 0.9
print(json.dumps(out))
"""


def bench_commands(runs: int) -> list[dict]:
    name = "6 server commands: run_command / run_process wall"
    python, timeout = VENV / "bin" / "python", shutil.which("timeout")
    binary = next((b for b in ("/usr/sbin/nginx", "/usr/sbin/haproxy") if os.access(b, os.X_OK)), None)
    if not python.exists() or not timeout or not binary:
        return [not_run(name, "needs %s, coreutils timeout and nginx or haproxy (make venv lab-deps)" % python)]
    argv = [timeout, "--kill-after=5", "30", binary, "-V" if binary.endswith("nginx") else "-vv"]
    env = dict(os.environ, PYTHONPATH=str(PYROOT))
    ratios, slow = [], {"run_command": 0, "run_process": 0}
    for _run in range(runs):
        out = sh([python, "-c", COMMAND_RACE, json.dumps(argv), str(COMMAND_RUNS)], env=env, timeout=1800)
        try:
            got = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return [not_run(name, "the measurement printed no result: %s" % tail(out))]
        ratios.append(got["run_command"]["wall_s"] / got["run_process"]["wall_s"])
        for runner in slow:
            slow[runner] += got[runner]["over_0_9_s"]
    total = COMMAND_RUNS * runs
    note = "%d x `timeout %s %s` each, interleaved; over 0.9 s: run_command %d, run_process %d" % (
        total,
        os.path.basename(binary),
        argv[-1],
        slow["run_command"],
        slow["run_process"],
    )
    return [
        figure(name, median(ratios), "x", None, None, note, runs, ratios),
        figure(
            "6 server commands: stalled a second, per 100 (run_command)",
            100.0 * slow["run_command"] / total,
            "",
            None,
            None,
            "run_process: %.1f per 100" % (100.0 * slow["run_process"] / total),
            runs,
        ),
    ]


def bench_report(runs: int, nodes=5000, hostnames=10) -> list[dict]:
    name = "5b report step, %d nodes x %d hostnames" % (nodes, hostnames)
    python = VENV / "bin" / "python"
    if not python.exists():
        return [not_run(name + ": time", "%s is missing (make venv)" % python, 10.0, "<=", "s")]
    work = Path(tempfile.mkdtemp(prefix="tlsfleet-bench-report-"))
    try:
        results, regions = synthetic_results(nodes, hostnames)
        data = work / "results.json"
        data.write_text(json.dumps({"results": results, "regions": regions}))
        input_mib = data.stat().st_size / MIB
        del results, regions
        times, builds, writes, rss, wall = [], [], [], [], []
        last = {}
        for i in range(runs):
            child = [python, "-c", REPORT_CHILD, ensure_pyroot(), data, work / ("out%d" % i)]
            out, measure = measured([python, "-c", MEASURE, *child], timeout=600)
            if out.returncode != 0:
                raise Skip("the report step failed: %s" % tail(out))
            last = json.loads(out.stdout.strip().splitlines()[-1])
            times.append(last["total_s"])
            builds.append(last["build_s"])
            writes.append(last["write_s"])
            wall.append(measure["wall_s"])
            rss.append(measure["maxrss_kib"] / 1024)
            shutil.rmtree(work / ("out%d" % i), ignore_errors=True)
        note = "build %.2f s + write %.2f s; process wall %.2f s (start, load %.0f MiB of input JSON, report)" % (
            median(builds),
            median(writes),
            median(wall),
            input_mib,
        )
        sizes = ", ".join("%s %.1f MiB" % (k, v / MIB) for k, v in sorted(last.get("bytes", {}).items()))
        return [
            figure(name + ": time", median(times), "s", 10.0, "<=", note, runs, times),
            figure(name + ": peak RSS", median(rss), "MiB", 500.0, "<=", "report files: " + sizes, runs, rss),
        ]
    except Skip as exc:
        return [not_run(name, str(exc), 10.0, "<=", "s")]
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------------------
# The lab


class Lab:
    """labctl and ansible against the running lab, with the environment the lead's lab tests use."""

    def __init__(self, replace=False):
        self.collections = None
        self.scenario = None
        self.replace = replace

    def preflight(self):
        if os.geteuid() != 0:
            raise Skip("the lab needs root (run: sudo make bench)")
        for tool in ("ansible", "ansible-playbook"):
            if not (VENV / "bin" / tool).exists():
                raise Skip("%s is missing (make venv)" % (VENV / "bin" / tool))
        if self.scenario is None and not self.replace and sh([LABCTL, "inventory"], timeout=60).returncode == 0:
            raise Skip("a lab is already up (someone may be using it): bring it down or pass --replace-lab")
        out = sh([LABCTL, "preflight"], timeout=120)
        if out.returncode != 0:
            raise Skip("lab packages missing: %s (make lab-deps)" % tail(out))
        if self.collections is None:
            out = sh([ROOT / "tools" / "sync-collection", COLLECTIONS], timeout=300)
            if out.returncode != 0:
                raise Skip("cannot copy the collection: %s" % tail(out))
            self.collections = str(COLLECTIONS)

    def env(self, forks=30, **extra) -> dict:
        environ = dict(os.environ)
        environ.update(
            PATH="%s:%s" % (VENV / "bin", os.environ.get("PATH", "")),
            ANSIBLE_COLLECTIONS_PATH=self.collections or "",
            ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_PIPELINING="True",
            ANSIBLE_FORKS=str(forks),
            ANSIBLE_DEPRECATION_WARNINGS="False",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="False",
        )
        environ.update({k: str(v) for k, v in extra.items()})
        return environ

    def up(self, scenario: Path):
        started = time.monotonic()
        out = sh([LABCTL, "up", scenario], timeout=1800)
        if out.returncode != 0:
            self.scenario = None
            raise Skip("labctl up %s failed: %s" % (scenario.name, tail(out)))
        self.scenario = scenario
        return time.monotonic() - started

    def down(self):
        sh([LABCTL, "down"], timeout=300)
        self.scenario = None

    def inventory(self) -> str:
        out = sh([LABCTL, "inventory"], timeout=60)
        if out.returncode != 0:
            raise Skip("labctl inventory: %s" % tail(out))
        return out.stdout.strip()

    def hostvars(self) -> dict:
        out = sh([VENV / "bin" / "ansible-inventory", "-i", self.inventory(), "--list"], env=self.env(), timeout=120)
        try:
            return json.loads(out.stdout)["_meta"]["hostvars"]
        except (ValueError, KeyError) as exc:
            raise Skip("ansible-inventory gave no hostvars: %s" % tail(out)) from exc

    def labctl(self, *args, timeout=300) -> subprocess.CompletedProcess:
        out = sh([LABCTL, *args], timeout=timeout)
        if out.returncode != 0:
            raise Skip("labctl %s failed: %s" % (" ".join(map(str, args)), tail(out)))
        return out

    def timed(self, argv, env, timeout=1800) -> tuple[float, subprocess.CompletedProcess]:
        started = time.monotonic()
        out = sh(argv, env=env, timeout=timeout)
        return time.monotonic() - started, out

    def timed_cpu(self, argv, env, timeout=1800) -> tuple[float, float, subprocess.CompletedProcess]:
        """Wall time and the controller's CPU seconds (user + system of the command and everything it waited for:
        ansible, its forks, the ssh clients). The nodes' own work runs under their sshd, not in here."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, out = self.timed(argv, env, timeout)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, out


def _lab_bench(lab: Lab, names, fn, *args) -> list[dict]:
    """Run a lab benchmark; any Skip (or unexpected error) becomes rows that say why."""
    try:
        lab.preflight()
        return fn(lab, *args)
    except Skip as exc:
        return [not_run(name, str(exc)) for name in names]
    except Exception as exc:  # the table says what went wrong, the run goes on
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return [not_run(name, "error: %s" % detail) for name in names]


# ------------------------------------------------------------------------------------------------ benchmark 1 and 5a


def audit_vs_ping(lab: Lab, count: int, runs: int, work: Path) -> dict:
    scenario = write_fleet_scenario(count, work / "scenarios")
    up_s = lab.up(scenario)
    inventory = lab.inventory()
    env = lab.env(forks=max(count, 10))
    ping = [VENV / "bin" / "ansible", "-i", inventory, "tlsfleet_lab", "-m", "ansible.builtin.ping"]
    diagnose_times, ping_times, ratios, cpu_ratios, cpus = [], [], [], [], {"ping": [], "diagnose": []}
    for i in range(runs):
        report_dir = work / ("diagnose-%d-%d" % (count, i))
        diagnose = [
            VENV / "bin" / "ansible-playbook",
            "-i",
            inventory,
            "tlsfleet.stapling.diagnose",
            "-e",
            json.dumps({"tlsfleet_hosts": "tlsfleet_lab", "tlsfleet_report_dir": str(report_dir)}),
        ]
        # Alternate the order, so neither always runs on a warmer machine.
        pair = [("ping", ping), ("diagnose", diagnose)]
        if i % 2:
            pair.reverse()
        took = {}
        for kind, argv in pair:
            took[kind], cpu, out = lab.timed_cpu(argv, env)
            cpus[kind].append(cpu)
            if out.returncode not in (0, 2) or (kind == "ping" and out.returncode != 0):
                raise Skip("%s failed on %d nodes (rc %s): %s" % (kind, count, out.returncode, tail(out)))
        report = report_dir / "report.json"
        if not report.exists():
            raise Skip("diagnose wrote no report.json on %d nodes" % count)
        summary = json.loads(report.read_text())["summary"]
        if summary.get("nodes_ok") != count:
            raise Skip("diagnose audited %s of %d nodes" % (summary.get("nodes_ok"), count))
        diagnose_times.append(took["diagnose"])
        ping_times.append(took["ping"])
        ratios.append(took["diagnose"] / took["ping"])
        cpu_ratios.append(cpus["diagnose"][-1] / cpus["ping"][-1] if cpus["ping"][-1] else None)
    return {
        "controller_cpu_ratio": median(cpu_ratios),
        "controller_cpu_s": {kind: median(values) for kind, values in cpus.items()},
        "nodes": count,
        "up_s": up_s,
        "diagnose_s": median(diagnose_times),
        "ping_s": median(ping_times),
        "ratio": median(ratios),
        "ratios": ratios,
        "runs": runs,
    }


def bench_fleet(lab: Lab, runs: int, sizes: list[int], work: Path) -> list[dict]:
    rows, measured_sizes = [], {}
    for count in sizes:
        name = "5a scaling: diagnose / ping at %d nodes" % count
        try:
            got = audit_vs_ping(lab, count, runs, work)
        except Skip as exc:
            rows.append(not_run(name, str(exc), unit="x"))
            continue
        measured_sizes[count] = got
        note = "diagnose %.2f s, ping %.2f s (lab up %.0f s)" % (got["diagnose_s"], got["ping_s"], got["up_s"])
        rows.append(figure(name, got["ratio"], "x", None, None, note, runs, got["ratios"]))
    big = [c for c in measured_sizes if c >= 12]
    name1 = "1 fleet audit: diagnose / ping (>= 12 nodes)"
    if big:
        got = measured_sizes[max(big)]
        note = "%d nodes, forks %d, pipelining; diagnose %.2f s, ping %.2f s" % (
            got["nodes"],
            max(got["nodes"], 10),
            got["diagnose_s"],
            got["ping_s"],
        )
        rows.insert(0, figure(name1, got["ratio"], "x", 1.5, "<=", note, runs, got["ratios"]))
        cpu = got["controller_cpu_s"]
        rows.insert(
            1,
            figure(
                "1 fleet audit: controller CPU, diagnose / ping",
                got["controller_cpu_ratio"],
                "x",
                None,
                None,
                "%d nodes: %.2f s vs %.2f s of controller CPU (the lab's nodes share these %s cores)"
                % (got["nodes"], cpu["diagnose"] or 0, cpu["ping"] or 0, os.cpu_count()),
                runs,
            ),
        )
    else:
        rows.insert(0, not_run(name1, "no fleet of 12 or more nodes could be measured", 1.5, "<=", "x"))
    return rows


# ------------------------------------------------------------------------------------------------ benchmark 2 and 3

NAMES_ROWS = (
    "2 200 names: node_audit time on the node",
    "2 200 names: sslyze time / node_audit time",
    "2 200 names: s_client loop time / node_audit time",
    "2 200 names: node_audit peak RSS",
    "3 responder dropping: node_audit time",
    "2 200 names: node_audit result size",
)


def ensure_sslyze() -> Path:
    """sslyze in its own venv (.venv/sslyze), pinned; installed on first use."""
    sslyze = SSLYZE_VENV / "bin" / "sslyze"
    if sslyze.exists():
        return sslyze
    base = getattr(sys, "_base_executable", None) or sys.executable
    out = sh([base, "-m", "venv", SSLYZE_VENV], timeout=300)
    if out.returncode != 0:
        raise Skip("cannot create %s: %s" % (SSLYZE_VENV, tail(out)))
    out = sh([SSLYZE_VENV / "bin" / "python", "-m", "pip", "install", "-q", SSLYZE_PIN], timeout=900)
    if out.returncode != 0 or not sslyze.exists():
        raise Skip("pip install %s failed: %s" % (SSLYZE_PIN, tail(out)))
    return sslyze


def keep_audit_payload(lab: Lab, host: str, work: Path) -> Path:
    """Run node_audit once through ansible, keeping the AnsiballZ payload (module and arguments) on the node."""
    remote = SHARED_TMP / "remote"
    shutil.rmtree(remote, ignore_errors=True)
    remote.mkdir(parents=True, exist_ok=True)
    env = lab.env(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="False", ANSIBLE_REMOTE_TMP=str(remote))
    argv = [VENV / "bin" / "ansible", "-i", lab.inventory(), host, "-m", "tlsfleet.stapling.node_audit"]
    out = sh(argv, env=env, timeout=600)
    if out.returncode != 0:
        raise Skip("node_audit through ansible failed on %s: %s" % (host, tail(out)))
    payloads = sorted(remote.rglob("AnsiballZ_node_audit.py"), key=lambda p: p.stat().st_mtime)
    if not payloads:
        raise Skip("ANSIBLE_KEEP_REMOTE_FILES left no AnsiballZ_node_audit.py under %s" % remote)
    return payloads[-1]


def in_node(node: str, *argv) -> list:
    """A command inside the node, timed there by MEASURE with the node's own Python."""
    return [LABCTL, "exec", node, "--", NODE_PYTHON, "-c", MEASURE, *argv]


def run_audit(node: str, payload: Path) -> dict:
    out, measure = measured(in_node(node, NODE_PYTHON, payload), timeout=600)
    try:
        result = json.loads(out.stdout[out.stdout.index("{") :])
    except ValueError as exc:
        raise Skip("node_audit printed no JSON (rc %s): %s" % (out.returncode, tail(out))) from exc
    if result.get("failed"):
        raise Skip("node_audit failed: %s" % result.get("msg"))
    evidence = result.get("evidence") or {}
    served = [s for site in evidence.get("sites") or [] for s in (site.get("served") or {}).values()]
    return {
        "wall_s": measure["wall_s"],
        "maxrss_mib": measure["maxrss_kib"] / 1024,
        "total_ms": (evidence.get("timings") or {}).get("total_ms"),
        "served": len(served),
        "good": sum(1 for s in served if (s.get("summary") or {}).get("staple_state") == "good"),
        "codes": sorted({f.get("code") for f in result.get("findings") or []}),
        "result_kib": len(json.dumps(result, separators=(",", ":"))) / 1024,
    }


def bench_names(lab: Lab, runs: int, work: Path) -> list[dict]:
    sslyze_error = None
    try:
        sslyze = ensure_sslyze()
    except Skip as exc:
        sslyze, sslyze_error = None, str(exc)
    lab.up(MANY_NAMES)
    hostvars = lab.hostvars()
    if len(hostvars) != 1:
        raise Skip("many_names.yml should give one node, got %d" % len(hostvars))
    node = next(iter(hostvars))
    names = sorted(hostvars[node].get("tlsfleet_lab_expect") or {})
    if len(names) != 200:
        raise Skip("the node serves %d hostnames, not 200" % len(names))
    SHARED_TMP.mkdir(parents=True, exist_ok=True)
    payload = keep_audit_payload(lab, node, work)
    loop = SHARED_TMP / "sclient-loop.sh"
    loop.write_text(
        "for n in %s; do\n"
        "  openssl s_client -connect 127.0.0.1:443 -servername $n -status </dev/null 2>&1\n"
        "done | grep -c 'OCSP Response Status: successful'\n" % " ".join(names)
    )
    targets = SHARED_TMP / "sslyze-targets.txt"
    targets.write_text("".join("%s:443{127.0.0.1}\n" % n for n in names))
    audits, loops, scans, rss, sslyze_ratio, loop_ratio, sizes = [], [], [], [], [], [], []
    loop_ok = scan_ok = None
    for i in range(runs):
        audit = run_audit(node, payload)
        if audit["served"] != 200 or audit["good"] != 200:
            raise Skip("node_audit saw %d names, %d good staples (want 200)" % (audit["served"], audit["good"]))
        audits.append(audit["wall_s"])
        rss.append(audit["maxrss_mib"])
        sizes.append(audit["result_kib"])
        out, measure = measured(in_node(node, "sh", loop), timeout=900)
        loops.append(measure["wall_s"])
        loop_ok = int((out.stdout.strip().splitlines() or ["0"])[-1] or 0)
        loop_ratio.append(measure["wall_s"] / audit["wall_s"])
        if sslyze is not None:
            json_out = SHARED_TMP / ("sslyze-%d.json" % i)
            argv = [sslyze, "--certinfo", "--quiet", "--targets_in", targets, "--json_out", json_out]
            out, measure = measured(in_node(node, *argv), timeout=1800)
            scans.append(measure["wall_s"])
            sslyze_ratio.append(measure["wall_s"] / audit["wall_s"])
            scan_ok = _sslyze_completed(json_out)
    rows = [
        figure(NAMES_ROWS[0], median(audits), "s", 2.0, "<=", "200 names, 200 good staples", runs, audits),
    ]
    if sslyze is None:
        rows.append(not_run(NAMES_ROWS[1], sslyze_error, 10.0, ">=", "x"))
    else:
        note = "sslyze %.2f s, %s of 200 scans completed" % (median(scans), scan_ok)
        rows.append(figure(NAMES_ROWS[1], median(sslyze_ratio), "x", 10.0, ">=", note, runs, sslyze_ratio))
    note = "loop %.2f s, %s of 200 handshakes with a successful staple" % (median(loops), loop_ok)
    rows.append(figure(NAMES_ROWS[2], median(loop_ratio), "x", 1.0, ">", note, runs, loop_ratio))
    rows.append(figure(NAMES_ROWS[3], median(rss), "MiB", 100.0, "<=", "AnsiballZ process on the node", runs, rss))
    note = "JSON without whitespace, default options (evidence: compact)"
    rows.append(figure(NAMES_ROWS[5], median(sizes), "KiB", 1024.0, "<=", note, runs, sizes))
    rows += bench_outage(lab, node, payload, runs)
    return rows


def _sslyze_completed(path: Path):
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return sum(1 for item in doc.get("server_scan_results") or [] if item.get("scan_status") == "COMPLETED")


def bench_outage(lab: Lab, node: str, payload: Path, runs: int) -> list[dict]:
    target = RESPONDER_TIMEOUT + 2.0
    lab.labctl("egress", node, "ocsp=drop")
    try:
        times, codes = [], set()
        for _i in range(runs):
            audit = run_audit(node, payload)
            times.append(audit["wall_s"])
            codes.update(audit["codes"])
    finally:
        sh([LABCTL, "egress", node], timeout=120)
    note = "responder_timeout %.0f s; findings: %s" % (RESPONDER_TIMEOUT, ", ".join(sorted(codes)) or "none")
    return [figure(NAMES_ROWS[4], median(times), "s", target, "<=", note, runs, times)]


# ------------------------------------------------------------------------------------------------ benchmark 4

ROLLOUT_ROWS = (
    "4 rollout: nodes verified",
    "4 rollout: total time",
    "4 rollout: slowest batch's verification",
    "4 rollout: share in verification and staple warm-up",
)
ROLLOUT_PLAY = "Roll the certificate out"
BATCH_START = "Audit the node"
VERIFY_TASK = "Verify that every touched hostname"


def batch_timings(events: list[dict]) -> dict:
    """From bench_timer events: the rollout's total, and per batch its time and its verification task's time."""
    if not events:
        return {"total_s": None, "batches": []}
    batches, in_rollout, current = [], False, None
    for i, event in enumerate(events):
        following = events[i + 1]["t"] if i + 1 < len(events) else event["t"]
        if event["kind"] == "play":
            in_rollout = event["name"].startswith(ROLLOUT_PLAY)
            continue
        if not in_rollout or event["kind"] != "task":
            continue
        if BATCH_START in event["name"]:
            current = {"start": event["t"], "end": following, "verify_s": 0.0}
            batches.append(current)
        if current is None:
            continue
        current["end"] = following
        if VERIFY_TASK in event["name"]:
            current["verify_s"] += following - event["t"]
    out = [{"seconds": b["end"] - b["start"], "verify_s": b["verify_s"]} for b in batches]
    return {"total_s": events[-1]["t"] - events[0]["t"], "batches": out}


def bench_rollout(lab: Lab, runs: int, count: int, work: Path) -> list[dict]:
    scenario = write_fleet_scenario(count, work / "scenarios")
    if lab.scenario != scenario:
        lab.up(scenario)
    inventory = lab.inventory()
    totals, worst_verify, shares, verified, per_batch = [], [], [], [], []
    for i in range(runs):
        renewed = json.loads(lab.labctl("renew", "www").stdout)
        certificate = {k: renewed[k] for k in ("certificate", "key", "chain", "hosts")}
        timer = work / ("rollout-%d.jsonl" % i)
        report_dir = work / ("rollout-%d" % i)
        env = lab.env(
            forks=max(count, 10),
            ANSIBLE_CALLBACK_PLUGINS=HERE / "callback_plugins",
            ANSIBLE_CALLBACKS_ENABLED="bench_timer",
            TLSFLEET_BENCH_TIMER=timer,
        )
        extra = {
            "tlsfleet_hosts": "tlsfleet_lab",
            "tlsfleet_report_dir": str(report_dir),
            "tlsfleet_rollout_certificate": certificate,
        }
        playbook = [VENV / "bin" / "ansible-playbook", "-i", inventory, "tlsfleet.stapling.rollout"]
        argv = [*playbook, "-e", json.dumps(extra)]
        took, out = lab.timed(argv, env)
        summary_path = report_dir / "rollout-summary.json"
        if not summary_path.exists():
            raise Skip("the rollout wrote no rollout-summary.json (rc %s): %s" % (out.returncode, tail(out)))
        summary = json.loads(summary_path.read_text())
        nodes = summary.get("nodes") or {}
        ok = sum(1 for n in nodes.values() if n.get("status") == "verified")
        verified.append(100.0 * ok / count)
        events = [json.loads(line) for line in timer.read_text().splitlines()] if timer.exists() else []
        timing = batch_timings(events)
        if not timing["batches"]:
            raise Skip("the bench_timer callback recorded no rollout batch")
        totals.append(took)
        worst_verify.append(max(b["verify_s"] for b in timing["batches"]))
        shares.append(100.0 * sum(b["verify_s"] for b in timing["batches"]) / took)
        per_batch.append([round(b["seconds"], 2) for b in timing["batches"]])
    batches = "per batch (s, last run): %s" % ", ".join(map(str, per_batch[-1]))
    return [
        figure(ROLLOUT_ROWS[0], min(verified), "%", 100.0, ">=", "%d nodes, 3 regions, canary first" % count, runs),
        figure(ROLLOUT_ROWS[1], median(totals), "s", None, None, batches, runs, totals),
        figure(ROLLOUT_ROWS[2], median(worst_verify), "s", 3.0, "<=", "verify task incl. warm-up", runs, worst_verify),
        figure(ROLLOUT_ROWS[3], median(shares), "%", None, None, "of the total, all batches", runs, shares),
    ]


# ----------------------------------------------------------------------------------------------------------------
# Table and results


def _value(row) -> str:
    if row["value"] is None:
        return "-"
    return "%.2f %s" % (row["value"], row["unit"]) if row["unit"] else "%.2f" % row["value"]


def _target(row) -> str:
    if row["target"] is None:
        return "-"
    return "%s %g %s" % (row["op"], row["target"], row["unit"])


def table(rows: list[dict]) -> str:
    header = ("benchmark", "figure", "target", "met", "note")
    body = []
    for row in rows:
        met = {True: "met", False: "NOT MET", None: "-"}[row["met"]]
        if row.get("skipped"):
            met = "not run"
        body.append((row["name"], _value(row), _target(row), met, row["note"]))
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(4)]
    fmt = "  ".join("%%-%ds" % w for w in widths) + "  %s"
    lines = [fmt % header, "  ".join("-" * w for w in widths) + "  ----"]
    lines += [fmt % line for line in body]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    gen = sub.add_parser("fleet-scenario", help="write DIR/fleet_N.yml: N healthy nodes over eu/us/ap")
    gen.add_argument("count", type=int)
    gen.add_argument("directory", type=Path)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")), help="runs per figure")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="benchmarks to run, e.g. 5 or 1,2 (default: all)")
    parser.add_argument("--nodes", default="3,6,12,24", help="fleet sizes for benchmarks 1 and 5 (default 3,6,12,24)")
    parser.add_argument("--rollout-nodes", type=int, default=12, help="fleet size for benchmark 4 (default 12)")
    parser.add_argument("--report-nodes", type=int, default=5000, help="benchmark 5's generated nodes (5000)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results JSON (default: %(default)s)")
    parser.add_argument("--no-lab", action="store_true", help="only what runs without the lab (benchmark 5b)")
    parser.add_argument("--replace-lab", action="store_true", help="replace a lab that is already up")
    parser.add_argument("--keep-lab", action="store_true", help="leave the last scenario up")
    args = parser.parse_args(argv)
    if args.command == "fleet-scenario":
        print(write_fleet_scenario(args.count, args.directory))
        return 0
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        only = {int(x) for x in args.only.split(",") if x.strip()}
        sizes = sorted({int(x) for x in args.nodes.split(",") if x.strip()})
    except ValueError:
        parser.error("--only and --nodes take comma-separated numbers")
    started = datetime.datetime.now(datetime.timezone.utc)
    rows: list[dict] = []
    lab = Lab(replace=args.replace_lab)
    work = Path(tempfile.mkdtemp(prefix="tlsfleet-bench-"))
    lab_wanted = bool(only & {1, 2, 3, 4}) and not args.no_lab
    try:
        if lab_wanted:
            if only & {1, 5}:
                sizes_run = sizes if 5 in only else [s for s in sizes if s >= 12][-1:] or [12]
                names = ["1 fleet audit: diagnose / ping (>= 12 nodes)"]
                names += ["5a scaling: diagnose / ping at %d nodes" % c for c in sizes_run]
                rows += _lab_bench(lab, names, bench_fleet, args.runs, sizes_run, work)
            if only & {4}:
                rows += _lab_bench(lab, ROLLOUT_ROWS, bench_rollout, args.runs, args.rollout_nodes, work)
            if only & {2, 3}:
                rows += _lab_bench(lab, NAMES_ROWS, bench_names, args.runs, work)
        elif only & {1, 2, 3, 4}:
            rows += [not_run("1-4 and 5a (lab benchmarks)", "--no-lab given")]
        if 5 in only:
            rows += bench_report(args.runs, nodes=args.report_nodes)
        if 6 in only:
            rows += bench_commands(args.runs)
    finally:
        if lab.scenario is not None and not args.keep_lab:
            lab.down()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(SHARED_TMP, ignore_errors=True)
    finished = datetime.datetime.now(datetime.timezone.utc)
    results = {
        "format": 1,
        "date": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "runs": args.runs,
        "machine": machine(),
        "versions": versions(),
        "figures": rows,
        "all_met": all(row["met"] is not False for row in rows) and not any(row.get("skipped") for row in rows),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(table(rows))
    m = results["machine"]
    print(
        "\n%s, %s cores, %s GiB, median of %d run(s); results: %s"
        % (results["date"], m["cores"], m["memory_gib"], args.runs, args.results)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
