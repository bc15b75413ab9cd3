# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Server types: which TLS servers run on the node, what they declare, what they logged, how they are driven.

Each server type (``nginx``, ``apache``, ``haproxy``) is one package, ``servers/<type>/``, that knows
its own commands, directives and messages; this package ties them together so callers never branch
on the type. Adding a server (Caddy, Envoy) means one new package and one line in ``REGISTRY``;
docs/design.md ("Adding a server type") walks through it.

What every ``servers/<type>/`` package defines:

- in ``__init__.py``, which imports nothing heavy: ``TYPE``, ``PROCESS_NAMES``, ``BINARY_NAMES``,
  ``INSTALLED_NAMES`` (what on the PATH shows the type is installed), ``FACTS``, and a ``__getattr__``
  (``common.lazy_parts``) that hands out the parts below on first use: ``CONTROL``, ``EDITOR`` (None when
  stapling is not set by editing directives) and the reader's ``common.READER_PARTS``. ``servers/parts.py``
  names every type's control and editing parts, for AnsiballZ;
- ``reader.py``, the node-side reading: ``one_shot`` (its run-and-exit command lines, which are never a
  master), ``discover`` (built on ``common.discover_instances``), ``inspect``, ``parse_line`` and
  ``make_classifier`` (the log patterns). ``discover`` below imports it only for a type that is installed or
  runs on the node;
- ``facts.py``, pure functions and constants over the discovered ``stapling`` dict: ``LABEL``,
  ``READS_CHAIN_ELSEWHERE``, ``KEY_IN_CERTIFICATE_FILE``, ``STAPLING_REMEDY`` (``directives`` or
  ``staple_file``), ``TAKES_RESOLVER``, ``NEEDS_STAPLING_CACHE``, ``STAPLE_FILE_FOLLOWS_CERTIFICATE``,
  ``stapling_enabled``, ``stapling_problem``, ``no_responder_problem``, ``forced_responder``, ``verify_problem``,
  ``resolver_problem``, ``resolver_addresses``, ``staple_file_path``, ``staple_issuer_path``, ``certificate_units``;
- ``control.py``, for server_reload: ``LABEL``, ``UNITS``, ``PROCESS_NAMES``, ``BINARIES``,
  ``DEFAULT_CONFIG``, ``RELOAD_SIGNAL``, ``BIND_FAILURE_CONSEQUENCE``, ``DOWN_CAUSE``,
  ``master_settings``, ``find_ctl``, ``complete_target``, ``config_test_command``,
  ``native_reload_command``, ``native_start_command``, ``default_unit``, ``reload_refusal``,
  ``bound_addresses``, ``inspect_stopped``;
- ``edit.py`` (when stapling is set by directives), for site_stapling: ``OPTIONS``, ``check_options``,
  ``edit_site``, ``config_root``, ``directives_found``, ``before_write``, ``companion_file``.

``tests/unit/plugins/module_utils/servers/test_registry.py`` checks every registered type against
this list.

Contract with the rest of the collection:

- ``discover(run, which, proc_root="/proc") -> list[ServerInfo]``; nothing raises for a broken
  server: its record carries ``errors`` sentences.
- ``log_events(server_info, since, max_bytes=..., max_lines=...) -> list[LogEvent]``, and
  ``log_scan`` for the same with coverage (how far back each file was read) and errors.

