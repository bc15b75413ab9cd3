# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run node_audit over SSH against lab scenarios and compare its findings with each scenario's ``expect``.

For every scenario: ``labctl up``, one ``ansible`` run of ``tlsfleet.stapling.node_audit`` on every node (the
managed-node Python is Debian's /usr/bin/python3 with its own cryptography and pyOpenSSL), then per node and
hostname: every expected code must be reported, and no other code of severity error or worse may be. Nodes and
hostnames a scenario expects nothing of must report nothing of severity error or worse; healthy.yml must
report nothing at all.

A scenario with a candidate (``preflight:``) is then renewed as it says (``labctl renew LEAF --variant V``) and
node_audit runs again with the candidate (its ``preflight`` option): every site the candidate covers must get the
verdict and check statuses of its ``preflight_expect:`` (with the statuses the oracle computes from the scenario,
tlslab.oracle.expected_preflight), and no other site a verdict. With ``--oracle`` the scenario's
``preflight_expect:`` must first agree with what the oracle computes.

With ``--pack N``, scenarios that can share a lab (no candidate, not healthy.yml, whose every node must report
nothing, and no leaf name or hostname in common) are brought up side by side, up to N nodes per lab fleet, each
node renamed ``p<scenario's position>-<node>``: bringing a lab up, the oracle and the ansible run cost nearly the
same for 3 nodes as for 24, and the scenarios' nodes, leaves and hostnames stay their own. Each scenario is still
judged and reported alone.

Usage: audit_scenarios.py [--core VENV] [--connection ssh|paramiko_ssh] [--pack N] [--keep] SCENARIO.yml ...
Prints one line per scenario (with the size of node_audit's result per node: JSON without whitespace, as
registered) and a closing "N passed, N failed" line; exits 1 when any scenario fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LABCTL = ROOT / "tests" / "lab" / "labctl"
BAD = {"critical", "error"}
sys.path.insert(0, str(ROOT / "tests" / "lab"))


def sh(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def collections_path(venv: Path) -> str:
    build = ROOT / ".build" / "lab-collections"
    out = sh([str(ROOT / "tools" / "sync-collection"), str(build)])
    if out.returncode != 0:
        raise SystemExit("cannot copy the collection: %s" % out.stderr.strip())
    return str(build)


def run_audit(
    venv: Path, inventory: str, connection: str, collections: str, require_results: bool = True, candidate=None
) -> dict:
    """node_audit on every node: {"results": {host: the registered result}, "elapsed": s, "output": the play's}.

    ``candidate`` ({certificate, chain} PEM text): node_audit's preflight option."""
    results_dir = Path(tempfile.mkdtemp(prefix="tlsfleet-audit-"))
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_FORKS="30",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_PARAMIKO_HOST_KEY_CHECKING="False",
        AUDIT_RESULTS_DIR=str(results_dir),
    )
    argv = [str(venv / "bin" / "ansible-playbook"), "-i", inventory, "-c", connection, str(HERE / "audit.yml")]
    if candidate is not None:
        extra = results_dir / "candidate.vars.json"
        extra.write_text(json.dumps({"tlsfleet_lab_candidate": candidate}))
        argv += ["-e", "@%s" % extra]
    started = time.monotonic()
    out = sh(argv, env=env, timeout=600)
    elapsed = time.monotonic() - started
    written = results_dir / "results.json"
    results = json.loads(written.read_text()) if written.exists() else {}
    shutil.rmtree(results_dir, ignore_errors=True)
    if not results and require_results:
        raise SystemExit("ansible-playbook produced no results (rc %s): %s" % (out.returncode, out.stdout[-3000:]))
    return {"results": results, "elapsed": elapsed, "output": out.stdout + out.stderr}


def host_vars(inventory: str, venv: Path, collections: str) -> dict:
    out = sh(
        [str(venv / "bin" / "ansible-inventory"), "-i", inventory, "--list"],
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections),
    )
    return json.loads(out.stdout).get("_meta", {}).get("hostvars", {})


# The oracle's staple states (openssl s_client -status | openssl ocsp -respin, TLS 1.2) in node_audit's words.
ORACLE_TO_AUDIT = {"expiring": "good", "trylater": "invalid", "unauthorized": "invalid", "no_server": "unreachable"}


