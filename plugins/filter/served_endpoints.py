# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter tlsfleet.stapling.served_endpoints (documented in served_endpoints.yml)."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.module_utils import coverage
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import remediation

# A DNS hostname of at least two labels: letters, digits and hyphens, no label starting or ending with a hyphen.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(r"^%s(\.%s)+$" % (_LABEL, _LABEL))


def _probe_allowed(name: str) -> bool:
    """A public DNS name the controller may connect to: never localhost, an IP literal or a malformed name."""
    name = name.lower().rstrip(".")
    if len(name) > 253 or not _HOSTNAME.match(name):
        return False  # also rejects "localhost", "[::1]", "*.example" and names with ports or paths
    if name == "localhost" or name.endswith(".localhost"):
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False  # 127.0.0.1 and other dotted IPv4 literals pass the label pattern


def _port(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        return None
    return value


def served_endpoints(audits, hostnames=None, public=None, certificates=None):
    """Every (hostname, port) the audited nodes serve that the inventory allows probing, as tls_endpoint_info
    endpoints named by the hostname.

    The hostnames come from the nodes: each must be a public DNS name covered by a configured certificate
    (``certificates``, read on the controller) or listed in ``public``; anything else is dropped.
    """
    if not isinstance(audits, (list, tuple)):
        raise AnsibleFilterError(
            "served_endpoints expects a list of node_audit results, got %s" % type(audits).__name__
        )
    if public is not None and not isinstance(public, (list, tuple)):
        raise AnsibleFilterError("public must be a list of hostnames, got %s" % type(public).__name__)
    try:
        sources = remediation.certificate_names(certificates)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None
    allowed = {str(name).lower().rstrip(".") for name in public or [] if isinstance(name, str)}
    patterns = [pattern for names in sources for pattern in names]

    def permitted(name: str) -> bool:
        if not _probe_allowed(name):
            return False
        return name.lower().rstrip(".") in allowed or any(coverage.covers(p, name) for p in patterns)

    wanted = {str(h) for h in hostnames} if hostnames else None
    seen = set()
    for result in audits:
        if not isinstance(result, dict):
            continue
        evidence = result.get("evidence")
        for site in (evidence or {}).get("sites") or [] if isinstance(evidence, dict) else []:
            if not isinstance(site, dict):
                continue
            endpoint = site.get("endpoint")
            port = _port(endpoint.get("port", 443) if isinstance(endpoint, dict) else 443)
            names = site.get("hostnames")
            if port is None or not isinstance(names, list):
                continue
            for name in names:
                if isinstance(name, str) and (wanted is None or name in wanted) and permitted(name):
                    seen.add((name, port))
    return [{"host": name, "port": port, "server_name": name} for name, port in sorted(seen)]


class FilterModule:
    def filters(self):
        return {"served_endpoints": served_endpoints}
