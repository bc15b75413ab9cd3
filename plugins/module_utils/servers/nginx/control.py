# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How server_reload tests, reloads and starts nginx (the server-neutral steps are in ``servers/control.py``)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common, nginx
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.common import Which
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import reader

LABEL = "nginx"
UNITS = ("nginx",)
PROCESS_NAMES = nginx.PROCESS_NAMES
BINARIES = nginx.BINARY_NAMES
DEFAULT_CONFIG: Optional[str] = reader.DEFAULT_CONFIG
#: nginx reloads through its own command, not a signal sent by this module.
RELOAD_SIGNAL = None
#: What a reload that cannot bind does (the bind check explains its refusal with it); None: the generic text.
BIND_FAILURE_CONSEQUENCE = None
#: Why the server may be gone after a reload whose configuration test passed; empty when nothing specific.
DOWN_CAUSE = ""


def master_settings(cmdline: List[str]) -> Dict[str, Any]:
    """Config file and prefix a master was started with (``-c``, ``-p``; nginx rewrites its title)."""
    options = reader._master_options(common.ProcInfo(0, 0, "nginx", cmdline, None, None))  # pylint: disable=protected-access
    return {
        "configs": [options["config"]] if options["config"] else [],
        "prefix": options["prefix"],
        "server_root": None,
        "pid_file": None,
    }


def find_ctl(which: Which) -> Optional[str]:
    """nginx has no separate control script."""
    return None


def complete_target(target, workers) -> None:
    """Nothing to learn beyond the master's command line."""


def _args(target) -> List[str]:
    args: List[str] = []
    if target.configs and (target.config_explicit or master_settings(target.master_cmdline)["configs"]):
        args += ["-c", target.configs[0]]
    if target.prefix:
        args += ["-p", target.prefix]
    return args


def config_test_command(target, binary: str) -> List[str]:
    return [binary, "-t", *_args(target)]


def native_reload_command(target, binary: str) -> List[str]:
    return [binary, *_args(target), "-s", "reload"]


def native_start_command(target, binary: str) -> List[str]:
    return [binary, *_args(target)]


def default_unit(which: Which) -> str:
    return UNITS[0]


def reload_refusal(target) -> Optional[str]:
    """nginx can always be asked to reload."""
    return None


def bound_addresses(info: common.ServerInfo, proc_root: str) -> Optional[List[str]]:
    """nginx binds the addresses of its ``listen`` lines: the sites' listen addresses (None) are the answer."""
    return None


def inspect_stopped(run: common.Runner, target, binary: str, timeout: float) -> Optional[common.ServerInfo]:
    return reader.inspect(run, binary, target.configs[0], target.prefix, timeout)
