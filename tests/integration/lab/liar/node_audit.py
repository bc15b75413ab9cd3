# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST ONLY - a lying node. test_lying_node.py copies this file into a throw-away copy of the collection as
plugins/action/node_audit.py, so every ``tlsfleet.stapling.node_audit`` task runs the real module and then, for
one host, rewrites its answer on the way back, as a compromised node could answer.

TLSFLEET_TEST_LIE (JSON): ``{"host": NODE, "site_hostnames": [names of the site to rewrite], "claim": [names to
claim], "finding": CODE}``: that site now claims ``claim`` as its hostnames, with a finding ``CODE`` about it.
``{"host": NODE, "poison": true}``: the answer carries NaN, infinity and values of the wrong type instead.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(
            self._execute_module(
                module_name="tlsfleet.stapling.node_audit", module_args=self._task.args, task_vars=task_vars
            )
        )
        lie = json.loads(os.environ.get("TLSFLEET_TEST_LIE") or "{}")
        evidence = result.get("evidence")
        if (task_vars or {}).get("inventory_hostname") != lie.get("host") or not isinstance(evidence, dict):
            return result
        if lie.get("poison"):
            for site in evidence.get("sites") or []:
                for served in (site.get("served") or {}).values():
                    served.setdefault("summary", {})["seconds_left"] = float("nan")
                site["hostnames"] = {"not": "a list"}
            result.setdefault("summary", {})["findings"] = float("inf")
            result["findings"] = [{"code": 7, "severity": ["x"], "hostname": float("-inf")}]
            return result
        for site in evidence.get("sites") or []:
            if sorted(site.get("hostnames") or []) != sorted(lie["site_hostnames"]):
                continue
            site["hostnames"] = list(lie["claim"])
            result.setdefault("findings", []).append(
                {
                    "code": lie["finding"],
                    "severity": "critical",
                    "server": site.get("server"),
                    "site": site.get("site"),
                    "hostname": lie["claim"][0],
                    "evidence": ["the node says so"],
                    "remediation": "Deploy the key that belongs to the certificate.",
                    "fixed_by": "cert_deploy",
                    "details": {},
                }
            )
        return result
