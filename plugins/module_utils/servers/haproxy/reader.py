# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HAProxy: find it, read its configuration and certificate lists, and read its OCSP messages.

Stapling in HAProxy is a property of certificate files, not of a directive: a ``<crt>.ocsp`` file
next to the PEM turns it on (all versions), and from 2.8 ``ocsp-update on`` makes HAProxy fetch
responses itself (docs/servers.md, HAProxy). So a site here is a ``frontend``/``listen`` section with ``ssl``
binds, and its stapling record lists every certificate it loads (from ``crt``, ``crt-list``,
certificate directories and 3.0+ ``crt-store``) with the side files HAProxy would look for.

HAProxy has no configuration dump; ``haproxy -c`` checks the files (and loads the certificates
and ``.ocsp`` files, so its output carries the OCSP alerts, docs/servers.md, HAProxy) and this module reads
the same files with HAProxy's quoting rules. Names from certificate SANs are the caller's job
(x509.py); positive SNI filters of crt-list lines are given as ``server_names``.
"""

from __future__ import annotations

import datetime
import os
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import logscan
from ansible_collections.tlsfleet.stapling.plugins.module_utils.logscan import LogEvent, ParsedLine, pattern
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.common import (
    DEFAULT_TIMEOUT,
    Runner,
    ServerInfo,
    SiteInfo,
    Which,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.haproxy import BINARY_NAMES, PROCESS_NAMES, TYPE

DEFAULT_CONFIG = "/etc/haproxy/haproxy.cfg"
DEFAULT_LOG = "/var/log/haproxy.log"
SYSLOG_CONFIGS = ("/etc/rsyslog.conf", "/etc/rsyslog.d")
MAX_CERTS_PER_DIRECTORY = 10000
SECTIONS = {
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "crt-store",
    "log-forward",
    "traces",
    "acme",
    "fcgi-app",
}
# Files HAProxy never loads as certificates from a crt directory (configuration.txt, "crt").
_SIDE_EXTENSIONS = (".key", ".ocsp", ".issuer", ".sctl")
_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


# ---------------------------------------------------------------------------------------------
# configuration text


def split_line(line: str, env: Dict[str, str]) -> Tuple[List[str], Optional[str]]:
    """Words of one configuration line under HAProxy's rules (configuration.txt 2.2/2.3).

    Backslash escapes outside single quotes, ``#`` starts a comment outside quotes, and
    ``$VAR``/``${VAR}`` are expanded only inside double quotes. Returns ``(words, error)``.
    """
    words: List[str] = []
    current: List[str] = []
    in_word = False
    squote = dquote = False
    index = 0
    length = len(line)
    while index < length:
        char = line[index]
        if char == "\\" and not squote and index + 1 < length:
            current.append(line[index + 1])
            in_word = True
            index += 2
            continue
        if char == "'" and not dquote:
            squote = not squote
            in_word = True
            index += 1
            continue
        if char == '"' and not squote:
            dquote = not dquote
            in_word = True
            index += 1
            continue
        if dquote and char == "$":
            match = re.match(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\[\*\])?\}|\$([A-Za-z_][A-Za-z0-9_]*)", line[index:])
            if match:
                name = match.group(1) or match.group(2)
                current.append(env.get(name, ""))
                index += len(match.group(0))
                continue
        if not squote and not dquote:
            if char == "#":
                break
            if char in " \t\r\n":
                if in_word:
                    words.append("".join(current))
                    current = []
                    in_word = False
                index += 1
                continue
        current.append(char)
        in_word = True
        index += 1
    if in_word:
        words.append("".join(current))
    error = "unterminated quote" if squote or dquote else None
    return words, error


def _eval_condition(words: List[str], env: Dict[str, str], version: Optional[Tuple[int, ...]]) -> Optional[bool]:
    """Evaluate a ``.if`` condition; None when it uses something not understood here."""
    text = " ".join(words)
    results: List[Optional[bool]] = []
    operators: List[str] = []
    for part in re.split(r"\s*(&&|\|\|)\s*", text):
        if part in ("&&", "||"):
            operators.append(part)
            continue
        negate = part.startswith("!")
        term = part.lstrip("!").strip()
        value: Optional[bool]
        match = re.match(r"^(\w+)\((.*)\)$", term)
        if re.match(r"^-?\d+$", term):
            value = int(term) != 0
        elif match:
            func, arg = match.group(1), match.group(2).strip().strip('"')
            if func == "defined":
                value = arg in env
            elif func in ("version_atleast", "version_before") and version is not None:
                wanted = common.parse_version(arg)[1]
                value = None if wanted is None else (tuple(version[: len(wanted)]) >= wanted)
                if value is not None and func == "version_before":
                    value = not value
            elif func in ("streq", "strneq"):
                parts = [item.strip().strip('"') for item in arg.split(",", 1)]
                value = len(parts) == 2 and (parts[0] == parts[1]) == (func == "streq")
            else:
                value = None
        else:
            value = None
        results.append(None if value is None else value != negate)
    if not results or any(result is None for result in results):
        return None
    outcome = bool(results[0])
    for operator, result in zip(operators, results[1:]):
        outcome = (outcome and bool(result)) if operator == "&&" else (outcome or bool(result))
    return outcome


class Section:
    """One configuration section with its lines ``(words, where)``."""

    def __init__(self, kind: str, name: str, where: str) -> None:
        self.kind = kind
        self.name = name
        self.where = where
        self.lines: List[Tuple[List[str], str]] = []

    def find(self, keyword: str) -> List[Tuple[List[str], str]]:
        return [(words, where) for words, where in self.lines if words and words[0] == keyword]


def parse_config(
    text: str, path: str, env: Dict[str, str], version: Optional[Tuple[int, ...]], errors: List[str], notes: List[str]
) -> List[Section]:
    """Sections of one file, with ``.if``/``.elif``/``.else``/``.endif`` blocks evaluated."""
    sections: List[Section] = []
    current: Optional[Section] = None
    # Each entry: [this branch active, some branch already taken, parent active]
    conditions: List[List[bool]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{path}:{number}"
        words, error = split_line(raw, env)
        if error:
            errors.append(f"{where}: {error}.")
        if not words:
            continue
        keyword = words[0]
        parent_active = all(entry[0] for entry in conditions)
        if keyword in (".if", ".elif"):
            value = _eval_condition(words[1:], env, version)
            if value is None:
                notes.append(f"{where}: condition '{' '.join(words[1:])}' not evaluated; taken as true.")
                value = True
            if keyword == ".if":
                conditions.append([parent_active and value, value, parent_active])
            elif conditions:
                entry = conditions[-1]
                entry[0] = entry[2] and not entry[1] and value
                entry[1] = entry[1] or value
            else:
                errors.append(f"{where}: .elif without .if.")
            continue
        if keyword == ".else":
            if conditions:
                entry = conditions[-1]
                entry[0] = entry[2] and not entry[1]
                entry[1] = True
            else:
                errors.append(f"{where}: .else without .if.")
            continue
        if keyword == ".endif":
            if conditions:
                conditions.pop()
            else:
                errors.append(f"{where}: .endif without .if.")
            continue
        if not parent_active or keyword.startswith("."):
            continue
        if keyword in SECTIONS:
            current = Section(keyword, words[1] if len(words) > 1 else "", where)
            sections.append(current)
            continue
        if current is None:
            errors.append(f"{where}: '{keyword}' outside any section.")
            continue
        current.lines.append((words, where))
    if conditions:
        errors.append(f"{path}: .if block not closed with .endif.")
    return sections


def config_paths(values: List[str]) -> List[str]:
    """Files behind ``-f`` values: a directory means its ``*.cfg`` files in lexical order."""
    paths: List[str] = []
    for value in values:
        if os.path.isdir(value):
            try:
                names = sorted(name for name in os.listdir(value) if name.endswith(".cfg"))
            except OSError:
                names = []
            paths.extend(os.path.join(value, name) for name in names)
        else:
            paths.append(value)
    return paths


# ---------------------------------------------------------------------------------------------
# certificates


def _join(base: Optional[str], path: str) -> str:
    if path.startswith("/") or not base:
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(base, path))


def side_files(crt: str, del_ext: bool) -> Tuple[str, str, str]:
    """``(.ocsp, .issuer, .key)`` paths HAProxy derives from a certificate path (docs/servers.md, HAProxy)."""
    base = crt
    if del_ext:
        root, ext = os.path.splitext(crt)
        if ext:
            base = root
    return base + ".ocsp", base + ".issuer", base + ".key"


def parse_crt_list(text: str, path: str, errors: List[str]) -> List[Dict[str, Any]]:
    """Entries of a crt-list: ``<crt> [[<sslbindconf> ...]] [[!]<snifilter> ...]`` per line."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        options: List[str] = []
        bracket = re.match(r"^(\S+)\s*\[([^\]]*)\]\s*(.*)$", line)
        if bracket:
            crt, options_text, rest = bracket.groups()
            options, error = split_line(options_text, {})
            if error:
                errors.append(f"{path}:{number}: {error}.")
        else:
            parts = line.split(None, 1)
            crt, rest = parts[0], parts[1] if len(parts) > 1 else ""
        filters, error = split_line(rest, {})
        if error:
            errors.append(f"{path}:{number}: {error}.")
        entries.append({"crt": crt, "options": options, "filters": filters, "where": f"{path}:{number}"})
    return entries


