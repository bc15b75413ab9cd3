# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sweep's invariants (sweep.check) on hand-made observations: each one fires, and only when it should.

No root and no lab: make lab-unit runs this file.
"""

from __future__ import annotations

import copy

import pytest
import sweep

NGINX = {"enabled": True, "verify": True, "trusted": "full", "resolver": "lab", "file": "none"}


def _gen(mode_a="good", mode_b="good", stapling_b=None, down=()):
    leaf = {"hostnames": [], "issuer": "int-a-rsa", "key_type": "rsa", "validity": "valid", "must_staple": False}
    sites = {
        "a.sweep.test": {"server": "nginx", "leaf": "sw-a", "port": 443, "chain": "full", "stapling": dict(NGINX)},
        "b.sweep.test": {
            "server": "nginx",
            "leaf": "sw-b",
            "port": 443,
            "chain": "full",
            "stapling": dict(NGINX, **(stapling_b or {})),
        },
    }
    return {
        "scenario": {
            "leaves": {"sw-a": dict(leaf, ocsp=mode_a), "sw-b": dict(leaf, ocsp=mode_b)},
            "nodes": [{"name": "n1", "region": "eu", "sites": list(sites.values())}],
        },
        "not_running": {"n1": list(down)},
        "sites": {"n1": sites},
    }


def _seen(staple_a="good", staple_b="good", responder_b="good"):
    site = {"cert": "deployed", "chain": "2 certs"}
    return {
        "sites": {
            ("n1", "a.sweep.test"): dict(site, staple=staple_a),
            ("n1", "b.sweep.test"): dict(site, staple=staple_b),
        },
        "responder": {("n1", "sw-a"): "good", ("n1", "sw-b"): responder_b},
    }


def _finding(code, host, severity="error", server="nginx"):
    return {"code": code, "severity": severity, "hostname": host, "server": server, "evidence": []}


def _invariants(gen, seen, findings, again=None, result=None):
    results = {"n1": result if result is not None else {"findings": findings}}
    out = sweep.check(gen, seen, again or copy.deepcopy(seen), results)
    return sorted((v[0], v[2]) for v in out["violations"]), out


def test_healthy_fleet_passes():
    assert _invariants(_gen(), _seen(), [])[0] == []


def test_a_false_healthy_staple_missing_and_server_down():
    assert _invariants(_gen(), _seen(staple_b="none"), [])[0] == [("a", "b.sweep.test")]
    assert _invariants(_gen(), _seen(staple_b="none"), [_finding("staple_missing", "b.sweep.test")])[0] == []
    warning_only = [_finding("chain_extra", "b.sweep.test", "warning")]
    assert _invariants(_gen(), _seen(staple_b="none"), warning_only)[0] == [("a", "b.sweep.test")]
    gen, seen = _gen(down=["nginx"]), _seen(staple_a="no_server", staple_b="no_server")
    assert _invariants(gen, seen, [])[0] == [("a", "a.sweep.test"), ("a", "b.sweep.test")]
    server_level = [_finding("server_down", None, "critical")]
    assert _invariants(gen, seen, server_level)[0] == []


def test_a_stapling_switched_off_needs_some_finding():
    gen = _gen(stapling_b={"enabled": False})
    assert _invariants(gen, _seen(staple_b="none"), [])[0] == [("a", "b.sweep.test")]
    disabled = [_finding("stapling_disabled", "b.sweep.test", "warning")]
    assert _invariants(gen, _seen(staple_b="none"), disabled)[0] == []


def test_b_false_alarm_only_on_a_clean_hostname():
    alarm = [_finding("responder_unreachable", "a.sweep.test")]
    assert _invariants(_gen(), _seen(), alarm)[0] == [("b", "a.sweep.test")]
    seen = _seen()
    seen["sites"][("n1", "a.sweep.test")]["cert"] = "previous"
    assert _invariants(_gen(), seen, alarm)[0] == []


def test_c_borrowed_status_from_a_leaf_sharing_the_responder():
    gen = _gen(mode_a="revoked")
    seen = _seen(staple_a="revoked", staple_b="none")
    borrowed = [
        _finding("cert_revoked", "a.sweep.test", "critical"),
        _finding("cert_revoked", "b.sweep.test", "critical"),
    ]
    assert _invariants(gen, seen, borrowed)[0] == [("c", "b.sweep.test")]
    seen_b = _seen(staple_b="none", responder_b="revoked")  # the responder says so for b itself
    assert _invariants(_gen(), seen_b, [_finding("cert_revoked", "b.sweep.test", "critical")])[0] == []


@pytest.mark.parametrize(
    "result",
    [
        {"failed": True, "msg": "boom"},
        {"findings": [], "evidence": {"note": "Traceback (most recent call last): ..."}},
        {"unreachable": True, "msg": "ssh"},
    ],
)
def test_d_failed_or_traceback(result):
    assert _invariants(_gen(), _seen(), [], result=result)[0] == [("d", "-")]


def test_d_missing_node_and_unstable_and_generator_errors():
    out = sweep.check(_gen(), _seen(), _seen(), {})
    assert [v[0] for v in out["violations"]] == ["d"]
    again = _seen(staple_b="none")
    _violations, out = _invariants(_gen(), _seen(), [], again=again)
    assert [u[1] for u in out["unstable"]] == ["b.sweep.test"]
    _violations, out = _invariants(_gen(), _seen(staple_a="no_server"), [])
    assert [g[1] for g in out["generator"]] == ["a.sweep.test"]


def test_failing_seeds_of_a_packed_run_are_the_ones_with_violations():
    record = {"seeds": [5, 6, 7], "violations": [("a", "s6-eu-1", "s6-a.sweep.test", "x")], "generator": []}
    assert sweep.failing_seeds(record) == [6]
    record["generator"] = [("s7-us-2", "s7-b.sweep.test", "predicted down")]
    assert sweep.failing_seeds(record) == [6, 7]
    # a lab that did not come up cannot be attributed: every seed of the pack is replayed
    assert sweep.failing_seeds({"seeds": [5, 6], "generator": [("-", "-", "labctl up failed")]}) == [5, 6]
    assert sweep.failing_seeds({"seeds": [5, 6], "violations": [], "generator": []}) == []
