# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Set stapling directives in one Apache ``<VirtualHost>`` of one file, and render the stapling cache file.

Lines are read with ``servers/apache/reader.py``'s ``logical_lines`` (backslash continuations joined,
comment lines skipped), so a virtual host is named by the same line number ``node_audit`` reports:
the first physical line of its ``<VirtualHost ...>`` opening. Apache has no comments after a
directive on the same line, so a directive is replaced as whole physical lines.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache.reader import logical_lines, split_args
from ansible_collections.tlsfleet.stapling.plugins.module_utils.stapling_edit import (
    MAX_SCANNED_FILES,
    CompanionFile,
    EditError,
    EditResult,
    config_root_above,
    describe_change,
    newline_of,
)

# Sections whose directives still belong to the virtual host (evaluated once, at startup).
CONDITIONALS = ("ifmodule", "ifdefine", "ifversion", "iffile", "ifdirective", "ifsection")
_FLAGS = ("sslusestapling", "sslstaplingreturnrespondererrors")
CACHE_HEADER = (
    "# managed by tlsfleet.stapling (site_stapling module): the OCSP stapling cache of this Apache.\n"
    "# SSLStaplingCache is a server-wide directive; keep exactly one in the whole configuration.\n"
)


@dataclass(repr=False)
class Line(Record):
    """One logical line inside the virtual host: physical lines first..last (1-based), words, section depth."""

    first: int
    last: int
    words: List[str]
    conditional_only: bool  # only <If...> conditional sections between it and the <VirtualHost>
    depth: int


def _section(text: str) -> Tuple[Optional[str], bool]:
    """``(name, closing)`` of a ``<Section ...>`` or ``</Section>`` line, ``(None, False)`` otherwise."""
    if text.startswith("</"):
        return text[2:].rstrip(">").strip().lower(), True
    if text.startswith("<"):
        body = text[1:-1] if text.endswith(">") else text[1:]
        parts = body.split(None, 1)
        return (parts[0].lower() if parts else ""), False
    return None, False


def find_vhost(text: str, line: int, path: str = "the file") -> Tuple[int, int, List[Line]]:
    """``(opening last line, closing line, inner logical lines)`` of the ``<VirtualHost>`` starting at ``line``."""
    logical = logical_lines(text)
    starts = []
    index = None
    for position, (first, _last, body) in enumerate(logical):
        name, closing = _section(body)
        if name == "virtualhost" and not closing:
            starts.append(first)
            if first == line:
                index = position
    if index is None:
        where = ", ".join(str(number) for number in starts) if starts else "none"
        raise EditError(
            f"{path}: no <VirtualHost> starts at line {line} (virtual hosts start at lines: {where}); the file "
            "changed since it was audited. Run the audit again; no other block is edited instead."
        )
    opening_last = logical[index][1]
    if not logical[index][2].endswith(">"):
        raise EditError(f"{path}:{line}: the <VirtualHost> opening lacks its closing '>'.")
    stack: List[str] = []
    inner: List[Line] = []
    for first, last, body in logical[index + 1 :]:
        name, closing = _section(body)
        if name is not None and closing:
            if not stack:
                if name != "virtualhost":
                    raise EditError(f"{path}:{first}: </{name}> closes the <VirtualHost> of line {line}.")
                return opening_last, first, inner
            if stack[-1] != name:
                raise EditError(f"{path}:{first}: </{name}> closes <{stack[-1]}>; fix the file (apache2 -t) first.")
            stack.pop()
            continue
        if name is not None:
            if name == "virtualhost":
                raise EditError(f"{path}:{first}: <VirtualHost> nested inside the one of line {line}.")
            stack.append(name)
            continue
        inner.append(Line(first, last, split_args(body), all(item in CONDITIONALS for item in stack), len(stack)))
    raise EditError(f"{path}:{line}: the <VirtualHost> is not closed before the end of the file.")


def _quote(value: str) -> str:
    if any(char in value for char in '"\r\n'):
        raise EditError(f"the value {value!r} contains a quote or a line break; it cannot be written for Apache.")
    if re.match(r"^[A-Za-z0-9_./:@=+,%~-]+$", value):
        return value
    return f'"{value}"'


