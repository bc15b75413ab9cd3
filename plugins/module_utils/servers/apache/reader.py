# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Apache httpd (mod_ssl, mod_md): find it, read its configuration as Apache resolves it, and its stapling messages.

Apache has no full configuration dump without mod_info, so the files are read here, but every
question Apache can answer itself is asked of it (docs/servers.md, Apache httpd), in one configuration test
with four dumps (``DUMP_ARGS``): ``DUMP_INCLUDES`` says which files were included from which line (so globs,
``IncludeOptional`` and conditionals are resolved by Apache, not guessed), ``DUMP_VHOSTS`` and ``DUMP_RUN_CFG``
(what ``-S`` prints) give ServerRoot, the main ErrorLog, the final ``Define`` values and where each virtual host
starts, ``DUMP_MODULES`` (``-M``) the loaded modules for ``<IfModule>``. One run instead of three: each parses the
whole configuration and loads every module, about 25 ms of CPU through ``apache2ctl`` (docs/performance.md,
"eighth round"). The environment Debian's ``apache2ctl`` exports (``envvars``) is read for ``${APACHE_LOG_DIR}``
and friends. The commands go through ``apache2ctl``/``apachectl`` when present because it sets that
environment; ``-v`` goes to the server binary.

Defaults follow docs/servers.md, Apache httpd: SSLUseStapling off, no SSLStaplingCache, responder timeout 10 s,
ReturnResponderErrors and FakeTryLater on, standard/error cache timeouts 3600/600 s; a
``<VirtualHost>`` inherits the main server's SSL settings when it does not set them.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import logscan
from ansible_collections.tlsfleet.stapling.plugins.module_utils.logscan import LogEvent, ParsedLine, pattern
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import (
    BINARY_NAMES,
    CTL_NAMES,
    PROCESS_NAMES,
    TYPE,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.common import (
    DEFAULT_TIMEOUT,
    Runner,
    ServerInfo,
    SiteInfo,
    Which,
)

ENVVARS_CANDIDATES = ("/etc/apache2/envvars",)
MAX_LINES = 2_000_000

# Modules built into every httpd, for <IfModule> when ``DUMP_MODULES`` could not run.
COMMON_STATIC = {
    "core_module",
    "so_module",
    "http_module",
    "log_config_module",
    "logio_module",
    "unixd_module",
    "version_module",
    "watchdog_module",
    "mpm_common",
}
_MPM_FILES = {"prefork.c": "mpm_prefork_module", "worker.c": "mpm_worker_module", "event.c": "mpm_event_module"}

# ---------------------------------------------------------------------------------------------
# Apache's own answers


# The configuration test that also prints what -t -D DUMP_INCLUDES, -S and -M print, in that order (Apache 2.4's
# test_config hooks: core's include tree, then the virtual hosts and run-time settings, then mod_so's modules).
DUMP_DEFINES = ("DUMP_INCLUDES", "DUMP_VHOSTS", "DUMP_RUN_CFG", "DUMP_MODULES")
DUMP_ARGS = ("-t", *(arg for define in DUMP_DEFINES for arg in ("-D", define)))


@dataclass(repr=False)
class RunConfig(Record):
    """What ``DUMP_VHOSTS`` + ``DUMP_RUN_CFG`` (``-S``) report."""

    server_root: Optional[str] = None
    main_error_log: Optional[str] = None
    pid_file: Optional[str] = None
    defines: Dict[str, str] = field(default_factory=dict)
    vhosts: List[Dict[str, Any]] = field(default_factory=list)


def split_dumps(text: str) -> Tuple[str, str, str]:
    """``(include tree, virtual hosts and run-time settings, modules)``: the three parts of the dumps' output.

    Each part starts at its own heading, and the last ``VirtualHost configuration:`` and the last ``Loaded Modules:``
    after it are the real ones: the include tree comes first and prints file names as they are, so an included file
    whose name holds a line break and a heading cannot add modules, ``Define`` lines or virtual hosts to what the
    later dumps say. The virtual host dump prints file names too: a name with a line break there could already add
    ``Define`` lines to what ``-S`` printed, and a forged heading in one now hides the virtual hosts listed before it
    from ``_cross_check`` (docs/servers.md, Apache httpd). Only the output of a test that passed is split (a failed
    one stops inside the tree).
    """
    lines = text.splitlines(keepends=True)
    headings = [line.rstrip("\r\n") for line in lines]
    vhosts_at = max((i for i, line in enumerate(headings) if line == "VirtualHost configuration:"), default=None)
    if vhosts_at is None:  # no real heading to tell a file name's forged module heading from: all of it is the tree
        return text, "", ""
    later = (i for i, line in enumerate(headings) if line == "Loaded Modules:" and i > vhosts_at)
    modules_at = max(later, default=None)
    modules = "".join(lines[modules_at:]) if modules_at is not None else ""
    return "".join(lines[:vhosts_at]), "".join(lines[vhosts_at:modules_at]), modules


def parse_run_config(text: str) -> RunConfig:
    """Parse what ``DUMP_VHOSTS`` and ``DUMP_RUN_CFG`` print (``server/vhost.c`` and ``server/core.c`` dumps).

    Lines of the other dumps in the same output (the include tree, indented; the module list, indented) match
    none of these patterns.
    """
    config = RunConfig()
    current_addr = None
    for raw in text.splitlines():
        line = raw.rstrip()
        match = re.match(r'^ServerRoot: "(.*)"$', line)
        if match:
            config.server_root = match.group(1)
            continue
        match = re.match(r'^Main ErrorLog: "(.*)"$', line)
        if match:
            config.main_error_log = match.group(1)
            continue
        match = re.match(r'^PidFile: "(.*)"$', line)
        if match:
            config.pid_file = match.group(1)
            continue
        match = re.match(r"^Define: ([^=\s]+)(?:=(.*))?$", line)
        if match:
            if match.group(1) not in DUMP_DEFINES:
                config.defines[match.group(1)] = match.group(2) or ""
            continue
        match = re.match(r"^(\S+)\s+is a NameVirtualHost$", line)
        if match:
            current_addr = match.group(1)
            continue
        match = re.match(r"^\s+(?:default server|port \d+ namevhost) (\S+) \((.+):(\d+)\)$", line)
        if match and current_addr:
            config.vhosts.append(
                {
                    "address": current_addr,
                    "name": match.group(1),
                    "file": match.group(2),
                    "line": int(match.group(3)),
                    "aliases": [],
                }
            )
            continue
        match = re.match(r"^\s+(?:wild )?alias (\S+)$", line)
        if match and config.vhosts:
            config.vhosts[-1]["aliases"].append(match.group(1))
            continue
        match = re.match(r"^(\S+)\s+(\S+) \((.+):(\d+)\)$", line)
        if match:
            current_addr = None
            config.vhosts.append(
                {
                    "address": match.group(1),
                    "name": match.group(2),
                    "file": match.group(3),
                    "line": int(match.group(4)),
                    "aliases": [],
                }
            )
    return config


def parse_includes(text: str) -> Tuple[Optional[str], Dict[Tuple[str, int], List[str]]]:
    """``(main file, {(parent, line): [included files]})`` from ``-t -D DUMP_INCLUDES``.

    Apache prints the tree indented two spaces per level, each file with the line of the
    ``Include`` in its parent: ``  (*) /etc/apache2/apache2.conf`` then ``    (146) .../x.load``.
    """
    main = None
    children: Dict[Tuple[str, int], List[str]] = {}
    stack: List[Tuple[int, str]] = []
    for raw in text.splitlines():
        match = re.match(r"^( *)\((\*|\d+)\) (.+)$", raw)
        if not match:
            continue
        depth = len(match.group(1))
        path = match.group(3).strip()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if match.group(2) == "*":
            main = main or path
        elif stack:
            children.setdefault((stack[-1][1], int(match.group(2))), []).append(path)
        stack.append((depth, path))
    return main, children


def parse_modules(text: str) -> Tuple[Set[str], Set[str]]:
    """``(all loaded, static)`` module identifiers from ``DUMP_MODULES`` (``-M``)."""
    loaded, static = set(), set()
    for match in re.finditer(r"^\s*(\w+_module) \((static|shared)\)", text, re.MULTILINE):
        loaded.add(match.group(1))
        if match.group(2) == "static":
            static.add(match.group(1))
    return loaded, static


# ---------------------------------------------------------------------------------------------
# configuration text


def split_args(text: str) -> List[str]:
    """Arguments the way ``ap_getword_conf`` splits them: quotes group, ``\\"`` escapes the quote."""
    args: List[str] = []
    index = 0
    length = len(text)
    while index < length:
        while index < length and text[index] in " \t":
            index += 1
        if index >= length:
            break
        char = text[index]
        if char in ('"', "'"):
            quote = char
            index += 1
            token: List[str] = []
            while index < length and text[index] != quote:
                if text[index] == "\\" and index + 1 < length and text[index + 1] == quote:
                    index += 1
                token.append(text[index])
                index += 1
            index += 1
            args.append("".join(token))
        else:
            start = index
            while index < length and text[index] not in " \t":
                index += 1
            args.append(text[start:index])
    return args


def logical_lines(text: str) -> List[Tuple[int, int, str]]:
    """``(first line, last line, text)`` of each non-comment logical line (backslash continuations joined)."""
    result = []
    pending: List[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not pending:
            start = number
            if line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = "".join(pending).strip()
        pending = []
        if joined and not joined.startswith("#"):
            result.append((start, number, joined))
    if pending:
        joined = "".join(pending).strip()
        if joined:
            result.append((start, start + len(pending) - 1, joined))
    return result


_VAR_RE = re.compile(r"\$\{([A-Za-z0-9_:.-]+)\}")


def module_id(name: str) -> str:
    """``mod_ssl.c`` or ``ssl_module`` -> ``ssl_module`` (the two spellings <IfModule> accepts)."""
    name = name.strip()
    if name in _MPM_FILES:
        return _MPM_FILES[name]
    if name.endswith(".c"):
        name = name[:-2]
        if name.startswith("mod_"):
            name = name[4:]
        return name + "_module"
    return name


def _version_matches(args: List[str], version: Optional[Tuple[int, ...]]) -> bool:
    if version is None or not args:
        return True
    if len(args) == 1:
        operator, wanted = "=", args[0]
    else:
        operator, wanted = args[0], args[1]
    negate = operator.startswith("!")
    operator = operator.lstrip("!")
    if operator in ("~",) or wanted.startswith("/"):
        regex = wanted.strip("/")
        try:
            result = re.search(regex, ".".join(str(part) for part in version)) is not None
        except re.error:
            return True
        return result != negate
    parsed = common.parse_version(wanted)[1]
    if parsed is None:
        return True
    have = tuple(version[: len(parsed)])
    table = {
        "=": have == parsed,
        "==": have == parsed,
        ">": have > parsed,
        ">=": have >= parsed,
        "<": have < parsed,
        "<=": have <= parsed,
    }
    result = table.get(operator, True)
    return result != negate


@dataclass(repr=False)
class _Scope(Record):
    """Settings of the main server, a <VirtualHost> or an <MDomain>: directive -> [(args, where)]."""

    kind: str
    where: str
    args: List[str] = field(default_factory=list)
    settings: Dict[str, List[Tuple[List[str], str]]] = field(default_factory=dict)

    def add(self, name: str, args: List[str], where: str) -> None:
        self.settings.setdefault(name, []).append((args, where))

    def last(self, name: str) -> Optional[List[str]]:
        values = self.settings.get(name)
        return values[-1][0] if values else None

    def all(self, name: str) -> List[List[str]]:
        return [args for args, _where in self.settings.get(name, [])]


class _Walker:
    """Reads the configuration in Apache's order, evaluating conditionals the way Apache would.

    Defines and loaded modules are tracked in file order (an ``<IfModule>`` before its
    ``LoadModule`` is false in Apache too); ``Include`` follows Apache's own DUMP_INCLUDES tree
    and falls back to globbing when that tree is missing (broken configuration).
    """

    def __init__(
        self,
        server_root: str,
        includes: Optional[Dict[Tuple[str, int], List[str]]],
        env: Dict[str, str],
        final_defines: Dict[str, str],
        static_modules: Optional[Set[str]],
        version: Optional[Tuple[int, ...]],
        errors: List[str],
    ) -> None:
        self.server_root = server_root
        self.includes = includes
        self.env = env
        self.final_defines = final_defines
        self.defines: Dict[str, str] = {}
        self.modules: Set[str] = set(static_modules) if static_modules else set(COMMON_STATIC)
        self.version = version
        self.errors = errors
        self.main = _Scope("main", "")
        self.vhosts: List[_Scope] = []
        self.mdomains: List[_Scope] = []
        self.files_read: List[str] = []
        self.bytes_read = 0
        self.lines = 0
        self.undefined: Set[str] = set()
        self.macros: List[str] = []

    # -- helpers
    def expand(self, text: str) -> str:
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            for source in (self.defines, self.env, self.final_defines):
                if name in source:
                    return source[name]
            self.undefined.add(name)
            return match.group(0)

        if "${" not in text:
            return text
        return _VAR_RE.sub(sub, text)

    def path(self, value: str) -> str:
        return common.resolve_path(value, self.server_root)

    def condition(self, name: str, args: List[str]) -> bool:
        arg = args[0] if args else ""
        negate = arg.startswith("!")
        arg = arg[1:] if negate else arg
        if name == "ifmodule":
            result = module_id(arg) in self.modules
        elif name == "ifdefine":
            result = arg in self.defines
        elif name == "iffile":
            result = os.path.exists(self.path(arg.strip('"')))
        elif name == "ifversion":
            return _version_matches(args, self.version)
        else:  # IfDirective, IfSection and unknown conditionals: assume present
            result = True
        return result != negate

    # -- walking
    def walk(self, path: str, chain: Tuple[str, ...] = (), outer: Optional[_Scope] = None) -> None:
        """Read one file; ``outer`` is the <VirtualHost>/<MDomain> an ``Include`` inside it came from.

        certbot and many hand-written configurations include SSL snippets from inside a
        <VirtualHost>; their directives belong to that virtual host, not to the main server.
        """
        if path in chain:
            self.errors.append(f"include loop: {path} includes itself.")
            return
        if len(chain) >= common.MAX_INCLUDE_DEPTH:
            self.errors.append(f"{path}: includes nested deeper than {common.MAX_INCLUDE_DEPTH}; not read.")
            return
        if len(self.files_read) >= common.MAX_CONFIG_FILES or self.bytes_read > common.MAX_CONFIG_TOTAL_BYTES:
            self.errors.append(f"{path} was not read: the configuration exceeds the size limits.")
            return
        text, error = common.read_text_file(path)
        if error or text is None:
            self.errors.append(f"configuration file {error}")
            return
        self.files_read.append(path)
        self.bytes_read += len(text)
        chain = (*chain, path)
        # Each entry: (section name, active, scope opened by it)
        stack: List[Tuple[str, bool, Optional[_Scope]]] = []
        for first, last, raw in logical_lines(text):
            self.lines += 1
            if self.lines > MAX_LINES:
                self.errors.append(f"{path}:{first}: more than {MAX_LINES} configuration lines; the rest was not read.")
                return
            where = f"{path}:{first}"
            active = all(entry[1] for entry in stack)
            line = self.expand(raw) if active else raw
            if line.startswith("</"):
                name = line[2:].rstrip(">").strip().lower()
                if not stack:
                    errors_text = f"{where}: </{name}> without a matching opening section."
                    self.errors.append(errors_text)
                    continue
                if stack[-1][0] != name:
                    self.errors.append(f"{where}: </{name}> closes <{stack[-1][0]}>.")
                stack.pop()
                continue
            if line.startswith("<"):
                if not line.endswith(">"):
                    self.errors.append(f"{where}: section opening lacks its closing '>'.")
                    body = line[1:]
                else:
                    body = line[1:-1]
                parts = split_args(body)
                name = parts[0].lower() if parts else ""
                args = parts[1:]
                scope: Optional[_Scope] = None
                if name.startswith("if") and name not in ("if",):
                    opened = active and self.condition(name, args)
                elif name == "virtualhost":
                    if (outer is not None and outer.kind == "vhost") or any(
                        entry[2] is not None and entry[2].kind == "vhost" for entry in stack
                    ):
                        self.errors.append(f"{where}: <VirtualHost> nested inside another one.")
                    scope = _Scope("vhost", where, args)
                    if active:
                        self.vhosts.append(scope)
                    opened = active
                elif name in ("mdomain", "managed domain", "manageddomain"):
                    scope = _Scope("mdomain", where, args)
                    if active:
                        self.mdomains.append(scope)
                    opened = active
                elif name == "macro":
                    if active:
                        self.macros.append(where)
                    opened = False
                else:  # <Directory>, <Location>, <If>...: per-request scopes hold no server-level TLS settings
                    opened = False
                stack.append((name, opened, scope))
                continue
            if not active:
                continue
            parts = split_args(line)
            if not parts:
                continue
            name = parts[0].lower()
            args = parts[1:]
            scope = next((entry[2] for entry in reversed(stack) if entry[2] is not None), outer)
            self.directive(name, args, where, first, last, scope, chain)
        for name, _active, _scope in reversed(stack):
            self.errors.append(f"{path}: <{name}> is not closed before the end of the file.")

    def directive(
        self,
        name: str,
        args: List[str],
        where: str,
        first: int,
        last: int,
        scope: Optional[_Scope],
        chain: Tuple[str, ...],
    ) -> None:
        if name == "define" and args:
            self.defines[args[0]] = args[1] if len(args) > 1 else ""
            return
        if name == "undefine" and args:
            self.defines.pop(args[0], None)
            return
        if name == "loadmodule" and args:
            self.modules.add(args[0])
            return
        if name == "serverroot" and args:
            self.server_root = args[0]
            return
        if name in ("include", "includeoptional") and args:
            self.include(name, args[0], where, first, last, chain, scope)
            return
        if name == "use":
            self.errors.append(f"{where}: mod_macro 'Use' is not expanded; sites defined through macros are not read.")
            return
        target = scope or self.main
        if name == "mdomain" and args:
            domain = _Scope("mdomain", where, args)
            self.mdomains.append(domain)
            return
        if name == "sslstaplingcache" and scope is not None and scope.kind == "vhost":
            self.errors.append(f"{where}: SSLStaplingCache is only allowed in the main server configuration.")
        target.add(name, args, where)

    def include(
        self,
        name: str,
        value: str,
        where: str,
        first: int,
        last: int,
        chain: Tuple[str, ...],
        scope: Optional[_Scope] = None,
    ) -> None:
        parent = chain[-1]
        if self.includes is not None:
            for number in range(last, first - 1, -1):
                found = self.includes.get((parent, number))
                if found:
                    for path in found:
                        self.walk(path, chain, scope)
                    return
            if self.includes:
                return  # Apache included nothing from here (IncludeOptional with no match, inactive branch)
        pattern_text = self.path(value)
        if os.path.isdir(pattern_text):
            paths = sorted(
                os.path.join(dirpath, filename)
                for dirpath, _dirnames, filenames in os.walk(pattern_text)
                for filename in filenames
            )
        elif common.is_glob(pattern_text):
            try:
                paths = sorted(glob.glob(pattern_text))
            except (OSError, ValueError):
                paths = []
        else:
            paths = [pattern_text] if os.path.exists(pattern_text) else []
        if not paths and name == "include" and not common.is_glob(pattern_text):
            self.errors.append(f"{where}: included file {pattern_text} was not found.")
        for path in paths[: common.MAX_CONFIG_FILES]:
            self.walk(path, chain, scope)


# ---------------------------------------------------------------------------------------------
# sites


def _flag(values: Optional[List[str]], default: bool) -> bool:
    if not values:
        return default
    return values[0].lower() == "on"


def _int(values: Optional[List[str]], default: int) -> Any:
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        return values[0]


def _server_name(value: str) -> str:
    value = re.sub(r"^[a-z]+://", "", value, flags=re.IGNORECASE)
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if re.search(r":\d+$", value) else value


def build_sites(walker: _Walker, modules: Set[str], md_store: str) -> List[SiteInfo]:
    """One SiteInfo per <VirtualHost> whose effective SSLEngine is on (or optional)."""
    main = walker.main
    cache = main.last("sslstaplingcache")
    md_global = _flag(main.last("mdstapling"), False)
    md_others = _flag(main.last("mdstapleothers"), True)
    md_names: Dict[str, _Scope] = {}
    for domain in walker.mdomains:
        for name in domain.args:
            if name.lower() not in ("auto", "manual"):
                md_names.setdefault(name.lower(), domain)
    scopes = walker.vhosts or []
    if not scopes and _flag(main.last("sslengine"), False):
        scopes = [main]
    sites = []
    for scope in scopes:

        def value(name: str, current: _Scope = scope) -> Optional[List[str]]:
            own = current.last(name)
            return own if own is not None else main.last(name)

        def values(name: str, current: _Scope = scope) -> List[List[str]]:
            return current.all(name) or main.all(name)

        engine = (value("sslengine") or ["off"])[0].lower()
        if engine not in ("on", "optional"):
            continue
        names = []
        server_name = scope.last("servername") or main.last("servername")
        if server_name:
            names.append(_server_name(server_name[0]))
        for alias in scope.all("serveralias"):
            names.extend(alias)
        certs = [walker.path(args[0]) for args in values("sslcertificatefile") if args]
        keys = [walker.path(args[0]) for args in values("sslcertificatekeyfile") if args]
        chain = value("sslcertificatechainfile")
        ca_file = value("sslcacertificatefile")
        ca_path = value("sslcacertificatepath")
        domain = next((md_names[name.lower()] for name in names if name.lower() in md_names), None)
        md_managed = domain is not None and not scope.all("sslcertificatefile")
        if md_managed and domain is not None:
            first_name = domain.args[0] if domain.kind == "mdomain" else names[0]
            certs = [os.path.join(md_store, "domains", first_name, "pubcert.pem")]
            keys = [os.path.join(md_store, "domains", first_name, "privkey.pem")]
        if domain is not None:
            md_stapling = _flag(domain.last("mdstapling"), md_global)
        else:
            md_stapling = md_global and md_others
        where_file, _sep, where_line = scope.where.rpartition(":")
        site = SiteInfo(
            server=TYPE,
            site_id=f"{TYPE}:{scope.where}" if scope.kind == "vhost" else f"{TYPE}:main",
            source=scope.where or "main server",
            context="virtualhost" if scope.kind == "vhost" else "main",
            server_names=names,
            listen=[{"address": address, "ssl": True} for address in scope.args],
            certificate_files=certs,
            key_files=keys,
            chain_file=walker.path(chain[0]) if chain else None,
            trusted_certificate=walker.path(ca_file[0]) if ca_file else None,
            stapling={
                "SSLUseStapling": _flag(value("sslusestapling"), False),
                "SSLStaplingCache": cache[0] if cache else None,
                "SSLStaplingResponderTimeout": _int(value("sslstaplingrespondertimeout"), 10),
                "SSLStaplingReturnResponderErrors": _flag(value("sslstaplingreturnrespondererrors"), True),
                "SSLStaplingFakeTryLater": _flag(value("sslstaplingfaketrylater"), True),
                "SSLStaplingStandardCacheTimeout": _int(value("sslstaplingstandardcachetimeout"), 3600),
                "SSLStaplingErrorCacheTimeout": _int(value("sslstaplingerrorcachetimeout"), 600),
                "SSLStaplingResponseTimeSkew": _int(value("sslstaplingresponsetimeskew"), 300),
                "SSLStaplingResponseMaxAge": _int(value("sslstaplingresponsemaxage"), -1),
                "SSLStaplingForceURL": (value("sslstaplingforceurl") or [None])[0],
                "SSLOCSPProxyURL": (value("sslocspproxyurl") or [None])[0],
                "SSLCACertificatePath": walker.path(ca_path[0]) if ca_path else None,
                "SSLEngine": engine,
                "MDStapling": md_stapling,
                "MDStapleOthers": md_others,
                "md_managed": md_managed,
                "md_domain": domain.args[0] if domain is not None and domain.args else None,
                "mod_ssl_loaded": "ssl_module" in modules,
                "mod_socache_shmcb_loaded": "socache_shmcb_module" in modules,
                "mod_md_loaded": "md_module" in modules,
                "mod_watchdog_loaded": "watchdog_module" in modules,
                "error_log": walker.path((scope.last("errorlog") or [""])[0]) if scope.last("errorlog") else None,
            },
        )
        if where_line.isdigit() and scope.kind == "vhost":
            site.site_id = f"{TYPE}:{where_file}:{where_line}"
        common.add_files(site, [*certs, *keys, site.chain_file, site.trusted_certificate])
        sites.append(site)
    return sites


# ---------------------------------------------------------------------------------------------
# discovery


# httpd options that make it run and exit: test, dump the vhosts or modules, print its version, settings or help.
ONE_SHOT_FLAGS = frozenset({"-t", "-S", "-M", "-l", "-L", "-v", "-V", "-h", "-?"})


def one_shot(cmdline: List[str]) -> bool:
    """Whether this httpd command line runs and exits (``apache2 -t``, ``-k graceful``, ``-D DUMP_VHOSTS``).

    ``-k start`` (or no ``-k``) is a server; every other ``-k`` action signals the running one and exits.
    """
    for index, arg in enumerate(cmdline[1:], start=1):
        following = cmdline[index + 1] if index + 1 < len(cmdline) else ""
        if arg in ONE_SHOT_FLAGS:
            return True
        if arg == "-k" and following not in ("", "start"):
            return True
        if arg == "-D" and following.startswith("DUMP_"):
            return True
    return False


def discover(
    run: Runner,
    which: Which,
    proc_root: str = "/proc",
    timeout: float = DEFAULT_TIMEOUT,
) -> List[ServerInfo]:
    """Every Apache httpd on the node: one record per running master, or the installed one."""
    ctl = next((path for path in (which(name) for name in CTL_NAMES) if path), None)

    def settings(master: Optional[common.ProcInfo]) -> Tuple[Optional[str], Optional[str]]:
        if not master:
            return None, None
        configs = common.option_values(master.cmdline, "-f")
        roots = common.option_values(master.cmdline, "-d")
        return (configs[-1] if configs else None), (roots[-1] if roots else None)

    def inspect_one(master: Optional[common.ProcInfo], binary: Optional[str]) -> ServerInfo:
        config, root = settings(master)
        env = _master_environ(proc_root, master.pid) if master else {}
        return inspect(run, ctl, binary, config, root, timeout, env)

    return common.discover_instances(
        which, proc_root, PROCESS_NAMES, BINARY_NAMES, settings, inspect_one, installed=bool(ctl), one_shot=one_shot
    )


def _master_environ(proc_root: str, pid: int) -> Dict[str, str]:
    """The running master's environment (root only): the truth for ``${APACHE_LOG_DIR}`` and friends."""
    try:
        with open(os.path.join(proc_root, str(pid), "environ"), "rb") as handle:
            data = handle.read(1024 * 1024)
    except OSError:
        return {}
    env = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            key, value = item.split(b"=", 1)
            env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


def inspect(
    run: Runner,
    ctl: Optional[str],
    binary: Optional[str],
    config_file: Optional[str] = None,
    server_root: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
    env: Optional[Dict[str, str]] = None,
    envvars_file: Optional[str] = None,
) -> ServerInfo:
    """Read one Apache through ``-v``, one configuration test with its dumps (``DUMP_ARGS``) and its files."""
    command = ctl or binary or "apache2ctl"
    info = ServerInfo(type=TYPE, binary=binary or ctl)
    extra: List[str] = []
    if server_root:
        extra += ["-d", server_root]
    if config_file:
        extra += ["-f", config_file]

    version_result = common.run_command(run, [binary or command, "-v"], timeout)
    match = re.search(r"Apache/(\d[\w.]*)", version_result.output)
    if match:
        info.version, info.version_tuple = common.parse_version(match.group(1))
    else:
        info.errors.append(version_result.describe() if not version_result.ok else "`-v` printed no Apache version.")

    dump_argv = [command, *extra, *DUMP_ARGS]
    dump_result = common.run_command(run, dump_argv, timeout)
    info.config_test_ok = dump_result.ok if dump_result.error is None else None
    # The test's own messages (warnings, the syntax error) are on stderr; stdout is the dumps, names and values of
    # the configuration that are not messages of the server's and must not be classified as such.
    info.config_test_output = common.trim(dump_result.stderr)
    info.details["config_test_command"] = " ".join(dump_argv)
    # A configuration Apache cannot parse stops the dumps inside the include tree (what was read so far): nothing of
    # it is used, and the files are then read from disk alone.
    tree, vhosts, modules = split_dumps(dump_result.stdout) if dump_result.ok else ("", "", "")
    main, includes = parse_includes(tree) if dump_result.ok else (None, None)
    run_config = parse_run_config(vhosts)
    loaded, static = parse_modules(modules)
    if not dump_result.ok:
        # Apache's reason (AH00526 ...) is on stderr, after the partial tree on stdout: name it, not the tree's heading.
        reason = dataclasses.replace(dump_result, stdout="") if dump_result.stderr.strip() else dump_result
        info.errors.append(reason.describe())
    elif not loaded:
        info.errors.append("`%s` listed no modules." % " ".join(dump_argv))
    if not loaded:
        static = set()

    root = run_config.server_root or server_root or _guess_root(command)
    main = main or (config_file and common.resolve_path(config_file, root)) or _guess_config(root)
    info.config_file = main
    info.config_source = "apache DUMP_INCLUDES" if includes else "disk"

    environment: Dict[str, str] = {}
    candidates = [envvars_file] if envvars_file else [os.path.join(root, "envvars"), *ENVVARS_CANDIDATES]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            environment.update(common.parse_env_file(candidate))
            info.details["envvars"] = candidate
            break
    environment.update(env or {})

    errors: List[str] = []
    walker = _Walker(root, includes, environment, run_config.defines, static or None, info.version_tuple, errors)
    if main:
        walker.walk(main)
    info.errors.extend(errors)
    if walker.undefined:
        info.notes.append("Undefined configuration variables left as written: " + ", ".join(sorted(walker.undefined)))
    if walker.macros:
        info.notes.append(f"{len(walker.macros)} <Macro> definition(s) were not expanded.")
    info.config_files = {path: common.stat_record(path) for path in walker.files_read}

    modules = loaded or walker.modules
    md_store = walker.path((walker.main.last("mdstoredir") or ["md"])[0])
    info.sites = build_sites(walker, modules, md_store)
    info.details.update(
        server_root=walker.server_root,
        modules=sorted(modules),
        defines=dict(run_config.defines),
        pid_file=run_config.pid_file,
        md_store_dir=md_store if "md_module" in modules else None,
    )
    _cross_check(info, run_config)

    logs: List[str] = []
    piped: List[str] = []
    main_log = run_config.main_error_log or (walker.main.last("errorlog") or [None])[0]
    for value in [main_log, *[site.stapling.get("error_log") for site in info.sites]]:
        if not value:
            continue
        if value.startswith("|") or value.lower().startswith("syslog"):
            piped.append(value)
            continue
        path = walker.path(value)
        if path not in logs:
            logs.append(path)
    for scope in walker.vhosts:
        value = scope.last("errorlog")
        if value and not value[0].startswith("|") and not value[0].lower().startswith("syslog"):
            path = walker.path(value[0])
            if path not in logs:
                logs.append(path)
    info.error_logs = logs
    if piped:
        info.notes.append("ErrorLog is piped or sent to syslog for: " + ", ".join(piped))
    level = walker.main.last("loglevel")
    info.details["log_level"] = " ".join(level) if level else "warn"
    # Every Listen address (server_reload checks them against sockets other processes hold before a reload).
    info.details["listen"] = [args[0] for args in walker.main.all("listen") if args]

    if "ssl_module" in modules:
        info.stapling_capable = True
        cache_note = "loaded" if "socache_shmcb_module" in modules else "NOT loaded"
        info.stapling_capable_reason = (
            "mod_ssl is loaded: it fetches OCSP responses itself, synchronously in the handshake, and needs "
            f"SSLStaplingCache (mod_socache_shmcb is {cache_note})."
        )
        if "md_module" in modules:
            info.stapling_capable_reason += " mod_md is loaded: MDStapling can prefetch and persist staples."
        info.stapling_self_fetch = True
    elif loaded:
        info.stapling_capable = False
        info.stapling_capable_reason = "mod_ssl is not loaded."
        info.stapling_self_fetch = False
    return info


def _guess_root(command: str) -> str:
    return (
        "/etc/httpd"
        if os.path.basename(command) in ("apachectl", "httpd") and not os.path.isdir("/etc/apache2")
        else "/etc/apache2"
    )


def _guess_config(root: str) -> str:
    for name in ("apache2.conf", "conf/httpd.conf", "httpd.conf"):
        candidate = os.path.join(root, name)
        if os.path.isfile(candidate):
            return candidate
    return os.path.join(root, "apache2.conf")


def _cross_check(info: ServerInfo, run_config: RunConfig) -> None:
    """Report virtual hosts Apache knows (``DUMP_VHOSTS``) that the file reading did not find (macros, parse gaps)."""
    if not run_config.vhosts:
        return
    found = {site.source for site in info.sites}
    known_files = set(info.config_files)
    for vhost in run_config.vhosts:
        where = f"{vhost['file']}:{vhost['line']}"
        if where in found:
            continue
        if vhost["file"] not in known_files:
            info.errors.append(
                f"Apache reports a virtual host {vhost['name']} at {where}, in a file that was not read."
            )


# ---------------------------------------------------------------------------------------------
# log lines

# Default ErrorLogFormat (docs/servers.md, Apache httpd / task brief):
# ``[Mon Nov 23 19:31:00.123456 2026] [ssl:error] [pid 1:tid 2] (70007)...: [client x] AH01974: ...``
_LINE_RE = re.compile(
    r"^\[(?:\w{3} )?(?P<mon>\w{3}) +(?P<day>\d{1,2}) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)(?:\.\d+)? (?P<y>\d{4})\] "
    r"\[(?:(?P<module>[^:\]\s]+):)?(?P<level>\w+)\] (?P<rest>.*)$"
)
_BRACKETS_RE = re.compile(r"^(?:\[(?:pid|client|remote|tid)\b[^\]]*\] ?)+")


def parse_line(line: str, tz=None) -> Optional[ParsedLine]:
    """Time (aware UTC, from the node's local time), level and message of an Apache error-log line."""
    match = _LINE_RE.match(line)
    if not match:
        syslog = logscan.parse_syslog(line, tz=tz)
        return syslog
    month = logscan.MONTHS.get(match.group("mon").lower())
    if month is None:
        return None
    try:
        value = datetime.datetime(
            int(match.group("y")),
            month,
            int(match.group("day")),
            int(match.group("h")),
            int(match.group("mi")),
            int(match.group("s")),
        )
    except ValueError:
        return None
    message = _BRACKETS_RE.sub("", match.group("rest"))
    return ParsedLine(logscan.to_aware(value, tz), match.group("level").lower(), message)


def _refine_connect(match: re.Match[str]) -> Dict[str, Any]:
    line = match.string
    if match.group("what").lower() == "proxy":
        return {"stage": "proxy"}
    if "(70007)" in line or "timeout specified has expired" in line.lower():
        return {"stage": "timeout", "detail": "connect_timeout"}
    errno = re.search(r"\((\d+)\)([^:]+):", line)
    return {"detail": errno.group(2).strip().lower().replace(" ", "_") if errno else None}


def _refine_status(match: re.Match[str]) -> Dict[str, Any]:
    status = match.group("status").lower()
    if status == "revoked":
        return {"code": "cert_revoked", "detail": (match.group("reason") or "").strip().lower() or None}
    if status == "unknown":
        return {"code": "cert_status_unknown", "detail": None}
    return {"code": "staple_invalid", "detail": status}


def _refine_http(match: re.Match[str]) -> Dict[str, Any]:
    status = match.group("status").strip()
    code = re.match(r"(\d{3})", status)
    return {"detail": "http_" + code.group(1) if code else "no_status"}


_INIT_AMBIGUOUS = ("chain_incomplete", "stapling_without_ocsp")

PATTERNS = [
    # docs/servers.md, Apache httpd AH01958 (fatal: SSLUseStapling without SSLStaplingCache); 7 cache_not_configured.
    pattern("apache.AH01958", r"AH01958: SSLStapling: no stapling cache available", "stapling_cache_missing"),
    # docs/servers.md, Apache httpd "(config)" row: socache module not loaded; 7 cache_not_configured.
    pattern(
        "apache.cache_type_unsupported",
        r"SSLStaplingCache: '(?P<hint>[^']*)' stapling cache not supported",
        "stapling_cache_missing",
        detail="socache_module_missing",
    ),
    # docs/servers.md, Apache httpd AH02217 (case differs before 2.4.11); 7 issuer_missing.
    pattern(
        "apache.AH02217", r"AH02217: ssl_stapling_init_cert: can't retrieve issuer certificate", "chain_incomplete"
    ),
    # docs/servers.md, Apache httpd AH02218; 7 no_responder_url.
    pattern("apache.AH02218", r"AH02218: ssl_stapling_init_cert: no OCSP URI in certificate", "stapling_without_ocsp"),
    # docs/servers.md, Apache httpd AH02814 (certificate shared across vhosts); 7 no_responder_url.
    pattern(
        "apache.AH02814",
        r"AH02814: ssl_stapling_init_cert: no OCSP URI in certificate.*?for server (?P<hint>\S+)",
        "stapling_without_ocsp",
    ),
    # docs/servers.md, Apache httpd AH02604 / AH02567: follow AH02217 or AH02218; the certificate gets no staple.
    pattern(
        "apache.AH02604",
        r"AH0(?:2604|2567): Unable to configure certificate (?P<hint>\S+?)(?::\d+)? for stapling",
        "staple_missing",
        detail="stapling_init_failed",
        ambiguous_with=_INIT_AMBIGUOUS,
    ),
    # docs/servers.md, Apache httpd AH01926 (INFO, per handshake consequence of the init failure).
    pattern(
        "apache.AH01926",
        r"AH01926: stapling_get_certinfo: stapling not supported for certificate",
        "staple_missing",
        detail="stapling_init_failed",
        ambiguous_with=_INIT_AMBIGUOUS,
    ),
    # docs/servers.md, Apache httpd AH02621.
    pattern("apache.AH02621", r"AH02621: stapling_renew_response: no uri for responder", "stapling_without_ocsp"),
    # docs/servers.md, Apache httpd AH01939; 7 unsupported_responder_url.
    pattern(
        "apache.AH01939",
        r"AH01939: stapling_renew_response: Error parsing uri (?P<responder>\S+)",
        "stapling_unsupported",
        detail="responder_url_invalid",
    ),
    # docs/servers.md, Apache httpd AH01940 (non-http:// responder); 7 unsupported_responder_url.
    pattern(
        "apache.AH01940",
        r"AH01940: stapling_renew_response: Unsupported uri (?P<responder>\S+)",
        "stapling_unsupported",
        detail="responder_not_http",
    ),
    # docs/servers.md, Apache httpd AH01972 (system resolver; "of proxy" with SSLOCSPProxyURL); 7 dns_failure.
    pattern(
        "apache.AH01972",
        r"AH01972: could not resolve address of (?P<what>OCSP responder|proxy) '?(?P<responder>[^'\s]+)'?",
        "responder_unreachable",
        stage="dns",
        refine=lambda match: (
            {"stage": "proxy", "detail": "proxy_dns"} if match.group("what").lower() == "proxy" else {}
        ),
    ),
    # docs/servers.md, Apache httpd AH01974 (+ APR error such as "(111)Connection refused" or "(70007)The timeout
    # specified has expired"); 7 connect_failed / responder_timeout.
    pattern(
        "apache.AH01974",
        r"AH01974: could not connect to (?P<what>OCSP responder|proxy) '(?P<responder>[^']*)'",
        "responder_unreachable",
        stage="connect",
        refine=_refine_connect,
    ),
    # docs/servers.md, Apache httpd AH01976.
    pattern(
        "apache.AH01976",
        r"AH01976: failed to send request to OCSP responder '(?P<responder>[^']*)'",
        "responder_unreachable",
        stage="connect",
        detail="send_failed",
    ),
    # docs/servers.md, Apache httpd AH01977/AH01978 (read timeout or reset); 7 responder_timeout.
    pattern(
        "apache.AH01977",
        r"AH0197[78]: failed reading line from OCSP server",
        "responder_unreachable",
        stage="timeout",
        detail="read_failed",
    ),
    # docs/servers.md, Apache httpd AH02321; 7 responder_http_error.
    pattern(
        "apache.AH02321",
        r"AH02321: empty response from OCSP server",
        "responder_unreachable",
        stage="http",
        detail="empty_response",
    ),
    # docs/servers.md, Apache httpd AH01979.
    pattern(
        "apache.AH01979",
        r"AH01979: response header line too long from OCSP server",
        "responder_error",
        detail="bad_headers",
    ),
    # docs/servers.md, Apache httpd AH01980 (HTTP non-2xx or a proxy page); 7 responder_http_error.
    pattern(
        "apache.AH01980",
        r"AH01980: bad response from OCSP server: (?P<status>.*)",
        "responder_unreachable",
        stage="http",
        refine=_refine_http,
    ),
    # docs/servers.md, Apache httpd AH01982/AH01983.
    pattern(
        "apache.AH01982",
        r"AH0198[23]: could not read response headers? from OCSP server",
        "responder_unreachable",
        stage="http",
        detail="bad_headers",
    ),
    # docs/servers.md, Apache httpd AH01985; 7 responder_http_error.
    pattern(
        "apache.AH01985",
        r"AH01985: error reading response from OCSP server",
        "responder_unreachable",
        stage="http",
        detail="read_error",
    ),
    # docs/servers.md, Apache httpd AH01986.
    pattern("apache.AH01986", r"AH01986: OCSP response size exceeds", "responder_error", detail="too_large"),
    # docs/servers.md, Apache httpd AH01988 (not DER).
    pattern("apache.AH01988", r"AH01988: failed to decode OCSP response data", "responder_error", detail="malformed"),
    # docs/servers.md, Apache httpd AH01944 (DEBUG): the responder answered non-successful; 7 responder_not_successful.
    # Listed before AH01941, whose text is a prefix of this one.
    pattern(
        "apache.AH01944",
        r"AH01944: stapling_renew_response: responder error (?P<status>\w+)",
        "responder_error",
        refine=lambda match: {"detail": match.group("status").lower()},
    ),
    # docs/servers.md, Apache httpd AH01941: umbrella for any transport failure (Bugzilla 61818); 7 responder_timeout.
    pattern(
        "apache.AH01941",
        r"AH01941: stapling_renew_response: responder error",
        "responder_unreachable",
        detail="transport_failure",
    ),
    # docs/servers.md, Apache httpd AH02969 (revoked with CRL reason, or unknown); 7 status_revoked / status_unknown.
    pattern(
        "apache.AH02969",
        r"AH02969: stapling_check_response: response has certificate status (?P<status>\w+)"
        r"(?: \(reason: (?P<reason>[^)]*)\))?(?: for serial number (?P<serial>\S+))?",
        "cert_revoked",
        refine=_refine_status,
    ),
    # docs/servers.md, Apache httpd AH01935; 7 certid_mismatch.
    pattern(
        "apache.AH01935",
        r"AH01935: stapling_check_response: certificate ID not present in response",
        "staple_invalid",
        detail="certid_mismatch",
    ),
    # docs/servers.md, Apache httpd AH01936 (stale response or clock skew); 7 response_expired.
    pattern(
        "apache.AH01936",
        r"AH01936: stapling_check_response: response times invalid",
        "staple_expired",
        detail="times_invalid",
        ambiguous_with=("staple_invalid",),
    ),
    # docs/servers.md, Apache httpd AH01934.
    pattern(
        "apache.AH01934",
        r"AH01934: stapling_check_response: Error Parsing Response",
        "responder_error",
        detail="malformed",
    ),
    # docs/servers.md, Apache httpd AH01929 (socache full; howto); 7 cache_full.
    pattern(
        "apache.AH01929",
        r"AH01929: stapling_cache_response: OCSP response session store error",
        "staple_missing",
        detail="cache_full",
    ),
    # docs/servers.md, Apache httpd AH01928; 7 cache_full.
    pattern("apache.AH01928", r"AH01928: OCSP stapling response too big", "staple_missing", detail="response_too_big"),
    # docs/servers.md, Apache httpd AH01945.
    pattern(
        "apache.AH01945",
        r"AH01945: stapling_renew_response: error caching response",
        "staple_missing",
        detail="cache_error",
    ),
    # docs/servers.md, Apache httpd AH01955 (handshake aborted).
    pattern(
        "apache.AH01955",
        r"AH01955: stapling_cb: fatal error renewing response",
        "staple_missing",
        detail="handshake_aborted",
    ),
    # docs/servers.md (mod_md): "md[%s]: certificate with serial %s has no OCSP responder URL"; 7 no_responder_url.
    pattern(
        "apache.md_no_responder_url",
        r"md\[(?P<hint>[^\]]*)\]: certificate with serial (?P<serial>\S+) has no OCSP responder URL",
        "stapling_without_ocsp",
    ),
    # docs/servers.md, Apache httpd AH10269 (issuer missing from the chain); 7 issuer_missing.
    pattern(
        "apache.AH10269",
        r"AH10269:? init stapling for: (?P<hint>[^,]+), need at least 2 certificates",
        "chain_incomplete",
    ),
    # docs/servers.md, Apache httpd AH10201 (CRIT): mod_watchdog missing, mod_md cannot staple.
    pattern(
        "apache.AH10201",
        r"AH10201:? mod_watchdog is required for OCSP stapling",
        "stapling_unsupported",
        detail="mod_watchdog_missing",
    ),
    # docs/servers.md, Apache httpd (DEBUG) "OCSP response status is, unsuccessfully, %d"; 7 responder_not_successful.
    pattern(
        "apache.md_not_successful",
        r"OCSP response status is, unsuccessfully, (?P<status>\d+)",
        "responder_error",
        refine=lambda match: {"detail": "status_" + match.group("status")},
    ),
    # docs/servers.md, Apache httpd "OCSP basicresponse says cert is unknown"; 7 status_unknown.
    pattern("apache.md_unknown", r"OCSP basicresponse says cert is unknown", "cert_status_unknown"),
    # docs/servers.md, Apache httpd "OCSP response, no matching status reported for"; 7 certid_mismatch.
    pattern(
        "apache.md_certid",
        r"OCSP response, no matching status reported for",
        "staple_invalid",
        detail="certid_mismatch",
    ),
    # docs/servers.md, Apache httpd "response body does not parse as OCSP response".
    pattern(
        "apache.md_not_der", r"response body does not parse as OCSP response", "responder_error", detail="malformed"
    ),
    # docs/servers.md, Apache httpd "OCSP nonce mismatch in response" (WARN).
    pattern("apache.md_nonce", r"OCSP nonce mismatch in response", "staple_invalid", detail="nonce_mismatch"),
]

# Every rule's text holds one of these (the proxy variants of AH01972/AH01974 name no OCSP).
PREFILTER = re.compile(r"OCSP|stapl|AH0197[24]", re.IGNORECASE)
_SUBJECT_RE = re.compile(r"\[subject: ([^/\]]+)")


def make_classifier(info: Optional[ServerInfo] = None) -> Callable[[ParsedLine], Optional[LogEvent]]:
    """A line classifier; a certificate subject appended by ``ssl_log_xerror`` becomes the site hint."""
    del info  # Apache messages carry their own context

    def classify(parsed: ParsedLine) -> Optional[LogEvent]:
        event = logscan.classify_message(TYPE, PATTERNS, PREFILTER, parsed)
        if event is None:
            return None
        subject = _SUBJECT_RE.search(parsed.message)
        if subject and not event.site_hint:
            event.site_hint = subject.group(1).strip()
        serial = re.search(r"for serial number (\S+)", parsed.message)
        if serial and not event.site_hint:
            event.site_hint = "serial:" + serial.group(1).lower()
        return event

    return classify
