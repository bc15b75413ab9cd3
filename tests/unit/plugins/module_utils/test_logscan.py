# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import datetime
import gzip
import io
import re

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import logscan
from ansible_collections.tlsfleet.stapling.plugins.module_utils.logscan import LogEvent, ParsedLine

UTC = datetime.timezone.utc


def _line_parser(line):
    """``<epoch seconds> <message>``: a format that keeps the reader tests independent of servers."""
    head, _sep, rest = line.partition(" ")
    if not head.isdigit():
        return None
    return ParsedLine(datetime.datetime.fromtimestamp(int(head), tz=UTC), "error", rest)


def _classify(parsed):
    if "OCSP" not in parsed.message:
        return None
    return LogEvent(
        time=logscan.format_time(parsed.time),
        file="",
        line_no=None,
        server="test",
        code="responder_error",
        level=parsed.level,
        message=parsed.message,
    )


def _write_log(path, entries):
    path.write_text("".join(f"{stamp} {message}\n" for stamp, message in entries))


def test_reverse_lines_across_chunks(monkeypatch):
    monkeypatch.setattr(logscan, "_CHUNK", 7)
    data = b"first line\nsecond\n\nthird is longer than a chunk\nlast-no-newline"
    handle = io.BytesIO(data)
    lines = list(logscan.reverse_lines(handle, len(data), len(data)))
    assert [line for _offset, line, _state in lines if line] == [
        b"last-no-newline",
        b"third is longer than a chunk",
        b"second",
        b"first line",
    ]
    for offset, line, state in lines:
        assert data[offset : offset + len(line)] == line
        assert state == logscan.LINE_OK


def test_reverse_lines_marks_the_cut_line():
    data = b"aaaa\nbbbb\ncccc\n"
    lines = list(logscan.reverse_lines(io.BytesIO(data), len(data), 7))
    assert lines[-1][2] == logscan.LINE_CUT  # "bb" of "bbbb" was cut by the byte budget
    assert [line for _o, line, state in lines if state == logscan.LINE_OK and line] == [b"cccc"]


def test_scan_stops_at_since_and_numbers_lines(tmp_path):
    log = tmp_path / "error.log"
    _write_log(log, [(1000, "OCSP old"), (2000, "noise"), (3000, "OCSP new"), (4000, "OCSP newest")])
    since = datetime.datetime.fromtimestamp(2500, tz=UTC)
    events, scan = logscan.scan_file(str(log), since, _line_parser, _classify, 10_000, 10_000)
    assert [event.message for event in events] == ["OCSP new", "OCSP newest"]
    assert [event.line_no for event in events] == [3, 4]
    assert scan.reached_since and not scan.truncated
    assert scan.lines_read == 3  # the two new lines and the one that ended the window
    assert scan.newest_time == "1970-01-01T01:06:40Z"
    assert all(event.file == str(log) for event in events)


def test_naive_since_means_utc(tmp_path):
    log = tmp_path / "error.log"
    _write_log(log, [(1000, "OCSP a"), (3000, "OCSP b")])
    events, _scan = logscan.scan_file(
        str(log), datetime.datetime(1970, 1, 1, 0, 30), _line_parser, _classify, 10_000, 10_000
    )
    assert [event.message for event in events] == ["OCSP b"]


def test_byte_budget_bounds_the_read(tmp_path):
    log = tmp_path / "error.log"
    _write_log(log, [(1000 + index, f"OCSP {index:05d}") for index in range(2000)])
    events, scan = logscan.scan_file(str(log), None, _line_parser, _classify, 200, 10_000)
    assert scan.bytes_read == 200
    assert scan.truncated and not scan.reached_start
    assert 0 < len(events) <= 200 // 15
    assert events[-1].message == "OCSP 01999"


