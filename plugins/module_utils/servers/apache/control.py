# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How server_reload tests, reloads and starts Apache httpd (the server-neutral steps are in ``servers/control.py``)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import apache, common
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import reader
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.common import Which

LABEL = "Apache httpd"
#: Debian's unit first, then Red Hat's.
UNITS = ("apache2", "httpd")
PROCESS_NAMES = apache.PROCESS_NAMES
BINARIES = apache.BINARY_NAMES
#: httpd is built with its own default; the master's ``-f`` or the one given is compared instead.
DEFAULT_CONFIG: Optional[str] = None
RELOAD_SIGNAL = None
BIND_FAILURE_CONSEQUENCE = (
    "Apache httpd exits completely when a graceful restart cannot bind a Listen address (AH00072 make_sock: "
    "could not bind to address, then AH00451 no listening sockets available, shutting down), so this reload "
    "would take the server down"
)
DOWN_CAUSE = (
    " Apache httpd exits when a graceful restart fails after the configuration test passed: a Listen address "
    "it cannot bind (AH00072 make_sock: could not bind to address, AH00451 no listening sockets available) or "
    "a certificate or key mod_ssl cannot load."
)


def master_settings(cmdline: List[str]) -> Dict[str, Any]:
    """Config file and ServerRoot a master was started with (``-f``, ``-d``, the last of each)."""
    configs = common.option_values(cmdline, "-f")
    roots = common.option_values(cmdline, "-d")
    return {"configs": configs[-1:], "prefix": None, "server_root": roots[-1] if roots else None, "pid_file": None}


def find_ctl(which: Which) -> Optional[str]:
    """apache2ctl/apachectl, which set up the environment (envvars) the binary alone would lack."""
    return next((path for path in (which(name) for name in apache.CTL_NAMES) if path), None)


def complete_target(target, workers) -> None:
    """Nothing to learn beyond the master's command line."""


def _args(target) -> List[str]:
    args: List[str] = []
    if target.server_root:
        args += ["-d", target.server_root]
    if target.configs:
        args += ["-f", target.configs[0]]
    return args


def config_test_command(target, binary: str) -> List[str]:
    return [target.ctl or binary, *_args(target), "-t"]


def native_reload_command(target, binary: str) -> List[str]:
    extra = _args(target)
    if target.ctl:
        return [target.ctl, *extra, "-k", "graceful"] if extra else [target.ctl, "graceful"]
    return [binary, *extra, "-k", "graceful"]


def native_start_command(target, binary: str) -> List[str]:
    extra = _args(target)
    if target.ctl:
        return [target.ctl, *extra, "-k", "start"] if extra else [target.ctl, "start"]
    return [binary, *extra, "-k", "start"]


def default_unit(which: Which) -> str:
    """Debian's apache2 or Red Hat's httpd, chosen by the binaries present."""
    return "apache2" if which("apache2ctl") or which("apache2") else "httpd"


def reload_refusal(target) -> Optional[str]:
    return None


def bound_addresses(info: common.ServerInfo, proc_root: str) -> Optional[List[str]]:
    """The arguments of every ``Listen`` the configuration on disk declares (main server); None when unknown.

    Apache binds its ``Listen`` directives (a <VirtualHost> address only selects among them). Discovery records
    only the <VirtualHost> addresses, so the configuration is walked again with discovery's own reader,
    evaluating <IfModule>/<IfDefine> the way Apache does.
    """
    declared = info.details.get("listen")
    if isinstance(declared, list):
        return [str(value) for value in declared]
    if not info.config_file:
        return None
    environment: Dict[str, str] = {}
    envvars = info.details.get("envvars")
    if envvars:
        environment.update(common.parse_env_file(str(envvars)))
    if info.master_pid is not None:
        environment.update(reader._master_environ(proc_root, info.master_pid))  # pylint: disable=protected-access
    errors: List[str] = []
    walker = reader._Walker(  # pylint: disable=protected-access
        str(info.details.get("server_root") or os.path.dirname(info.config_file)),
        None,
        environment,
        dict(info.details.get("defines") or {}),
        None,
        info.version_tuple,
        errors,
    )
    walker.walk(info.config_file)
    if not walker.files_read:
        return None
    return [args[0] for args in walker.main.all("listen") if args]


def inspect_stopped(run: common.Runner, target, binary: str, timeout: float) -> Optional[common.ServerInfo]:
    return reader.inspect(run, target.ctl, target.binary, target.configs[0], target.server_root, timeout)
