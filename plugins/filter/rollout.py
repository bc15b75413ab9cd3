# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters rollout_order and rollout_summary (documented in their .yml files)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import remediation


def rollout_order(hosts, hostvars, canary=None, batch_size=0):
    try:
        return remediation.rollout_order(hosts, hostvars, canary, batch_size)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None


def rollout_summary(hosts, hostvars, certificate=None, check_mode=False):
    sha256 = None
    if isinstance(certificate, dict) and (certificate.get("certificate") or certificate.get("lineage")):
        entry = dict(certificate)
        if not entry.get("lineage"):
            entry["key"] = entry.get("key") or "-"  # the fingerprint needs the certificate only
        try:
            source = remediation.certificate_sources([entry])[0]
        except ValueError as error:
            raise AnsibleFilterError(str(error)) from None
        sha256 = source["sha256"]
    return remediation.rollout_summary(hosts, hostvars, sha256, check_mode=bool(check_mode))


class FilterModule:
    def filters(self):
        return {"rollout_order": rollout_order, "rollout_summary": rollout_summary}