def _option(options: List[str], keyword: str) -> Optional[str]:
    for index, word in enumerate(options):
        if word == keyword and index + 1 < len(options):
            return options[index + 1]
    return None


class _Certs:
    """Expands bind ``crt``/``crt-list``/directory/crt-store references into per-certificate records."""

    def __init__(self, settings: Dict[str, Any], stores: Dict[str, Dict[str, Any]], errors: List[str]) -> None:
        self.settings = settings
        self.stores = stores
        self.errors = errors

    def record(
        self,
        crt: str,
        source: str,
        bind: str,
        ocsp_update: Optional[str],
        filters: List[str],
        directory: Optional[str] = None,
        store: Optional[Dict[str, Any]] = None,
        update_source: Optional[str] = None,
    ) -> Dict[str, Any]:
        ocsp, issuer, key = side_files(crt, self.settings["ssl_load_extra_del_ext"])
        # Where ocsp-update comes from, most specific first: the crt-list line, then the crt-store load line, then
        # the global ocsp-update.mode. A bind line takes no ocsp-update (build_sites reports one written there).
        update_source = update_source if ocsp_update is not None else None
        if store:
            ocsp = store.get("ocsp") or ocsp
            issuer = store.get("issuer") or issuer
            key = store.get("key") or key
            if ocsp_update is None and store.get("ocsp-update") is not None:
                ocsp_update, update_source = store.get("ocsp-update"), "crt-store"
        if ocsp_update is None and self.settings["ocsp_update_mode"]:
            update_source = "global"
        ocsp_stat = common.stat_record(ocsp)
        extra = self.settings["ssl_load_extra_files"]
        loads = "all" in extra or "ocsp" in extra or (store is not None and store.get("ocsp") is not None)
        effective = ocsp_update or self.settings["ocsp_update_mode"] or "off"
        return {
            "crt": crt,
            "source": source,
            "bind": bind,
            "directory": directory,
            "sni_filters": filters,
            "key_file": key if os.path.exists(key) else crt,
            "ocsp_file": ocsp,
            "ocsp_exists": ocsp_stat["exists"],
            "ocsp_size": ocsp_stat["size"],
            "ocsp_mtime": ocsp_stat["mtime"],
            "ocsp_loaded": loads,
            "issuer_file": issuer,
            "issuer_exists": os.path.exists(issuer),
            "ocsp_update": effective.lower(),
            "ocsp_update_explicit": ocsp_update is not None,
            "ocsp_update_source": update_source,
        }

    def expand(self, kind: str, value: str, bind: str) -> List[Dict[str, Any]]:
        """Certificate records of one ``crt``/``crt-list`` argument."""
        base = self.settings["crt_base"]
        if kind == "crt":
            if value.startswith("@"):
                store = self.stores.get(value)
                if store is None:
                    self.errors.append(f"{bind}: crt {value} names no crt-store entry.")
                    return []
                return [self.record(store["crt"], store["where"], bind, None, [], store=store)]
            path = _join(base, value)
            if os.path.isdir(path):
                return self.directory(path, bind)
            store = self.stores.get(path)
            return [self.record(path, bind, bind, None, [], store=store)]
        if kind == "crt-list":
            # crt-base does not apply to the list file itself, only to its entries (bind_parse_crt_list).
            path = _join(self.settings["cwd"], value)
            text, error = common.read_text_file(path)
            if error or text is None:
                self.errors.append(f"{bind}: crt-list {error}")
                return []
            records = []
            for entry in parse_crt_list(text, path, self.errors):
                crt = entry["crt"]
                store = self.stores.get(crt) if crt.startswith("@") else None
                crt_path = store["crt"] if store else _join(base, crt)
                if store is None:
                    store = self.stores.get(crt_path)
                own = _option(entry["options"], "ocsp-update")
                records.append(
                    self.record(
                        crt_path,
                        entry["where"],
                        bind,
                        own,
                        entry["filters"],
                        store=store,
                        update_source="crt-list",
                    )
                )
            return records
        return []

    def directory(self, path: str, bind: str) -> List[Dict[str, Any]]:
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            self.errors.append(f"{bind}: certificate directory {path} cannot be listed: {exc.strerror or exc}.")
            return []
        records = []
        for name in names:
            if name.startswith(".") or name.endswith(_SIDE_EXTENSIONS):
                continue
            full = os.path.join(path, name)
            if not os.path.isfile(full):
                continue
            if len(records) >= MAX_CERTS_PER_DIRECTORY:
                self.errors.append(f"{bind}: more than {MAX_CERTS_PER_DIRECTORY} files in {path}; the rest skipped.")
                break
            records.append(self.record(full, bind, bind, None, [], directory=path))
        return records


