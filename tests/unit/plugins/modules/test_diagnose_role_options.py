# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnose role's audit options reach node_audit only when the user set them: the playbooks' node_audit tasks
name none (node_audit's action reads the tlsfleet_audit_* variables), and node_audit's defaults live in the module."""

from __future__ import annotations

import ast
import importlib
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


def _documented():
    """The role's tlsfleet_audit_* variables: the node_audit options a user or a survey may set."""
    specs = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    return {name[len(PREFIX) :]: spec for name, spec in specs.items() if name.startswith(PREFIX)}


# Every node_audit task of the playbooks and the role, with the options it names itself: the rollout and the
# preflight plan from the compact evidence whatever tlsfleet_audit_evidence asks of the diagnose report.
NODE_AUDIT_TASKS = {
    "roles/diagnose/tasks/audit.yml": set(),
    "playbooks/rollout.yml": {"evidence"},
    "playbooks/tasks/preflight.yml": {"preflight", "evidence"},
}


def _node_audit_tasks(tasks):
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        if "tlsfleet.stapling.node_audit" in task:
            yield task
        for key in ("pre_tasks", "tasks", "post_tasks", "block", "rescue", "always"):
            yield from _node_audit_tasks(task.get(key))


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


def test_the_node_audit_tasks_name_no_audit_option():
    """node_audit's action takes each from its variable: a templated argument per option would cost a Jinja compile
    per host on the controller, and the option list would be written once per playbook."""
    found = 0
    for relative, allowed in NODE_AUDIT_TASKS.items():
        for task in _node_audit_tasks(_load(ROOT / relative)):
            found += 1
            args = task["tlsfleet.stapling.node_audit"] or {}
            assert set(args) == allowed, (relative, sorted(args))
            assert args.get("evidence", "compact") == "compact", relative
            assert PREFIX not in yaml.safe_dump(args), relative
    assert found == len(NODE_AUDIT_TASKS)


def test_no_task_checks_the_audit_options_apart():
    """No task of its own per host: node_audit's action reads the options a survey fills (a blank answer means the
    default, a wrong one fails the host naming the variable); tests/unit/plugins/action/test_node_audit_action.py
    checks that it reads each by the rule inputs.VARIABLES has for its variable."""
    inputs = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.plugin_utils.inputs")
    for option in _documented():
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
    for name, spec in documented.items():
        assert "default" not in spec, name
        option = name[len(PREFIX) :]
        assert option in _module_options(), name
        assert "O(tlsfleet.stapling.node_audit#module:%s)" % option in " ".join(spec["description"]), name


def test_the_evidence_detail_reaches_node_audit_with_the_module_choices():
    # node_audit's evidence option decides what report.json carries per node; the role must let users ask for full.
    assert "evidence" in _documented()
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
    # Both import the one check (the role's run_variables.yml) ...
    for task in (check, first["tasks"][0]):
        assert task["ansible.builtin.import_role"] == {
            "name": "tlsfleet.stapling.diagnose",
            "tasks_from": "run_variables",
        }
    # ... which runs once, against the role's own spec but the per-host variables.
    (task,) = _load(ROLE / "tasks" / "run_variables.yml")
    assert task["run_once"] is True
    arguments = task["tlsfleet.stapling.validate_inputs"]
    assert "role_path ~ '/meta/argument_specs.yml'" in arguments["role_argument_spec"]
    assert (
        "rejectattr('key', 'match', 'tlsfleet_(audit_|region$|public_addresses$)')" in arguments["role_argument_spec"]
    )
    assert arguments["role_name"] == "tlsfleet.stapling.diagnose"
    assert name_failing["ansible.builtin.add_host"]["groups"] == "tlsfleet_diagnose_failing"
    assert "tlsfleet_diagnose_failing" in fail_play["hosts"]
    main = _load(ROLE / "tasks" / "main.yml")
    assert main[0] == {"name": main[0]["name"], "ansible.builtin.import_tasks": "audit.yml"}
    assert "ansible.builtin.assert" in main[-1]
