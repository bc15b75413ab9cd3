# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based fuzzing of the parsers: arbitrary bytes/text either parse or raise the library's own errors.

Bounded for ``make test`` (TLSFLEET_FUZZ_EXAMPLES examples per target, default 600, whole file well under 60 s);
raise it for a longer run: ``TLSFLEET_FUZZ_EXAMPLES=5000 pytest tests/unit/fuzz``. Crashes found here become
rows of the bad-input corpus (tests/unit/corpus/cases.py).
"""

from __future__ import annotations

import os
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ansible_collections.tlsfleet.stapling.plugins.module_utils import logscan, ocsp, x509  # noqa: E402
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import TlsfleetError  # noqa: E402
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import edit as edit_apache  # noqa: E402
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import reader as apache  # noqa: E402
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.haproxy import reader as haproxy  # noqa: E402
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import edit as edit_nginx  # noqa: E402
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import reader as nginx  # noqa: E402

EXAMPLES = int(os.environ.get("TLSFLEET_FUZZ_EXAMPLES", "600"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms per example: a parser that needs longer on a few KB of input is a bug
    derandomize=not os.environ.get("TLSFLEET_FUZZ_EXAMPLES"),  # reproducible in CI, exploring on demand
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text that looks like the formats: their keywords and punctuation mixed with anything.
CONFIG_WORDS = [
    "server",
    "listen",
    "443",
    "ssl",
    "ssl_certificate",
    "ssl_stapling",
    "on",
    "include",
    "http",
    "stream",
    "events",
    "resolver",
    "{",
    "}",
    ";",
    "#",
    '"',
    "'",
    "\\",
    "$var",
    "${X}",
    "\n",
    " ",
    "\t",
    "<VirtualHost *:443>",
    "</VirtualHost>",
    "<IfModule mod_ssl.c>",
    "</IfModule>",
    "<IfDefine X>",
    "</IfDefine>",
    "SSLEngine",
    "SSLUseStapling",
    "SSLStaplingCache",
    "Include",
    "IncludeOptional",
    "Define",
    "Use",
    "<Macro m>",
    "global",
    "frontend",
    "bind",
    ":443",
    "crt",
    "crt-list",
    ".if",
    ".elif",
    ".else",
    ".endif",
    "defined(X)",
    "-----BEGIN CERTIFICATE-----",
    "-----END CERTIFICATE-----",
    "MIIB",
    "\r\n",
    "\x00",
    "\udcff",
    "ü",
]
config_text = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(CONFIG_WORDS) | st.text(max_size=8), max_size=80).map("".join),
)
LOG_PREFIXES = [
    "2026/11/23 19:31:00 [error] 123#123: *45 ",
    "2026/11/23 19:31:00 [warn] 1#1: ",
    "nginx: [warn] ",
    "[Mon Nov 23 19:31:00.123456 2026] [ssl:error] [pid 1:tid 2] AH01941: ",
    "Nov 23 19:31:00 host haproxy[1]: ",
    "<134>Nov 23 19:31:00 haproxy[1]: ",
    "",
]
log_lines = st.tuples(st.sampled_from(LOG_PREFIXES), st.text(max_size=200)).map("".join)
blob = st.one_of(
    st.binary(max_size=2048),
    st.tuples(
        st.sampled_from([b"\x30\x82", b"\x30\x80", b"-----BEGIN CERTIFICATE-----\n", b"MII", b"<html>"]),
        st.binary(max_size=1024),
    ).map(b"".join),
)

RAN = {}


def _count(name):
    RAN[name] = RAN.get(name, 0) + 1


def _library_errors_only(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except TlsfleetError as exc:
        assert str(exc), "empty error message"
        assert "Traceback" not in str(exc)


@FUZZ
@given(blob)
def test_fuzz_load_certificates(data):
    _count("x509.load_certificates")
    _library_errors_only(x509.load_certificates, data, "fuzz input")


@FUZZ
@given(st.one_of(blob, st.text(max_size=600)))
def test_fuzz_load_response(data):
    _count("ocsp.load_response")
    _library_errors_only(ocsp.load_response, data, "fuzz input")


@FUZZ
@given(config_text)
def test_fuzz_nginx_config_reader(text):
    _count("servers.nginx (parse, split_dump, parse_build, parse_listen)")
    errors = []
    tree = nginx.parse(text, "/fuzz/nginx.conf", errors)
    assert all(isinstance(error, str) and error for error in errors)
    nginx.extract(tree, "/fuzz")
    nginx.split_dump(text)
    nginx.parse_build(text)
    nginx.parse_listen(text.split())


@FUZZ
@given(config_text)
def test_fuzz_apache_config_reader(text):
    _count("servers.apache (walker, parse_includes, parse_run_config, split_args)")
    apache.parse_includes(text)
    apache.parse_run_config(text)
    apache.parse_modules(text)
    apache.split_args(text)
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "apache2.conf")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        errors = []
        walker = apache._Walker(root, None, {}, {}, None, (2, 4, 57), errors)  # pylint: disable=protected-access
        walker.walk(path)
        apache.build_sites(walker, set(walker.modules), os.path.join(root, "md"))
    assert all(isinstance(error, str) and error for error in errors)


@FUZZ
@given(config_text)
def test_fuzz_haproxy_config_reader(text):
    _count("servers.haproxy (parse_config, global_settings, parse_crt_list, parse_build)")
    errors, notes = [], []
    sections = haproxy.parse_config(text, "/fuzz/haproxy.cfg", {"X": "1"}, (2, 6), errors, notes)
    haproxy.global_settings(sections)
    haproxy.parse_crt_list(text, "/fuzz/list", errors)
    haproxy.parse_build(text)
    assert all(isinstance(error, str) and error for error in errors)


@FUZZ
@given(st.lists(log_lines, max_size=20))
def test_fuzz_log_classifier(lines):
    _count("logscan (parse_line + classifier of each server, classify_text)")
    text = "\n".join(lines)
    for module in (nginx, apache, haproxy):
        classify = module.make_classifier(None)
        for line in lines:
            parsed = module.parse_line(line)
            if parsed is not None:
                classify(parsed)
        for event in logscan.classify_text(text, "fuzz", module.parse_line, classify):
            event.to_dict()


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_log_file_scan(data):
    _count("logscan.scan_file (bytes read backwards)")
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "error.log")
        with open(path, "wb") as handle:
            handle.write(data)
        _events, scan = logscan.scan_file(path, None, nginx.parse_line, nginx.make_classifier(None), 1 << 16, 1000)
        scan.to_dict()


@FUZZ
@given(config_text, st.integers(min_value=-2, max_value=40))
def test_fuzz_nginx_editor(text, line):
    _count("servers.nginx.edit (tokenize, edit_server, directives_in)")
    _library_errors_only(edit_nginx.tokenize, text, "fuzz.conf")
    _library_errors_only(
        edit_nginx.edit_server, text, line, [("ssl_stapling", ["on"]), ("resolver", ["::1"])], "fuzz.conf"
    )
    _library_errors_only(edit_nginx.directives_in, text, ["ssl_stapling"], "fuzz.conf")


@FUZZ
@given(config_text, st.integers(min_value=-2, max_value=40))
def test_fuzz_apache_editor(text, line):
    _count("servers.apache.edit (find_vhost, edit_vhost, directives_in)")
    _library_errors_only(edit_apache.edit_vhost, text, line, [("SSLUseStapling", "on")], "fuzz.conf")
    _library_errors_only(edit_apache.directives_in, text, ["SSLUseStapling"], "fuzz.conf")
    _library_errors_only(edit_apache.cache_value, text)


def test_fuzz_summary():
    """Runs last in this file: prints what ran (pytest -s)."""
    for name, count in sorted(RAN.items()):
        print(f"fuzz: {name}: {count} examples")
    print(f"fuzz: {len(RAN)} targets, {EXAMPLES} examples per target requested, {sum(RAN.values())} run")