def _stores(sections: List[Section], errors: List[str]) -> Dict[str, Dict[str, Any]]:
    """3.0+ ``crt-store`` ``load`` lines, keyed by crt path, ``@store/alias`` and ``@store/crt``."""
    stores: Dict[str, Dict[str, Any]] = {}
    for section in sections:
        if section.kind != "crt-store":
            continue
        crt_base = key_base = None
        for words, where in section.lines:
            if words[0] == "crt-base" and len(words) > 1:
                crt_base = words[1]
            elif words[0] == "key-base" and len(words) > 1:
                key_base = words[1]
            elif words[0] == "load":
                options = words[1:]
                crt = _option(options, "crt")
                if not crt:
                    errors.append(f"{where}: 'load' without 'crt'.")
                    continue
                entry = {
                    "crt": _join(crt_base, crt),
                    "key": _join(key_base, _option(options, "key")) if _option(options, "key") else None,
                    "ocsp": _join(crt_base, _option(options, "ocsp")) if _option(options, "ocsp") else None,
                    "issuer": _join(crt_base, _option(options, "issuer")) if _option(options, "issuer") else None,
                    "ocsp-update": _option(options, "ocsp-update"),
                    "where": where,
                }
                alias = _option(options, "alias")
                stores[entry["crt"]] = entry
                for name in {alias, crt} - {None}:
                    stores[f"@{section.name}/{name}"] = entry
    return stores


