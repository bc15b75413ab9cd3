# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scenario sweep: random lab fleets that combine faults, node_audit over ssh, invariants against the oracle.

Scenario i of a run comes from seed SEED+i alone (tlslab.sweepgen.generate), so a failing one replays with
``make lab-sweep SEED=<seed> N=1``. ``--pack K`` brings K scenarios up side by side as one lab fleet
(tlslab.sweepgen.pack: nodes and leaves named after their seed), which costs little more than one. Per lab
fleet: ``labctl up``, the oracle (``labctl check --json``), node_audit
on every node (audit_scenarios.run_audit), the oracle again (``--recheck``: the final handshakes only), ``labctl
down``. The oracle's OBSERVED values are the truth (what each node staples and serves over TLS 1.2, what the
responder answers from the node); a hostname whose observation changed between the two oracle runs is reported
as unstable and not judged. Invariants per node and hostname:

  (a) no false healthy: not served (no_server), or served without a good/expiring staple while the certificate
      has an OCSP URL -> at least one finding of severity error or critical (a site whose nginx/Apache stapling
      is switched off and whose certificate lacks Must-Staple: at least one finding of any severity);
  (b) no false alarm: good staple, chain deployed full and served as deployed, the deployed certificate served,
      valid for more than 21 days, key matching -> no finding of severity error or critical;
  (c) no borrowed status: cert_revoked / cert_status_unknown only where the answer about that very certificate
      says so (its responder mode, the oracle's responder check for its leaf on that node, or its staple);
  (d) node_audit ran on every node, did not fail, and no traceback anywhere in its result.

A scenario the lab refuses or cannot bring up, or a server up/down other than the generator predicted, is a
generator error (printed, exit 1), not a violation. Figures go to $TLSFLEET_BUILD_DIR/sweep-counts.json
(default .build/), failing scenarios' YAML to .build/sweep/.

Usage: sweep.py [--seed S] [-n N | --seeds S1,S2,...] [--pack K] [--core VENV] [--print]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "lab"))

import audit_scenarios as audit  # noqa: E402 - needs the path above
import yaml  # noqa: E402
from tlslab import sweepgen  # noqa: E402

ROOT = audit.ROOT
LABCTL = audit.LABCTL
BUILD = Path(os.environ.get("TLSFLEET_BUILD_DIR", ROOT / ".build"))
BAD = audit.BAD
GOOD_STAPLES = ("good", "expiring")
BORROWABLE = {"cert_revoked": "revoked", "cert_status_unknown": "unknown"}
TRACEBACK = "Traceback (most recent call last)"
INVARIANTS = ("a", "b", "c", "d")


def oracle(recheck: bool = False) -> tuple[dict, str]:
    """The oracle's observations: {(node, host): {staple, cert, chain}}, {(node, leaf): responder state}."""
    out = audit.sh([str(LABCTL), "check", "--json", *(["--recheck"] if recheck else [])], timeout=600)
    try:
        results = json.loads(out.stdout)
    except ValueError:
        return {}, "labctl check gave no JSON (rc %s): %s" % (out.returncode, (out.stderr or out.stdout)[-500:])
    sites, responder = {}, {}
    for r in results:
        if r["kind"] in ("staple", "cert", "chain"):
            _server_port, host = r["what"].split(" ", 1)
            sites.setdefault((r["node"], host), {})[r["kind"]] = r["observed"]
        elif r["kind"] == "responder":
            responder[(r["node"], r["what"])] = r["observed"]
    return {"sites": sites, "responder": responder}, ""


def describe(gen: dict, node: dict, host: str, seen: dict) -> str:
    """One compact line: what is deployed for the hostname, the node's faults and what the oracle saw."""
    site = gen["sites"][node["name"]][host]
    leaf = gen["scenario"]["leaves"][site["leaf"]]
    mode = leaf["ocsp"]["mode"] if isinstance(leaf["ocsp"], dict) else leaf["ocsp"]
    stapling = ",".join("%s=%s" % kv for kv in sorted(site["stapling"].items()))
    extra = [leaf["issuer"], leaf["validity"]] + (["must_staple"] if leaf["must_staple"] else [])
    faults = dict(node.get("faults") or {}, **({"server_down": node["server_down"]} if "server_down" in node else {}))
    return "%s chain=%s stapling{%s} leaf %s mode=%s %s faults=%s | oracle staple=%s cert=%s chain=%s" % (
        site["server"],
        site["chain"],
        stapling,
        site["leaf"],
        mode,
        "/".join(extra),
        json.dumps(faults, sort_keys=True) if faults else "-",
        seen.get("staple"),
        seen.get("cert"),
        seen.get("chain"),
    )


def _codes(findings: list) -> str:
    return ", ".join(sorted("%s(%s)" % (f["code"], f["severity"]) for f in findings)) or "none"