def _same(key: str, have: List[str], want: List[str]) -> bool:
    if key in _FLAGS:
        return [arg.lower() for arg in have] == [arg.lower() for arg in want]
    return have == want


def edit_vhost(text: str, line: int, settings: Sequence[Tuple[str, str]], path: str = "the file") -> EditResult:
    """Set ``settings`` (``[(Directive, value)]``) in the <VirtualHost> starting at ``line``."""
    opening_last, closing, inner = find_vhost(text, line, path)
    physical = text.splitlines(keepends=True)
    newline = newline_of(text)
    replace: List[Tuple[int, int, str]] = []  # (first, last, new line) 1-based physical lines
    inserts: List[str] = []
    changes: List[str] = []
    for name, value in settings:
        key = name.lower()
        own = [item for item in inner if item.words and item.words[0].lower() == key and item.conditional_only]
        if len(own) > 1:
            lines = ", ".join(str(item.first) for item in own)
            raise EditError(
                f"{path}: {name} is set {len(own)} times in the <VirtualHost> at line {line} (lines {lines}); "
                "fix the file by hand."
            )
        current = own[0] if own else None
        if current is not None and _same(key, current.words[1:], [value]):
            continue
        new_line = f"{name} {_quote(value)}"
        if current is None:
            inserts.append(new_line)
            changes.append(describe_change(name, None, value))
            continue
        indent = re.match(r"[ \t]*", physical[current.first - 1]).group(0)
        replace.append((current.first, current.last, f"{indent}{new_line}{newline}"))
        changes.append(describe_change(name, " ".join(current.words[1:]), value))

    if inserts:
        anchors = [
            item
            for item in inner
            if item.depth == 0 and item.words[:1] and item.words[0].lower() == "sslcertificatekeyfile"
        ]
        if anchors:
            after = anchors[-1].last
            indent = re.match(r"[ \t]*", physical[anchors[-1].first - 1]).group(0)
        else:
            after = opening_last
            top = [item for item in inner if item.depth == 0]
            if top:
                indent = re.match(r"[ \t]*", physical[top[0].first - 1]).group(0)
            else:
                base = re.match(r"[ \t]*", physical[line - 1]).group(0)
                indent = base + ("\t" if base.startswith("\t") else "    ")
        if after >= closing:
            raise EditError(f"{path}:{line}: cannot find a safe place inside the <VirtualHost> for new directives.")
        if not physical[after - 1].endswith("\n"):
            physical[after - 1] += newline
        block = "".join(f"{indent}{item}{newline}" for item in inserts)
        replace.append((after + 1, after, block))
    for first, last, new_text in sorted(replace, key=lambda item: item[0], reverse=True):
        physical[first - 1 : last] = [new_text]
    includes = [
        (item.words[1], item.first)
        for item in inner
        if item.conditional_only and len(item.words) > 1 and item.words[0].lower() in ("include", "includeoptional")
    ]
    return EditResult("".join(physical), changes, includes)


def settings_for(
    stapling: str, responder_timeout: Optional[int] = None, return_responder_errors: Optional[bool] = None
) -> List[Tuple[str, str]]:
    """The ``(Directive, value)`` list for the options of the site_stapling module, in insertion order."""
    settings = [("SSLUseStapling", stapling)]
    if responder_timeout is not None:
        if responder_timeout <= 0:
            raise EditError(f"responder_timeout must be a positive number of seconds, not {responder_timeout}.")
        settings.append(("SSLStaplingResponderTimeout", str(responder_timeout)))
    if return_responder_errors is not None:
        settings.append(("SSLStaplingReturnResponderErrors", "on" if return_responder_errors else "off"))
    return settings


def cache_file_text(value: str) -> str:
    """The whole content of the managed cache file: a header and exactly one SSLStaplingCache line."""
    if not value or not value.strip():
        raise EditError("cache must not be empty.")
    return f"{CACHE_HEADER}<IfModule ssl_module>\n    SSLStaplingCache {_quote(value.strip())}\n</IfModule>\n"


def cache_value(text: Optional[str]) -> Optional[str]:
    """The value of the SSLStaplingCache lines of a file (the last one), or None."""
    found = directives_in(text or "", ("sslstaplingcache",))
    return found[-1][2] if found else None