# ---------------------------------------------------------------------------------------------
# sites


def global_settings(sections: List[Section]) -> Dict[str, Any]:
    """The ``global`` keywords that change where certificates and staples come from, or where logs go."""
    settings: Dict[str, Any] = {
        "crt_base": None,
        "ssl_load_extra_files": ["all"],
        "ssl_load_extra_del_ext": False,
        "ocsp_update_mode": None,
        "ocsp_update_disable": False,
        "ocsp_update_httpproxy": None,
        "httpclient_resolvers_prefer": None,
        "stats_sockets": [],
        "logs": [],
        "ssl_default_bind": {},
        "zero_warning": False,
    }
    for section in sections:
        if section.kind != "global":
            continue
        for words, where in section.lines:
            keyword, args = words[0], words[1:]
            if keyword == "crt-base" and args:
                settings["crt_base"] = args[0]
            elif keyword == "ssl-load-extra-files" and args:
                settings["ssl_load_extra_files"] = args
            elif keyword == "ssl-load-extra-del-ext":
                settings["ssl_load_extra_del_ext"] = True
            elif keyword in ("ocsp-update.mode", "tune.ssl.ocsp-update.mode") and args:
                settings["ocsp_update_mode"] = args[0]
            elif keyword == "ocsp-update.disable":
                settings["ocsp_update_disable"] = not args or args[0] == "on"
            elif keyword == "ocsp-update.httpproxy" and args:
                settings["ocsp_update_httpproxy"] = args[0]
            elif keyword == "httpclient.resolvers.prefer" and args:
                settings["httpclient_resolvers_prefer"] = args[0]
            elif keyword == "stats" and args[:1] == ["socket"] and len(args) > 1:
                level = _option(args, "level") or "operator"
                settings["stats_sockets"].append({"address": args[1], "level": level, "source": where})
            elif keyword == "log" and args:
                settings["logs"].append({"target": args[0], "args": args[1:], "source": where})
            elif keyword.startswith("ssl-default-bind-"):
                settings["ssl_default_bind"][keyword] = " ".join(args)
            elif keyword == "zero-warning":
                settings["zero_warning"] = True
    return settings


def build_sites(
    sections: List[Section],
    settings: Dict[str, Any],
    version: Optional[Tuple[int, ...]],
    master_socket: Optional[str],
    errors: List[str],
    cwd: str = "/",
) -> List[SiteInfo]:
    """One SiteInfo per frontend/listen section with at least one ``ssl`` (or QUIC) bind.

    ``cwd`` is HAProxy's working directory, against which it opens relative paths that no
    ``crt-base`` covers (``/`` under systemd).
    """
    settings = dict(settings, cwd=cwd)
    certs = _Certs(settings, _stores(sections, errors), errors)
    update_supported = common.version_at_least(version, 2, 8)
    sites = []
    for section in sections:
        if section.kind not in ("frontend", "listen"):
            continue
        listens: List[Dict[str, Any]] = []
        records: List[Dict[str, Any]] = []
        for words, where in section.find("bind"):
            if len(words) < 2:
                continue
            addresses = words[1].split(",")
            params = words[2:]
            quic = any(address.startswith(("quic4@", "quic6@")) for address in addresses)
            ssl = "ssl" in params or quic
            for address in addresses:
                listens.append({"address": address, "ssl": ssl, "bind": where})
            if _option(params, "ocsp-update") is not None:
                # HAProxy has no bind keyword ocsp-update (the option belongs to crt-list lines and, from 3.0,
                # crt-store 'load' lines; docs/servers.md): the configuration test rejects the line, and the word
                # sets nothing for the certificates.
                errors.append(
                    f"{where}: 'ocsp-update' is not a bind keyword (HAProxy takes it on crt-list lines, crt-store "
                    "'load' lines or as the global ocsp-update.mode): the configuration check rejects this line, "
                    "and it sets nothing for its certificates."
                )
            for index, word in enumerate(params):
                if word in ("crt", "crt-list", "default-crt") and index + 1 < len(params):
                    kind = "crt-list" if word == "crt-list" else "crt"
                    records.extend(certs.expand(kind, params[index + 1], where))
        if not any(entry["ssl"] for entry in listens):
            continue
        names: List[str] = []
        for record in records:
            for name in record["sni_filters"]:
                if not name.startswith("!") and name not in names:
                    names.append(name)
        key_files: List[str] = []
        for record in records:
            if record["key_file"] not in key_files:
                key_files.append(record["key_file"])
        site = SiteInfo(
            server=TYPE,
            site_id=f"{TYPE}:{section.where}",
            source=section.where,
            context=f"{section.kind} {section.name}".strip(),
            server_names=names,
            listen=listens,
            certificate_files=list(dict.fromkeys(record["crt"] for record in records)),
            key_files=key_files,
            stapling={
                "certificates": records,
                "runtime_api": settings["stats_sockets"],
                "runtime_api_admin": any(sock["level"] == "admin" for sock in settings["stats_sockets"]),
                "master_socket": master_socket,
                "ocsp_update_supported": update_supported,
                "ocsp_update_mode": settings["ocsp_update_mode"],
                "ocsp_update_disable": settings["ocsp_update_disable"],
                "ocsp_update_httpproxy": settings["ocsp_update_httpproxy"],
                "httpclient_resolvers_prefer": settings["httpclient_resolvers_prefer"],
                "ssl_load_extra_files": " ".join(settings["ssl_load_extra_files"]),
                "ssl_load_extra_del_ext": settings["ssl_load_extra_del_ext"],
                "global_log_configured": bool(settings["logs"]),
                "ssl_default_bind": settings["ssl_default_bind"],
            },
        )
        paths: List[Optional[str]] = []
        for record in records:
            paths += [record["crt"], record["key_file"], record["ocsp_file"], record["issuer_file"]]
        common.add_files(site, [path for path in paths if path and os.path.exists(path)])
        for record in records:
            for path in (record["ocsp_file"], record["issuer_file"]):
                site.files.setdefault(path, common.stat_record(path))
        sites.append(site)
    return sites


