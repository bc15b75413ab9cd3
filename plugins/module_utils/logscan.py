# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading server error logs from the end back to a point in time, within fixed bounds.

Why backwards: the audit asks "what did the server say about stapling since T" (usually the last
reload or the last hour), and production error logs are often gigabytes. Reading from the end with
``seek`` touches only the recent tail, and the byte and line budgets keep a node audit fast even
when the log is flooded. The result says how far back it got (``reached_since``), because "no
stapling errors" only means something if the window was covered.

The per-server parts (how a line's time and level are written, which messages mean which cause)
live in the ``servers`` modules; this module provides the shared mechanics: line formats common to
several servers (syslog), the pattern record with its catalogue code, and the bounded reader.
Standard library only; runs on managed nodes with Python 3.8+.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Pattern, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import files
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

UTC = datetime.timezone.utc

#: Bytes read from the end of one server's logs (all files together) by default.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: Lines examined by default (all files together).
DEFAULT_MAX_LINES = 500_000
#: Events kept (the most recent); counts per code still cover every match.
DEFAULT_MAX_EVENTS = 1000
#: Files up to this size get absolute line numbers (one extra forward pass counting newlines).
LINE_NUMBER_LIMIT = 64 * 1024 * 1024
#: Longest line considered; longer ones are cut (a stapling message is a few hundred bytes).
MAX_LINE_BYTES = 16 * 1024
#: Length of ``LogEvent.message``.
MESSAGE_TRIM = 300
_CHUNK = 64 * 1024


# ---------------------------------------------------------------------------------------------
# records


@dataclass(repr=False)
class LogEvent(Record):
    """One log line that names a stapling cause.

    ``code`` is a cause code of the catalogue (docs/causes.md); ``stage`` refines ``responder_unreachable``
    (dns / connect / timeout / http / proxy); ``detail`` is a short machine word for the variant
    (``trylater``, ``ipv6``, ``not_yet_valid`` ...); ``ambiguous_with`` lists other codes the same
    message can mean, for the diagnosis to settle with other evidence. ``pattern`` names the
    classifier rule, whose comment cites the source of the message.
    """

    time: Optional[str]
    file: str
    line_no: Optional[int]
    server: str
    code: str
    level: Optional[str]
    message: str
    site_hint: Optional[str] = None
    responder: Optional[str] = None
    stage: Optional[str] = None
    detail: Optional[str] = None
    ambiguous_with: List[str] = field(default_factory=list)
    pattern: str = ""
    offset: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(repr=False)
class LogFileScan(Record):
    """How much of one log file was read, so the caller knows what "no events" covers."""

    path: str
    bytes_read: int = 0
    lines_read: int = 0
    reached_since: bool = False
    reached_start: bool = False
    truncated: bool = False
    oldest_time: Optional[str] = None
    newest_time: Optional[str] = None
    events: int = 0
    error: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(repr=False)
class LogScan(Record):
    """Events (most recent ``max_events``, oldest first), per-code counts, coverage and errors."""

    events: List[LogEvent] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)
    files: List[LogFileScan] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "events": [event.to_dict() for event in self.events],
            "counts": dict(self.counts),
            "files": [scan.to_dict() for scan in self.files],
            "errors": list(self.errors),
        }


@dataclass(repr=False)
class ParsedLine(Record):
    """A log line split into its time (aware UTC or None), level (lower case) and message."""

    time: Optional[datetime.datetime]
    level: Optional[str]
    message: str


@dataclass(repr=False)
class LogPattern(Record):
    """One classifier rule: a message that a server really emits, and the cause it means.

    ``hint`` and ``responder`` name regex groups holding the certificate/site and the responder
    host; ``refine`` may adjust stage/detail/code from the match (e.g. an IPv6 peer address).
    """

    id: str
    regex: Pattern[str]
    code: str
    stage: Optional[str] = None
    detail: Optional[str] = None
    ambiguous_with: Tuple[str, ...] = ()
    hint: Optional[str] = "hint"
    responder: Optional[str] = "responder"
    refine: Optional[Callable[[re.Match[str]], Dict[str, Any]]] = None


