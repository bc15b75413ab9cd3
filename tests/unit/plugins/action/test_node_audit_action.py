# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_audit's action plugin: a preflight candidate that is not certificates only never leaves the controller."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from unittest import mock

import pytest
import yaml

from ansible_collections.tlsfleet.stapling.plugins.action import node_audit
from ansible_collections.tlsfleet.stapling.plugins.module_utils import public_pem
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import inputs

ROLE_SPEC = Path(__file__).resolve().parents[4] / "roles" / "diagnose" / "meta" / "argument_specs.yml"


@pytest.fixture
def material(pki):
    _root, (inter,), leaf = pki.chain(dns=["www.example.test"])
    certificate = leaf.pem.decode()
    key = leaf.key_pem().decode()
    body = "".join(key.strip().splitlines()[1:-1])
    return {"certificate": certificate, "chain": inter.pem.decode(), "key": key, "body": body}


def _variants(m):
    """A certificate followed by the key in armours a deny-list of labels would miss (found in review)."""
    key = m["key"]
    label = re.search(r"-----BEGIN ([A-Z ]+)-----", key).group(1)
    return {
        "plain": key,
        "lower-case armour": key.replace("-----BEGIN " + label, "-----begin " + label.lower()).replace(
            "-----END " + label, "-----end " + label.lower()
        ),
        "tab in the label": key.replace("BEGIN " + label, "BEGIN\t" + label),
        "odd label": key.replace(label, "X9.42 DH PRIVATE KEY"),
        "bare base64 body": m["body"] + "\n",
        "base64 of the PEM": base64.b64encode(key.encode()).decode() + "\n",
    }


def test_certificates_only_pass(material):
    for what in ("certificate", "chain"):
        assert public_pem.problem(material[what], what) is None
    both = material["certificate"] + "\n\n" + material["chain"]
    assert public_pem.problem(both, "certificate") is None
    assert public_pem.problem(both.replace("\n", "\r\n"), "certificate") is None
    assert public_pem.problem(None, "chain") is None and public_pem.problem("  \n", "chain") is None


@pytest.mark.parametrize("field", ["certificate", "chain"])
def test_anything_beside_certificates_is_refused_without_being_quoted(material, field):
    for name, extra in _variants(material).items():
        args = {"preflight": {"certificate": material["certificate"], "chain": material["chain"]}}
        args["preflight"][field] = args["preflight"][field] + extra
        found = node_audit.candidate_problem(args)
        assert found and "Nothing was sent" in found, name
        assert material["body"][:24] not in found and "PRIVATE" not in found, name


def test_no_candidate_no_problem():
    assert node_audit.candidate_problem({}) is None
    assert node_audit.candidate_problem({"preflight": None}) is None
    assert node_audit.candidate_problem({"preflight": "not a dict"}) is None  # the module's argspec reports it


def _action(args):
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    templar = mock.MagicMock(template=lambda value: value)  # variables given as plain values render as themselves
    action = node_audit.ActionModule(task, mock.MagicMock(), mock.MagicMock(), None, templar, None)
    return action


def test_a_refused_candidate_fails_the_task_without_running_the_module(material):
    action = _action({"preflight": {"certificate": material["certificate"] + material["key"]}})
    with mock.patch.object(node_audit.ActionBase, "run", return_value={}), mock.patch.object(
        action, "_execute_module"
    ) as execute:
        result = action.run(task_vars={})
    assert result["failed"] is True and "certificate PEM blocks only" in result["msg"]
    execute.assert_not_called()


def test_a_clean_candidate_runs_the_module(material):
    action = _action({"preflight": {"certificate": material["certificate"], "chain": material["chain"]}})
    with mock.patch.object(node_audit.ActionBase, "run", return_value={}), mock.patch.object(
        action, "_execute_module", return_value={"changed": False, "findings": []}
    ) as execute, mock.patch.object(action, "_remove_tmp_path"):
        result = action.run(task_vars={})
    execute.assert_called_once()
    assert result == {"changed": False, "findings": []}