# ---------------------------------------------------------------------------------------------
# discovery


def parse_build(text: str) -> Dict[str, Any]:
    """Version and TLS library from ``haproxy -vv``."""
    info: Dict[str, Any] = {"version": None, "version_full": None, "ssl_library": None, "ssl": None}
    match = re.search(r"HA-?Proxy version (\S+)", text)
    if match:
        info["version_full"] = match.group(1)
        info["version"] = common.parse_version(match.group(1))[0]
    match = re.search(r"Built with OpenSSL version : (.+)", text)
    if match:
        info["ssl_library"] = match.group(1).strip()
        info["ssl"] = True
    elif "USE_OPENSSL=1" in text or "+OPENSSL" in text:
        info["ssl"] = True
    elif info["version"]:
        info["ssl"] = False
    return info


def syslog_files(config_paths_list: Tuple[str, ...] = SYSLOG_CONFIGS) -> List[str]:
    """Log files rsyslog writes HAProxy's messages to (Debian ships /etc/rsyslog.d/49-haproxy.conf)."""
    files: List[str] = []
    candidates: List[str] = []
    for path in config_paths_list:
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                continue
            candidates.extend(os.path.join(path, name) for name in names if name.endswith(".conf"))
        elif os.path.isfile(path):
            candidates.append(path)
    for candidate in candidates:
        text, error = common.read_text_file(candidate, 1024 * 1024)
        if error or not text or "haproxy" not in text.lower():
            continue
        for match in re.finditer(r"(?:^|[\s\"'])-?(/var/log/[^\s\"';]+)", text):
            if match.group(1) not in files:
                files.append(match.group(1))
    return files


# HAProxy options that make it run and exit: check the configuration, print its version or help.
ONE_SHOT_FLAGS = frozenset({"-c", "-v", "-vv", "-h"})


def one_shot(cmdline: List[str]) -> bool:
    """Whether this HAProxy command line runs and exits (``haproxy -c -f ...``), never a server."""
    return any(arg in ONE_SHOT_FLAGS for arg in cmdline[1:])


def discover(
    run: Runner,
    which: Which,
    proc_root: str = "/proc",
    timeout: float = DEFAULT_TIMEOUT,
) -> List[ServerInfo]:
    """Every HAProxy on the node: one record per running master (by its ``-f`` files), or the installed one."""

    def inspect_one(master: Optional[common.ProcInfo], binary: Optional[str]) -> ServerInfo:
        configs = common.option_values(master.cmdline, "-f") if master else []
        sockets = common.option_values(master.cmdline, "-S") if master else []
        info = inspect(
            run,
            binary or "haproxy",
            configs or None,
            timeout,
            master_socket=sockets[-1].split(",")[0] if sockets else None,
            cwd=master.cwd if master and master.cwd else "/",
        )
        if master:
            stdio = [path for path in (master.stdout, master.stderr) if path and not path.startswith("/dev/")]
            for path in stdio:
                if path not in info.error_logs:
                    info.error_logs.append(path)
        return info

    return common.discover_instances(
        which,
        proc_root,
        PROCESS_NAMES,
        BINARY_NAMES,
        lambda master: tuple(common.option_values(master.cmdline, "-f")) if master else (),
        inspect_one,
        one_shot=one_shot,
    )