def directives_in(text: str, names: Sequence[str], path: str = "") -> List[Tuple[str, int, str]]:
    """``[(Directive, line, value)]`` of the lines of ``text`` that set one of ``names`` (lowercase), anywhere."""
    found = []
    for first, _last, body in logical_lines(text):
        words = split_args(body)
        if words and words[0].lower() in names:
            found.append((words[0], first, " ".join(words[1:])))
    return found


# ---------------------------------------------------------------------------------------------
# the editor contract site_stapling uses (servers/__init__.py)

#: site_stapling options only Apache uses.
OPTIONS = ("responder_timeout", "return_responder_errors", "cache", "cache_file")


def check_options(params: Dict[str, Any]) -> None:
    """cache and cache_file go together: SSLStaplingCache is written to its own file."""
    if params["cache"] is not None and not params["cache_file"]:
        raise InputError("cache_file is required with cache: SSLStaplingCache is written to its own file.")
    if params["cache_file"] and params["cache"] is None:
        raise InputError("cache_file is used only together with cache.")


def edit_site(text: str, line: int, params: Dict[str, Any], path: str) -> Tuple[EditResult, List[str]]:
    """The <VirtualHost> at ``line`` edited as site_stapling's ``params`` ask, and the directive names set."""
    settings = settings_for(params["stapling"], params["responder_timeout"], params["return_responder_errors"])
    return edit_vhost(text, line, settings, path), [name for name, _value in settings]


def config_root(real: str) -> str:
    """Apache's ServerRoot as found above ``real`` (relative Include paths start there)."""
    root = config_root_above(real, ("apache2.conf", "httpd.conf"), "/etc/apache2")
    if os.path.basename(root) == "conf" and os.path.exists(os.path.join(root, "httpd.conf")):
        root = os.path.dirname(root)  # Red Hat: ServerRoot /etc/httpd, main file conf/httpd.conf
    return root


def directives_found(text: str, names: Sequence[str], path: str) -> List[Tuple[str, int]]:
    lowered = tuple(name.lower() for name in names)
    return [(name, number) for name, number, _value in directives_in(text, lowered)]


def before_write(params: Dict[str, Any]) -> None:
    """The cache file's directory must exist: fail before the first write, with nothing changed."""
    if params["cache"] is not None and params["cache_file"]:
        directory = os.path.dirname(os.path.realpath(params["cache_file"]))
        if not os.path.isdir(directory):
            raise InputError(f"the directory {directory} of cache_file does not exist.")


def _other_caches(cache_real: str, read: Callable[[str], str]) -> List[str]:
    """``file:line`` of SSLStaplingCache lines near the cache file, other than in the cache file itself."""
    base = os.path.dirname(os.path.dirname(cache_real))
    found = []
    seen = set()
    candidates = sorted(glob.glob(os.path.join(base, "*.conf")) + glob.glob(os.path.join(base, "*", "*.conf")))
    for candidate in candidates[:MAX_SCANNED_FILES]:
        real = os.path.realpath(candidate)
        if real == cache_real or real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        try:
            text = read(real)
        except InputError:
            continue
        for _name, number, _value in directives_in(text, ("sslstaplingcache",)):
            found.append(f"{candidate}:{number}")
    return found


def _cache_conflicts(cache_real: str, read: Callable[[str], str]) -> List[str]:
    return [
        f"{where} also sets SSLStaplingCache; Apache allows one, and the last one read wins. Remove the "
        f"other one or stop passing cache, which is written to {cache_real}."
        for where in _other_caches(cache_real, read)
    ]


def companion_file(params: Dict[str, Any]) -> Optional[CompanionFile]:
    """The file holding the server-wide SSLStaplingCache, when ``cache`` is given."""
    cache = params["cache"]
    if cache is None:
        return None

    def describe(real: str, existing: Optional[str]) -> str:
        return f"SSLStaplingCache in {real} {cache_value(existing) or '(not set)'} -> {cache.strip()}"

    return CompanionFile(params["cache_file"], cache_file_text(cache), describe, _cache_conflicts)