def check(gen: dict, seen: dict, again: dict, results: dict) -> dict:
    """Invariant violations, generator errors and unstable hostnames of one scenario."""
    out = {"violations": [], "generator": [], "unstable": [], "hostnames": 0}
    for node in gen["scenario"]["nodes"]:
        name = node["name"]
        result = results.get(name)
        if result is None:
            out["violations"].append(("d", name, "-", "node_audit gave no result for this node"))
            continue
        text = json.dumps(result)
        if result.get("failed") or result.get("unreachable") or TRACEBACK in text or result.get("exception"):
            why = result.get("msg") or result.get("exception") or "traceback in the result"
            out["violations"].append(("d", name, "-", "node_audit failed: %s" % str(why)[:300]))
            continue
        findings = result.get("findings") or []
        for host, site in sorted(gen["sites"][name].items()):
            out["hostnames"] += 1
            first, second = seen["sites"].get((name, host), {}), again["sites"].get((name, host), {})
            if first != second:
                out["unstable"].append((name, host, "oracle saw %s, then %s" % (first, second)))
                continue
            context = describe(gen, node, host, first)
            down = site["server"] in gen["not_running"][name]
            if down != (first.get("staple") == "no_server"):
                out["generator"].append(
                    (name, host, "predicted %s, the oracle sees staple %s" % ("down" if down else "up", first))
                )
                continue
            mine = [f for f in findings if f.get("hostname") == host]
            for inv, problem in _judge(gen, name, host, site, first, seen, mine, findings):
                out["violations"].append((inv, name, host, "%s [%s]" % (problem, context)))
    return out


def _judge(gen, node, host, site, seen_site, seen, mine, findings):
    leaf = gen["scenario"]["leaves"][site["leaf"]]
    mode = leaf["ocsp"]["mode"] if isinstance(leaf["ocsp"], dict) else leaf["ocsp"]
    has_url = leaf["issuer"] != "int-n"
    staple = seen_site.get("staple")
    bad = [f for f in mine if f["severity"] in BAD]
    # (a) no false healthy
    if staple == "no_server":
        server_level = [f for f in findings if not f.get("hostname") and f.get("server") in (None, site["server"])]
        if not bad and not [f for f in server_level if f["severity"] in BAD]:
            yield "a", "not served, yet no error/critical finding (found: %s)" % _codes(mine + server_level)
    elif staple not in GOOD_STAPLES and has_url:
        switched_off = site["server"] != "haproxy" and not site["stapling"]["enabled"] and not leaf["must_staple"]
        if switched_off and not mine:
            yield "a", "stapling off, staple %s, yet no finding at all" % staple
        elif not switched_off and not bad:
            yield "a", "staple %s, yet no error/critical finding (found: %s)" % (staple, _codes(mine))
    # (b) no false alarm
    clean = (
        staple == "good"
        and site["chain"] == "full"
        and seen_site.get("chain") == "2 certs"
        and seen_site.get("cert") == "deployed"
        and leaf["validity"] == "valid"
    )
    if clean and bad:
        yield "b", "good staple, full chain, valid certificate, yet %s" % _codes(bad)
    # (c) no borrowed status
    for code, state in BORROWABLE.items():
        if any(f["code"] == code for f in mine):
            own = {
                mode if mode in ("revoked", "unknown") else None,
                seen["responder"].get((node, site["leaf"])),
                staple,
            }
            if state not in own:
                yield "c", "%s, but the answer about this certificate is not %s" % (code, state)


def run_one(seeds: list[int], venv: Path, collections: str) -> dict:
    """Bring the scenarios of ``seeds`` up as one lab fleet (sweepgen.pack), audit it, check the invariants."""
    gen = sweepgen.pack(seeds)
    record = {"seeds": seeds, "nodes": len(gen["scenario"]["nodes"]), "hostnames": 0, "timings": {}}
    with tempfile.TemporaryDirectory(prefix="tlsfleet-sweep-") as tmp:
        path = Path(tmp) / ("%s.yml" % gen["scenario"]["name"])
        path.write_text(yaml.safe_dump(gen["scenario"], sort_keys=False))
        started = time.monotonic()
        try:
            up = audit.sh([str(LABCTL), "up", str(path)], timeout=900)
            record["timings"]["up"] = time.monotonic() - started
            if up.returncode != 0:
                record["generator"] = [("-", "-", "labctl up failed: %s" % (up.stderr or up.stdout).strip()[-600:])]
                return _keep(record, gen)
            inventory = audit.sh([str(LABCTL), "inventory"]).stdout.strip()
            mark = time.monotonic()
            seen, error = oracle()
            record["timings"]["oracle"] = time.monotonic() - mark
            if error:
                record["generator"] = [("-", "-", error)]
                return _keep(record, gen)
            mark = time.monotonic()
            ran = audit.run_audit(venv, inventory, "ssh", collections, require_results=False)
            record["timings"]["audit"] = time.monotonic() - mark
            mark = time.monotonic()
            again, error = oracle(recheck=True)
            record["timings"]["recheck"] = time.monotonic() - mark
            if error:
                record["generator"] = [("-", "-", error)]
                return _keep(record, gen)
            outcome = check(gen, seen, again, ran["results"])
        finally:
            audit.sh([str(LABCTL), "down"], timeout=300)
    record.update(outcome)
    return _keep(record, gen) if outcome["violations"] or outcome["generator"] else record