class LazyRegex:
    """A regular expression compiled on first use, standing in for the compiled ``re.Pattern``.

    Each server type declares tens of log rules at import time; node_audit runs from a fresh interpreter on
    every node and compiles none of them again from a cache, while most runs classify no line at all (the
    prefilter lets few lines through). Compiling only the rules a line reaches keeps that cost off every run
    (docs/performance.md, "What limits the figures").
    """

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.pattern = source
        self.flags = flags
        self._compiled: Optional[Pattern[str]] = None

    def compiled(self) -> Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def search(self, string: str, *args: Any) -> Optional[re.Match[str]]:
        return self.compiled().search(string, *args)

    def __getattr__(self, name: str) -> Any:  # match, finditer, groupindex, ...: the compiled pattern's own
        if name.startswith("_"):  # copy and pickle probe for hooks; _compiled unset: never recurse
            raise AttributeError(name)
        return getattr(self.compiled(), name)

    def __repr__(self) -> str:
        return "LazyRegex(%r, %r)" % (self.pattern, self.flags)

    # Value semantics, as re.Pattern has (equal when pattern and flags are): two rules written alike stay equal
    # (LogPattern is a dataclass comparing its fields). Neither compiles anything.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyRegex):
            return NotImplemented
        return (self.pattern, self.flags) == (other.pattern, other.flags)

    def __hash__(self) -> int:
        return hash((LazyRegex, self.pattern, self.flags))


def pattern(pid: str, regex: str, code: str, **kwargs: Any) -> LogPattern:
    """Build a case-insensitive rule (server messages changed case across versions, e.g. AH02217).

    The regex is compiled when a message first reaches the rule (:class:`LazyRegex`).
    """
    return LogPattern(id=pid, regex=LazyRegex(regex, re.IGNORECASE), code=code, **kwargs)  # type: ignore[arg-type]


def classify_message(
    server: str, patterns: List[LogPattern], prefilter: Optional[Pattern[str]], parsed: ParsedLine
) -> Optional[LogEvent]:
    """The first matching rule turned into an event (without file position), or None."""
    message = parsed.message
    if prefilter is not None and not prefilter.search(message):
        return None
    for rule in patterns:
        match = rule.regex.search(message)
        if not match:
            continue
        groups = match.groupdict()
        values: Dict[str, Any] = {
            "code": rule.code,
            "stage": rule.stage,
            "detail": rule.detail,
            "ambiguous_with": list(rule.ambiguous_with),
        }
        if rule.refine is not None:
            values.update(rule.refine(match))
        if values["code"] is None:  # the rule recognised a success line (e.g. HAProxy "Update successful")
            return None
        hint = groups.get(rule.hint) if rule.hint else None
        responder = groups.get(rule.responder) if rule.responder else None
        return LogEvent(
            time=format_time(parsed.time),
            file="",
            line_no=None,
            server=server,
            code=values["code"],
            level=parsed.level,
            message=trim_message(message),
            site_hint=hint or None,
            responder=responder or None,
            stage=values["stage"],
            detail=values["detail"],
            ambiguous_with=values["ambiguous_with"],
            pattern=rule.id,
        )
    return None


# ---------------------------------------------------------------------------------------------
# time formats


def format_time(value: Optional[datetime.datetime]) -> Optional[str]:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_aware(value: datetime.datetime, tz: Optional[datetime.tzinfo] = None) -> datetime.datetime:
    """A naive server time made aware: in ``tz`` when given, else in the node's local zone.

    nginx and Apache write local time without a zone; this runs on the node, so the local zone is
    the one they used.
    """
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    if tz is not None:
        return value.replace(tzinfo=tz).astimezone(UTC)
    return value.astimezone().astimezone(UTC)