def test_line_budget_bounds_the_read(tmp_path):
    log = tmp_path / "error.log"
    _write_log(log, [(1000 + index, f"OCSP {index}") for index in range(100)])
    events, scan = logscan.scan_file(str(log), None, _line_parser, _classify, 1_000_000, 10)
    assert len(events) == 10
    assert scan.truncated


def test_missing_and_unreadable_logs_are_errors(tmp_path):
    events, scan = logscan.scan_file(str(tmp_path / "nope.log"), None, _line_parser, _classify, 100, 100)
    assert events == []
    assert scan.error == f"log file {tmp_path / 'nope.log'} does not exist."
    result = logscan.scan_logs([str(tmp_path)], None, _line_parser, _classify)
    assert result.events == []
    assert len(result.errors) == 1
    assert result.errors[0] == f"log file {tmp_path} is a directory, not a file."


def test_rotated_file_extends_the_window(tmp_path):
    log = tmp_path / "error.log"
    _write_log(tmp_path / "error.log.1", [(1000, "OCSP too old"), (2000, "OCSP in rotated")])
    _write_log(log, [(3000, "OCSP in current")])
    (tmp_path / "error.log.2.gz").write_bytes(gzip.compress(b"5 OCSP never read\n"))
    since = datetime.datetime.fromtimestamp(1500, tz=UTC)
    result = logscan.scan_logs([str(log)], since, _line_parser, _classify)
    assert [event.message for event in result.events] == ["OCSP in rotated", "OCSP in current"]
    assert [scan.path for scan in result.files] == [str(log), str(log) + ".1"]
    assert result.files[1].reached_since
    assert result.counts == {"responder_error": 2}
    without = logscan.scan_logs([str(log)], since, _line_parser, _classify, include_rotated=False)
    assert [event.message for event in without.events] == ["OCSP in current"]


def test_shared_budget_and_event_cap(tmp_path):
    first = tmp_path / "a.log"
    second = tmp_path / "b.log"
    _write_log(first, [(1000 + index, f"OCSP a{index}") for index in range(50)])
    _write_log(second, [(1025 + index, f"OCSP b{index}") for index in range(50)])
    result = logscan.scan_logs([str(first), str(second)], None, _line_parser, _classify, max_events=20)
    assert len(result.events) == 20
    assert result.counts == {"responder_error": 100}
    times = [event.time for event in result.events]
    assert times == sorted(times)
    starved = logscan.scan_logs([str(first), str(second)], None, _line_parser, _classify, max_lines=50)
    assert any("budget was used up" in error for error in starved.errors)


def test_very_long_line_is_skipped_with_bounded_memory(tmp_path):
    log = tmp_path / "error.log"
    log.write_bytes(b"500 OCSP first\n1000 OCSP " + b"x" * 3_000_000 + b"\n2000 OCSP short\n")
    events, scan = logscan.scan_file(str(log), None, _line_parser, _classify, 10_000_000, 100)
    assert [event.message for event in events] == ["OCSP first", "OCSP short"]
    assert scan.reached_start
    with log.open("rb") as handle:
        states = [state for _o, _l, state in logscan.reverse_lines(handle, log.stat().st_size, 10_000_000)]
    assert states == [logscan.LINE_OK, logscan.LINE_OK, logscan.LINE_OVERLONG, logscan.LINE_OK]


@pytest.mark.parametrize(
    ("line", "iso", "message"),
    [
        ("Nov 23 19:31:00 web1 haproxy[123]: hello", "2026-11-23T19:31:00Z", "hello"),
        ("<134>Nov  3 01:02:03 haproxy[9]: x y", "2026-11-03T01:02:03Z", "x y"),
        ("2026-11-23T19:31:00.123456+01:00 web1 haproxy[1]: msg", "2026-11-23T18:31:00Z", "msg"),
        ("2026-11-23T19:31:00.1Z web1 nginx: m", "2026-11-23T19:31:00Z", "m"),
        ("<134>1 2026-11-23T19:31:00Z web1 haproxy 12 - - five", "2026-11-23T19:31:00Z", "web1 haproxy 12 - - five"),
    ],
)
def test_parse_syslog(line, iso, message):
    now = datetime.datetime(2026, 11, 24, tzinfo=UTC)
    parsed = logscan.parse_syslog(line, now=now, tz=UTC)
    assert logscan.format_time(parsed.time) == iso
    assert parsed.message == message


