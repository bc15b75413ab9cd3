# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compare a fleet report.json with the lab scenario's expectations (``tlsfleet_lab_expect`` per node and
hostname, ``tlsfleet_lab_expect_fleet`` for fleet-level findings).

The rule is the one the node_audit scenario check uses: every expected code is reported, and no other code of
severity error or worse is. Fleet-level findings must match exactly (code, hostname, nodes).

Usage: report_expect.py REPORT.json INVENTORY.yml  (prints the verdict; exit 1 on a mismatch)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BAD = {"critical", "error"}


def compare(report: dict, hostvars: dict) -> list:
    """Problems, one line each; empty when the report is what the scenario expects."""
    found: dict = {}
    for item in report["findings"]:
        if item["host"] is not None:
            found.setdefault(item["host"], {}).setdefault(item["hostname"] or "", []).append(item)
    problems = []
    expect_fleet = None
    nodes = {node["host"]: node for node in report["nodes"]}
    for host, data in sorted(hostvars.items()):
        if "tlsfleet_lab_expect" not in data:
            continue
        expect_fleet = data.get("tlsfleet_lab_expect_fleet") or []
        if host not in nodes:
            problems.append("%s: not in the report" % host)
            continue
        if nodes[host]["status"] != "ok":
            problems.append("%s: %s (%s)" % (host, nodes[host]["status"], nodes[host]["message"]))
            continue
        wanted = data["tlsfleet_lab_expect"] or {}
        for name in sorted(set(wanted) | set(found.get(host, {}))):
            want = set(wanted.get(name) or [])
            items = found.get(host, {}).get(name, [])
            got = {item["code"] for item in items}
            got_bad = {item["code"] for item in items if item["severity"] in BAD}
            if not want <= got or not got_bad <= want:
                line = "%s %s: expected %s, the report has %s" % (host, name or "-", sorted(want), sorted(got))
                problems.append(line)
    fleet_found = sorted(
        (item["code"], item["hostname"], tuple(item["details"].get("nodes") or []))
        for item in report["findings"]
        if item["host"] is None
    )
    fleet_want = sorted((item["code"], item["hostname"], tuple(sorted(item["nodes"]))) for item in expect_fleet or [])
    if fleet_found != fleet_want:
        problems.append("fleet-level findings: expected %s, the report has %s" % (fleet_want, fleet_found))
    return problems


def main() -> int:
    report_path, inventory = sys.argv[1], sys.argv[2]
    report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    tool = Path(sys.executable).parent / "ansible-inventory"
    out = subprocess.run([str(tool), "-i", inventory, "--list"], capture_output=True, text=True, check=True)
    hostvars = json.loads(out.stdout)["_meta"]["hostvars"]
    problems = compare(report, hostvars)
    for line in problems:
        print("MISMATCH %s" % line)
    if problems:
        return 1
    summary = report["summary"]
    print(
        "The report matches the scenario's expectation on every node and hostname "
        "(%d nodes, %d hostnames, %d findings)." % (summary["nodes"], summary["hostnames"], summary["findings"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
