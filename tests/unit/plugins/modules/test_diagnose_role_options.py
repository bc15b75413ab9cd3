# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnose role passes node_audit options only when the user set them: node_audit's defaults live in the module."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "diagnose"
PREFIX = "tlsfleet_audit_"


def _load(path):
    if not path.exists():  # ansible-test units may copy only part of the collection
        pytest.skip("%s is not in this tree" % path)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _audit_task():
    (task,) = [task for task in _load(ROLE / "tasks" / "audit.yml") if "tlsfleet.stapling.node_audit" in task]
    return task["tlsfleet.stapling.node_audit"]


def _module_options():
    tree = ast.parse((ROOT / "plugins" / "modules" / "node_audit.py").read_text(encoding="utf-8"))
    (documentation,) = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION"
    ]
    doc = yaml.safe_load(documentation)
    options = set(doc["options"])
    for fragment in doc.get("extends_documentation_fragment") or []:
        if not fragment.startswith("tlsfleet.stapling."):
            continue
        file_name, _dot, section = fragment[len("tlsfleet.stapling.") :].partition(".")
        holder = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.doc_fragments." + file_name)
        text = getattr(holder.ModuleDocFragment, section.upper() or "DOCUMENTATION")
        options.update(yaml.safe_load(text).get("options") or {})
    return options


def test_every_audit_option_is_omitted_unless_its_variable_is_set():
    task = _audit_task()
    assert task, "the role passes no option to node_audit"
    for option, value in task.items():
        match = re.fullmatch(r"\{\{ (%s\w+) \| default\(omit\) \}\}" % PREFIX, value)
        assert match, "%s: %r is not '<variable> | default(omit)'" % (option, value)
        assert match.group(1) == PREFIX + option  # the variable is named after the option it sets


def test_no_task_checks_the_audit_options_apart():
    """No task of its own per host: node_audit's action reads the options a survey fills (a blank answer means the
    default, a wrong one fails the host naming the option); tests/unit/plugins/action/test_node_audit_action.py
    checks that it reads each by the rule inputs.VARIABLES has for its variable."""
    inputs = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.plugin_utils.inputs")
    for option in _audit_task():
        if option in ("since", "proxy"):
            continue
        assert PREFIX + option in inputs.VARIABLES, option
        spec = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"][PREFIX + option]
        assert spec["type"] == "raw", option  # a blank string must reach node_audit, not fail the role's validation
    assert not (ROLE / "tasks" / "audit_options.yml").exists()
    assert not [task for task in _load(ROLE / "tasks" / "audit.yml") if "tlsfleet.stapling.validate_inputs" in task]


def test_the_role_has_no_default_of_its_own_for_an_audit_option():
    defaults = _load(ROLE / "defaults" / "main.yml") or {}
    assert not [name for name in defaults if name.startswith(PREFIX)]
    specs = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    documented = {name: spec for name, spec in specs.items() if name.startswith(PREFIX)}
    assert sorted(documented) == sorted(PREFIX + option for option in _audit_task())
    for name, spec in documented.items():
        assert "default" not in spec, name
        option = name[len(PREFIX) :]
        assert option in _module_options(), name
        assert "O(tlsfleet.stapling.node_audit#module:%s)" % option in " ".join(spec["description"]), name


def test_the_evidence_detail_reaches_node_audit_with_the_module_choices():
    # node_audit's evidence option decides what report.json carries per node; the role must let users ask for full.
    assert _audit_task()["evidence"] == "{{ %sevidence | default(omit) }}" % PREFIX
    spec = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"][PREFIX + "evidence"]
    records = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.module_utils.evidence")
    inputs = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.plugin_utils.inputs")
    assert spec["type"] == "raw"  # a blank survey answer must reach the check
    for detail in records.DETAILS:
        assert inputs.check_variables({PREFIX + "evidence": detail}) == {PREFIX + "evidence": detail}
        assert "V(%s)" % detail in " ".join(spec["description"])
    assert inputs.check_variables({PREFIX + "evidence": ""}) == {}


def test_the_playbooks_check_the_role_spec_once_and_leave_the_audit_options_to_node_audit():
    """The diagnose playbook (and remediate's diagnosis) skip the role's own per-host validation task: one run_once
    check of the role's variables but the audit options (the play's report, severity, external view), and
    node_audit's action reads each host's audit options; the role alone (main) keeps Ansible's validation and the
    final per-host assert."""
    (play, fail_play) = _load(ROOT / "playbooks" / "diagnose.yml")
    check, role, name_failing = play["tasks"]
    assert role["ansible.builtin.import_role"] == {
        "name": "tlsfleet.stapling.diagnose",
        "tasks_from": "audit",
        "rolespec_validate": False,
    }
    remediate = _load(ROOT / "playbooks" / "remediate.yml")
    (first,) = [p for p in remediate if p.get("name") == "Diagnose before remediating"]
    for task in (check, first["tasks"][0]):
        assert task["run_once"] is True
        arguments = task["tlsfleet.stapling.validate_inputs"]
        assert "roles/diagnose/meta/argument_specs.yml" in arguments["role_argument_spec"]
        assert (
            "rejectattr('key', 'match', 'tlsfleet_(audit_|region$|public_addresses$)')"
            in arguments["role_argument_spec"]
        )
        assert arguments["role_name"] == "tlsfleet.stapling.diagnose"
    assert name_failing["ansible.builtin.add_host"]["groups"] == "tlsfleet_diagnose_failing"
    assert "tlsfleet_diagnose_failing" in fail_play["hosts"]
    main = _load(ROLE / "tasks" / "main.yml")
    assert main[0] == {"name": main[0]["name"], "ansible.builtin.import_tasks": "audit.yml"}
    assert "ansible.builtin.assert" in main[-1]
