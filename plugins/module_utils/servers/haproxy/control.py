# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How server_reload tests, reloads and starts HAProxy (the server-neutral steps are in ``servers/control.py``)."""

from __future__ import annotations

import signal
from typing import Any, Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common, haproxy
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.common import Which
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.haproxy import reader

LABEL = "HAProxy"
UNITS = ("haproxy",)
PROCESS_NAMES = haproxy.PROCESS_NAMES
BINARIES = haproxy.BINARY_NAMES
DEFAULT_CONFIG: Optional[str] = reader.DEFAULT_CONFIG
DEFAULT_PIDFILE = "/run/haproxy.pid"
#: A master-worker HAProxy reloads on SIGUSR2 sent to its master.
RELOAD_SIGNAL = signal.SIGUSR2
BIND_FAILURE_CONSEQUENCE = None
DOWN_CAUSE = ""


def master_settings(cmdline: List[str]) -> Dict[str, Any]:
    """Config files (every ``-f``), pid file and master-worker mode a master was started with."""
    pid_files = common.option_values(cmdline, "-p")
    return {
        "configs": common.option_values(cmdline, "-f"),
        "prefix": None,
        "server_root": None,
        "pid_file": pid_files[-1] if pid_files else None,
        "master_worker": "-W" in cmdline or "-Ws" in cmdline,
    }


def find_ctl(which: Which) -> Optional[str]:
    return None


def complete_target(target, workers) -> None:
    """``master-worker`` in the global section instead of -W: the workers are the master's children."""
    if not target.master_worker:
        target.master_worker = bool(workers())


def _configs(target) -> List[str]:
    args: List[str] = []
    for value in target.configs or [reader.DEFAULT_CONFIG]:
        args += ["-f", value]
    return args


def config_test_command(target, binary: str) -> List[str]:
    return [binary, "-c", *_configs(target)]


def native_reload_command(target, binary: str) -> List[str]:
    """A description of the signal sent to the master (see RELOAD_SIGNAL)."""
    return ["kill", "-USR2", str(target.master_pid)]


def native_start_command(target, binary: str) -> List[str]:
    return [binary, "-W", "-D", *_configs(target), "-p", target.pid_file or DEFAULT_PIDFILE]


def default_unit(which: Which) -> str:
    return UNITS[0]


def reload_refusal(target) -> Optional[str]:
    """Why the master cannot be reloaded by a signal (not in master-worker mode), or None."""
    if target.master_worker:
        return None
    return (
        f"HAProxy pid {target.master_pid} does not run in master-worker mode (-W or -Ws), so it cannot be "
        "reloaded gracefully by a signal; run it in master-worker mode, use method=systemd, or give "
        "reload_command."
    )


def bound_addresses(info: common.ServerInfo, proc_root: str) -> Optional[List[str]]:
    """HAProxy binds the addresses of its ``bind`` lines: the sites' listen addresses (None) are the answer."""
    return None


def inspect_stopped(run: common.Runner, target, binary: str, timeout: float) -> Optional[common.ServerInfo]:
    return reader.inspect(run, binary, list(target.configs), timeout)
