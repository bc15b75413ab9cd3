# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter tlsfleet.stapling.certificate_deployments (documented in certificate_deployments.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import inputs, remediation

display = Display()


def _deployment(entry, index: int, host: str, groups: dict, need_server: bool) -> dict:
    label = "tlsfleet_cert_deployments[%d]" % index
    if isinstance(entry, dict) and "private_key" in entry:
        entry = dict(entry)
        alias = entry.pop("private_key")
        if entry.get("key") and alias and entry["key"] != alias:
            raise inputs.InputProblem("%s gives key and private_key with different paths: give key only" % label)
        entry.setdefault("key", alias)
        display.deprecated(
            msg="%s: private_key is the old name of key (the name every certificate input uses)" % label,
            version="2.0.0",
            collection_name="tlsfleet.stapling",
        )
    checked = inputs.certificate_entry(entry, label)
    where = "%s (%s)" % (label, checked["name"]) if checked.get("name") else label
    if checked.get("hosts") is not None and not remediation.in_scope(checked, host, groups):
        raise inputs.InputProblem(remediation.scope_refusal(dict(checked, name=where), host))
    for key in ("fullchain_dest", "key_dest", "site", "server"):
        value = checked.get(key)
        if value is not None and not isinstance(value, str):
            raise inputs.InputProblem("%s: %s must be a string, not %s" % (where, key, type(value).__name__))
    if not (checked.get("fullchain_dest") or "").strip():
        raise inputs.InputProblem("%s needs fullchain_dest (the file the server loads, on the node)" % where)
    for key, default in (("combined", False), ("deploy_key", True)):
        checked[key] = inputs.as_bool(checked[key], "%s: %s" % (where, key)) if key in checked else default
    if not checked["combined"] and checked["deploy_key"] and not (checked.get("key_dest") or "").strip():
        raise inputs.InputProblem(
            "%s needs key_dest (the key file on the node), or combined: true (key and chain in one file)" % where
        )
    server = checked.get("server")
    # The registered server types (servers.REGISTRY), read when called: a new type needs no change here.
    if (server is not None and server not in servers.TYPES) or (need_server and server is None):
        raise inputs.InputProblem(
            "%s: server must be one of %s (the server the handler reloads), not %r"
            % (where, ", ".join(servers.TYPES), server)
        )
    checked.setdefault("site", checked["fullchain_dest"])
    checked.setdefault("key_dest", None)
    checked.setdefault("codes", [])
    return checked


def certificate_deployments(deployments, host=None, groups=None, need_server=False):
    """cert_deploy's deployments in the one certificate shape: ``certificate``, ``key`` (``private_key`` is the
    deprecated old name), ``chain`` optional, or ``lineage``; ``combined``, ``deploy_key``, ``site`` defaulted; an
    entry with ``hosts`` only for a host in its scope."""
    if deployments is None:
        return []
    if not isinstance(deployments, (list, tuple)):
        raise AnsibleFilterError(
            "tlsfleet_cert_deployments must be a list of entries, not %s" % type(deployments).__name__
        )
    if groups is not None and not hasattr(groups, "items"):
        raise AnsibleFilterError("groups must be the inventory's groups (a mapping of group name to hosts)")
    groups = {str(name): [str(h) for h in members or []] for name, members in (groups or {}).items()}
    found, problems = [], []
    for index, entry in enumerate(deployments):
        try:
            found.append(_deployment(entry, index, str(host or ""), groups, bool(need_server)))
        except inputs.InputProblem as problem:
            problems.extend(problem.problems)
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    return found


class FilterModule:
    def filters(self):
        return {"certificate_deployments": certificate_deployments}
