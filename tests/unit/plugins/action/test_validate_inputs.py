# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The validate_inputs action: checked inputs come back in their one shape; wrong ones fail the task, each named
in one sentence, never with key material or a traceback."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from ansible_collections.tlsfleet.stapling.plugins.action import validate_inputs
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils.test_inputs import files  # noqa: F401  # pylint: disable=unused-import

GROUPS = {"all": ["web-1", "web-2"], "web": ["web-1", "web-2"]}


def run(args, groups=None):
    groups = GROUPS if groups is None else groups
    task = mock.MagicMock(async_val=0, check_mode=False, args=args)
    connection = mock.MagicMock()
    connection._shell.tmpdir = "/nonexistent"
    action = validate_inputs.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    return action.run(task_vars={"groups": groups})


def test_good_inputs_come_back_normalised(files):  # noqa: F811
    live, _other = files
    result = run(
        {
            "certificates": [{"name": "shop", "lineage": str(live), "hosts": ["web"]}],
            "certificate": {"certificate": str(live / "cert.pem"), "key": str(live / "privkey.pem"), "hosts": ["web"]},
            "variables": {"tlsfleet_become": "false", "tlsfleet_rollout_canary": "web-2", "tlsfleet_hosts": None},
        }
    )
    assert not result.get("failed"), result
    assert result["certificates"][0]["chain"] == str(live / "chain.pem")
    assert result["certificate"]["chain"] is None
    assert result["variables"] == {"tlsfleet_become": False, "tlsfleet_rollout_canary": "web-2"}
    assert result["msg"].startswith("inputs checked: 2 certificate(s); shop: %s (sha256 " % (live / "cert.pem"))
    assert "PRIVATE KEY" not in json.dumps(result)


def test_wrong_inputs_fail_the_task_with_one_sentence_each(files):  # noqa: F811
    live, _other = files
    result = run(
        {
            "certificates": [
                {"name": "shop", "lineage": str(live), "hosts": ["web"]},
                {"name": "api", "certificate": str(live / "cert.pem"), "key": str(live / "other-key.pem")},
            ],
            "certificate_required": True,
            "variables": {"tlsfleet_fail_severity": "fatal", "tlsfleet_rollout_canary": "db-1"},
        }
    )
    assert result["failed"] is True
    assert result["problems"] == [
        "tlsfleet_certificates[1] (api): key %s does not match certificate %s"
        % (live / "other-key.pem", live / "cert.pem"),
        "tlsfleet_rollout_certificate is not set: give certificate and key (and optionally chain), or lineage (a "
        "certbot live directory) - paths on the controller - and hosts, the inventory hosts and groups that may "
        "receive it",
        "tlsfleet_fail_severity must be one of critical, error, warning, info, never, not 'fatal'",
        "tlsfleet_rollout_canary db-1 is not a host of the inventory",
    ]
    assert result["msg"] == "; ".join(result["problems"])
    assert "PRIVATE KEY" not in json.dumps(result)


@pytest.mark.parametrize("given", [None, ""])
def test_an_optional_certificate_may_be_absent(given):
    result = run({"certificate": given, "certificates": None})
    assert not result.get("failed") and result["certificate"] is None and result["certificates"] == []


def test_names_the_playbook_keeps_its_state_in_must_not_be_set():
    result = run({"reserved": ["tlsfleet_plan", "tlsfleet_changes", "tlsfleet_plan"]})
    assert result["problems"] == [
        "tlsfleet_changes is set, but the playbooks keep their own state under that name: remove it from the extra "
        "vars and the inventory",
        "tlsfleet_plan is set, but the playbooks keep their own state under that name: remove it from the extra vars "
        "and the inventory",
    ]


def test_a_preflight_candidate_comes_back_with_its_pem_and_the_key_ignored(files):  # noqa: F811
    live, _other = files
    result = run(
        {
            "candidate": {"lineage": str(live), "key": str(live / "privkey.pem"), "hosts": "web"},
            "candidate_required": True,
            "variables": {"tlsfleet_preflight_at": " "},
        }
    )
    assert not result.get("failed"), result
    assert result["candidate"]["certificate_pem"] == (live / "cert.pem").read_text()
    assert result["candidate"]["hosts"] == ["web"]
    assert result["msg"].startswith("inputs checked: preflight candidate ")  # no certificate to deploy to count
    assert "key is ignored" in result["msg"]
    assert "PRIVATE KEY" not in json.dumps(result)


def test_a_missing_candidate_is_named_and_the_rollout_certificate_can_stand_for_it(files):  # noqa: F811
    live, _other = files
    missing = run({"candidate": "", "candidate_required": True})
    assert missing["failed"] and missing["problems"][0].startswith("tlsfleet_preflight_certificate is not set")
    rollout = run(
        {
            "certificate": {"lineage": str(live), "hosts": ["web"]},
            "certificate_required": True,
            "candidate_from_certificate": True,
        }
    )
    assert not rollout.get("failed"), rollout
    assert rollout["candidate"]["sha256"] == rollout["certificate"]["sha256"]
    assert rollout["candidate"]["ignored"] == [] and "key" not in rollout["candidate"]


def test_a_roles_variables_are_checked_against_its_spec_for_this_host_with_the_other_problems():
    spec = {
        "tlsfleet_audit_evidence": {"type": "str", "choices": ["compact", "full"]},
        "tlsfleet_diagnose_report_subdir": {"type": "str"},
    }
    task = mock.MagicMock(async_val=0, check_mode=False)
    task.args = {
        "role_argument_spec": spec,
        "role_name": "tlsfleet.stapling.diagnose",
        "variables": {"tlsfleet_audit_handshake_timeout": "soon"},
    }
    connection = mock.MagicMock()
    action = validate_inputs.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    action._templar = mock.MagicMock(template=lambda value: value)
    host_vars = {"groups": GROUPS, "tlsfleet_audit_evidence": "huge", "unrelated": object()}
    result = action.run(task_vars=host_vars)
    assert result["failed"] is True
    assert result["problems"] == [
        "tlsfleet_audit_handshake_timeout must be a number of seconds, not 'soon'",
        "tlsfleet.stapling.diagnose: value of tlsfleet_audit_evidence must be one of: compact, full, got: huge",
    ]
    task.args["variables"] = {}
    result = action.run(task_vars=dict(host_vars, tlsfleet_audit_evidence="full"))
    assert not result.get("failed"), result


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_a_blank_survey_answer_for_a_role_bool_with_a_default_is_not_set_and_a_wrong_one_still_fails(blank):
    spec = {
        "tlsfleet_external_check": {"type": "bool", "default": False},
        "tlsfleet_needed_flag": {"type": "bool"},  # no default: a blank answer is still checked
    }
    task = mock.MagicMock(async_val=0, check_mode=False)
    task.args = {"role_argument_spec": spec, "role_name": "tlsfleet.stapling.diagnose", "variables": {}}
    action = validate_inputs.ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    action._templar = mock.MagicMock(template=lambda value: value)
    result = action.run(task_vars={"groups": GROUPS, "tlsfleet_external_check": blank})
    assert not result.get("failed"), result
    result = action.run(task_vars={"groups": GROUPS, "tlsfleet_external_check": "maybe"})
    assert result["failed"] is True and "tlsfleet_external_check" in result["problems"][0]
    if blank is not None:
        result = action.run(task_vars={"groups": GROUPS, "tlsfleet_needed_flag": blank})
        assert result["failed"] is True and "tlsfleet_needed_flag" in result["problems"][0]
