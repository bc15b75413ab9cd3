# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HAProxy, as the registry (servers/__init__.py) sees it: its names, its stapling facts, and its parts.

The parts are imported on first use (``common.lazy_parts``): ``reader.py`` (the configuration, the
certificate lists and the log messages) only on a node where HAProxy is installed or runs, ``control.py``
only for server_reload. HAProxy staples from files beside the certificate, so it has no directive editor.
"""

from __future__ import annotations

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.haproxy import facts

TYPE = "haproxy"
PROCESS_NAMES = ("haproxy",)
BINARY_NAMES = ("haproxy",)
#: Names on the PATH that show HAProxy is installed: without one of them and without a running master, it is not read.
INSTALLED_NAMES = BINARY_NAMES

#: The type's stapling facts (the contract is in servers/__init__.py).
FACTS = facts
#: HAProxy staples from files deployed beside the certificate (or fetches itself): no directive editor.
EDITOR = None


def _reader():
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.haproxy import reader  # noqa: PLC0415

    return reader


__getattr__ = common.lazy_parts(__name__, _reader, {"CONTROL": "control"})
