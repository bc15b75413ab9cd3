# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's check of a node's ``preflight`` answer (plugins/plugin_utils/node_result.py): data, never
authority; a lying node gets a message naming the field, never a crash or markup in a report."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils.evidence import VERSION
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import node_result as nr

SITE = {
    "key": "nginx:/etc/nginx/sites-enabled/shop.conf:1#0",
    "site": "nginx:/etc/nginx/sites-enabled/shop.conf:1",
    "server": "nginx",
    "hostnames": ["shop.example.test"],
    "verdict": "ready_after_change",
    "reasons": [],
    "warnings": ["ocsp_url: nginx warns at every reload"],
    "changes": [{"by": "cert_deploy", "action": "add_trusted", "path": "/etc/ssl/t.pem", "text": "add it"}],
    "checks": [
        {"name": "chain", "status": "ok", "evidence": ["2 certificates"], "changes": []},
        {
            "name": "issuer_file",
            "status": "change",
            "evidence": ["stale"],
            "changes": [{"by": "cert_deploy", "action": "add_trusted", "path": "/etc/ssl/t.pem", "text": "add it"}],
        },
    ],
}


def result(**site):
    return {"findings": [], "evidence": {"version": VERSION}, "preflight": [dict(copy.deepcopy(SITE), **site)]}


def test_a_real_answer_passes_unchanged():
    answer = result()
    clean, problem = nr.validate_node_result("web-1", answer)
    assert problem is None and clean == answer
    assert nr.validate_node_result("web-1", dict(answer, preflight=[]))[1] is None
    assert nr.validate_node_result("web-1", dict(answer, preflight=None))[1] is None


@pytest.mark.parametrize(
    "hostile, where",
    [
        ({"verdict": "ready<script>"}, "verdict"),
        ({"verdict": "READY"}, "verdict"),
        ({"verdict": None}, "verdict"),
        ({"verdict": ["ready"]}, "verdict"),
        ({"hostnames": "shop.example.test"}, "hostnames"),
        ({"reasons": ["x" * 5000]}, "reasons"),
        ({"reasons": ["r"] * 65}, "reasons"),
        ({"reasons": [float("nan")]}, "reasons"),
        ({"changes": [{"by": "rm -rf /", "action": "x"}]}, "by"),
        ({"changes": [{"action": "x"}]}, "by"),
        ({"changes": "all"}, "changes"),
        ({"checks": [{"name": "root_shell", "status": "ok"}]}, "name"),
        ({"checks": [{"name": "chain", "status": "fine"}]}, "status"),
        ({"checks": [{"name": "chain", "status": "ok", "evidence": [1e309]}]}, "evidence"),
        ({"checks": [{"name": "chain", "status": "ok", "changes": "x"}]}, "changes"),
        ({"checks": [{"name": "chain", "status": "ok", "changes": [{"by": "x", "action": "a;b"}]}]}, "action"),
        ({"checks": [{"name": "chain", "status": "ok"}] * 17}, "checks"),
        ({"site": "s" * 2000}, "site"),
        # Python's $ matches before a final newline; JSON Schema's does not: a closed set stays closed.
        ({"verdict": "ready\n"}, "verdict"),
        ({"checks": [{"name": "chain\n", "status": "ok"}]}, "name"),
        ({"checks": [{"name": "chain", "status": "ok\n"}]}, "status"),
        ({"changes": [{"by": "cert_deploy\n", "action": "deploy_key"}]}, "by"),
    ],
)
def test_hostile_values_are_refused_by_field(hostile, where):
    clean, problem = nr.validate_node_result("web-1", result(**hostile))
    assert clean is None and problem.startswith("malformed node_audit result from web-1: "), problem
    assert where in problem and "preflight" in problem, problem


@pytest.mark.parametrize("hostile", ["everything", {"verdict": "ready"}, 7, [["ready"]], [None]])
def test_a_preflight_of_another_shape_is_refused(hostile):
    answer = dict(result(), preflight=hostile)
    clean, problem = nr.validate_node_result("web-1", answer)
    assert clean is None and "preflight" in problem


def test_control_characters_are_sanitised_not_passed_on():
    answer = result(reasons=["chain: \x1b[31mred\x1b[0m\x00"], hostnames=["shop\u202e.test"])
    clean, problem = nr.validate_node_result("web-1", answer)
    assert problem is None
    assert "\x1b" not in json.dumps(clean["preflight"]) and "\\u0000" not in json.dumps(clean["preflight"])
    assert answer["preflight"][0]["reasons"][0].startswith("chain: \x1b")  # the node's answer is not altered


def test_too_many_sites_are_refused():
    answer = dict(result(), preflight=[SITE] * (nr.MAX_SITES + 1))
    assert "preflight" in nr.validate_node_result("web-1", answer)[1]
