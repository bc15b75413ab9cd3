# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx, as the registry (servers/__init__.py) sees it: its names, its stapling facts, and its parts.

The parts are imported on first use (``common.lazy_parts``): ``reader.py`` (``nginx -V``/``-T``, the
configuration and the log messages) only on a node where nginx is installed or runs, ``control.py`` only for
server_reload, ``edit.py`` only for site_stapling.
"""

from __future__ import annotations

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import facts

TYPE = "nginx"
BINARY_NAMES = ("nginx",)
PROCESS_NAMES = ("nginx",)
#: Names on the PATH that show nginx is installed: without one of them and without a running master, it is not read.
INSTALLED_NAMES = BINARY_NAMES

#: The type's stapling facts (the contract is in servers/__init__.py).
FACTS = facts


def _reader():
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import reader  # noqa: PLC0415

    return reader


__getattr__ = common.lazy_parts(__name__, _reader, {"CONTROL": "control", "EDITOR": "edit"})
