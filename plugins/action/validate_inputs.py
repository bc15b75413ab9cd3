# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of tlsfleet.stapling.validate_inputs: every playbook input checked before any node is touched."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import inputs

ARGUMENT_SPEC = {
    "certificates": {"type": "raw"},
    "certificates_name": {"type": "str", "default": "tlsfleet_certificates"},
    "certificate": {"type": "raw"},
    "certificate_name": {"type": "str", "default": "tlsfleet_rollout_certificate"},
    "certificate_required": {"type": "bool", "default": False},
    "candidate": {"type": "raw"},
    "candidate_name": {"type": "str", "default": "tlsfleet_preflight_certificate"},
    "candidate_required": {"type": "bool", "default": False},
    "candidate_from_certificate": {"type": "bool", "default": False},
    "role_argument_spec": {"type": "dict"},
    "role_name": {"type": "str", "default": "the role"},
    "variables": {"type": "dict", "default": {}},
    "reserved": {"type": "list", "elements": "str", "default": []},
}


def validate(args: dict, inventory_hosts=None) -> dict:
    """The checked inputs, or ``inputs.InputProblem`` with one sentence per wrong input."""
    problems = []
    checked = {"certificates": [], "certificate": None, "candidate": None, "variables": {}}
    try:
        checked["certificates"] = inputs.check_certificates(args.get("certificates"), args["certificates_name"])
    except inputs.InputProblem as problem:
        problems.extend(problem.problems)
    single = args.get("certificate")
    if single is None or single == "":
        if args["certificate_required"]:
            problems.append(
                "%s is not set: give certificate and key (and optionally chain), or lineage (a certbot live "
                "directory) - paths on the controller - and hosts, the inventory hosts and groups that may receive "
                "it" % args["certificate_name"]
            )
    else:
        try:
            checked["certificate"] = inputs.check_certificate(single, args["certificate_name"])
        except inputs.InputProblem as problem:
            problems.extend(problem.problems)
    candidate = args.get("candidate")
    try:
        if args.get("candidate_from_certificate"):
            # The rollout's own certificate, judged before it is deployed: the same files, never the key.
            if checked["certificate"] is not None:
                checked["candidate"] = inputs.candidate_of(checked["certificate"])
        elif candidate is None or (isinstance(candidate, str) and not candidate.strip()):
            if args.get("candidate_required"):
                problems.append(
                    "%s is not set: give certificate (a path on the controller or PEM text) and optionally chain, "
                    "or lineage (a certbot live directory), and hosts, the inventory hosts and groups to judge it on"
                    % args["candidate_name"]
                )
        else:
            checked["candidate"] = inputs.check_candidate(candidate, args["candidate_name"])
    except inputs.InputProblem as problem:
        problems.extend(problem.problems)
    try:
        checked["variables"] = inputs.check_variables(args.get("variables") or {}, inventory_hosts)
    except inputs.InputProblem as problem:
        problems.extend(problem.problems)
    # Extra vars beat set_fact and register: one of these names given by the user would replace what the playbook
    # records, such as the changed files a rollback restores.
    problems.extend(
        "%s is set, but the playbooks keep their own state under that name: remove it from the extra vars and the "
        "inventory" % name
        for name in sorted(set(args.get("reserved") or []))
    )
    if problems:
        raise inputs.InputProblem(*problems)
    return checked


def _candidate_summary(entry: dict) -> str:
    """What is printed about a preflight candidate: the files or "PEM text", and the fingerprint."""
    return "preflight candidate %s: %s (sha256 %s), chain %s, judged on %s%s" % (
        entry.get("name") or entry["subject"],
        entry.get("certificate") or "PEM text",
        entry["sha256"],
        entry.get("chain") or ("PEM text" if entry.get("chain_pem") else "none"),
        ", ".join(entry["hosts"]),
        "".join("; " + note for note in entry.get("ignored") or []),
    )


def _summary(entry: dict) -> str:
    """What is printed about a checked certificate: never anything of the key but its path."""
    return "%s: %s (sha256 %s), key %s matches%s" % (
        entry.get("name") or entry["subject"],
        entry["certificate"],
        entry["sha256"],
        entry["key"],
        ", chain %s" % entry["chain"] if entry.get("chain") else "",
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _role_problems(self, args: dict, task_vars: dict) -> list:
        """The host's variables named by ``role_argument_spec`` checked as Ansible checks a role's arguments
        (its validate_argument_spec action reads them from the task's variables the same way)."""
        spec = args.get("role_argument_spec")
        if not spec:
            return []
        provided = self._templar.template({name: task_vars[name] for name in spec if name in task_vars})
        # A blank survey answer for a bool or number the role gives a default to means "not set": the role's
        # default applies (its tasks read such a variable with default(<the default>, true)).
        provided = {
            name: value
            for name, value in provided.items()
            if not (
                inputs.is_blank(value)
                and isinstance(spec.get(name), dict)
                and spec[name].get("type") in ("bool", "int", "float")
                and "default" in spec[name]
            )
        }
        try:
            found = ArgumentSpecValidator(spec).validate(provided, validate_role_argument_spec=True)
        except (TypeError, ValueError, AttributeError) as error:
            raise inputs.InputProblem(
                "the argument spec of %s cannot be read: %s" % (args["role_name"], error)
            ) from None
        return ["%s: %s" % (args["role_name"], message) for message in found.error_messages]

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[0].validated_parameters
        groups = task_vars.get("groups") or {}
        inventory_hosts = set(groups.get("all") or []) if hasattr(groups, "get") else None
        try:
            problems = self._role_problems(args, task_vars)
            try:
                checked = validate(args, inventory_hosts)
            except inputs.InputProblem as problem:
                raise inputs.InputProblem(*problem.problems, *problems) from None
            if problems:
                raise inputs.InputProblem(*problems)
        except inputs.InputProblem as problem:
            result.update(failed=True, msg=to_native(problem), problems=problem.problems)
            return result
        except Exception as error:  # a clear message, never a traceback
            raise AnsibleActionFail(
                "validate_inputs could not check the inputs (%s: %s)" % (type(error).__name__, to_native(error))
            ) from None
        entries = checked["certificates"] + ([checked["certificate"]] if checked["certificate"] else [])
        result.update(
            changed=False,
            certificates=checked["certificates"],
            certificate=checked["certificate"],
            candidate=checked["candidate"],
            variables=checked["variables"],
            msg="inputs checked: %s"
            % "; ".join(
                # A preflight alone checks no certificate to deploy: its candidate is all there is to say.
                ([] if checked["candidate"] and not entries else ["%d certificate(s)" % len(entries)])
                + [_summary(entry) for entry in entries]
                + ([_candidate_summary(checked["candidate"])] if checked["candidate"] else [])
            ),
        )
        return result
