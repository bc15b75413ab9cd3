# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Set stapling directives in one nginx ``server { }`` block of one file.

The statements come from the tokenizer discovery uses too (``servers/nginx/syntax.py``), in its
strict mode: it records where each statement starts and ends in the text, so a directive can be
replaced without touching anything around it, and refuses a file with a syntax error. The
block is named by the line of its ``server`` word: the line ``node_audit`` reports (``nginx -T``
prints every file verbatim, so its line numbers are the file's).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx.syntax import (
    Directive,
    NginxSyntaxError,
    parse_strict,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils.stapling_edit import (
    CompanionFile,
    EditError,
    EditResult,
    config_root_above,
    describe_change,
    newline_of,
)

# The order in which missing directives are inserted.
DIRECTIVE_ORDER = (
    "ssl_stapling",
    "ssl_stapling_verify",
    "ssl_trusted_certificate",
    "ssl_stapling_file",
    "resolver",
    "resolver_timeout",
)
_FLAGS = ("ssl_stapling", "ssl_stapling_verify")
_PLAIN_RE = re.compile(r"^[A-Za-z0-9_./:@=+,%~\[\]$*-]+$")


#: A statement of the edited file, with its offsets (servers/nginx/syntax.py).
Statement = Directive


def tokenize(text: str, path: str = "the file") -> List[Statement]:
    """The statement tree of ``text``; raises EditError on a syntax error nginx would reject too."""
    try:
        return parse_strict(text, path)
    except NginxSyntaxError as exc:
        raise EditError(f"{path}:{exc.line}: {exc.message}; fix the file (nginx -t) before setting stapling.") from None


def quote(value: str) -> str:
    """``value`` as one nginx word: bare when safe, else double-quoted with escapes."""
    if "\n" in value or "\r" in value:
        raise EditError(f"the value {value!r} contains a line break; it cannot be written to an nginx file.")
    if value and _PLAIN_RE.match(value) and "${" not in value:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _all_statements(statements: List[Statement]):
    for statement in statements:
        yield statement
        if statement.block is not None:
            yield from _all_statements(statement.block)


def find_server(tree: List[Statement], line: int, path: str) -> Statement:
    """The ``server { }`` block whose ``server`` word is on ``line``; never another one."""
    found = [s for s in _all_statements(tree) if s.name == "server" and s.block is not None and s.line == line]
    if found:
        return found[0]
    starts = sorted(s.line for s in _all_statements(tree) if s.name == "server" and s.block is not None)
    where = ", ".join(str(number) for number in starts) if starts else "none"
    raise EditError(
        f"{path}: no nginx server block starts at line {line} (server blocks start at lines: {where}); the file "
        "changed since it was audited. Run the audit again; no other block is edited instead."
    )


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _line_after(text: str, offset: int) -> int:
    """Offset of the start of the line after the one holding ``offset`` (or the end of the text)."""
    end = text.find("\n", offset)
    return len(text) if end == -1 else end + 1


def _indent_at(text: str, offset: int) -> str:
    begin = _line_start(text, offset)
    match = re.match(r"[ \t]*", text[begin:offset])
    return match.group(0) if match else ""


def _only_statement_on_line(text: str, statement: Statement) -> bool:
    return text[_line_start(text, statement.start) : statement.start].strip() == ""


def _same(name: str, have: List[str], want: List[str]) -> bool:
    if name in _FLAGS:
        return [arg.lower() for arg in have] == [arg.lower() for arg in want]
    return have == want


def _render(name: str, args: Sequence[str]) -> str:
    return " ".join([name, *(quote(arg) for arg in args)]) + ";"


def _bracketed(address: str) -> str:
    """nginx reads ``resolver ::1`` as a host and port; an IPv6 address must be written ``[::1]``."""
    if address.startswith("[") or ":" not in address:
        return address
    if "%" in address:  # resolv.conf may give a zone (fe80::1%eth0); nginx takes none
        raise EditError(f"the resolver address {address!r} has a zone index, which nginx cannot use.")
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return address  # a host:port; nginx reads it as such
    return "[%s]" % parsed.compressed


def resolver_args(addresses: Sequence[str], existing: Optional[List[str]], valid: str = "300s") -> List[str]:
    """Arguments of the ``resolver`` directive: the given addresses, then options.

    Options (``key=value``) given in ``addresses`` win; options of the existing directive (such as
    ``ipv6=off``, which many hosts without IPv6 egress need) are kept; ``valid=300s`` is added when
    neither sets ``valid``.
    """
    wanted = [item for item in addresses if "=" not in item or item.startswith("[")]
    options = [item for item in addresses if "=" in item and not item.startswith("[")]
    for item in wanted:
        if not item or any(char in item for char in " \t\r\n;{}\"'#\\"):
            raise EditError(f"the resolver address {item!r} is not a valid address.")
    wanted = [_bracketed(item) for item in wanted]
    if not wanted:
        raise EditError("resolver needs at least one address (options such as ipv6=off alone are not enough).")
    given = {item.split("=", 1)[0]: item for item in options}
    merged: List[str] = []
    for item in existing or []:
        if "=" in item and not item.startswith("["):
            key = item.split("=", 1)[0]
            merged.append(given.pop(key, item))
    merged.extend(item for item in options if item.split("=", 1)[0] in given)
    if not any(item.startswith("valid=") for item in merged):
        merged.insert(0, f"valid={valid}")
    options = merged
    return wanted + options


def edit_server(text: str, line: int, settings: Sequence[Tuple[str, List[str]]], path: str = "the file") -> EditResult:
    """Set ``settings`` (``[(directive, args)]``, see settings_for) in the server block starting at ``line``.

    The args given for ``resolver`` are addresses and options; the options are merged with those of
    the existing directive by resolver_args.
    """
    tree = tokenize(text, path)
    server = find_server(tree, line, path)
    children = server.block or []
    newline = newline_of(text)
    edits: List[Tuple[int, int, str]] = []
    inserts: List[str] = []
    changes: List[str] = []
    for name, args in settings:
        own = [child for child in children if child.name == name and child.block is None]
        if len(own) > 1:
            lines = ", ".join(str(child.line) for child in own)
            raise EditError(
                f"{path}: {name} is set {len(own)} times in the server block at line {line} (lines {lines}); "
                "nginx rejects duplicates, so fix the file by hand."
            )
        current = own[0] if own else None
        want = list(args)
        if name == "resolver":
            want = resolver_args(want, current.args if current else None)
        if current is not None and _same(name, current.args, want):
            continue
        new_text = _render(name, want)
        if current is None:
            inserts.append(new_text)
            changes.append(describe_change(name, None, " ".join(want)))
            continue
        if current.has_comment:
            raise EditError(
                f"{path}:{current.line}: {name} spans several lines with a comment inside; rewrite it on one line "
                "so that it can be replaced without losing the comment."
            )
        edits.append((current.start, current.end, new_text))
        changes.append(describe_change(name, " ".join(current.args), " ".join(want)))

    if inserts:
        edits.append(_insertion(text, server, children, inserts, newline, path))
    new = text
    for begin, end, replacement in sorted(edits, key=lambda item: item[0], reverse=True):
        new = new[:begin] + replacement + new[end:]
    includes = [(child.args[0] if child.args else "", child.line) for child in children if child.name == "include"]
    return EditResult(new, changes, includes)


def _insertion(
    text: str, server: Statement, children: List[Statement], lines: List[str], newline: str, path: str
) -> Tuple[int, int, str]:
    """Where and how the missing directives go: one per line, after ssl_certificate_key or after ``{``."""
    anchors = [child for child in children if child.name == "ssl_certificate_key"]
    anchor = anchors[-1] if anchors else None
    if anchor is not None and anchor.end_line < server.close_line:
        at = _line_after(text, anchor.end - 1)
        if _only_statement_on_line(text, anchor):
            indent = _indent_at(text, anchor.start)
        else:
            indent = _child_indent(text, server, children)
    elif server.close_line > server.line and _nothing_after_brace(text, server):
        at = _line_after(text, server.end - 1)
        indent = _child_indent(text, server, children)
    else:
        raise EditError(
            f"{path}:{server.line}: the server block is written on one line or has directives on its opening or "
            "certificate key line; put its directives on lines of their own so that new ones can be inserted."
        )
    moved = True
    while moved:  # never inside a statement that continues past the anchor's line
        moved = False
        for child in children:
            child_end = child.close + 1 if child.block is not None else child.end
            if child.start < at < child_end:
                at = _line_after(text, child_end - 1)
                moved = True
    if at > server.close:
        raise EditError(f"{path}:{server.line}: cannot find a safe place inside the server block for new directives.")
    prefix = "" if at == 0 or text[at - 1] == "\n" else newline
    block = "".join(f"{indent}{item}{newline}" for item in lines)
    return at, at, prefix + block


def _nothing_after_brace(text: str, server: Statement) -> bool:
    rest = text[server.end : _line_after(text, server.end - 1)].strip()
    return rest == "" or rest.startswith("#")


def _child_indent(text: str, server: Statement, children: List[Statement]) -> str:
    for child in children:
        if _only_statement_on_line(text, child) and child.line > server.line:
            return _indent_at(text, child.start)
    base = _indent_at(text, server.start)
    return base + ("\t" if base.startswith("\t") else "    ")


def settings_for(
    stapling: str,
    verify: Optional[bool] = None,
    trusted_certificate: Optional[str] = None,
    staple_file: Optional[str] = None,
    resolver: Optional[Sequence[str]] = None,
    resolver_timeout: str = "5s",
) -> List[Tuple[str, List[str]]]:
    """The ``(directive, args)`` list for the options of the site_stapling module, in insertion order."""
    settings: List[Tuple[str, List[str]]] = [("ssl_stapling", [stapling])]
    if verify is not None:
        settings.append(("ssl_stapling_verify", ["on" if verify else "off"]))
    if trusted_certificate:
        settings.append(("ssl_trusted_certificate", [trusted_certificate]))
    if staple_file:
        settings.append(("ssl_stapling_file", [staple_file]))
    if resolver:
        settings.append(("resolver", list(resolver)))
        if not re.match(r"^\d+(ms|s|m|h|d|w|M|y)?$", resolver_timeout or ""):
            raise EditError(f"resolver_timeout {resolver_timeout!r} is not an nginx time such as 5s or 500ms.")
        settings.append(("resolver_timeout", [resolver_timeout]))
    return settings


def directives_in(text: str, names: Sequence[str], path: str) -> List[Tuple[str, int]]:
    """``[(directive, line)]`` of the top-level statements of an included file that set one of ``names``."""
    tree = tokenize(text, path)
    return [(statement.name, statement.line) for statement in tree if statement.name in names]


# ---------------------------------------------------------------------------------------------
# the editor contract site_stapling uses (servers/__init__.py)

#: site_stapling options only nginx uses.
OPTIONS = ("verify", "trusted_certificate", "staple_file", "resolver")


def check_options(params: Dict[str, Any]) -> None:
    """Nothing beyond the argument spec: every nginx option stands alone."""


def edit_site(text: str, line: int, params: Dict[str, Any], path: str) -> Tuple[EditResult, List[str]]:
    """The server block at ``line`` edited as site_stapling's ``params`` ask, and the directive names set."""
    settings = settings_for(
        params["stapling"],
        verify=params["verify"],
        trusted_certificate=params["trusted_certificate"],
        staple_file=params["staple_file"],
        resolver=params["resolver"],
        resolver_timeout=params["resolver_timeout"],
    )
    return edit_server(text, line, settings, path), [name for name, _value in settings]


def config_root(real: str) -> str:
    """Where nginx resolves relative include paths: the directory of nginx.conf."""
    return config_root_above(real, ("nginx.conf",), "/etc/nginx")


def directives_found(text: str, names: Sequence[str], path: str) -> List[Tuple[str, int]]:
    return directives_in(text, names, path)


def before_write(params: Dict[str, Any]) -> None:
    """Nothing to check before writing."""


def companion_file(params: Dict[str, Any]) -> Optional[CompanionFile]:
    """nginx needs no file beside the server block."""
    return None
