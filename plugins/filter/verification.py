# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters changed_files, restore_plan, stashed_backups, verify_endpoints and verification_problems (see their .yml
files)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.remediation import (
    changed_files,
    restore_plan,
    stashed_backups,
    verification_problems,
    verify_endpoints,
)


def _stashed_backups(changes, backup_dir):
    try:
        return stashed_backups(changes, backup_dir)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {
            "changed_files": changed_files,
            "restore_plan": restore_plan,
            "stashed_backups": _stashed_backups,
            "verify_endpoints": verify_endpoints,
            "verification_problems": verification_problems,
        }
