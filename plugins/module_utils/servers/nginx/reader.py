# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx: find it, read its configuration as nginx itself sees it, and read its stapling messages.

Why ``nginx -T``: it prints every file nginx really loaded (after its own include and glob
resolution) behind ``# configuration file <path>:`` markers, so the parser below never has to guess
which file a directive came from, and its stderr carries the config-time ``"ssl_stapling" ignored``
warnings (docs/servers.md, nginx), which are often the whole diagnosis. When the dump fails (a broken
configuration) the files are read from disk instead, and the failure is reported.

Only ``nginx -V`` and ``nginx -T`` are run. Defaults and inheritance follow docs/servers.md, nginx:
``ssl_stapling``/``ssl_stapling_verify`` off, ``resolver_timeout`` 30s, ``ssl_*`` and ``resolver``
inherited from ``http`` when a ``server`` does not set them.
"""

from __future__ import annotations

import datetime
import glob
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
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import BINARY_NAMES, PROCESS_NAMES, TYPE
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx.syntax import (
    Budget,
    Directive,
    parse,
)

DEFAULT_CONFIG = "/etc/nginx/nginx.conf"
DEFAULT_PREFIX = "/usr/local/nginx/"

# Directives a server block inherits from the http (or stream) block when it does not set them.
INHERITED = (
    "ssl",
    "ssl_certificate",
    "ssl_certificate_key",
    "ssl_trusted_certificate",
    "ssl_stapling",
    "ssl_stapling_verify",
    "ssl_stapling_file",
    "ssl_stapling_responder",
    "ssl_certificate_compression",
    "resolver",
    "resolver_timeout",
    "error_log",
)


# ---------------------------------------------------------------------------------------------
# tokenizer: servers/nginx/syntax.py, shared with the stapling editor (errors collected, reading goes on)

_Budget = Budget


# ---------------------------------------------------------------------------------------------
# the dump and the files behind it


_MARKER_RE = re.compile(r"^# configuration file (.+):$")


def split_dump(text: str) -> Dict[str, str]:
    """``{path: content}`` from ``nginx -T`` stdout, in the order nginx loaded the files.

    A marker counts only at the start or after the blank line nginx prints between files, so a
    comment in a configuration that happens to look like a marker does not split a file.
    """
    files: Dict[str, str] = {}
    current: Optional[str] = None
    buffer: List[str] = []
    previous_blank = True
    for raw in text.split("\n"):
        match = _MARKER_RE.match(raw) if previous_blank else None
        if match:
            if current is not None:
                files[current] = "\n".join(buffer)
            current = match.group(1)
            buffer = []
        elif current is not None:
            buffer.append(raw)
        previous_blank = raw.strip() == ""
    if current is not None:
        files[current] = "\n".join(buffer)
    return files


class _Loader:
    """Where included files come from: the dump (what nginx loaded) or the disk (fallback)."""

    def __init__(self, dump: Optional[Dict[str, str]], errors: List[str]) -> None:
        self.dump = dump
        self.errors = errors
        self.read_bytes = 0
        self.texts: Dict[str, str] = {}

    def match(self, pattern_text: str) -> List[str]:
        if self.dump is not None:
            if common.is_glob(pattern_text):
                return sorted(path for path in self.dump if common.glob_match(pattern_text, path))
            return [pattern_text] if pattern_text in self.dump else []
        if common.is_glob(pattern_text):
            try:
                return sorted(glob.glob(pattern_text))[: common.MAX_CONFIG_FILES]
            except (OSError, ValueError):
                return []
        return [pattern_text]

    def read(self, path: str) -> Optional[str]:
        if path in self.texts:
            return self.texts[path]
        if self.dump is not None:
            text = self.dump.get(path)
            if text is None:
                self.errors.append(f"{path} is included but not in the nginx -T dump.")
            return text
        if len(self.texts) >= common.MAX_CONFIG_FILES or self.read_bytes > common.MAX_CONFIG_TOTAL_BYTES:
            self.errors.append(f"{path} was not read: the configuration exceeds the size limits.")
            return None
        text, error = common.read_text_file(path)
        if error:
            self.errors.append(f"included file {error}")
            return None
        self.read_bytes += len(text or "")
        self.texts[path] = text or ""
        return text


def load_tree(main: str, loader: _Loader, errors: List[str], conf_prefix: str) -> List[Directive]:
    """The main file's directives with every ``include`` replaced by the included files' directives."""
    budget = _Budget()
    parsed: Dict[str, List[Directive]] = {}

    def parsed_file(path: str) -> Optional[List[Directive]]:
        if path not in parsed:
            text = loader.read(path)
            if text is None:
                return None
            parsed[path] = parse(text, path, errors, budget)
        return parsed[path]

    def expand(directives: List[Directive], chain: Tuple[str, ...]) -> List[Directive]:
        result: List[Directive] = []
        for directive in directives:
            if directive.name == "include" and directive.block is None:
                if len(directive.args) != 1:
                    errors.append(f"{directive.where}: include takes one argument.")
                    continue
                target = common.resolve_path(directive.args[0], conf_prefix)
                paths = loader.match(target)
                if not paths and not common.is_glob(target):
                    errors.append(f"{directive.where}: included file {target} was not found.")
                for path in paths:
                    if path in chain:
                        errors.append(f"{directive.where}: include loop: {path} includes itself.")
                        continue
                    if len(chain) >= common.MAX_INCLUDE_DEPTH:
                        errors.append(f"{directive.where}: includes nested deeper than {common.MAX_INCLUDE_DEPTH}.")
                        continue
                    children = parsed_file(path)
                    if children is not None:
                        result.extend(expand(children, (*chain, path)))
                continue
            if directive.block is not None:
                result.append(
                    Directive(
                        directive.name, directive.args, directive.file, directive.line, expand(directive.block, chain)
                    )
                )
            else:
                result.append(directive)
        return result

    top = parsed_file(main)
    if top is None:
        return []
    return expand(top, (main,))


# ---------------------------------------------------------------------------------------------
# sites


def _find(directives: List[Directive], name: str) -> List[Directive]:
    return [directive for directive in directives if directive.name == name]


def _on(value: Optional[List[Directive]], default: bool = False) -> bool:
    if not value:
        return default
    return bool(value[-1].args) and value[-1].args[0].lower() == "on"


def parse_listen(args: List[str]) -> Dict[str, Any]:
    """``{"address": "addr:port", "ssl": bool, "quic": bool, "default_server": bool}`` of one ``listen``."""
    if not args:
        return {"address": "*:80", "ssl": False, "quic": False, "default_server": False}
    addr = args[0]
    params = [arg.lower() for arg in args[1:]]
    if addr.startswith("unix:"):
        address = addr
    elif addr.startswith("["):
        address = addr if "]:" in addr else addr + ":80"
    elif addr.isdigit():
        address = "*:" + addr
    elif ":" in addr:
        address = addr
    else:
        address = addr + ":80"
    return {
        "address": address,
        "ssl": "ssl" in params,
        "quic": "quic" in params,
        "default_server": "default_server" in params or "default" in params,
    }


def _values(directives: Optional[List[Directive]]) -> List[str]:
    return [directive.args[0] for directive in directives or [] if directive.args]


def _resolver(directives: Optional[List[Directive]]) -> Tuple[Optional[List[str]], Dict[str, str]]:
    if not directives:
        return None, {}
    addresses: List[str] = []
    options: Dict[str, str] = {}
    for arg in directives[-1].args:
        if "=" in arg and not arg.startswith("["):
            key, value = arg.split("=", 1)
            options[key] = value
        else:
            addresses.append(arg)
    return addresses, options


def build_site(
    server: Directive, parent: Dict[str, List[Directive]], context: str, conf_prefix: str
) -> Optional[SiteInfo]:
    """A SiteInfo for one ``server`` block, or None when it has no TLS listener."""
    own: Dict[str, List[Directive]] = {}
    for child in server.block or []:
        if child.name in INHERITED or child.name in ("listen", "server_name"):
            own.setdefault(child.name, []).append(child)

    def effective(name: str) -> Optional[List[Directive]]:
        return own.get(name) or parent.get(name)

    legacy_ssl = _on(effective("ssl"))
    listens = [parse_listen(directive.args) for directive in own.get("listen", [])]
    if not listens:
        listens = [parse_listen([])]
    if legacy_ssl:
        for entry in listens:
            entry["ssl"] = True
    if not any(entry["ssl"] or entry["quic"] for entry in listens):
        return None

    def path_of(value: str) -> str:
        if "$" in value or value.startswith(("data:", "engine:")):
            return value
        return common.resolve_path(value, conf_prefix)

    cert_values = [path_of(value) for value in _values(effective("ssl_certificate"))]
    key_values = [path_of(value) for value in _values(effective("ssl_certificate_key"))]
    static_certs = [value for value in cert_values if "$" not in value and not value.startswith("data:")]
    variable_certs = [value for value in cert_values if "$" in value]
    trusted = _values(effective("ssl_trusted_certificate"))
    stapling_file = _values(effective("ssl_stapling_file"))
    responder = _values(effective("ssl_stapling_responder"))
    resolver, resolver_options = _resolver(effective("resolver"))
    timeout = _values(effective("resolver_timeout"))
    names: List[str] = []
    for directive in own.get("server_name", []):
        names.extend(directive.args)
    site = SiteInfo(
        server=TYPE,
        site_id=f"{TYPE}:{server.file}:{server.line}",
        source=server.where,
        context=context,
        server_names=names,
        listen=listens,
        certificate_files=static_certs,
        key_files=[value for value in key_values if "$" not in value and not value.startswith(("data:", "engine:"))],
        trusted_certificate=path_of(trusted[-1]) if trusted else None,
        stapling={
            "ssl_stapling": _on(effective("ssl_stapling")),
            "ssl_stapling_verify": _on(effective("ssl_stapling_verify")),
            "ssl_stapling_file": path_of(stapling_file[-1]) if stapling_file else None,
            "ssl_stapling_responder": responder[-1] if responder else None,
            "resolver": resolver,
            "resolver_options": resolver_options,
            "resolver_timeout": timeout[-1] if timeout else "30s",
            "certificate_uses_variables": bool(variable_certs),
            "certificate_variable_values": variable_certs,
            "certificate_inline": sum(1 for value in cert_values if value.startswith("data:")),
            "ssl_certificate_compression": _on(effective("ssl_certificate_compression")),
            "legacy_ssl_on": legacy_ssl,
        },
    )
    common.add_files(
        site, [*site.certificate_files, *site.key_files, site.trusted_certificate, site.stapling["ssl_stapling_file"]]
    )
    return site


def _context_settings(block: List[Directive]) -> Dict[str, List[Directive]]:
    settings: Dict[str, List[Directive]] = {}
    for child in block:
        if child.name in INHERITED:
            settings.setdefault(child.name, []).append(child)
    return settings


def extract(tree: List[Directive], conf_prefix: str) -> Tuple[List[SiteInfo], List[Tuple[str, str, str]]]:
    """Sites of the http and stream blocks, and every ``error_log`` as ``(value, level, context)``.

    The main-context log comes first: nginx writes stapling messages through the cycle's log
    (docs/servers.md, nginx), so that is the file that matters most.
    """
    sites: List[SiteInfo] = []
    logs: List[Tuple[str, str, str]] = []

    def note_logs(directives: List[Directive], context: str) -> None:
        for directive in _find(directives, "error_log"):
            if directive.args:
                level = directive.args[1] if len(directive.args) > 1 else "error"
                logs.append((directive.args[0], level, context))

    note_logs(tree, "main")
    for context in ("http", "stream"):
        for block_directive in _find(tree, context):
            block = block_directive.block or []
            note_logs(block, context)
            parent = _context_settings(block)
            for server in _find(block, "server"):
                if server.block is None:
                    continue
                note_logs(server.block, "server")
                site = build_site(server, parent, context, conf_prefix)
                if site is not None:
                    sites.append(site)
    return sites, logs


# ---------------------------------------------------------------------------------------------
# discovery


def parse_build(text: str) -> Dict[str, Any]:
    """Version, flavour and configure arguments from ``nginx -V`` (printed on stderr)."""
    info: Dict[str, Any] = {"version": None, "flavor": None, "configure": {}, "ssl_library": None, "ssl": None}
    match = re.search(r"version: (\w[\w.-]*)/(\d[\w.]*)", text)
    if match:
        info["flavor"], info["version"] = match.group(1), match.group(2)
    match = re.search(r"^built with (.+)$", text, re.MULTILINE)
    if match:
        info["ssl_library"] = match.group(1).strip()
    match = re.search(r"^configure arguments: (.*)$", text, re.MULTILINE)
    if match:
        for option in re.findall(r"--([\w-]+)(?:=('[^']*'|\S+))?", match.group(1)):
            info["configure"][option[0]] = option[1].strip("'") if option[1] else True
    if "TLS SNI support" in text or info["configure"].get("with-http_ssl_module"):
        info["ssl"] = True
    elif match:
        info["ssl"] = False
    return info


def _master_options(proc: common.ProcInfo) -> Dict[str, Optional[str]]:
    """``-c``/``-p`` of a running master; nginx rewrites its title, so split the one string it leaves."""
    argv = proc.cmdline
    if len(argv) == 1 and "master process" in argv[0]:
        argv = argv[0].split("master process", 1)[1].split()
    conf = common.option_values(argv, "-c")
    prefix = common.option_values(argv, "-p")
    return {"config": conf[-1] if conf else None, "prefix": prefix[-1] if prefix else None}


# nginx's one-letter flags: these make it run and exit (test, dump, send a signal, print its version or help);
# these take an argument (the rest of the token, or the next one).
ONE_SHOT_FLAGS = frozenset("tTsvVh?")
FLAGS_WITH_ARGUMENT = frozenset("cgpe")


def one_shot(cmdline: List[str]) -> bool:
    """Whether this nginx command line runs and exits (``nginx -t``, ``nginx -s reload``), never a server.

    A running master and its workers retitle themselves (``nginx: master process ...``), so any other
    command line is read flag by flag, as nginx does (``-tq`` is ``-t -q``).
    """
    if not cmdline or cmdline[0].startswith("nginx: "):
        return False
    args = iter(cmdline[1:])
    for arg in args:
        if not arg.startswith("-") or arg == "-":
            continue
        for index, flag in enumerate(arg[1:], start=1):
            if flag in ONE_SHOT_FLAGS:
                return True
            if flag in FLAGS_WITH_ARGUMENT:
                if index == len(arg) - 1:
                    next(args, None)
                break
    return False


def discover(
    run: Runner,
    which: Which,
    proc_root: str = "/proc",
    timeout: float = DEFAULT_TIMEOUT,
) -> List[ServerInfo]:
    """Every nginx on the node: one record per running master (by config file), or the installed one."""

    def inspect_one(master: Optional[common.ProcInfo], binary: Optional[str]) -> ServerInfo:
        options = _master_options(master) if master else {"config": None, "prefix": None}
        info = inspect(run, binary or "nginx", options["config"], options["prefix"], timeout)
        if master and master.stderr and "stderr" in info.details.get("error_log_values", []):
            info.error_logs.append(master.stderr)
        return info

    return common.discover_instances(
        which,
        proc_root,
        PROCESS_NAMES,
        BINARY_NAMES,
        lambda master: (_master_options(master)["config"] if master else None) or "",
        inspect_one,
        one_shot=one_shot,
    )


def inspect(
    run: Runner,
    binary: str,
    config_file: Optional[str] = None,
    prefix: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ServerInfo:
    """Read one nginx through ``nginx -V`` and ``nginx -T`` (with ``-c``/``-p`` when given)."""
    info = ServerInfo(type=TYPE, binary=binary)
    build_result = common.run_command(run, [binary, "-V"], timeout)
    build = parse_build(build_result.output)
    if build_result.error or build["version"] is None:
        info.errors.append(build_result.describe() if not build_result.ok else "nginx -V printed no version.")
    info.version, info.version_tuple = common.parse_version(build["version"])
    configure = build["configure"]
    base_prefix = prefix or configure.get("prefix") or DEFAULT_PREFIX
    if base_prefix is True:
        base_prefix = DEFAULT_PREFIX
    main = config_file or configure.get("conf-path") or DEFAULT_CONFIG
    main = common.resolve_path(str(main), str(base_prefix))
    info.details.update(
        prefix=base_prefix, flavor=build["flavor"], ssl_library=build["ssl_library"], built_with_ssl=build["ssl"]
    )

    argv = [binary, "-T"]
    if config_file:
        argv += ["-c", config_file]
    if prefix:
        argv += ["-p", prefix]
    dump_result = common.run_command(run, argv, timeout)
    info.config_test_ok = dump_result.ok if dump_result.error is None else None
    info.config_test_output = common.trim(dump_result.stderr if dump_result.stdout else dump_result.output)
    info.details["config_test_command"] = " ".join(argv)
    errors: List[str] = []
    dump = split_dump(dump_result.stdout) if dump_result.ok else {}
    if len(dump_result.stdout) >= common.MAX_OUTPUT_BYTES:
        errors.append(
            f"`{' '.join(argv)}` printed more than {common.MAX_OUTPUT_BYTES} bytes; the rest of the dump was not read."
        )
    if dump:
        main = next(iter(dump))
        loader = _Loader(dump, errors)
        info.config_source = "nginx -T"
    else:
        if dump_result.ok:
            errors.append(f"`{' '.join(argv)}` printed no configuration dump; the files were read from disk.")
        else:
            errors.append(dump_result.describe() + "; the configuration was read from disk instead.")
        loader = _Loader(None, errors)
        info.config_source = "disk"
    info.config_file = main
    conf_prefix = os.path.dirname(main)
    info.details["conf_prefix"] = conf_prefix
    tree = load_tree(main, loader, errors, conf_prefix)
    info.errors.extend(errors)
    files = list(dump) if dump else [main, *[path for path in loader.texts if path != main]]
    info.config_files = {path: common.stat_record(path) for path in files}
    sites, logs = extract(tree, conf_prefix)
    info.sites = sites

    values = []
    levels: Dict[str, str] = {}
    main_level = None
    for value, level, context in logs:
        values.append(value)
        if context == "main" and main_level is None:
            main_level = level
        if value in ("stderr", "/dev/null") or value.startswith(("syslog:", "memory:")):
            continue
        path = common.resolve_path(value, str(base_prefix))
        levels.setdefault(path, level)
        if path not in info.error_logs:
            info.error_logs.append(path)
    if main_level is None:
        # No error_log in the main context: nginx uses its compiled-in default (Debian's is stderr).
        default = configure.get("error-log-path")
        default = default if isinstance(default, str) else "logs/error.log"
        values.insert(0, default)
        main_level = "error"
        if default != "stderr":
            path = common.resolve_path(default, str(base_prefix))
            if path not in info.error_logs:
                info.error_logs.insert(0, path)
            levels.setdefault(path, "error")
    info.details["error_log_levels"] = levels
    info.details["error_log_values"] = values
    info.details["main_error_log_level"] = main_level
    if main_level.lower() in ("error", "crit", "alert", "emerg"):
        info.notes.append(
            f"The main error_log is at level '{main_level}': runtime stapling warnings such as "
            "'no resolver defined' are not written to it (docs/servers.md, nginx)."
        )

    if build["ssl"] is False:
        info.stapling_capable = False
        info.stapling_capable_reason = "nginx was built without the SSL module."
    elif build["ssl"]:
        info.stapling_capable = True
        info.stapling_capable_reason = (
            f"nginx {info.version or ''} ({build['ssl_library'] or 'TLS library unknown'}) fetches OCSP responses "
            "itself, lazily per worker on the first handshake that asks; certificates loaded through variables "
            "are never stapled."
        ).replace("  ", " ")
    info.stapling_self_fetch = info.stapling_capable
    return info


# ---------------------------------------------------------------------------------------------
# log lines

# ``2026/11/23 19:31:00 [error] 123#123: *45 message`` (docs/servers.md, nginx) and, before the error log
# is open, ``nginx: [warn] message`` on stderr (docs/servers.md, nginx, AUTOM8N#203 example).
_LINE_RE = re.compile(
    r"^(?P<y>\d{4})/(?P<mo>\d\d)/(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d) \[(?P<level>\w+)\] "
    r"\d+#\d+: (?:\*\d+ )?(?P<msg>.*)$"
)
_STDERR_RE = re.compile(r"^nginx: \[(?P<level>\w+)\] (?P<msg>.*)$")


def parse_line(line: str, tz=None) -> Optional[ParsedLine]:
    """Time (aware UTC, from the node's local time), level and message of an nginx error-log line."""
    match = _LINE_RE.match(line)
    if match:
        try:
            value = datetime.datetime(
                int(match.group("y")),
                int(match.group("mo")),
                int(match.group("d")),
                int(match.group("h")),
                int(match.group("mi")),
                int(match.group("s")),
            )
        except ValueError:
            return None
        return ParsedLine(logscan.to_aware(value, tz), match.group("level").lower(), match.group("msg"))
    match = _STDERR_RE.match(line)
    if match:
        return ParsedLine(None, match.group("level").lower(), match.group("msg"))
    syslog = logscan.parse_syslog(line, tz=tz)
    if syslog is not None:
        inner = re.search(r"\[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$", syslog.message)
        if inner:
            return ParsedLine(syslog.time, inner.group(1).lower(), inner.group(2))
        return syslog
    return None


# The context nginx appends to runtime stapling errors (ngx_ssl_ocsp_log_error, docs/servers.md, nginx):
# " while requesting certificate status, responder: <host>, peer: <ip:port>, certificate: "<path>"".
_CTX = (
    r"while requesting certificate status, responder: (?P<responder>[^,\s]+)"
    r"(?:, peer: (?P<peer>[^,\s]+))?(?:, certificate: \"(?P<hint>[^\"]*)\")?"
)
_OPT_CTX = r"(?:.*?" + _CTX + ")?"


def _is_ipv6_peer(text: Optional[str]) -> bool:
    return bool(text) and text.startswith("[")  # type: ignore[union-attr]


def _refine_connect(match: re.Match[str]) -> Dict[str, Any]:
    errno = match.group("errno")
    values: Dict[str, Any] = {"stage": "connect", "detail": match.group("err").strip().lower()}
    if errno == "110":
        values["stage"] = "timeout"
    if _is_ipv6_peer(match.group("target")) and errno in ("101", "99", "113", "110"):
        values["detail"] = "ipv6"
    return values


def _refine_status(match: re.Match[str]) -> Dict[str, Any]:
    return {"detail": match.group("status").lower()}


def _refine_reason(match: re.Match[str]) -> Dict[str, Any]:
    reason = re.search(r"(?:Verify error:|:)([^:()]+)\)\s*(?:while|$)", match.group(0))
    return {"detail": reason.group(1).strip().lower().replace(" ", "_") if reason else None}


PATTERNS = [
    # docs/servers.md, nginx row "issuer certificate not found" (ngx_ssl_stapling_issuer); 7 issuer_missing.
    pattern(
        "nginx.issuer_not_found",
        r'"ssl_stapling" ignored, issuer certificate not found for certificate "(?P<hint>[^"]+)"',
        "chain_incomplete",
    ),
    # docs/servers.md, nginx row "no OCSP responder URL" (ngx_ssl_stapling_responder); 7 no_responder_url.
    pattern(
        "nginx.no_responder_url",
        r'"ssl_stapling" ignored, no OCSP responder URL in the certificate "(?P<hint>[^"]+)"',
        "stapling_without_ocsp",
    ),
    # docs/servers.md, nginx row "invalid URL prefix" (only http:// responders); 7 unsupported_responder_url.
    pattern(
        "nginx.invalid_url_prefix",
        r'"ssl_stapling" ignored, invalid URL prefix in OCSP responder "(?P<responder>[^"]*)"'
        r'(?: in the certificate "(?P<hint>[^"]+)")?',
        "stapling_unsupported",
        detail="responder_not_http",
    ),
    # docs/servers.md, nginx row "host not found" (system DNS at config time) and the AUTOM8N#203 example
    # without the certificate part; 7 dns_failure. by design, resolver_missing covers "failed at load".
    pattern(
        "nginx.host_not_found_at_load",
        r'"ssl_stapling" ignored, host not found in OCSP responder "(?P<responder>[^"]*)"'
        r'(?: in the certificate "(?P<hint>[^"]+)")?',
        "resolver_missing",
        stage="dns",
        detail="config_time_dns",
        ambiguous_with=("responder_unreachable",),
    ),
    # docs/servers.md, nginx same row: the other u.err texts of ngx_parse_url ("invalid host", "invalid port").
    pattern(
        "nginx.responder_url_invalid",
        r'"ssl_stapling" ignored, (?P<err>[^"]+?) in OCSP responder "(?P<responder>[^"]*)"'
        r'(?: in the certificate "(?P<hint>[^"]+)")?',
        "stapling_unsupported",
        detail="responder_url_invalid",
    ),
    # docs/servers.md, nginx row "not supported" (OpenSSL without OCSP).
    pattern(
        "nginx.not_supported",
        r'"ssl_stapling" ignored, not supported',
        "stapling_unsupported",
        detail="tls_library_without_ocsp",
    ),
    # docs/servers.md, nginx / 1.3 (1.29.3+ EMERG); 7 config_incompatible.
    pattern(
        "nginx.compression_conflict",
        r'"ssl_stapling" is incompatible with "ssl_certificate_compression"',
        "stapling_unsupported",
        detail="ssl_certificate_compression",
    ),
    # docs/servers.md, nginx row ssl_stapling_file (ngx_ssl_stapling_file); 7 stapling_file_bad.
    pattern(
        "nginx.stapling_file_not_der",
        r'd2i_OCSP_RESPONSE_bio\("(?P<hint>[^"]+)"\) failed',
        "staple_invalid",
        detail="stapling_file_not_der",
    ),
    # docs/servers.md, nginx same row. ssl_dhparam logs the same text, so the classifier keeps this one only
    # when the path is a configured ssl_stapling_file (see make_classifier).
    pattern(
        "nginx.stapling_file_unreadable",
        r'BIO_new_file\("(?P<hint>[^"]+)"\) failed',
        "staple_invalid",
        detail="stapling_file_unreadable",
    ),
    # docs/servers.md, nginx row "no resolver defined" and the woost/wust2#29 example; 7 resolver_missing.
    pattern(
        "nginx.no_resolver",
        r"no resolver defined to resolve (?P<rhost>\S+)" + _OPT_CTX,
        "resolver_missing",
        responder="rhost",
    ),
    # docs/servers.md, nginx row "could not be resolved" (ngx_resolver_strerror texts); 7 dns_failure.
    # Generic resolver text: only with the stapling context.
    pattern(
        "nginx.resolve_failed",
        r"(?P<host>\S+) could not be resolved \((?P<errno>\d+): (?P<err>[^)]*)\).*?" + _CTX,
        "responder_unreachable",
        stage="dns",
        refine=lambda match: {"detail": match.group("err").strip().lower().replace(" ", "_")},
    ),
    # docs/servers.md, nginx row "connect() to %V failed"; 7 connect_failed / ipv6_unreachable.
    # Generic upstream text: only with the stapling context.
    pattern(
        "nginx.connect_failed",
        r"connect\(\) to (?P<target>\S+) failed \((?P<errno>\d+): (?P<err>[^)]*)\).*?" + _CTX,
        "responder_unreachable",
        stage="connect",
        refine=_refine_connect,
    ),
    # docs/servers.md, nginx row "OCSP responder timed out" and the serverpilot#79 example; 7 responder_timeout.
    pattern(
        "nginx.responder_timeout", r"OCSP responder timed out" + _OPT_CTX, "responder_unreachable", stage="timeout"
    ),
    # docs/servers.md, nginx row "prematurely closed connection"; 7 responder_http_error.
    pattern(
        "nginx.responder_closed",
        r"OCSP responder prematurely closed connection" + _OPT_CTX,
        "responder_unreachable",
        stage="http",
        detail="closed_early",
    ),
    # docs/servers.md, nginx row invalid "Content-Type"; by design, wrong content type is responder_error.
    pattern(
        "nginx.bad_content_type",
        r'OCSP responder sent invalid "Content-Type" header' + _OPT_CTX,
        "responder_error",
        detail="content_type",
    ),
    # docs/servers.md, nginx row "sent invalid response" (not HTTP: captive proxy, TLS on :80).
    pattern(
        "nginx.invalid_http",
        r"OCSP responder sent invalid response" + _OPT_CTX,
        "responder_error",
        detail="invalid_http",
    ),
    # docs/servers.md, nginx row d2i_OCSP_RESPONSE() (body is not DER OCSP).
    pattern(
        "nginx.response_not_der", r"d2i_OCSP_RESPONSE\(\) failed" + _OPT_CTX, "responder_error", detail="malformed"
    ),
    # docs/servers.md, nginx row "OCSP response not successful"; 7 responder_not_successful.
    pattern(
        "nginx.not_successful",
        r"OCSP response not successful \((?P<code>\d+): (?P<status>\w+)\)" + _OPT_CTX,
        "responder_error",
        refine=_refine_status,
    ),
    # docs/servers.md, nginx row OCSP_response_get1_basic() (malformed response).
    pattern("nginx.no_basic", r"OCSP_response_get1_basic\(\) failed" + _OPT_CTX, "responder_error", detail="malformed"),
    # docs/servers.md, nginx row OCSP_basic_verify() with "unable to get (local) issuer certificate" and the
    # mailinabox#705 / AUTOM8N#194 examples: ssl_stapling_verify without the CAs in ssl_trusted_certificate.
    pattern(
        "nginx.verify_trusted_missing",
        r"OCSP_basic_verify\(\) failed .*?unable to get (?:local )?issuer certificate" + _OPT_CTX,
        "trusted_cert_missing",
        detail="unable_to_get_issuer",
    ),
    # docs/servers.md, nginx same row, other reasons; 7 verify_failed.
    pattern("nginx.verify_failed", r"OCSP_basic_verify\(\) failed" + _OPT_CTX, "staple_invalid", refine=_refine_reason),
    # docs/servers.md, nginx row "certificate status not found"; 7 certid_mismatch.
    pattern(
        "nginx.certid_mismatch",
        r"certificate status not found in the OCSP response" + _OPT_CTX,
        "staple_invalid",
        detail="certid_mismatch",
    ),
    # docs/servers.md, nginx row OCSP_check_validity() "status not yet valid" (clock skew); 7 response_expired.
    pattern(
        "nginx.not_yet_valid",
        r"OCSP_check_validity\(\) failed .*?status not yet valid" + _OPT_CTX,
        "staple_invalid",
        detail="not_yet_valid",
    ),
    # docs/servers.md, nginx row OCSP_check_validity() "status expired" / "status too old".
    pattern(
        "nginx.expired",
        r"OCSP_check_validity\(\) failed" + _OPT_CTX,
        "staple_expired",
        refine=lambda match: {"detail": "status_too_old" if "too old" in match.group(0).lower() else "status_expired"},
    ),
    # docs/servers.md, nginx row "invalid nextUpdate time".
    pattern(
        "nginx.bad_next_update",
        r"invalid nextUpdate time in certificate status" + _OPT_CTX,
        "staple_invalid",
        detail="next_update_invalid",
    ),
    # docs/servers.md, nginx row certificate status "revoked"; 7 status_revoked.
    pattern("nginx.revoked", r'certificate status "revoked" in the OCSP response' + _OPT_CTX, "cert_revoked"),
    # docs/servers.md, nginx row certificate status "unknown"; 7 status_unknown.
    pattern("nginx.unknown", r'certificate status "unknown" in the OCSP response' + _OPT_CTX, "cert_status_unknown"),
]

PREFILTER = re.compile(r"OCSP|ssl_stapling|certificate status|no resolver defined|BIO_new_file", re.IGNORECASE)


def make_classifier(info: Optional[ServerInfo] = None) -> Callable[[ParsedLine], Optional[LogEvent]]:
    """A line classifier; with the server record it drops ``BIO_new_file`` lines about other files."""
    stapling_files = set()
    if info is not None:
        stapling_files = {site.stapling.get("ssl_stapling_file") for site in info.sites} - {None}

    def classify(parsed: ParsedLine) -> Optional[LogEvent]:
        event = logscan.classify_message(TYPE, PATTERNS, PREFILTER, parsed)
        unrelated = info is None or (event is not None and event.site_hint not in stapling_files)
        if event is not None and event.pattern == "nginx.stapling_file_unreadable" and unrelated:
            return None
        return event

    return classify