def compare_staples(hostvars: dict, results: dict) -> list:
    """node_audit's TLS 1.2 staple state per server, port and hostname must be the oracle's."""
    problems = []
    for host, data in sorted(hostvars.items()):
        oracle = data.get("tlsfleet_lab_staple") or {}
        evidence = (results.get(host) or {}).get("evidence") or {}
        seen = {}
        for site in evidence.get("sites") or []:
            for name, report in (site.get("served") or {}).items():
                key = "%s:%s:%s" % (site["server"], site["endpoint"]["port"], name)
                states = (report.get("summary") or {}).get("staple_states") or {}
                seen[key] = states.get("tls1_2")
        for key, state in sorted(oracle.items()):
            want = ORACLE_TO_AUDIT.get(state, state)
            got = seen.get(key, "unreachable")
            if want != got:
                problems.append("%s %s: the oracle sees staple '%s', node_audit '%s'" % (host, key, state, got))
    return problems


def compare(scenario: str, expect: dict, results: dict) -> list:
    problems = []
    for host, wanted in sorted(expect.items()):
        result = results.get(host)
        if result is None or result.get("failed") or result.get("unreachable"):
            problems.append("%s: node_audit failed: %s" % (host, (result or {}).get("msg", "no result")))
            continue
        found = {}
        for finding in result.get("findings", []):
            found.setdefault(finding.get("hostname") or "", []).append(finding)
        names = set(wanted) | set(found)
        for name in sorted(names):
            want = set(wanted.get(name) or [])
            got = {f["code"] for f in found.get(name, [])}
            got_bad = {f["code"] for f in found.get(name, []) if f["severity"] in BAD}
            missing = want - got
            extra = got_bad - want
            if scenario == "healthy":
                extra = got - want
            if missing or extra:
                detail = "; ".join("%s: %s" % (f["code"], " / ".join(f["evidence"])[:220]) for f in found.get(name, []))
                problems.append(
                    "%s %s: expected %s, got %s (missing %s, extra %s) [%s]"
                    % (host, name or "-", sorted(want), sorted(got), sorted(missing), sorted(extra), detail)
                )
    return problems


def preflight_expectations(scenario_file: str, hostvars: dict) -> dict:
    """host -> the sites the candidate covers, each with its verdict and the check statuses to compare: the
    scenario's preflight_expect, completed with what the oracle computes from the scenario."""
    from tlslab import oracle, scenario  # the lab's own package, on the path set above

    computed = oracle.expected_preflight(scenario.load(scenario_file))
    out = {}
    for host, data in hostvars.items():
        sites = []
        for site in data.get("tlsfleet_lab_preflight_expect") or []:
            mine = computed.get(host, {}).get("%s:%s:%s" % (site["server"], site["port"], site["name"])) or {}
            checks = {name: status for name, status in (mine.get("checks") or {}).items() if status is not None}
            checks.update(site["checks"])
            sites.append(dict(site, checks=checks))
        out[host] = sites
    return out


def renew_candidate(preflight: dict) -> dict:
    """labctl renew as the scenario's candidate says: {certificate, chain} PEM text for node_audit's preflight."""
    argv = [str(LABCTL), "renew", preflight["leaf"], "--variant", preflight["variant"]]
    if not preflight.get("new_key"):
        argv.append("--keep-key")
    out = sh(argv, timeout=120)
    if out.returncode != 0:
        raise SystemExit("labctl renew failed: %s" % (out.stderr or out.stdout).strip())
    files = json.loads(out.stdout)
    return {"certificate": Path(files["certificate"]).read_text(), "chain": Path(files["chain"]).read_text()}


