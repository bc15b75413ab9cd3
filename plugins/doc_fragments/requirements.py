# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Requirement fragments; the versions must match plugins/module_utils/deps.py (a unit test checks it)."""

from __future__ import annotations


class ModuleDocFragment:
    # Use with: extends_documentation_fragment: [tlsfleet.stapling.requirements.cryptography]
    CRYPTOGRAPHY = r"""
options: {}
requirements:
  - cryptography >= 3.4
notes:
  - The Python library C(cryptography) must be installed for the Python interpreter that runs the module on the
    managed node, for example the distribution package C(python3-cryptography).
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.requirements.pyopenssl]
    PYOPENSSL = r"""
options: {}
requirements:
  - cryptography >= 3.4
  - pyOpenSSL >= 21.0.0
notes:
  - The Python libraries C(cryptography) and C(pyOpenSSL) must be installed for the Python interpreter that runs the
    module on the managed node, for example the distribution packages C(python3-cryptography) and C(python3-openssl).
"""
