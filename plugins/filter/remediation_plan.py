# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter tlsfleet.stapling.remediation_plan (documented in remediation_plan.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import inputs, remediation
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.node_result import validate_node_result


def _checked(audit, host: str) -> dict:
    """The node's result, validated like the report validates it (a node may lie in its answer)."""
    clean, problem = validate_node_result(host, audit)
    if problem is not None:
        raise AnsibleFilterError(problem)
    return clean


def _certificate_sources(certificates) -> list:
    try:
        return remediation.certificate_sources(certificates)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None


def _groups(groups) -> dict:
    if groups is None:
        return {}
    if not hasattr(groups, "items"):
        raise AnsibleFilterError("groups must be the inventory's groups (a mapping of group name to hosts)")
    return {str(name): [str(h) for h in members or []] for name, members in groups.items()}


def _sunset(value) -> bool:
    try:
        return inputs.as_opt_in(value, "tlsfleet_stapling_sunset")
    except inputs.InputProblem as problem:
        raise AnsibleFilterError("; ".join(problem.problems)) from None


def remediation_plan(
    audit, host, drift=None, certificates=None, resolvers=None, fetch_issuers=True, groups=None, sunset=False
):
    """What the remediation roles change on ``host``, from its node_audit result (see plugin_utils/remediation)."""
    if audit is None or not isinstance(audit, dict):
        raise AnsibleFilterError("remediation_plan expects the node_audit result of one host")
    return remediation.plan(
        _checked(audit, str(host)),
        str(host),
        drift=list(drift or []),
        certificates=_certificate_sources(certificates),
        # an AWX text answer is one string: "9.9.9.9, 1.1.1.1"
        resolvers=inputs.as_list(resolvers, "tlsfleet_nginx_resolver")
        if isinstance(resolvers, str)
        else [str(r) for r in resolvers or []],
        fetch_issuers=bool(fetch_issuers),
        groups=_groups(groups),
        sunset=_sunset(sunset),
    )


def rollout_plan(audit, certificate, host=None, groups=None):
    """Deploy ``certificate`` to every site of the node it covers (see plugin_utils/remediation.plan_rollout)."""
    if audit is None or not isinstance(audit, dict):
        raise AnsibleFilterError("rollout_plan expects the node_audit result of one host")
    if not isinstance(certificate, dict):
        raise AnsibleFilterError(
            "rollout_plan expects the certificate as a dictionary with 'certificate' and 'key', or 'lineage'"
        )
    return remediation.plan_rollout(
        _checked(audit, str(host or "this host")),
        _certificate_sources([certificate])[0],
        str(host or ""),
        _groups(groups),
    )


class FilterModule:
    def filters(self):
        return {"remediation_plan": remediation_plan, "rollout_plan": rollout_plan}