def normalize_since(since: Optional[datetime.datetime]) -> Optional[datetime.datetime]:
    """``since`` as aware UTC; a naive value is taken as UTC (as the rest of the collection does)."""
    if since is None:
        return None
    if since.tzinfo is None:
        return since.replace(tzinfo=UTC)
    return since.astimezone(UTC)


MONTHS = {
    name: index
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}

# RFC 3164 as written by rsyslog's traditional format, journalctl's default output and HAProxy's
# ``format rfc3164`` (with the ``<PRI>`` HAProxy adds on stdout): ``Nov 23 19:31:00 host tag[pid]: msg``.
_RFC3164_RE = re.compile(
    r"^(?:<\d{1,3}>)?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.\d+)? "
    r"(?:(?P<host>\S+) )?(?P<tag>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
# RFC 3339 stamps (rsyslog's default on Debian 12, RFC 5424 with its "1 " version field).
_RFC3339_RE = re.compile(
    r"^(?:<\d{1,3}>)?(?:1 )?(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) "
    r"(?P<msg>.*)$"
)


def parse_syslog(
    line: str, now: Optional[datetime.datetime] = None, tz: Optional[datetime.tzinfo] = None
) -> Optional[ParsedLine]:
    """A syslog line in RFC 3164 or RFC 3339/5424 form; the message keeps ``tag[pid]:`` out.

    RFC 3164 has no year: the year is the one that puts the line no later than a day after ``now``.
    """
    match = _RFC3164_RE.match(line)
    if match:
        month = MONTHS.get(match.group("mon").lower())
        if month is None:
            return None
        now = now or datetime.datetime.now(tz=UTC)
        year = now.astimezone(tz).year if tz else now.astimezone().year
        try:
            value = datetime.datetime(
                year,
                month,
                int(match.group("day")),
                int(match.group("h")),
                int(match.group("m")),
                int(match.group("s")),
            )
        except ValueError:
            return None
        aware = to_aware(value, tz)
        if aware > now + datetime.timedelta(days=1):
            try:
                aware = to_aware(value.replace(year=year - 1), tz)
            except ValueError:  # 29 February
                return None
        return ParsedLine(aware, None, match.group("msg"))
    match = _RFC3339_RE.match(line)
    if match:
        stamp = match.group("ts").replace(" ", "T")
        if stamp.endswith("Z"):
            stamp = stamp[:-1] + "+00:00"
        if re.search(r"[+-]\d{4}$", stamp):
            stamp = stamp[:-2] + ":" + stamp[-2:]
        if "." in stamp:  # Python 3.8's fromisoformat accepts 3 or 6 fraction digits only
            head, _sep, tail = stamp.partition(".")
            digits = re.match(r"\d+", tail).group(0)  # type: ignore[union-attr]
            stamp = head + "." + (digits + "000000")[:6] + tail[len(digits) :]
        try:
            value = datetime.datetime.fromisoformat(stamp)
        except ValueError:
            return None
        message = match.group("msg")
        tagged = re.match(r"^\S+ [^\s\[\]:]+(?:\[\d+\])?: (.*)$", message)
        if tagged:
            message = tagged.group(1)
        return ParsedLine(to_aware(value, tz), None, message)
    return None


# ---------------------------------------------------------------------------------------------
# reading backwards


#: ``reverse_lines`` line states: whole, cut at the start by the byte budget, or longer than kept.
LINE_OK, LINE_CUT, LINE_OVERLONG = "ok", "cut", "overlong"


def reverse_lines(handle, size: int, max_bytes: int) -> Iterator[Tuple[int, bytes, str]]:
    """Yield ``(offset, line, state)`` from the last line to the first within ``max_bytes``.

    ``state`` is ``LINE_CUT`` for the oldest line when the byte budget cut it, and
    ``LINE_OVERLONG`` for a line longer than the reader keeps (only its end is yielded).
    """
    stop = max(0, size - max_bytes)
    pos = size
    pending = b""
    overlong = False
    while pos > stop:
        length = min(_CHUNK, pos - stop)
        pos -= length
        handle.seek(pos)
        data = handle.read(length) + pending
        end = len(data)
        while True:
            newline = data.rfind(b"\n", 0, end)
            if newline == -1:
                pending = data[:end]
                break
            state = LINE_OVERLONG if overlong and end == len(data) else LINE_OK
            yield pos + newline + 1, data[newline + 1 : end], state
            overlong = overlong and end != len(data)
            end = newline
        if len(pending) > MAX_LINE_BYTES * 4 and pos > stop:
            # A line longer than we will ever classify: keep its end only, so memory stays bounded.
            pending = pending[-MAX_LINE_BYTES * 4 :]
            overlong = True
    if pending or pos == 0:
        if pos != 0:
            state = LINE_CUT
        else:
            state = LINE_OVERLONG if overlong else LINE_OK
        yield pos, pending, state


def _assign_line_numbers(path: str, events: List[LogEvent]) -> None:
    offsets = sorted({event.offset for event in events if event.offset is not None})
    if not offsets:
        return
    numbers: Dict[int, int] = {}
    index = 0
    line = 1
    position = 0
    try:
        with files.open_regular(path) as handle:
            while index < len(offsets):
                data = handle.read(_CHUNK)
                if not data:
                    break
                while index < len(offsets) and offsets[index] < position + len(data):
                    line_at = line + data.count(b"\n", 0, offsets[index] - position)
                    numbers[offsets[index]] = line_at
                    index += 1
                line += data.count(b"\n")
                position += len(data)
    except (OSError, InputError):
        return
    for event in events:
        if event.offset in numbers:
            event.line_no = numbers[event.offset]


LineParser = Callable[[str], Optional[ParsedLine]]
Classifier = Callable[[ParsedLine], Optional[LogEvent]]


def scan_file(
    path: str,
    since: Optional[datetime.datetime],
    parse_line: LineParser,
    classify: Classifier,
    max_bytes: int,
    max_lines: int,
) -> Tuple[List[LogEvent], LogFileScan]:
    """Events in one file newer than ``since``, read from the end, oldest first.

    Reading stops at the first line older than ``since`` (logs are appended in time order; a line a
    few seconds out of order at the boundary is the accepted cost of not reading everything).
    Lines without a recognisable time are judged by the timed lines around them.
    """
    since = normalize_since(since)
    scan = LogFileScan(path=path)
    events: List[LogEvent] = []
    try:
        # Closed in the finally below, across the generator. Only a regular file: a FIFO never blocks the audit.
        handle = files.open_regular(path, "log file")
    except InputError as exc:
        scan.error = str(exc)
        return events, scan
    except FileNotFoundError:
        scan.error = f"log file {path} does not exist."
        return events, scan
    except PermissionError:
        scan.error = f"log file {path} cannot be read: permission denied."
        return events, scan
    except OSError as exc:
        scan.error = f"log file {path} cannot be read: {exc.strerror or exc}."
        return events, scan
    try:
        size = os.fstat(handle.fileno()).st_size
        if size <= max_bytes:
            scan.reached_start = True
        for offset, raw, state in reverse_lines(handle, size, max_bytes):
            if state == LINE_CUT:
                break
            if not raw.strip() or state == LINE_OVERLONG:
                continue
            if scan.lines_read >= max_lines:
                scan.truncated = True
                scan.reached_start = False
                break
            scan.lines_read += 1
            text = raw[:MAX_LINE_BYTES].decode("utf-8", "replace").rstrip("\r")
            parsed = parse_line(text)
            if parsed is None:
                parsed = ParsedLine(None, None, text)
            if parsed.time is not None:
                stamp = format_time(parsed.time)
                if scan.newest_time is None:
                    scan.newest_time = stamp
                if since is not None and parsed.time < since:
                    scan.reached_since = True
                    scan.reached_start = False
                    break
                scan.oldest_time = stamp
            event = classify(parsed)
            if event is not None:
                event.file = path
                event.offset = offset
                events.append(event)
        scan.bytes_read = min(size, max_bytes)
        if not scan.reached_since and not scan.reached_start and size > max_bytes:
            scan.truncated = True
    except OSError as exc:
        scan.error = f"log file {path} could not be read to the end: {exc.strerror or exc}."
    finally:
        handle.close()
    events.reverse()
    if events and os.path.getsize(path) <= LINE_NUMBER_LIMIT:
        _assign_line_numbers(path, events)
    scan.events = len(events)
    return events, scan


def rotated_name(path: str) -> Optional[str]:
    """``error.log.1`` when logrotate left an uncompressed previous file; compressed ones are skipped."""
    candidate = path + ".1"
    return candidate if os.path.isfile(candidate) else None


def scan_logs(
    paths: List[str],
    since: Optional[datetime.datetime],
    parse_line: LineParser,
    classify: Classifier,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_lines: int = DEFAULT_MAX_LINES,
    max_events: int = DEFAULT_MAX_EVENTS,
    include_rotated: bool = True,
) -> LogScan:
    """Scan several logs with one shared budget; continue into ``<log>.1`` when the window goes further back.

    The budget is shared so that a node with many vhost logs costs the same as one with a single
    log. Events come back oldest first; lines without their own time sort with the line before them.
    """
    result = LogScan()
    bytes_left = max_bytes
    lines_left = max_lines
    keyed: List[Tuple[str, int, LogEvent]] = []
    order = 0
    for path in dict.fromkeys(paths):
        if bytes_left <= 0 or lines_left <= 0:
            result.errors.append(f"log file {path} was not read: the byte or line budget was used up.")
            continue
        events, scan = scan_file(path, since, parse_line, classify, bytes_left, lines_left)
        result.files.append(scan)
        if scan.error:
            result.errors.append(scan.error)
        bytes_left -= scan.bytes_read
        lines_left -= scan.lines_read
        group = events
        older = rotated_name(path) if include_rotated else None
        if older and scan.reached_start and not scan.reached_since and bytes_left > 0 and lines_left > 0:
            older_events, older_scan = scan_file(older, since, parse_line, classify, bytes_left, lines_left)
            result.files.append(older_scan)
            if older_scan.error:
                result.errors.append(older_scan.error)
            bytes_left -= older_scan.bytes_read
            lines_left -= older_scan.lines_read
            group = older_events + events
        last = ""
        for event in group:
            last = event.time or last
            keyed.append((last, order, event))
            order += 1
    keyed.sort(key=lambda item: (item[0], item[1]))
    result.events = [item[2] for item in keyed]
    for event in result.events:
        result.counts[event.code] = result.counts.get(event.code, 0) + 1
    if len(result.events) > max_events:
        result.events = result.events[-max_events:]
    return result


def classify_text(
    text: str, source: str, parse_line: LineParser, classify: Classifier, max_lines: int = 10000
) -> List[LogEvent]:
    """Events in a command's output (``nginx -T``/``haproxy -c`` print config-time warnings there)."""
    events = []
    for number, raw in enumerate(text.splitlines()[:max_lines], start=1):
        line = raw.strip()
        if not line:
            continue
        parsed = parse_line(line[:MAX_LINE_BYTES]) or ParsedLine(None, None, line)
        event = classify(parsed)
        if event is not None:
            event.file = source
            event.line_no = number
            events.append(event)
    return events


def trim_message(message: str) -> str:
    message = message.strip()
    if len(message) <= MESSAGE_TRIM:
        return message
    return message[: MESSAGE_TRIM - 3] + "..."