def inspect(
    run: Runner,
    binary: str,
    config_files: Optional[List[str]] = None,
    timeout: float = DEFAULT_TIMEOUT,
    master_socket: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    syslog_configs: Tuple[str, ...] = SYSLOG_CONFIGS,
    cwd: str = "/",
) -> ServerInfo:
    """Read one HAProxy through ``haproxy -vv`` and ``haproxy -c -f ...`` and its files."""
    info = ServerInfo(type=TYPE, binary=binary)
    build_result = common.run_command(run, [binary, "-vv"], timeout)
    build = parse_build(build_result.output)
    if build["version"] is None:
        info.errors.append(build_result.describe() if not build_result.ok else "haproxy -vv printed no version.")
    info.version, info.version_tuple = common.parse_version(build["version"])
    info.details.update(version_full=build["version_full"], ssl_library=build["ssl_library"])

    values = config_files or [DEFAULT_CONFIG]
    argv = [binary, "-c"]
    for value in values:
        argv += ["-f", value]
    check = common.run_command(run, argv, timeout)
    info.config_test_ok = check.ok if check.error is None else None
    info.config_test_output = common.trim(check.output)
    info.details["config_test_command"] = " ".join(argv)
    if not check.ok:
        info.errors.append(check.describe())

    environment = dict(os.environ)
    environment.update(common.parse_env_file("/etc/default/haproxy"))
    environment.update(env or {})
    paths = config_paths(values)
    info.config_file = paths[0] if paths else values[0]
    info.config_source = "disk"
    sections: List[Section] = []
    errors: List[str] = []
    total = 0
    for path in paths[: common.MAX_CONFIG_FILES]:
        text, error = common.read_text_file(path)
        if error or text is None:
            errors.append(f"configuration file {error}")
            continue
        total += len(text)
        if total > common.MAX_CONFIG_TOTAL_BYTES:
            errors.append(f"{path} was not read: the configuration exceeds the size limits.")
            break
        sections.extend(parse_config(text, path, environment, info.version_tuple, errors, info.notes))
    info.config_files = {path: common.stat_record(path) for path in paths}
    settings = global_settings(sections)
    info.sites = build_sites(sections, settings, info.version_tuple, master_socket, errors, cwd)
    info.errors.extend(errors)
    info.details.update(
        stats_sockets=settings["stats_sockets"],
        master_socket=master_socket,
        logs=settings["logs"],
        ocsp_update_mode=settings["ocsp_update_mode"],
        zero_warning=settings["zero_warning"],
    )

    logs: List[str] = []
    to_syslog = any(not log["target"].startswith(("stdout", "stderr", "fd@", "ring@")) for log in settings["logs"])
    if to_syslog:
        logs.extend(syslog_files(syslog_configs))
    if os.path.exists(DEFAULT_LOG) and DEFAULT_LOG not in logs:
        logs.append(DEFAULT_LOG)
    info.error_logs = logs
    if not settings["logs"]:
        info.notes.append("No 'log' line in the global section: HAProxy's OCSP update messages are not logged.")

    if build["ssl"] is False:
        info.stapling_capable = False
        info.stapling_capable_reason = "HAProxy was built without OpenSSL."
        info.stapling_self_fetch = False
    elif build["ssl"]:
        info.stapling_capable = True
        if common.version_at_least(info.version_tuple, 2, 8):
            info.stapling_self_fetch = True
            places = "crt-list lines"
            if common.version_at_least(info.version_tuple, 3, 0):
                places = "crt-list lines, crt-store 'load' lines or the global ocsp-update.mode"
            info.stapling_capable_reason = (
                f"HAProxy {info.version} staples <crt>.ocsp files and fetches responses itself for certificates "
                f"with 'ocsp-update on' ({places})."
            )
        else:
            info.stapling_self_fetch = False
            info.stapling_capable_reason = (
                f"HAProxy {info.version} cannot fetch OCSP responses itself (ocsp-update needs 2.8): it staples "
                "only a <crt>.ocsp file present at load or a response given through the runtime API "
                "('set ssl ocsp-response'), which something else must refresh."
            )
    return info


# ---------------------------------------------------------------------------------------------
# log lines

# Startup/reload messages on stderr (seen with haproxy -c 2.6 here, docs/servers.md, HAProxy):
# ``[WARNING]  (18616) : config : Loading: ...``; before 2.4 with ``326/193100`` (day/time).
_STDERR_RE = re.compile(
    r"^\[(?P<level>NOTICE|WARNING|ALERT|INFO|DEBUG|ERROR|ERR|EMERG|CRIT)\]\s+"
    r"(?:(?P<doy>\d{3})/(?P<hms>\d{6})\s+)?\(\d+\) : (?P<msg>.*)$"
)
# 2.8/2.9 OCSP-UPDATE lines carry the httpclient's ``[06/Mar/2023:11:18:52.200]`` (docs/servers.md, HAProxy).
_ACCEPT_DATE_RE = re.compile(r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.\d+)?\]")


