# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one nginx tokenizer: configuration reading (discovery) and the stapling editor both use it.

It follows ``ngx_conf_read_token``: quotes, backslash escapes, ``#`` comments at token starts,
``${var}`` braces and ``}`` inside words. Every statement records where it starts and ends in the
text, so the editor can replace one without touching anything around it.

Error policy, chosen by the caller:

* ``parse(text, path, errors)`` (reading) appends each problem to ``errors`` as ``path:line: ...``
  and goes on the way nginx's own recovery would let a reader (a broken file still yields what can
  be read from it); ``*_by_lua_block`` bodies are skipped as Lua; a statement budget stops hostile
  input.
* ``parse_strict(text, path)`` (editing) raises :class:`NginxSyntaxError` at the first problem that
  leaves the statement structure uncertain (one nginx rejects too), and refuses ``*_lua_block``
  bodies it cannot edit safely. A word glued to a closing quote does not change the structure and is
  not raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

MAX_STATEMENTS = 1_000_000

_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


class NginxSyntaxError(Exception):
    """A problem ``parse_strict`` refuses; ``line`` is where it is, ``message`` says what it is."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(repr=False)
class Directive(Record):
    """One nginx statement; ``block`` holds the children of ``name ... { }``.

    ``start``/``end`` are the offsets of its first word and just after its ``;`` or ``{``; ``close`` the
    offset of the ``}`` closing its block; ``has_comment`` is a ``#`` comment between its words.
    """

    name: str
    args: List[str]
    file: str
    line: int
    block: Optional[List[Directive]] = None
    start: int = 0
    end: int = 0
    end_line: int = 0
    has_comment: bool = False
    close: int = -1
    close_line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def read_quoted(text: str, index: int, line: int):
    """The quoted string that starts at ``text[index]`` (a quote), with nginx's backslash escapes resolved.

    Returns ``(value, index after the closing quote, line number there, closed)``; ``closed`` is False when the
    text ends first.
    """
    quote = text[index]
    index += 1
    length = len(text)
    token: List[str] = []
    while index < length:
        char = text[index]
        if char == "\\" and index + 1 < length:
            following = text[index + 1]
            token.append(_ESCAPES.get(following, "\\" + following))
            if following == "\n":
                line += 1
            index += 2
            continue
        if char == quote:
            return "".join(token), index + 1, line, True
        if char == "\n":
            line += 1
        token.append(char)
        index += 1
    return "".join(token), index, line, False


class Budget:
    """Counts statements over all files, so a hostile configuration cannot exhaust memory."""

    def __init__(self, limit: int = MAX_STATEMENTS) -> None:
        self.left = limit
        self.exhausted = False


def parse(text: str, path: str, errors: List[str], budget: Optional[Budget] = None) -> List[Directive]:
    """The directive tree of one file; problems go to ``errors`` (``path:line: ...``) and reading goes on."""

    def report(message: str, line: int, _structural: bool) -> None:
        errors.append(f"{path}:{line}: {message}.")

    return _tokenize(text, path, report, budget or Budget(), strict=False)


def parse_strict(text: str, path: str) -> List[Directive]:
    """The directive tree of one file; raises NginxSyntaxError at the first structural problem."""

    def report(message: str, line: int, structural: bool) -> None:
        if structural:
            raise NginxSyntaxError(message, line)

    return _tokenize(text, path, report, None, strict=True)


def _tokenize(
    text: str,
    path: str,
    report: Callable[[str, int, bool], None],
    budget: Optional[Budget],
    strict: bool,
) -> List[Directive]:
    """``report(message, line, structural)`` is told every problem; it raises (strict) or records them."""
    root: List[Directive] = []
    stack: List[List[Directive]] = [root]
    owners: List[Directive] = []
    words: List[str] = []
    word_line = 0
    start = 0
    comment = False
    index = 0
    line = 1
    length = len(text)

    def emit(end: int, block: bool) -> Optional[Directive]:
        nonlocal words, comment
        if budget is not None:
            if budget.left <= 0:
                if not budget.exhausted:
                    report(f"more than {MAX_STATEMENTS} directives; the rest was not read", line, True)
                    budget.exhausted = True
                words = []
                comment = False
                return None
            budget.left -= 1
        directive = Directive(words[0], words[1:], path, word_line, [] if block else None, start, end, line, comment)
        stack[-1].append(directive)
        words = []
        comment = False
        return directive

    while index < length:
        char = text[index]
        if char == "\n":
            line += 1
            index += 1
            continue
        if char in " \t\r":
            index += 1
            continue
        if char == "#":
            if words:
                comment = True
            end = text.find("\n", index)
            index = length if end == -1 else end
            continue
        if char == ";":
            if not words:
                report('unexpected ";"', line, True)
            else:
                emit(index + 1, False)
            index += 1
            continue
        if char == "{":
            if not words:
                report('unexpected "{"', line, True)
                words = [""]
                word_line = line
                start = index
            directive = emit(index + 1, True)
            index += 1
            if directive is not None and directive.name.endswith("_lua_block"):
                if strict:
                    report(f'"{directive.name}" blocks are not supported by this editor', directive.line, True)
                index, line = _skip_lua(text, index, line)
                continue
            if directive is not None and directive.block is not None:
                stack.append(directive.block)
                owners.append(directive)
            else:
                stack.append([])
                owners.append(Directive("", [], path, line, []))
            continue
        if char == "}":
            if words:
                report('unexpected "}" (a directive before it lacks its ";")', line, True)
                words = []
                comment = False
            if len(stack) == 1:
                report('unexpected "}"', line, True)
            else:
                stack.pop()
                owner = owners.pop()
                owner.close = index
                owner.close_line = line
            index += 1
            continue
        # A token: quoted or a plain word.
        if not words:
            word_line = line
            start = index
        if char in ('"', "'"):
            value, index, line, closed = read_quoted(text, index, line)
            if not closed:
                report("unterminated quoted string", word_line, True)
            words.append(value)
            if index < length and text[index] not in " \t\r\n;{)":
                report("unexpected character after a quoted string", line, False)
            continue
        token: List[str] = []
        previous = ""
        while index < length:
            char = text[index]
            if char == "\\" and index + 1 < length:
                following = text[index + 1]
                token.append(_ESCAPES.get(following, "\\" + following))
                index += 2
                previous = following
                continue
            if char in " \t\r\n;":
                break
            if char == "{" and previous != "$":
                break
            token.append(char)
            previous = char
            index += 1
        words.append("".join(token))
    if words:
        report('unexpected end of file, expecting ";" or "}"', line, True)
    if strict and owners:
        report(f'unexpected end of file, expecting "}}" to close "{owners[-1].name}"', owners[-1].line, True)
    for owner in owners:
        report(f'unexpected end of file, expecting "}}" to close "{owner.name}"', owner.line, True)
    return root


def _skip_lua(text: str, index: int, line: int) -> Tuple[int, int]:
    """Skip an ``*_by_lua_block { ... }`` body: Lua code, not nginx syntax (strings and ``--`` comments)."""
    depth = 1
    length = len(text)
    while index < length and depth:
        char = text[index]
        if char == "\n":
            line += 1
        elif char in ('"', "'"):
            quote = char
            index += 1
            while index < length and text[index] != quote:
                if text[index] == "\\":
                    index += 1
                elif text[index] == "\n":
                    line += 1
                index += 1
        elif char == "-" and text.startswith("--", index):
            end = text.find("\n", index)
            index = length if end == -1 else end
            continue
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        index += 1
    return index, line
