# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What AnsiballZ must ship for the modules that control servers or edit their configuration.

A server type's package imports its control and editing parts on first use by a computed name
(``common.lazy_parts``), which AnsiballZ's dependency finder does not follow, so a module's payload carries them only
when the module imports this file: ``servers/control.py`` (server_reload) and site_stapling do. node_audit does not,
and its payload is 23 KB smaller for it, less for the controller to format and send to every node at every run
(docs/performance.md, "fifth round"). ``ship`` is never called: AnsiballZ reads the imports of a function that does
not run, and running it would import the parts of every type where one is needed.
tests/unit/plugins/module_utils/servers/test_registry.py checks that it names every part of every registered type.
"""

from __future__ import annotations


def ship() -> None:  # pragma: no cover - read by AnsiballZ, never run
    # pylint: disable=import-outside-toplevel,unused-import
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import control as apache_control  # noqa: F401, PLC0415
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import edit as apache_edit  # noqa: F401, PLC0415
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.haproxy import control as haproxy_control  # noqa: F401, PLC0415
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import control as nginx_control  # noqa: F401, PLC0415
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import edit as nginx_edit  # noqa: F401, PLC0415
