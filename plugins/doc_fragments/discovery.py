# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Options shared by the modules that discover servers and read their logs (argspec: servers.DISCOVERY_ARGSPEC)."""

from __future__ import annotations


class ModuleDocFragment:
    # Use with: extends_documentation_fragment: [tlsfleet.stapling.discovery]
    DOCUMENTATION = r"""
options:
  servers:
    description: The server types to look for.
    type: list
    elements: str
    choices: [nginx, apache, haproxy]
    default: [nginx, apache, haproxy]
  since:
    description:
      - Read the servers' error logs back to this time (ISO 8601, for example V(2026-11-23T19:00:00Z)).
      - Defaults to one hour before the module runs.
    type: str
"""
