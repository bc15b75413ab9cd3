# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters changed_files, verify_endpoints and verification_problems (documented in their .yml files)."""

from __future__ import annotations

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.remediation import (
    changed_files,
    verification_problems,
    verify_endpoints,
)


class FilterModule:
    def filters(self):
        return {
            "changed_files": changed_files,
            "verify_endpoints": verify_endpoints,
            "verification_problems": verification_problems,
        }
