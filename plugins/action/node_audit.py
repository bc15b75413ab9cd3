# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of tlsfleet.stapling.node_audit: the options and the preflight candidate are checked before the
task is sent.

A module's arguments travel to the node in its payload, so a private key pasted into ``preflight`` would reach
every node of the play before the module could refuse it (``no_log`` hides it from logs, not from the node).
Here the candidate must be certificate PEM blocks only (module_utils/public_pem.py); otherwise the task fails on
the controller and nothing is sent.

An option the task does not set is taken from its ``tlsfleet_audit_<option>`` variable when that is set (the
diagnose role's, the rollout's and the preflight's variables, which an AWX survey fills), so the playbooks' node_audit
tasks name none of them: each templated argument would cost a Jinja compile per host on the controller.

The options an AWX survey fills are read here with the playbooks' own rules (plugin_utils/inputs.py, the
``tlsfleet_audit_<option>`` entries): a blank answer ("" for an empty number, choice or text field) means the
module's default, and a wrong one fails this host only, naming the variable (or the task's option), with nothing
sent; every wrong one is named at once. Checking here, in the task that runs per host anyway, costs no task of its
own per host. The rest is Ansible's normal module execution.
"""

from __future__ import annotations

from ansible.errors import AnsibleError, AnsibleValueOmittedError
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.tlsfleet.stapling.plugins.module_utils import public_pem
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import ansiballz, inputs

# node_audit's options a survey may leave blank or give as text, each read by the playbooks' rule for its
# tlsfleet_audit_<option> variable (one source: inputs.VARIABLES).
_PREFIX = "tlsfleet_audit_"
SURVEY_OPTIONS = {name[len(_PREFIX) :]: read for name, read in inputs.VARIABLES.items() if name.startswith(_PREFIX)}


# node_audit's options that have a tlsfleet_audit_<option> variable (documented in the diagnose role's argument spec;
# tests/unit/plugins/action/test_node_audit_action.py keeps the two equal).
VARIABLE_OPTIONS = (
    "servers",
    "since",
    "extra_endpoints",
    "trust_anchor_paths",
    "handshake_timeout",
    "responder_timeout",
    "proxy",
    "use_proxy",
    "staple_warning_seconds",
    "cert_warning_days",
    "crl_check",
    "crl_max_bytes",
    "evidence",
)


def from_variables(args: dict, variables, resolve) -> tuple:
    """The task's arguments, each option it does not set taken from its ``tlsfleet_audit_<option>`` variable when
    that is set, as ``resolve`` (the task's templar) renders it; one that renders to ``omit`` is not set. A module
    default counts as set by the task (Ansible has merged it into the arguments by now). Returns the arguments and
    a sentence for each variable that cannot be rendered (naming it)."""
    filled, problems = dict(args), []
    for option in VARIABLE_OPTIONS:
        name = _PREFIX + option
        if option in filled or name not in variables:
            continue
        try:
            filled[option] = resolve(variables[name])
        except AnsibleValueOmittedError:
            continue  # "{{ ... | default(omit) }}" in the variable: not set, as in a task argument
        except AnsibleError as error:
            problems.append("%s cannot be read: %s" % (name, error.message.rstrip(".")))
    return filled, problems


def read_options(args: dict, names=None) -> dict:
    """The task's arguments with each survey option given as text read by its rule; a blank one (or null) is left
    out, so the module's default applies. Raises ``inputs.InputProblem`` naming every wrong option, by its name in
    ``names`` when there (the variable it came from: what the survey's user set), else by the option's."""
    read, problems, names = dict(args), [], names or {}
    for option, rule in SURVEY_OPTIONS.items():
        # A native value (a number, a list from YAML) is the module's argument checks' to judge, as without a survey.
        if option not in read or not (read[option] is None or isinstance(read[option], str)):
            continue
        try:
            value = rule(read[option], names.get(option, option))
        except inputs.InputProblem as problem:
            problems.extend(problem.problems)
            continue
        except (ValueError, TypeError, OverflowError):  # e.g. int() of 5,000 digits: a sentence, never a traceback
            problems.append("%s cannot be read as its type: %r" % (names.get(option, option), read[option][:40]))
            continue
        if value is None:
            del read[option]
        else:
            read[option] = value
    for option in ("since", "proxy"):  # text options: an empty answer is not set too
        if option in read and inputs.is_blank(read[option]):
            del read[option]
    if problems:
        raise inputs.InputProblem(*problems)
    return read


def candidate_problem(args: dict):
    """Why the task's preflight candidate must not leave the controller, or None."""
    wanted = args.get("preflight")
    if not isinstance(wanted, dict):
        return None  # absent; a wrong type is the module's argument validation's to report
    for what in ("certificate", "chain"):
        found = public_pem.problem(wanted.get(what), what)
        if found:
            return found + " Nothing was sent to the node."
    return None


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        refused = candidate_problem(self._task.args)
        if refused:
            result.update(failed=True, msg=refused)
            return result
        filled, problems = from_variables(self._task.args, task_vars or {}, self._templar.template)
        # A wrong value is named as the user gave it: by its variable when it came from one.
        names = {option: _PREFIX + option for option in filled if option not in self._task.args}
        try:
            module_args = read_options(filled, names)
        except inputs.InputProblem as problem:
            problems += problem.problems
        if problems:
            problem = inputs.InputProblem(*problems)
            result.update(failed=True, msg="%s. Nothing was sent to the node." % problem, problems=problem.problems)
            return result
        wrap_async = self._task.async_val
        result = merge_hash(
            result, self._execute_module(module_args=module_args, task_vars=task_vars, wrap_async=wrap_async)
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _configure_module(self, module_name, module_args, task_vars):
        # The payload imports zip_import before ansible's own code: ansible's module_utils are then compiled once on
        # the node, or taken from its code cache (plugin_utils/ansiballz.py).
        # Only node_audit's own payload: for async: tasks ansible builds its async_wrapper here too.
        built, module_path = super()._configure_module(module_name, module_args, task_vars)
        return ansiballz.early_zip_import(built, "node_audit"), module_path