def parse_line(line: str, tz=None, now: Optional[datetime.datetime] = None) -> Optional[ParsedLine]:
    """Time, level and message of a HAProxy log line: syslog (rsyslog/journal/``log stdout``) or stderr."""
    level = None
    pri = re.match(r"^<(\d{1,3})>", line)
    if pri:
        level = _LEVELS[int(pri.group(1)) % 8]
    parsed = logscan.parse_syslog(line, now=now, tz=tz)
    if parsed is not None:
        inner = _STDERR_RE.match(parsed.message)
        if inner:
            return ParsedLine(parsed.time, inner.group("level").lower(), inner.group("msg"))
        return ParsedLine(parsed.time, level, parsed.message)
    match = _STDERR_RE.match(line)
    if match:
        return ParsedLine(None, match.group("level").lower(), match.group("msg"))
    accept = _ACCEPT_DATE_RE.search(line)
    if accept and "<OCSP-UPDATE>" in line:
        month = logscan.MONTHS.get(accept.group(2).lower())
        if month:
            try:
                value = datetime.datetime(
                    int(accept.group(3)),
                    month,
                    int(accept.group(1)),
                    int(accept.group(4)),
                    int(accept.group(5)),
                    int(accept.group(6)),
                )
                return ParsedLine(logscan.to_aware(value, tz), level, line)
            except ValueError:
                pass
    if pri:  # ``log ... format short``/``priority``: "<PRI>message" with no time
        return ParsedLine(None, level, line[pri.end() :])
    return None


def _refine_update(match: re.Match[str]) -> Dict[str, Any]:
    """Cause of an ``<OCSP-UPDATE> <crt> <code> "<text> (<detail>)"`` line (ocsp_update_errors[]; docs/servers.md)."""
    status = match.group("status")
    reason = (match.group("reason") or "").lower()
    if status in ("0", "1"):  # "Unknown", "Update successful"
        return {"code": None}
    if status == "2":
        return {"code": "responder_unreachable", "stage": "http", "detail": "http_error"}
    if status == "3":
        return {"code": "responder_error", "detail": "content_type"}
    if status == "4":
        not_ok = re.search(r"ocsp response not successful \(\d+: (\w+)\)", reason)
        if not_ok:
            return {"code": "responder_error", "detail": not_ok.group(1)}
        if "ocsp_basic_verify" in reason:
            return {"code": "staple_invalid", "detail": "verify_failed"}
        if "needs a certificate validation chain or an issuer" in reason:
            return {"code": "chain_incomplete", "detail": "issuer_missing"}
        if "d2i_ocsp_response" in reason or "get1_basic" in reason:
            return {"code": "responder_error", "detail": "malformed"}
        return {"code": "staple_invalid", "detail": "check_failure", "ambiguous_with": ["responder_error"]}
    if status == "5":
        if "no longer valid" in reason:
            return {"code": "staple_expired", "detail": "no_longer_valid"}
        if "status is unknown" in reason:
            return {"code": "cert_status_unknown", "detail": None}
        if "certificate id does not match" in reason:
            return {"code": "staple_invalid", "detail": "certid_mismatch"}
        return {"code": "staple_invalid", "detail": "insertion_error"}
    return {"code": None}


def _refine_httpclient(match: re.Match[str]) -> Dict[str, Any]:
    """httpclient log of an OCSP request: 503 + ``SC--`` = connection (or DNS) failed, 504 = timeout."""
    status = match.group("status")
    address = match.group("addr") or ""
    ipv6 = address.count(":") >= 2
    if status.startswith("2"):
        return {"code": None}
    if status == "503":
        return {"stage": "connect", "detail": "ipv6" if ipv6 else "connect_or_dns_failed"}
    if status == "504":
        return {"stage": "timeout", "detail": "ipv6" if ipv6 else None}
    return {"stage": "http", "detail": "http_" + status}


