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


# The options a blank survey answer ("" for an empty integer or float field) would break on every node: the role
# takes them as the controller-side check read them (plugins/plugin_utils/inputs.py; blank = not there).
CHECKED = "tlsfleet_checked_audit_options.variables."


def test_every_audit_option_is_omitted_unless_its_variable_is_set():
    task = _audit_task()
    assert task, "the role passes no option to node_audit"
    for option, value in task.items():
        match = re.fullmatch(
            r"\{\{ (%s)?(%s\w+) \| default\(omit(, true)?\) \}\}" % (re.escape(CHECKED), PREFIX), value
        )
        assert match, "%s: %r is not '<variable> | default(omit)'" % (option, value)
        assert match.group(2) == PREFIX + option  # the variable is named after the option it sets


def test_numeric_audit_options_are_checked_per_host_on_the_controller():
    inputs = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.plugin_utils.inputs")
    tasks = _load(ROLE / "tasks" / "audit.yml")
    # One task file holds the check; the role, the preflight and the rollout import it (test_playbook_contracts).
    (check,) = _load(ROLE / "tasks" / "audit_options.yml")
    # per host: a run_once result would give every host the first host's values
    assert not check.get("run_once") and check["register"] == "tlsfleet_checked_audit_options"
    checked = check["tlsfleet.stapling.validate_inputs"]["variables"]
    numeric = [option for option, value in _audit_task().items() if value.startswith("{{ " + CHECKED)]
    # every option whose survey field may be left blank: all but since and proxy (an empty string is "not set" to
    # node_audit itself, through default(omit, true))
    assert sorted(numeric) == [
        "cert_warning_days",
        "crl_check",
        "crl_max_bytes",
        "evidence",
        "extra_endpoints",
        "handshake_timeout",
        "responder_timeout",
        "servers",
        "staple_warning_seconds",
        "trust_anchor_paths",
        "use_proxy",
    ]
    for option in numeric:
        name = PREFIX + option
        assert checked[name] == "{{ %s | default(none) }}" % name and name in inputs.VARIABLES
        spec = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"][name]
        assert spec["type"] == "raw", name  # a blank string must reach the check, not fail the role's validation
    # the check comes before the audit
    names = [
        next(iter(key for key in task if "." in key and key != "ansible.builtin.set_fact"), None) for task in tasks
    ]
    imported = names.index("ansible.builtin.import_tasks")
    assert tasks[imported]["ansible.builtin.import_tasks"] == "audit_options.yml"
    assert imported < names.index("tlsfleet.stapling.node_audit")


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
    assert _audit_task()["evidence"] == "{{ %s%sevidence | default(omit) }}" % (CHECKED, PREFIX)
    spec = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"][PREFIX + "evidence"]
    records = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.module_utils.evidence")
    inputs = importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.plugin_utils.inputs")
    assert spec["type"] == "raw"  # a blank survey answer must reach the check
    for detail in records.DETAILS:
        assert inputs.check_variables({PREFIX + "evidence": detail}) == {PREFIX + "evidence": detail}
        assert "V(%s)" % detail in " ".join(spec["description"])
    assert inputs.check_variables({PREFIX + "evidence": ""}) == {}


def test_the_playbook_checks_the_role_spec_per_host_in_the_audit_options_check_and_the_role_alone_keeps_its_checks():
    """The diagnose playbook skips the role's own validation task only because the role's per-host check of its
    audit options checks the same spec (tlsfleet_diagnose_role_spec); the role alone (main) is the playbook's entry
    point plus the final per-host assert."""
    (play, fail_play) = _load(ROOT / "playbooks" / "diagnose.yml")
    role, name_failing = play["tasks"]
    assert role["ansible.builtin.import_role"] == {
        "name": "tlsfleet.stapling.diagnose",
        "tasks_from": "audit",
        "rolespec_validate": False,
    }
    spec = role["vars"]["tlsfleet_diagnose_role_spec"]
    assert "roles/diagnose/meta/argument_specs.yml" in spec and ".argument_specs.main.options" in spec
    (check,) = _load(ROLE / "tasks" / "audit_options.yml")
    arguments = check["tlsfleet.stapling.validate_inputs"]
    assert arguments["role_argument_spec"] == "{{ tlsfleet_diagnose_role_spec | default(omit) }}"
    assert arguments["role_name"] == "tlsfleet.stapling.diagnose"
    assert name_failing["ansible.builtin.add_host"]["groups"] == "tlsfleet_diagnose_failing"
    assert "tlsfleet_diagnose_failing" in fail_play["hosts"]
    main = _load(ROLE / "tasks" / "main.yml")
    assert main[0] == {"name": main[0]["name"], "ansible.builtin.import_tasks": "audit.yml"}
    assert "ansible.builtin.assert" in main[-1]
