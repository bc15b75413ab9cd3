# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Attribute fragments shared by the collection's modules."""

from __future__ import annotations


class ModuleDocFragment:
    # Descriptions of the attributes; combine with one of the fragments below.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it predicts without modifying the target.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when run in diff mode.
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.attributes, tlsfleet.stapling.attributes.info_module]
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action only reads; it behaves the same in check mode.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.attributes.responder_group]
    RESPONDER_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/tlsfleet.stapling.responder) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - tlsfleet.stapling.responder
    details:
      - The group holds the modules that talk to OCSP responders and share O(proxy), O(use_proxy) and
        O(clock_skew); set only those options there, since every module of the group receives them.
"""