def test_syslog_without_year_goes_back_at_new_year():
    now = datetime.datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    parsed = logscan.parse_syslog("Dec 31 23:59:00 h haproxy[1]: x", now=now, tz=UTC)
    assert logscan.format_time(parsed.time) == "2026-12-31T23:59:00Z"


def test_parse_syslog_rejects_other_text():
    assert logscan.parse_syslog("2026/11/23 19:31:00 [error] 1#1: x") is None
    assert logscan.parse_syslog("Foo 23 19:31:00 h t: x") is None


def test_classify_text_numbers_command_output():
    events = logscan.classify_text("noise\n\n1000 OCSP here\n", "cmd -T", _line_parser, _classify)
    assert [(event.file, event.line_no, event.message) for event in events] == [("cmd -T", 3, "OCSP here")]


def test_trim_message():
    assert logscan.trim_message("  short ") == "short"
    assert len(logscan.trim_message("x" * 1000)) == logscan.MESSAGE_TRIM


def test_log_rules_compile_on_first_use_and_match_as_compiled():
    rule = logscan.pattern("t1", r"OCSP response: (?P<hint>\S+) is (?P<state>good|revoked)", "responder_error")
    assert rule.regex._compiled is None  # nothing compiled at import time
    expected = re.compile(rule.regex.pattern, re.IGNORECASE)
    for line in ("ocsp RESPONSE: www.example.test is Good", "no match here"):
        got, want = rule.regex.search(line), expected.search(line)
        assert (got and got.groupdict()) == (want and want.groupdict())
    assert rule.regex._compiled is not None
    assert rule.regex.groupindex == expected.groupindex and rule.regex.flags & re.IGNORECASE


def test_lazy_regex_survives_copy():
    lazy = logscan.LazyRegex(r"stapl(ing|e)", re.IGNORECASE)
    for clone in (copy.copy(lazy), copy.deepcopy(lazy)):
        assert clone.search("SSL_STAPLING").group(1) == "ING"


def test_server_types_load_control_and_editor_on_first_use():
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers

    for name, package in servers.REGISTRY.items():
        assert package.CONTROL.LABEL == package.FACTS.LABEL
        assert (package.EDITOR is not None) == (name in servers.EDITABLE_TYPES)
    with pytest.raises(AttributeError):
        servers.REGISTRY["nginx"].NO_SUCH_PART  # noqa: B018


def test_lazy_regex_and_log_patterns_compare_by_value():
    """Two rules written alike are equal, as they were with compiled patterns (re.Pattern compares pattern and
    flags); comparing or hashing compiles nothing."""
    one, two = logscan.LazyRegex(r"stapl(ing|e)", re.IGNORECASE), logscan.LazyRegex(r"stapl(ing|e)", re.IGNORECASE)
    assert one == two and hash(one) == hash(two) and len({one, two}) == 1
    assert one != logscan.LazyRegex(r"stapl(ing|e)") and one != logscan.LazyRegex(r"staple", re.IGNORECASE)
    assert one != r"stapl(ing|e)"
    assert one._compiled is None and two._compiled is None
    rule = logscan.pattern("x.id", r"no OCSP (?P<hint>\S+)", "no_ocsp_url", stage="config")
    assert rule == logscan.pattern("x.id", r"no OCSP (?P<hint>\S+)", "no_ocsp_url", stage="config")
    assert rule != logscan.pattern("x.id", r"no OCSP (?P<hint>\S*)", "no_ocsp_url", stage="config")
    assert copy.deepcopy(one) == one