def test_survey_answers_are_read_by_type_and_a_blank_one_means_the_default():
    given = {
        "handshake_timeout": "2.5",
        "responder_timeout": " ",
        "staple_warning_seconds": "3600",
        "cert_warning_days": None,
        "crl_check": "no",
        "use_proxy": "",
        "evidence": " full ",
        "servers": "nginx, apache",
        "trust_anchor_paths": "",
        "extra_endpoints": [{"host": "127.0.0.1", "port": 8443}],
        "since": "",
        "proxy": "http://proxy.test:3128",
        "preflight": {"certificate": "x"},
    }
    assert node_audit.read_options(given) == {
        "handshake_timeout": 2.5,
        "staple_warning_seconds": 3600,
        "crl_check": False,
        "evidence": "full",
        "servers": ["nginx", "apache"],
        "extra_endpoints": [{"host": "127.0.0.1", "port": 8443}],
        "proxy": "http://proxy.test:3128",
        "preflight": {"certificate": "x"},  # not a survey option: the module checks it
    }
    assert node_audit.read_options({"servers": []}) == {"servers": []}  # an explicit empty list audits no server
    assert node_audit.read_options({}) == {}


def test_wrong_survey_answers_fail_the_host_on_the_controller_naming_each_option():
    action = _action({"handshake_timeout": "soon", "evidence": "huge", "cert_warning_days": "-1", "servers": "nginx"})
    with mock.patch.object(node_audit.ActionBase, "run", return_value={}), mock.patch.object(
        action, "_execute_module"
    ) as execute:
        result = action.run(task_vars={})
    execute.assert_not_called()
    assert result["failed"] is True and result["msg"].endswith("Nothing was sent to the node.")
    assert "handshake_timeout must be a number of seconds, not 'soon'" in result["problems"]
    assert "evidence must be compact or full, not 'huge'" in result["problems"]
    assert len(result["problems"]) == 3 and "cert_warning_days" in result["msg"]


def test_the_module_gets_the_options_as_read():
    action = _action({"handshake_timeout": "", "crl_max_bytes": "1024"})
    with mock.patch.object(node_audit.ActionBase, "run", return_value={}), mock.patch.object(
        action, "_execute_module", return_value={"changed": False}
    ) as execute, mock.patch.object(action, "_remove_tmp_path"):
        action.run(task_vars={})
    assert execute.call_args.kwargs["module_args"] == {"crl_max_bytes": 1024}


def test_native_values_are_left_to_the_module_and_an_unreadable_answer_is_a_sentence():
    native = {"staple_warning_seconds": 3600.0, "trust_anchor_paths": ["/etc/pki/My CA/root.pem"], "crl_check": 1}
    assert node_audit.read_options(native) == native  # the module's own argument checks judge them, as before
    with pytest.raises(ValueError) as raised:
        node_audit.read_options({"cert_warning_days": "9" * 5000})
    assert str(raised.value).startswith("cert_warning_days ") and len(str(raised.value)) < 200


def test_each_variable_the_role_documents_fills_its_option_by_the_rule_for_it():
    if not ROLE_SPEC.exists():  # ansible-test units may copy only part of the collection
        pytest.skip("%s is not in this tree" % ROLE_SPEC)
    options = yaml.safe_load(ROLE_SPEC.read_text())["argument_specs"]["main"]["options"]
    documented = sorted(name[len("tlsfleet_audit_") :] for name in options if name.startswith("tlsfleet_audit_"))
    assert sorted(node_audit.VARIABLE_OPTIONS) == documented
    survey = sorted(option for option in documented if option not in ("since", "proxy"))
    assert sorted(node_audit.SURVEY_OPTIONS) == survey
    for option in survey:
        assert node_audit.SURVEY_OPTIONS[option] is inputs.VARIABLES["tlsfleet_audit_" + option]