def compare_preflight(expected: dict, results: dict) -> list:
    """Per covered site: node_audit's verdict and check statuses as expected; no verdict for another site."""
    problems = []
    for host, sites in sorted(expected.items()):
        result = results.get(host) or {}
        if result.get("failed") or result.get("unreachable"):
            problems.append("%s: node_audit with the candidate failed: %s" % (host, result.get("msg", "no result")))
            continue
        verdicts = list(result.get("preflight") or [])
        for site in sites:
            names = set(site["hostnames"])
            found = [v for v in verdicts if v.get("server") == site["server"] and names & set(v.get("hostnames") or [])]
            where = "%s %s %s" % (host, site["server"], site["name"])
            if len(found) != 1:
                problems.append("%s: %d preflight verdicts, expected one" % (where, len(found)))
                continue
            verdict = found[0]
            verdicts.remove(verdict)
            statuses = {check["name"]: check["status"] for check in verdict.get("checks") or []}
            why = " / ".join(verdict.get("reasons", []) + [c.get("text", "") for c in verdict.get("changes", [])])
            if verdict.get("verdict") != site["verdict"]:
                problems.append(
                    "%s: verdict %s, expected %s [%s]" % (where, verdict.get("verdict"), site["verdict"], why[:400])
                )
            for name, status in sorted(site["checks"].items()):
                if statuses.get(name) != status:
                    evidence = next((c["evidence"] for c in verdict["checks"] if c["name"] == name), [])
                    problems.append(
                        "%s: %s is %s, expected %s [%s]"
                        % (where, name, statuses.get(name), status, " / ".join(evidence)[:300])
                    )
        for verdict in verdicts:
            problems.append(
                "%s: a preflight verdict for %s %s, which the scenario does not expect"
                % (host, verdict.get("server"), ", ".join(verdict.get("hostnames") or []))
            )
    return problems


def plan(files: list[str], pack: int) -> list[list[str]]:
    """The scenario files in lab runs: each alone, or with ``pack``, those that can share a lab side by side, up to
    ``pack`` nodes per run. A scenario runs alone when it has a candidate (the renewal changes its lab), is
    healthy.yml (nothing at all may be reported there) or generates leaves; it starts a new run when a leaf name or
    hostname of it is already in the run."""
    runs, group, nodes, names = [], [], 0, set()
    for path in files:
        data = yaml.safe_load(Path(path).read_text()) or {}
        leaves = data.get("leaves") or {}
        mine = set(leaves) | {h for leaf in leaves.values() for h in (leaf.get("hostnames") or [])}
        count = len(data.get("nodes") or [])
        alone = data.get("preflight") or Path(path).stem == "healthy" or count >= pack
        if not pack or alone or any("generate" in leaf for leaf in leaves.values()):
            runs.append([path])
            continue
        if group and (nodes + count > pack or names & mine):
            runs.append(group)
            group, nodes, names = [], 0, set()
        group.append(path)
        nodes += count
        names |= mine
    if group:
        runs.append(group)
    return runs


def packed(files: list[str], positions: dict, directory: Path) -> tuple[str, dict]:
    """One scenario file holding ``files`` side by side, each node renamed ``p<position>-<name>``; and host -> the
    scenario file it came from."""
    if len(files) == 1:
        data = yaml.safe_load(Path(files[0]).read_text())
        return files[0], {node["name"]: files[0] for node in data["nodes"]}
    leaves, nodes, fleet, owner = {}, [], [], {}
    for path in files:
        data = yaml.safe_load(Path(path).read_text())
        rename = {node["name"]: "p%d-%s" % (positions[path], node["name"]) for node in data["nodes"]}
        leaves.update(data["leaves"])
        nodes += [dict(node, name=rename[node["name"]]) for node in data["nodes"]]
        for item in data.get("expect_fleet") or []:
            fleet.append(
                dict(
                    item,
                    nodes=[rename[n] for n in item.get("nodes", [])],
                    odd_nodes=[rename[n] for n in item.get("odd_nodes", [])],
                )
            )
        owner.update({new: path for new in rename.values()})
    name = "pack-%d-x%d" % (positions[files[0]], len(files))
    scenario = {"name": name, "description": "audit_scenarios.py --pack: " + ", ".join(files), "leaves": leaves}
    scenario.update(nodes=nodes, expect_fleet=fleet)
    out = directory / (name + ".yml")
    out.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return str(out), owner