Only the servers' own binaries run, with their test/dump flags, through the injected runner.
"""

from __future__ import annotations

import datetime
from typing import Dict, List, Optional, Sequence

from ansible_collections.tlsfleet.stapling.plugins.module_utils import logscan
from ansible_collections.tlsfleet.stapling.plugins.module_utils.logscan import LogEvent, LogScan
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import apache, common, haproxy, nginx
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.common import (
    DEFAULT_TIMEOUT,
    Runner,
    ServerInfo,
    SiteInfo,
    Which,
    default_which,
    process_runner,
    stat_record,
)

__all__ = [
    "EDITABLE_TYPES",
    "LABELS",
    "REGISTRY",
    "TYPES",
    "LogEvent",
    "LogScan",
    "ServerInfo",
    "SiteInfo",
    "default_which",
    "discover",
    "facts_of",
    "log_events",
    "log_scan",
    "process_runner",
    "server_module",
    "stat_record",
]

#: Server type -> module. Order is the order of discovery and of the records returned.
REGISTRY = {
    nginx.TYPE: nginx,
    apache.TYPE: apache,
    haproxy.TYPE: haproxy,
}


#: The registered server types, in registry order (module and role option choices come from here).
TYPES = tuple(REGISTRY)
#: The types' display names, in registry order (``nginx``, ``Apache httpd``, ``HAProxy``).
LABELS = tuple(module.FACTS.LABEL for module in REGISTRY.values())
#: The types whose stapling is set by editing directives (site_stapling's ``server`` choices). Read from FACTS, not
#: EDITOR, which is imported on first use; tests/unit/plugins/module_utils/servers/test_registry.py keeps the two equal.
EDITABLE_TYPES = tuple(name for name, module in REGISTRY.items() if module.FACTS.STAPLING_REMEDY == "directives")


def server_module(server_type: str):
    """The module handling ``server_type``; KeyError names the known types."""
    try:
        return REGISTRY[server_type]
    except KeyError:
        raise KeyError(f"unknown server type {server_type!r}; known: {', '.join(REGISTRY)}") from None


def facts_of(server_type: Optional[str]):
    """The stapling facts of a registered type (``servers/<type>/facts.py``), None for any other value.

    Evidence from an older or foreign node may name no type or an unknown one; callers keep their own default.
    """
    module = REGISTRY.get(server_type) if isinstance(server_type, str) else None
    return module.FACTS if module is not None else None


def discover(
    run: Runner,
    which: Which,
    proc_root: str = "/proc",
    types: Optional[Sequence[str]] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> List[ServerInfo]:
    """Ask every registered server type to find its servers on this node.

    A type whose discovery fails outright (a bug, an unexpected environment) still yields a record
    with the error, so one server type can never hide the others.
    """
    found: List[ServerInfo] = []
    with common.process_table(proc_root):
        for server_type, module in REGISTRY.items():
            if types is not None and server_type not in types:
                continue
            try:
                # Absent types are not read: their readers are not even imported (common.lazy_parts says why).
                if common.installed_or_running(which, proc_root, module.INSTALLED_NAMES, module.PROCESS_NAMES):
                    found.extend(module.discover(run, which, proc_root=proc_root, timeout=timeout))
            except Exception as exc:  # pylint: disable=broad-exception-caught  # isolate one server type's failure
                info = ServerInfo(type=server_type)
                info.errors.append(f"{server_type} discovery failed unexpectedly: {type(exc).__name__}: {exc}")
                found.append(info)
    return found


def log_scan(
    server_info: ServerInfo,
    since: Optional[datetime.datetime],
    max_bytes: int = logscan.DEFAULT_MAX_BYTES,
    max_lines: int = logscan.DEFAULT_MAX_LINES,
    max_events: int = logscan.DEFAULT_MAX_EVENTS,
    include_rotated: bool = True,
    include_config_test: bool = True,
    extra_logs: Optional[Sequence[str]] = None,
    tz: Optional[datetime.tzinfo] = None,
) -> LogScan:
    """Stapling events in the server's error logs since ``since`` (aware; naive means UTC).

    Also classifies the output of the configuration test run during discovery (``nginx -T`` and
    ``haproxy -c`` print config-time OCSP warnings there, often nowhere else); those events have
    ``file`` set to the command and are current by construction. ``tz`` is the zone the server
    writes its local times in (default: the node's).
    """
    module = server_module(server_info.type)
    classify = module.make_classifier(server_info)

    def parse(line: str) -> Optional[logscan.ParsedLine]:
        return module.parse_line(line, tz=tz)

    paths = list(server_info.error_logs) + [path for path in extra_logs or [] if path not in server_info.error_logs]
    result = logscan.scan_logs(paths, since, parse, classify, max_bytes, max_lines, max_events, include_rotated)
    if include_config_test and server_info.config_test_output:
        source = server_info.details.get("config_test_command") or f"{server_info.type} config test"
        config_events = logscan.classify_text(server_info.config_test_output, source, parse, classify)
        for event in config_events:
            result.counts[event.code] = result.counts.get(event.code, 0) + 1
        result.events.extend(config_events)
    return result


def log_events(
    server_info: ServerInfo,
    since: Optional[datetime.datetime],
    max_bytes: int = logscan.DEFAULT_MAX_BYTES,
    max_lines: int = logscan.DEFAULT_MAX_LINES,
    **kwargs,
) -> List[LogEvent]:
    """The events of :func:`log_scan`; reading problems are appended to ``server_info.errors``."""
    result = log_scan(server_info, since, max_bytes=max_bytes, max_lines=max_lines, **kwargs)
    for error in result.errors:
        if error not in server_info.errors:
            server_info.errors.append(error)
    return result.events


def counts_by_code(events: Sequence[LogEvent]) -> Dict[str, int]:
    """How many events name each cause code (for summaries)."""
    counts: Dict[str, int] = {}
    for event in events:
        counts[event.code] = counts.get(event.code, 0) + 1
    return counts


#: Module options shared by the modules that discover servers (documented in doc_fragments/discovery.py).
DISCOVERY_ARGSPEC = {
    "servers": {
        "type": "list",
        "elements": "str",
        "choices": list(TYPES),
        "default": list(TYPES),
    },
    "since": {"type": "str"},
}
