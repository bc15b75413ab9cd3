# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The note every module that runs on the node carries: the code cache of plugins/module_utils/zip_import.py."""

from __future__ import annotations


class ModuleDocFragment:
    # Use with: extends_documentation_fragment: [tlsfleet.stapling.code_cache]
    DOCUMENTATION = r"""
options: {}
notes:
  - On the node, the module keeps the compiled code of the collection's own C(module_utils) and of ansible's
    C(module_utils) it imports after them (M(tlsfleet.stapling.node_audit) all of ansible's in its payload) in
    C(~/.cache/tlsfleet-stapling-code/) of the user it runs as (root's with C(become)), as Python's C(__pycache__) does
    for files, and reads it only when, by the owners and modes the filesystem reports, no other user can have written
    it (turn it off for a home on NFS, CIFS or FUSE). This cache is not managed state - it is
    written in check mode too and never makes the task changed - and deleting it is always safe. Set
    E(TLSFLEET_STAPLING_CODE_CACHE=off) with the C(environment) keyword to turn it off. See C(docs/security.md) in
    the collection.
"""