def judge(scenario_file: str, args, venv: Path, inventory: str, collections: str, hostvars: dict, audit: dict) -> dict:
    """One scenario's verdict from its own hosts of the lab run: {"problems": [...], "staples": N, "preflight": N}."""
    name = Path(scenario_file).stem
    expect = {host: (data.get("tlsfleet_lab_expect") or {}) for host, data in hostvars.items()}
    problems = compare(name, expect, audit["results"]) + compare_staples(hostvars, audit["results"])
    preflight = next((data.get("tlsfleet_lab_preflight") for data in hostvars.values()), None)
    sites = 0
    if preflight:
        from tlslab import oracle, scenario  # the lab's own package, on the path set above

        if args.oracle:
            problems += ["oracle: " + p for p in oracle.preflight_problems(scenario.load(scenario_file))]
        wanted = preflight_expectations(scenario_file, hostvars)
        checked = run_audit(venv, inventory, args.connection, collections, candidate=renew_candidate(preflight))
        problems += compare_preflight(wanted, checked["results"])
        sites = sum(len(sites) for sites in wanted.values())
    staples = sum(len(data.get("tlsfleet_lab_staple") or {}) for data in hostvars.values())
    return {"problems": problems, "staples": staples, "preflight": sites}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--core", default=str(ROOT / ".venv" / "ansible-2.21"), help="venv with ansible-core")
    parser.add_argument("--connection", default="ssh")
    parser.add_argument(
        "--oracle", action="store_true", help="labctl up --check: the oracle must agree with each scenario first"
    )
    parser.add_argument("--pack", type=int, default=0, help="bring scenarios up side by side, up to N nodes per lab")
    parser.add_argument("--keep", action="store_true", help="leave the last scenario's lab up")
    args = parser.parse_args()
    venv = Path(args.core)
    collections = collections_path(venv)
    passed = failed = staples_compared = preflight_sites = 0
    module_ms = []
    positions = {path: index for index, path in enumerate(args.scenarios)}
    runs = plan(args.scenarios, args.pack)
    workdir = Path(tempfile.mkdtemp(prefix="tlsfleet-packs-"))
    for index, files in enumerate(runs):
        lab_file, owner = packed(files, positions, workdir)
        label = ", ".join(("p%d=" % positions[path] if len(files) > 1 else "") + Path(path).stem for path in files)
        up = sh([str(LABCTL), "up", lab_file, *(["--check"] if args.oracle else [])], timeout=900)
        if up.returncode != 0:
            if up.returncode == 1 and args.oracle:  # up, but the oracle disagrees with the scenario's staple states
                print("FAIL %s: the oracle disagrees with the scenario:\n%s" % (label, up.stdout.strip()[-3000:]))
                sh([str(LABCTL), "down"], timeout=300)
            else:
                print("FAIL %s: labctl up failed: %s" % (label, (up.stderr or up.stdout).strip()[-1500:]))
            failed += len(files)
            continue
        inventory = sh([str(LABCTL), "inventory"]).stdout.strip()
        hostvars = host_vars(inventory, venv, collections)
        audit = run_audit(venv, inventory, args.connection, collections)
        if len(files) > 1:
            print(
                "lab run %s: %d scenarios, %d nodes, audit %.1f s"
                % (index + 1, len(files), len(owner), audit["elapsed"])
            )
        for path in files:
            mine = {host: data for host, data in hostvars.items() if owner.get(host) == path}
            results = {host: result for host, result in audit["results"].items() if host in mine}
            verdict = judge(path, args, venv, inventory, collections, mine, dict(audit, results=results))
            staples_compared += verdict["staples"]
            preflight_sites += verdict["preflight"]
            for result in results.values():
                timing = ((result.get("evidence") or {}).get("timings") or {}).get("total_ms")
                if timing is not None:
                    module_ms.append(timing)
            sizes = [len(json.dumps(result, separators=(",", ":"))) / 1024 for result in results.values()]
            print(
                "%s %s: %d nodes, audit %.1f s, result per node: median %.1f KiB, max %.1f KiB"
                % (
                    "FAIL" if verdict["problems"] else "PASS",
                    Path(path).stem,
                    len(mine),
                    audit["elapsed"],
                    statistics.median(sizes or [0]),
                    max(sizes or [0]),
                )
            )
            for problem in verdict["problems"]:
                print("    " + problem)
            passed += not verdict["problems"]
            failed += bool(verdict["problems"])
        if not (args.keep and index == len(runs) - 1):
            sh([str(LABCTL), "down"], timeout=300)
    shutil.rmtree(workdir, ignore_errors=True)
    if module_ms:
        print("module-side time per node: min %d ms, max %d ms" % (min(module_ms), max(module_ms)))
    print("staple verdicts compared with the openssl oracle: %d" % staples_compared)
    if preflight_sites:
        print("preflight verdicts compared: %d sites" % preflight_sites)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