PATTERNS = [
    # The OCSP-UPDATE lines come first: their details repeat the startup texts below.
    # docs/servers.md, HAProxy auto-update status line (3.0+; 2.8/2.9 with a client/date prefix): codes 0-5 of
    # ocsp_update_errors[] and their details; 7 dns/http/not_successful/verify/certid rows.
    pattern(
        "haproxy.ocsp_update",
        r"<OCSP-UPDATE> (?P<hint>(?!-/-)\S+) (?P<status>\d) \"(?P<text>[^\"(]*?)(?: \((?P<reason>.*)\))?\""
        r"(?: (?P<failures>\d+) (?P<successes>\d+))?",
        "staple_invalid",
        refine=_refine_update,
    ),
    # docs/servers.md, HAProxy httpclient line of the OCSP request (doc example, haproxy#2938):
    # ``<OCSP-UPDATE> -/- 2/0/-1/-1/3009 503 217 - - SC-- ... {addr} "GET http://..."``; 7 dns/connect/ipv6.
    pattern(
        "haproxy.ocsp_httpclient",
        r"<OCSP-UPDATE> -/- \S+ (?P<status>\d{3}) \S+ \S+ \S+ (?P<flags>\S{4}) .*?\{(?P<addr>[^}]*)\}"
        r"(?: \"\w+ (?:https?://)?(?P<responder>[^/\s\"]+))?",
        "responder_unreachable",
        refine=_refine_httpclient,
    ),
    # docs/servers.md, HAProxy "Loading: <reason>. Content will be ignored." reasons (ssl_sock_load_ocsp_response),
    # the first one also seen with haproxy -c 2.6 here; 7 stapling_file_bad.
    pattern("haproxy.ocsp_not_der", r"Unable to parse OCSP response", "staple_invalid", detail="ocsp_file_not_der"),
    # docs/servers.md, HAProxy same list; 7 responder_not_successful.
    pattern(
        "haproxy.ocsp_not_successful",
        r"Loading: OCSP response status not successful",
        "responder_error",
        detail="ocsp_file_not_successful",
    ),
    # docs/servers.md, HAProxy same list.
    pattern(
        "haproxy.ocsp_no_basic",
        r"Failed to get basic response from OCSP Response",
        "staple_invalid",
        detail="malformed",
    ),
    # docs/servers.md, HAProxy same list; 7 stapling_file_bad.
    pattern(
        "haproxy.ocsp_multiple",
        r"OCSP response ignored because contains multiple single responses",
        "staple_invalid",
        detail="multiple_responses",
    ),
    # docs/servers.md, HAProxy same list and code 5 details; 7 status_unknown.
    pattern(
        "haproxy.ocsp_unknown", r"OCSP single response: certificate status is unknown", "cert_status_unknown", hint=None
    ),
    # docs/servers.md, HAProxy same list; 7 response_expired.
    pattern(
        "haproxy.ocsp_no_next_update",
        r"OCSP single response: missing nextupdate",
        "staple_invalid",
        detail="missing_next_update",
        hint=None,
    ),
    # docs/servers.md, same list (and the 3.2-dev2 "Must be valid during at least 300s" form); 7 response_expired.
    pattern("haproxy.ocsp_expired", r"OCSP single response: no longer valid", "staple_expired", hint=None),
    # docs/servers.md, HAProxy same list (both wordings); 7 certid_mismatch.
    pattern(
        "haproxy.ocsp_certid",
        r"OCSP single response: Certificate ID does not match",
        "staple_invalid",
        detail="certid_mismatch",
        hint=None,
    ),
    # docs/servers.md, HAProxy same list.
    pattern(
        "haproxy.ocsp_bad_next_update",
        r'OCSP single response: Invalid "Next Update" time',
        "staple_invalid",
        detail="next_update_invalid",
        hint=None,
    ),
    # docs/servers.md, HAProxy ALERT (fatal <= 3.4), also seen with haproxy -c 2.6 here; 7 issuer_missing.
    pattern(
        "haproxy.ocsp_issuer_missing",
        r"'(?P<hint>[^']+?)\.ocsp' is present and activates OCSP but it is impossible to compute the OCSP "
        r"certificate ID",
        "chain_incomplete",
    ),
    # docs/servers.md, HAProxy 2.8 auto-update ALERT: also raised for certificates without an OCSP URI
    # (haproxy#3098, #2432); 7 lists it under no_responder_url.
    pattern(
        "haproxy.update_init_2_8",
        r"'(?P<hint>[^']+)' has an OCSP URI and OCSP auto-update is set to 'on' but an error occurred",
        "stapling_without_ocsp",
        ambiguous_with=("chain_incomplete",),
    ),
    # docs/servers.md, HAProxy 3.0+ wording of the same ALERT; 7 no_responder_url (ambiguous with the issuer).
    pattern(
        "haproxy.update_init",
        r"'(?P<hint>[^']+)' has an OCSP auto-update set to 'on' but an error occurred",
        "stapling_without_ocsp",
        ambiguous_with=("chain_incomplete",),
    ),
    # docs/servers.md, HAProxy ALERT (ssl_ckch.c, permissions).
    pattern(
        "haproxy.ocsp_file_unreadable",
        r"Error (?:opening OCSP response file|reading OCSP response from file)",
        "staple_invalid",
        detail="ocsp_file_unreadable",
    ),
    # docs/servers.md, HAProxy ALERT "'%s' is not an issuer'." (wrong .issuer file).
    pattern(
        "haproxy.not_an_issuer", r"'(?P<hint>[^']+)' is not an issuer", "chain_incomplete", detail="issuer_file_wrong"
    ),
    # docs/servers.md, HAProxy haproxy#2472 (IPv6 disabled); 7 ipv6_unreachable.
    pattern(
        "haproxy.no_free_ports",
        r"Connect\(\) failed for backend <OCSP-UPDATE>: no free ports",
        "responder_unreachable",
        stage="connect",
        detail="ipv6",
    ),
]

PREFILTER = re.compile(r"OCSP|\.issuer|is not an issuer", re.IGNORECASE)


def make_classifier(info: Optional[ServerInfo] = None) -> Callable[[ParsedLine], Optional[LogEvent]]:
    """A line classifier; ``parsing [file:line]`` locations of startup alerts become the site hint."""
    del info

    def classify(parsed: ParsedLine) -> Optional[LogEvent]:
        event = logscan.classify_message(TYPE, PATTERNS, PREFILTER, parsed)
        if event is None:
            return None
        if not event.site_hint:
            where = re.search(r"parsing \[([^\]]+:\d+)\]", parsed.message)
            if where:
                event.site_hint = where.group(1)
        return event

    return classify