def failing_seeds(record: dict) -> list[int]:
    """The seeds of a packed run with a violation or a generator error (all of them when none is attributable)."""
    nodes = {item[1] for item in record.get("violations", [])} | {item[0] for item in record.get("generator", [])}
    seeds = sorted({sweepgen.seed_of(node) for node in nodes if node != "-"})
    return seeds or (list(record["seeds"]) if nodes else [])


def _keep(record: dict, gen: dict) -> dict:
    """A failing run's YAML stays in .build/sweep/ for the cause scenario it should become."""
    keep = BUILD / "sweep" / ("%s.yml" % gen["scenario"]["name"])
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text(yaml.safe_dump(gen["scenario"], sort_keys=False))
    record["kept"] = str(keep)
    return record


def report(record: dict) -> None:
    violations, generator = record.get("violations", []), record.get("generator", [])
    unstable = record.get("unstable", [])
    status = "FAIL" if violations else "GENERATOR" if generator else "PASS"
    times = " ".join("%s %.1fs" % kv for kv in record["timings"].items())
    print(
        "%s seed%s %s: %d nodes, %d hostnames, %d violations%s (%s)"
        % (
            status,
            "s" if len(record["seeds"]) > 1 else "",
            ",".join(map(str, record["seeds"])),
            record["nodes"],
            record.get("hostnames", 0),
            len(violations),
            ", %d unstable" % len(unstable) if unstable else "",
            times,
        ),
        flush=True,
    )
    for inv, node, host, text in violations:
        print("    (%s) %s %s: %s" % (inv, node, host, text))
    for node, host, text in generator:
        print("    generator: %s %s: %s" % (node, host, text))
    for node, host, text in unstable:
        print("    unstable: %s %s: %s" % (node, host, text))
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-n", type=int, default=10, help="number of scenarios (seeds SEED .. SEED+N-1)")
    parser.add_argument("--seeds", help="comma-separated seeds to run instead (e.g. picked with --print)")
    parser.add_argument(
        "--pack",
        type=int,
        default=1,
        help="scenarios brought up together as one lab fleet (default 1; make reliability packs 5)",
    )
    parser.add_argument("--core", default=str(ROOT / ".venv" / "ansible-2.21"), help="venv with ansible-core")
    parser.add_argument("--print", action="store_true", help="print the generated scenarios, run nothing")
    args = parser.parse_args()
    seeds = [args.seed + i for i in range(args.n)]
    if args.seeds:
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            parser.error("--seeds: give whole numbers separated by commas, e.g. 3045,3112")
    if args.print:
        for seed in seeds:
            print("# seed %d\n%s" % (seed, yaml.safe_dump(sweepgen.pack([seed])["scenario"], sort_keys=False)))
        return 0
    venv = Path(args.core)
    collections = audit.collections_path(venv)
    started = time.monotonic()
    records = []
    if args.pack < 1:
        parser.error("--pack: give a whole number of 1 or more")
    for start in range(0, len(seeds), args.pack):
        record = run_one(seeds[start : start + args.pack], venv, collections)
        report(record)
        records.append(record)
    counts = {
        "seed": args.seed,
        "scenarios": sum(len(r["seeds"]) for r in records),
        "lab_runs": len(records),
        "nodes": sum(r["nodes"] for r in records),
        "hostnames": sum(r.get("hostnames", 0) for r in records),
        "violations": {inv: sum(v[0] == inv for r in records for v in r.get("violations", [])) for inv in INVARIANTS},
        "generator_errors": sum(len(r.get("generator", [])) for r in records),
        "unstable": sum(len(r.get("unstable", [])) for r in records),
        "seconds": round(time.monotonic() - started, 1),
        "failing_seeds": [seed for r in records for seed in failing_seeds(r)],
    }
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "sweep-counts.json").write_text(json.dumps(counts, indent=2) + "\n")
    print(
        "sweep: %(scenarios)d scenarios, %(nodes)d nodes, %(hostnames)d hostnames, %(generator_errors)d generator"
        " errors, %(unstable)d unstable, %(seconds).0f s" % counts
    )
    print("violations by invariant: " + ", ".join("(%s) %d" % kv for kv in counts["violations"].items()))
    for seed in counts["failing_seeds"]:
        print("replay: make lab-sweep SEED=%d N=1" % seed)
    return 1 if counts["failing_seeds"] else 0


if __name__ == "__main__":
    sys.exit(main())