def test_an_option_the_task_leaves_unset_comes_from_its_variable():
    variables = {
        "tlsfleet_audit_handshake_timeout": "2",
        "tlsfleet_audit_proxy": "http://variable.test:3128",
        "tlsfleet_audit_unknown": "ignored",
        "handshake_timeout": "not a tlsfleet variable",
    }
    # What the task (or a module default, merged by Ansible before the action runs) sets wins over the variable.
    filled = node_audit.from_variables({"proxy": "http://task.test:3128"}, variables, lambda value: value)
    assert filled == ({"proxy": "http://task.test:3128", "handshake_timeout": "2"}, [])
    assert node_audit.from_variables({}, {}, lambda value: value) == ({}, [])


def test_a_variable_that_cannot_be_rendered_fails_the_host_naming_it():
    def resolve(value):
        raise node_audit.AnsibleError("'nowhere' is undefined")

    variables = {"tlsfleet_audit_since": "{{ nowhere }}", "tlsfleet_audit_handshake_timeout": "2"}
    filled, problems = node_audit.from_variables({}, variables, resolve)
    assert filled == {}
    assert problems == [
        "tlsfleet_audit_since cannot be read: 'nowhere' is undefined",
        "tlsfleet_audit_handshake_timeout cannot be read: 'nowhere' is undefined",
    ]


def test_a_variable_that_renders_to_omit_is_not_set():
    def resolve(value):
        raise node_audit.AnsibleValueOmittedError("A template was resolved to an Omit scalar.")

    variables = {"tlsfleet_audit_proxy": "{{ site_proxy | default(omit) }}"}
    assert node_audit.from_variables({}, variables, resolve) == ({}, [])


def test_the_module_gets_the_variables_read_as_a_survey_gives_them():
    action = _action({})
    variables = {
        "tlsfleet_audit_handshake_timeout": "2.5",
        "tlsfleet_audit_crl_check": "no",
        "tlsfleet_audit_since": "",
    }
    with mock.patch.object(node_audit.ActionBase, "run", return_value={}), mock.patch.object(
        action, "_execute_module", return_value={"changed": False}
    ) as execute, mock.patch.object(action, "_remove_tmp_path"):
        action.run(task_vars=variables)
    assert execute.call_args.kwargs["module_args"] == {"handshake_timeout": 2.5, "crl_check": False}
    action = _action({})
    with mock.patch.object(node_audit.ActionBase, "run", return_value={}), mock.patch.object(
        action, "_execute_module"
    ) as execute:
        result = action.run(task_vars={"tlsfleet_audit_responder_timeout": "later"})
    execute.assert_not_called()
    assert result["failed"] is True
    # Named as the survey's user set it: the variable, not the module option behind it.
    assert result["problems"] == ["tlsfleet_audit_responder_timeout must be a number of seconds, not 'later'"]


def test_every_wrong_input_is_named_at_once_by_what_the_user_set():
    def resolve(value):
        if "{{" in value:
            raise node_audit.AnsibleError("'nowhere' is undefined")
        return value

    action = _action({"cert_warning_days": "soon"})
    action._templar = mock.MagicMock(template=resolve)
    variables = {"tlsfleet_audit_since": "{{ nowhere }}", "tlsfleet_audit_handshake_timeout": "later"}
    with mock.patch.object(node_audit.ActionBase, "run", return_value={}), mock.patch.object(
        action, "_execute_module"
    ) as execute:
        result = action.run(task_vars=variables)
    execute.assert_not_called()
    assert result["failed"] is True and result["msg"].endswith("Nothing was sent to the node.")
    assert sorted(result["problems"]) == [
        "cert_warning_days must be a whole number, not 'soon'",
        "tlsfleet_audit_handshake_timeout must be a number of seconds, not 'later'",
        "tlsfleet_audit_since cannot be read: 'nowhere' is undefined",
    ]
