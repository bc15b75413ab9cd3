# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet_report action: one lying node fails alone; anything else fails with a message, never a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.tlsfleet.stapling.plugins.action import fleet_report
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import renderers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as rep
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils import test_report as fx


def action(args):
    task = mock.MagicMock(async_val=0, check_mode=False, args=args)
    connection = mock.MagicMock()
    connection._shell.tmpdir = "/nonexistent"
    return fleet_report.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())


def task_vars(results):
    hostvars = {host: {"tlsfleet_audit": result, "tlsfleet_region": "eu"} for host, result in results.items()}
    return {"hostvars": hostvars, "ansible_play_hosts_all": list(results), "ansible_play_hosts": list(results)}


def test_a_node_with_nan_fails_alone_and_every_file_is_written(tmp_path):
    liar = fx.audit(["shop.test"])
    liar["evidence"]["sites"][0]["served"]["shop.test"]["summary"]["seconds_left"] = float("nan")
    liar["findings"] = [{"code": "staple_missing", "hostname": "sh\x1bop.test", "evidence": ["\x00"]}]
    results = {"eu-web-1": fx.audit(["shop.test"]), "eu-web-2": liar}
    result = action({"dest": str(tmp_path)}).run(task_vars=task_vars(results))
    assert result["failing_hosts"] == ["eu-web-2"]
    assert result["failing"]["eu-web-2"] == [
        "failed: malformed node_audit result from eu-web-2: "
        "evidence.sites[0].served['shop.test'].summary.seconds_left is NaN"
    ]
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert {node["host"]: node["status"] for node in document["nodes"]} == {"eu-web-1": "ok", "eu-web-2": "failed"}
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(renderers.FILES.values())


def test_an_unexpected_failure_is_a_clear_message_and_leaves_the_previous_files(tmp_path):
    results = {"eu-web-1": fx.audit(["shop.test"])}
    action({"dest": str(tmp_path)}).run(task_vars=task_vars(results))
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    broken = mock.patch.object(renderers.RENDERERS["prometheus"], "render", side_effect=KeyError("boom"))
    with broken, pytest.raises(AnsibleActionFail) as caught:
        action({"dest": str(tmp_path), "fail_severity": "critical"}).run(task_vars=task_vars(results))
    assert "rendering metrics.prom failed (KeyError" in str(caught.value)
    assert "previous report files in %s are unchanged" % tmp_path in str(caught.value)
    assert {path.name: path.read_bytes() for path in Path(tmp_path).iterdir()} == before
    odd = mock.patch.object(rep, "build_report", side_effect=TypeError("odd"))
    with odd, pytest.raises(AnsibleActionFail, match=r"fleet_report could not build the report \(TypeError: odd\)"):
        action({"dest": str(tmp_path)}).run(task_vars=task_vars(results))


def test_real_node_audit_results_feed_the_report_and_an_older_evidence_version_fails_alone(
    pki, tmp_path, monkeypatch, capsys
):
    """Two nodes audited by node_audit (on fake nodes) serve the same hostname with different certificates; a
    third answers with evidence of another version: the controller reports it failed and reads the others."""
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import x509
    from ansible_collections.tlsfleet.stapling.tests.unit.plugins.modules import test_node_audit as na

    results, leaves = {}, {}
    for host in ("eu-web-1", "eu-web-2", "eu-web-3"):
        node, results[host] = na.audit(pki, tmp_path / host, monkeypatch, capsys)
        leaves[host] = x509.fingerprint(node.leaves["www.example.test"].cert)
    results["eu-web-3"]["evidence"]["version"] = 1
    dest = tmp_path / "report"
    result = action({"dest": str(dest)}).run(task_vars=task_vars(results))
    document = json.loads((dest / "report.json").read_text(encoding="utf-8"))
    nodes = {node["host"]: node for node in document["nodes"]}
    assert nodes["eu-web-3"]["status"] == "failed"
    assert nodes["eu-web-3"]["message"] == "malformed node_audit result from eu-web-3: evidence.version is 1, below 2"
    for host in ("eu-web-1", "eu-web-2"):
        www = next(entry for entry in nodes[host]["hostnames"] if entry["hostname"] == "www.example.test")
        assert (www["leaf_sha256"], www["staple_state"]) == (leaves[host], "good") and www["chain_sha256"]
    assert result["failing"]["eu-web-3"] == [
        "failed: malformed node_audit result from eu-web-3: evidence.version is 1, below 2"
    ]
    drift = [item for item in result["fleet_findings"] if item["code"] == "node_drift"]
    assert {item["hostname"] for item in drift} == {"www.example.test", "shop.example.test", "api.example.test"}


class _HostVars(dict):
    """hostvars as ansible gives them: ``raw_get`` returns a host's variables untemplated, ``[host]`` templates."""

    def __init__(self, raw, templated):
        super().__init__(templated)
        self.raw = raw

    def raw_get(self, host):
        return self.raw[host]


class _Templated(dict):
    def __init__(self, values, reads):
        super().__init__(values)
        self.reads = reads

    def get(self, key, default=None):
        self.reads.append(key)
        return super().get(key, default)


def test_a_registered_result_is_read_untemplated_and_anything_else_through_templating(tmp_path):
    """A registered node_audit result (a plain dict once registered) is taken as it is, not copied and tagged again
    through hostvars; a value of another kind under that name (a template a user set) is templated as before."""
    good = fx.audit(["shop.test"])
    reads = []
    raw = {
        "eu-web-1": {"tlsfleet_audit": good, "tlsfleet_region": "eu"},
        "eu-web-2": {"tlsfleet_audit": "{{ earlier_audit }}", "tlsfleet_region": "eu"},
    }
    templated = {
        "eu-web-1": _Templated({"tlsfleet_audit": None, "tlsfleet_region": "eu"}, reads),
        "eu-web-2": _Templated({"tlsfleet_audit": fx.audit(["api.test"]), "tlsfleet_region": "us"}, reads),
    }
    variables = {"hostvars": _HostVars(raw, templated), "ansible_play_hosts_all": list(raw)}
    result = action({"dest": str(tmp_path)}).run(task_vars=variables)
    assert result["failing_hosts"] == []
    assert reads.count("tlsfleet_audit") == 1  # eu-web-2's only
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    served = {node["host"]: sorted(name["hostname"] for name in node["hostnames"]) for node in document["nodes"]}
    assert served == {"eu-web-1": ["shop.test"], "eu-web-2": ["api.test"]}
    assert fleet_report._registered({"h": {"x": good}}, {"x": good}, "h", "x") is good  # no raw_get: templated


def test_the_results_read_from_hostvars_are_left_as_they_were(pki, tmp_path, monkeypatch, capsys):
    """fleet_report now reads registered results in place (not a templated copy): building the report must not
    change them, or later tasks reading the same registered variable would see the report's edits."""
    from ansible_collections.tlsfleet.stapling.tests.unit.plugins.modules import test_node_audit as na

    results = {"eu-web-1": fx.audit(["shop.test"]), "eu-web-2": fx.audit(["shop.test", "api.test"])}
    _node, results["eu-web-3"] = na.audit(pki, tmp_path / "eu-web-3", monkeypatch, capsys)
    liar = fx.audit(["x.test"])
    liar["findings"] = [{"code": "staple_missing", "hostname": "x\x1b.test", "evidence": ["\x00"]}]
    results["eu-web-4"] = liar
    before = copy.deepcopy(results)
    action({"dest": str(tmp_path / "report")}).run(task_vars=task_vars(results))
    assert results == before
