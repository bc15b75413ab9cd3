# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter tlsfleet.stapling.served_endpoints (documented in served_endpoints.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def served_endpoints(audits, hostnames=None):
    """Every (hostname, port) the audited nodes serve, as tls_endpoint_info endpoints named by the hostname."""
    if not isinstance(audits, (list, tuple)):
        raise AnsibleFilterError(
            "served_endpoints expects a list of node_audit results, got %s" % type(audits).__name__
        )
    wanted = set(hostnames) if hostnames else None
    seen = set()
    for result in audits:
        if not isinstance(result, dict):
            continue
        evidence = result.get("evidence")
        for site in (evidence or {}).get("sites") or [] if isinstance(evidence, dict) else []:
            if not isinstance(site, dict):
                continue
            port = (site.get("endpoint") or {}).get("port") or 443
            for name in site.get("hostnames") or []:
                if name and (wanted is None or name in wanted):
                    seen.add((str(name), int(port)))
    return [{"host": name, "port": port, "server_name": name} for name, port in sorted(seen)]


class FilterModule:
    def filters(self):
        return {"served_endpoints": served_endpoints}
