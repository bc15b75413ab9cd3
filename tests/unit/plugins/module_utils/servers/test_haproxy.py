# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.haproxy import reader as haproxy
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import (
    FakeProc,
    FakeRunner,
    which_from,
)

UTC = datetime.timezone.utc

# First lines of `haproxy -vv` of Debian 12's 2.6 (as printed here) and of a 3.0 build.
VV_26 = """HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/
Status: long-term supported branch - will stop receiving fixes around Q2 2027.
Build options :
  OPTIONS = USE_PCRE2=1 USE_PCRE2_JIT=1 USE_OPENSSL=1 USE_LUA=1 USE_SLZ=1 USE_SYSTEMD=1 USE_OT=1 USE_PROMEX=1
Built with OpenSSL version : OpenSSL 3.0.22 25 Aug 2026
Running on OpenSSL version : OpenSSL 3.0.19 27 Jan 2026
"""
VV_30 = VV_26.replace("HAProxy version 2.6.12-1+deb12u4 2026/10/17", "HAProxy version 3.0.11-1 2026/06/01")
CHECK_OK = "Configuration file is valid\n"

CONFIG = """\
# HAProxy configuration (Debian layout with a crt-list and a certificate directory)
global
    log /dev/log local0
    log /dev/log local1 notice
    chroot /var/lib/haproxy
    stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners
    stats socket ipv4@127.0.0.1:9999 level operator
    stats timeout 30s
    crt-base {certs}
    ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
.if defined(HAPROXY_PREFER_V4)
    httpclient.resolvers.prefer ipv4
.else
    httpclient.resolvers.prefer ipv6
.endif

defaults
    log global
    mode http
    timeout connect 5s

frontend fe_https
    bind :443,:::8443 v4v6 ssl crt shop.pem crt-list {certs}/list.txt alpn h2,http/1.1
    bind :80
    http-request redirect scheme https unless {{ ssl_fc }}
    acl is_shop ssl_fc_sni -i shop.example.com  # a comment with "quotes"
    default_backend be_app

listen stats_tls
    bind 127.0.0.1:9443 ssl crt "{certs}/dir"
    stats enable

frontend fe_plain
    bind :8080

backend be_app
    server app1 127.0.0.1:8000 check
"""
CRT_LIST = """\
# crt-list: <crt> [<sslbindconf>] [<snifilter>...]
api.pem [alpn h2 ocsp-update on] api.example.com !old.api.example.com
{certs}/wild.pem *.example.com

"""


@pytest.fixture
def layout(tmp_path):
    certs = tmp_path / "certs"
    (certs / "dir").mkdir(parents=True)
    for name in ("shop.pem", "api.pem", "wild.pem", "dir/a.pem", "dir/b.pem"):
        (certs / name).write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    (certs / "shop.pem.ocsp").write_bytes(b"\x30\x03\x0a\x01\x00")
    os.utime(certs / "shop.pem.ocsp", (1_795_000_000, 1_795_000_000))
    (certs / "shop.pem.issuer").write_text("issuer")
    (certs / "dir" / "a.pem.ocsp").write_bytes(b"")
    (certs / "dir" / "a.key").write_text("not a real key")
    (certs / "dir" / ".hidden").write_text("")
    (certs / "list.txt").write_text(CRT_LIST.format(certs=certs))
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG.format(certs=certs))
    return tmp_path


def _runner(config, version=VV_26, check=(0, CHECK_OK, "")):
    return FakeRunner({("-vv",): (0, version, ""), ("-c", "-f", str(config)): check})


def _inspect(layout, version=VV_26, env=None):
    config = layout / "haproxy.cfg"
    return haproxy.inspect(_runner(config, version), "/usr/sbin/haproxy", [str(config)], env=env or {})


def test_frontends_with_ssl_binds_are_sites(layout):
    info = _inspect(layout)
    assert info.errors == []
    assert (info.version, info.version_tuple) == ("2.6.12", (2, 6, 12))
    assert info.details["version_full"] == "2.6.12-1+deb12u4"
    assert info.config_test_ok is True
    assert info.config_test_output == "Configuration file is valid"
    assert [site.context for site in info.sites] == ["frontend fe_https", "listen stats_tls"]
    site = info.sites[0]
    config = str(layout / "haproxy.cfg")
    assert site.site_id == f"haproxy:{config}:23"
    assert site.listen == [
        {"address": ":443", "ssl": True, "bind": f"{config}:24"},
        {"address": ":::8443", "ssl": True, "bind": f"{config}:24"},
        {"address": ":80", "ssl": False, "bind": f"{config}:25"},
    ]
    certs = layout / "certs"
    assert site.certificate_files == [str(certs / "shop.pem"), str(certs / "api.pem"), str(certs / "wild.pem")]
    assert site.server_names == ["api.example.com", "*.example.com"]


def test_per_certificate_stapling_records(layout):
    site = _inspect(layout).sites[0]
    certs = layout / "certs"
    shop, api, wild = site.stapling["certificates"]
    assert shop["ocsp_file"] == str(certs / "shop.pem.ocsp")
    assert shop["ocsp_exists"] is True
    assert shop["ocsp_size"] == 5
    assert shop["ocsp_mtime"] == "2026-11-18T11:06:40Z"
    assert shop["issuer_exists"] is True
    assert shop["ocsp_update"] == "off"
    assert shop["key_file"] == str(certs / "shop.pem")
    assert api["source"] == f"{certs}/list.txt:2"
    assert api["ocsp_update"] == "on"  # written in the crt-list; HAProxy 2.6 itself would reject it
    assert api["sni_filters"] == ["api.example.com", "!old.api.example.com"]
    assert api["ocsp_exists"] is False
    assert wild["source"] == f"{certs}/list.txt:3"
    stapling = site.stapling
    assert stapling["runtime_api"][0]["address"] == "/run/haproxy/admin.sock"
    assert stapling["runtime_api_admin"] is True
    assert stapling["ocsp_update_supported"] is False
    assert stapling["httpclient_resolvers_prefer"] == "ipv6"
    assert stapling["global_log_configured"] is True
    assert stapling["ssl_default_bind"]["ssl-default-bind-options"] == "ssl-min-ver TLSv1.2 no-tls-tickets"
    assert site.files[str(certs / "shop.pem.ocsp")]["exists"] is True
    assert site.files[str(certs / "api.pem.ocsp")]["exists"] is False


def test_certificate_directory(layout):
    site = _inspect(layout).sites[1]
    certs = layout / "certs" / "dir"
    assert site.certificate_files == [str(certs / "a.pem"), str(certs / "b.pem")]
    first = site.stapling["certificates"][0]
    assert first["directory"] == str(certs)
    assert first["ocsp_exists"] is True
    assert first["ocsp_size"] == 0
    assert site.key_files == [str(certs / "a.pem"), str(certs / "b.pem")]


def test_conditional_blocks_and_environment(layout):
    info = _inspect(layout, env={"HAPROXY_PREFER_V4": "1"})
    assert info.sites[0].stapling["httpclient_resolvers_prefer"] == "ipv4"


def test_version_decides_self_fetching(layout):
    old = _inspect(layout)
    assert (old.stapling_capable, old.stapling_self_fetch) == (True, False)
    assert "cannot fetch OCSP responses itself (ocsp-update needs 2.8)" in old.stapling_capable_reason
    new = _inspect(layout, VV_30)
    assert (new.stapling_capable, new.stapling_self_fetch) == (True, True)
    assert "crt-store" in new.stapling_capable_reason
    assert new.sites[0].stapling["ocsp_update_supported"] is True


def test_crt_store_and_del_ext(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("site.crt", "site.key", "site.ocsp", "other.pem"):
        (certs / name).write_text("x")
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        "global\n    ssl-load-extra-del-ext\n    ocsp-update.mode on\n\n"
        f"crt-store web\n    crt-base {certs}\n    load crt other.pem alias other ocsp-update off\n\n"
        f"frontend fe\n    bind :443 ssl crt {certs}/site.crt crt @web/other\n"
    )
    info = haproxy.inspect(_runner(config, VV_30), "haproxy", [str(config)], env={})
    assert info.errors == []
    site_crt, other = info.sites[0].stapling["certificates"]
    assert site_crt["ocsp_file"] == str(certs / "site.ocsp")
    assert site_crt["ocsp_exists"] is True
    assert site_crt["key_file"] == str(certs / "site.key")
    assert site_crt["ocsp_update"] == "on"  # global ocsp-update.mode
    assert site_crt["ocsp_update_explicit"] is False
    assert other["crt"] == str(certs / "other.pem")
    assert other["ocsp_update"] == "off"
    assert other["source"] == f"{config}:7"


def test_broken_configuration(tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        'stray keyword\nglobal\n    log "/dev/log local0\nfrontend fe\n'
        "    bind :443 ssl crt-list /nonexistent/list.txt\n.if defined(X)\n"
    )
    alert = (
        "[NOTICE]   (18474) : haproxy version is 2.6.12-1+deb12u4\n"
        "[NOTICE]   (18474) : path to executable is /usr/sbin/haproxy\n"
        f"[ALERT]    (18474) : config : parsing [{config}:1]: unknown keyword 'stray' out of section.\n"
    )
    info = haproxy.inspect(_runner(config, check=(1, "", alert)), "/usr/sbin/haproxy", [str(config)], env={})
    assert info.config_test_ok is False
    joined = "\n".join(info.errors)
    assert f"`/usr/sbin/haproxy -c -f {config}` failed with exit code 1: [ALERT]" in joined
    assert "unknown keyword 'stray'" in joined  # the NOTICE lines are skipped for the summary
    assert f"{config}:1: 'stray' outside any section." in joined
    assert f"{config}:3: unterminated quote." in joined
    assert ".if block not closed" in joined
    assert "crt-list /nonexistent/list.txt does not exist." in joined
    assert [site.stapling["certificates"] for site in info.sites] == [[]]


def test_missing_config_file(tmp_path):
    runner = FakeRunner({("-vv",): (0, VV_26, "")})
    info = haproxy.inspect(runner, "/usr/sbin/haproxy", [str(tmp_path / "none.cfg")], env={})
    assert any("none.cfg does not exist" in error for error in info.errors)
    assert info.sites == []


@pytest.mark.parametrize(
    ("line", "env", "words"),
    [
        ('bind :443 ssl crt "/a b.pem"  # comment', {}, ["bind", ":443", "ssl", "crt", "/a b.pem"]),
        ("x 'single $HOME' \"double $HOME\" ${HOME}", {"HOME": "/h"}, ["x", "single $HOME", "double /h", "${HOME}"]),
        ('y a\\ b \\#notcomment "c\\"d"', {}, ["y", "a b", "#notcomment", 'c"d']),
        ('z ""', {}, ["z", ""]),
        ("   # only a comment", {}, []),
    ],
)
def test_split_line(line, env, words):
    assert haproxy.split_line(line, env) == (words, None)


def test_condition_evaluation():
    evaluate = haproxy._eval_condition  # pylint: disable=protected-access
    assert evaluate(["defined(A)"], {"A": ""}, None) is True
    assert evaluate(["!defined(A)"], {}, None) is True
    assert evaluate(["version_atleast(2.8)"], {}, (2, 6, 12)) is False
    assert evaluate(["version_before(2.8)", "&&", "1"], {}, (2, 6, 12)) is True
    assert evaluate(['streq("a","a")', "||", "0"], {}, None) is True
    assert evaluate(["feature(OPENSSL)"], {}, None) is None


def test_discover_master_worker(tmp_path, layout):
    proc = FakeProc(tmp_path / "proc")
    config = str(layout / "haproxy.cfg")
    log = tmp_path / "haproxy.log"
    log.write_text("")
    argv = [
        "/usr/sbin/haproxy",
        "-W",
        "-f",
        config,
        "-p",
        "/run/haproxy.pid",
        "-S",
        "/run/haproxy-master.sock,mode,600",
    ]
    proc.add(400, "haproxy", argv, stdout=str(log))
    proc.add(401, "haproxy", argv, ppid=400)
    runner = _runner(config)
    found = haproxy.discover(runner, which_from({"haproxy": "/usr/sbin/haproxy"}), proc_root=str(proc.root))
    assert len(found) == 1
    info = found[0]
    assert (info.running, info.master_pid) == (True, 400)
    assert info.sites[0].stapling["master_socket"] == "/run/haproxy-master.sock"
    assert str(log) in info.error_logs
    assert runner.argvs()[1] == ["/usr/sbin/haproxy", "-c", "-f", config]


def test_syslog_file_discovery(tmp_path):
    rsyslog = tmp_path / "rsyslog.d"
    rsyslog.mkdir()
    (rsyslog / "49-haproxy.conf").write_text(
        "# Create an additional socket in haproxy's chroot in order to allow logging via\n"
        "$AddUnixListenSocket /var/lib/haproxy/dev/log\n\n# Send HAProxy messages to a dedicated logfile\n"
        ':programname, startswith, "haproxy" {\n  /var/log/haproxy.log\n  stop\n}\n'
    )
    (rsyslog / "50-default.conf").write_text("*.* -/var/log/syslog\n")
    assert haproxy.syslog_files((str(rsyslog),)) == ["/var/log/haproxy.log"]


# ---------------------------------------------------------------------------------------------
# log lines (docs/servers.md, HAProxy; stderr lines as printed by haproxy -c 2.6 here)

LOG_CASES = [
    (
        "[WARNING]  (18616) : config : Loading: Unable to parse OCSP response. Content will be ignored.",
        "staple_invalid",
        None,
        "ocsp_file_not_der",
        None,
    ),
    (
        "[WARNING]  (1) : Loading: OCSP response status not successful. Content will be ignored.",
        "responder_error",
        None,
        "ocsp_file_not_successful",
        None,
    ),
    (
        "[WARNING]  (1) : Loading: Failed to get basic response from OCSP Response. Content will be ignored.",
        "staple_invalid",
        None,
        "malformed",
        None,
    ),
    (
        "[WARNING]  (1) : Loading: OCSP response ignored because contains multiple single responses (2). Content "
        "will be ignored.",
        "staple_invalid",
        None,
        "multiple_responses",
        None,
    ),
    (
        "[WARNING]  (1) : Loading: OCSP single response: certificate status is unknown. Content will be ignored.",
        "cert_status_unknown",
        None,
        None,
        None,
    ),
    (
        "[WARNING]  (1) : Loading: OCSP single response: missing nextupdate. Content will be ignored.",
        "staple_invalid",
        None,
        "missing_next_update",
        None,
    ),
    (
        "[WARNING]  (1) : Loading: OCSP single response: no longer valid. Must be valid during at least 300s. "
        "Content will be ignored.",
        "staple_expired",
        None,
        None,
        None,
    ),
    (
        "[WARNING]  (1) : Loading: OCSP single response: Certificate ID does not match certificate and issuer. "
        "Content will be ignored.",
        "staple_invalid",
        None,
        "certid_mismatch",
        None,
    ),
    (
        '[WARNING]  (1) : Loading: OCSP single response: Invalid "Next Update" time. Content will be ignored.',
        "staple_invalid",
        None,
        "next_update_invalid",
        None,
    ),
    (
        "[ALERT]    (18476) : config : parsing [haproxy.cfg:14] : 'bind 127.0.0.1:9443' in section 'frontend' :  "
        "'/tmp/h4/exp/site.pem.ocsp' is present and activates OCSP but it is impossible to compute the OCSP "
        "certificate ID (maybe the issuer could not be found)'.",
        "chain_incomplete",
        None,
        None,
        "/tmp/h4/exp/site.pem",
    ),
    (
        "[ALERT]    (1) : config : '/etc/haproxy/certs/le.pem' has an OCSP URI and OCSP auto-update is set to 'on' but "
        "an error occurred (maybe the issuer could not be found)'.",
        "stapling_without_ocsp",
        None,
        None,
        "/etc/haproxy/certs/le.pem",
    ),
    (
        "[ALERT]    (1) : config : '/etc/haproxy/certs/le.pem' has an OCSP auto-update set to 'on' but an error "
        "occurred (maybe the OCSP URI or the issuer could not be found)'.",
        "stapling_without_ocsp",
        None,
        None,
        "/etc/haproxy/certs/le.pem",
    ),
    (
        "[ALERT]    (1) : config : parsing [/etc/haproxy/haproxy.cfg:30] : Error opening OCSP response file "
        "/etc/haproxy/certs/a.pem.ocsp",
        "staple_invalid",
        None,
        "ocsp_file_unreadable",
        "/etc/haproxy/haproxy.cfg:30",
    ),
    (
        "[ALERT]    (1) : config : '/etc/haproxy/certs/a.pem.issuer' is not an issuer'.",
        "chain_incomplete",
        None,
        "issuer_file_wrong",
        "/etc/haproxy/certs/a.pem.issuer",
    ),
    (
        '<134>Nov 23 19:31:00 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/multi2024_v1_ecc.pem 2 "HTTP error" 0 0',
        "responder_unreachable",
        "http",
        "http_error",
        "/etc/haproxy/certs/multi2024_v1_ecc.pem",
    ),
    (
        'Nov 23 19:31:00 lb1 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/a.pem 3 "Missing \\"ocsp-response\\" '
        'header" 1 0',
        "responder_error",
        None,
        "content_type",
        "/etc/haproxy/certs/a.pem",
    ),
    (
        'Nov 23 19:31:00 lb1 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/a.pem 4 "OCSP response check failure '
        '(OCSP response not successful (6: unauthorized))" 1 0',
        "responder_error",
        None,
        "unauthorized",
        "/etc/haproxy/certs/a.pem",
    ),
    (
        'Nov 23 19:31:00 lb1 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/a.pem 4 "OCSP response check failure '
        '(check_ocsp_response needs a certificate validation chain or an issuer certificate)" 1 0',
        "chain_incomplete",
        None,
        "issuer_missing",
        "/etc/haproxy/certs/a.pem",
    ),
    (
        'Nov 23 19:31:00 lb1 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/a.pem 4 "OCSP response check failure" 1 4',
        "staple_invalid",
        None,
        "check_failure",
        "/etc/haproxy/certs/a.pem",
    ),
    (
        'Nov 23 19:31:00 lb1 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/www.example.com.pem 5 "Error during '
        'insertion" 0 0',
        "staple_invalid",
        None,
        "insertion_error",
        "/etc/haproxy/certs/www.example.com.pem",
    ),
    (
        'Nov 23 19:31:00 lb1 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/a.pem 5 "Error during insertion (OCSP '
        'single response: no longer valid.)" 2 0',
        "staple_expired",
        None,
        "no_longer_valid",
        "/etc/haproxy/certs/a.pem",
    ),
    (
        "Nov 23 19:31:00 lb1 haproxy[8]: -:- [06/Mar/2023:11:18:52.200] <OCSP-UPDATE> -/- 2/0/-1/-1/3009 503 217 - - "
        'SC-- 0/0/0/0/3 0/0 {2606:4700:4400::ac40:9517} "GET http://ocsp.sectigo.com/MFEwTzBN HTTP/1.1"',
        "responder_unreachable",
        "connect",
        "ipv6",
        None,
    ),
    (
        "Nov 23 19:31:00 lb1 haproxy[8]: -:- [06/Mar/2023:11:18:52.200] <OCSP-UPDATE> -/- 2/0/-1/-1/3009 504 217 - - "
        'sH-- 0/0/0/0/3 0/0 {192.0.2.9} "GET http://ocsp.example.net/MFEw HTTP/1.1"',
        "responder_unreachable",
        "timeout",
        None,
        None,
    ),
    (
        "Nov 23 19:31:00 lb1 haproxy[8]: Connect() failed for backend <OCSP-UPDATE>: no free ports.",
        "responder_unreachable",
        "connect",
        "ipv6",
        None,
    ),
]


@pytest.mark.parametrize(("line", "code", "stage", "detail", "hint"), LOG_CASES)
def test_classifier(line, code, stage, detail, hint):
    now = datetime.datetime(2026, 11, 24, tzinfo=UTC)
    parsed = haproxy.parse_line(line, tz=UTC, now=now) or haproxy.logscan.ParsedLine(None, None, line)
    event = haproxy.make_classifier()(parsed)
    assert event is not None, line
    assert (event.code, event.stage, event.detail, event.site_hint) == (code, stage, detail, hint)


def test_every_pattern_is_exercised():
    classify = haproxy.make_classifier()
    used = set()
    for case in LOG_CASES:
        parsed = haproxy.parse_line(case[0], tz=UTC) or haproxy.logscan.ParsedLine(None, None, case[0])
        used.add(classify(parsed).pattern)
    assert used == {rule.id for rule in haproxy.PATTERNS}


@pytest.mark.parametrize(
    "line",
    [
        'Nov 23 19:31:00 lb1 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/certs/a.pem 1 "Update successful" 0 1',
        "Nov 23 19:31:00 lb1 haproxy[8]: -:- [06/Mar/2023:11:18:52.200] <OCSP-UPDATE> -/- 2/0/0/0/10 200 1500 - - "
        '---- 0/0/0/0/0 0/0 {192.0.2.9} "GET http://ocsp.example.net/MFEw HTTP/1.1"',
        "[NOTICE]   (18474) : haproxy version is 2.6.12-1+deb12u4",
        "Nov 23 19:31:00 lb1 haproxy[8]: 198.51.100.7:5000 [23/Nov/2026:19:31:00.100] fe_https~ be_app/app1 0/0/1/2/3 "
        '200 100 - - ---- 1/1/0/0/0 0/0 "GET /ocsp-status HTTP/1.1"',
    ],
)
def test_classifier_ignores_success_and_traffic(line):
    assert haproxy.make_classifier()(haproxy.parse_line(line, tz=UTC)) is None


def test_parse_line_levels_and_times():
    now = datetime.datetime(2026, 11, 24, tzinfo=UTC)
    parsed = haproxy.parse_line("<131>Nov 23 19:31:00 haproxy[8]: x", tz=UTC, now=now)
    assert (parsed.level, parsed.time.isoformat(), parsed.message) == ("err", "2026-11-23T19:31:00+00:00", "x")
    parsed = haproxy.parse_line("Nov 23 19:31:00 lb1 haproxy[8]: [ALERT]    (8) : config : boom", tz=UTC, now=now)
    assert (parsed.level, parsed.message) == ("alert", "config : boom")
    parsed = haproxy.parse_line("[WARNING] 326/193100 (1234) : old format")
    assert (parsed.level, parsed.time, parsed.message) == ("warning", None, "old format")
    parsed = haproxy.parse_line('-:- [06/Mar/2023:11:18:52.200] <OCSP-UPDATE> /a.pem 2 "HTTP error" 0 0', tz=UTC)
    assert parsed.time.isoformat() == "2023-03-06T11:18:52+00:00"
    assert haproxy.parse_line("unrelated text") is None


def test_log_scan_with_config_test_output(layout, tmp_path):
    config = layout / "haproxy.cfg"
    alert = (
        f"[ALERT]    (9) : config : parsing [{config}:24] : 'bind :443' in section 'frontend' :  "
        f"'{layout}/certs/shop.pem.ocsp' is present and activates OCSP but it is impossible to compute the OCSP "
        "certificate ID (maybe the issuer could not be found)'.\n"
    )
    info = haproxy.inspect(_runner(config, check=(1, "", alert)), "/usr/sbin/haproxy", [str(config)], env={})
    log = tmp_path / "haproxy.log"
    log.write_text('<134>Nov 23 19:31:00 haproxy[8]: <OCSP-UPDATE> /etc/haproxy/a.pem 2 "HTTP error" 0 0\n')
    info.error_logs = [str(log)]
    result = servers.log_scan(info, datetime.datetime(2026, 11, 23, tzinfo=UTC), tz=UTC)
    assert [(event.code, event.file) for event in result.events] == [
        ("responder_unreachable", str(log)),
        ("chain_incomplete", f"/usr/sbin/haproxy -c -f {config}"),
    ]
    assert result.events[1].site_hint == f"{layout}/certs/shop.pem"


def test_relative_crt_list_is_opened_from_haproxy_working_directory(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "a.pem").write_text("x")
    (tmp_path / "run" / "list.txt").write_text("a.pem\n")
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"global\n    crt-base {tmp_path}/certs\nfrontend fe\n    bind :443 ssl crt-list list.txt\n")
    info = haproxy.inspect(_runner(config), "haproxy", [str(config)], env={}, cwd=str(tmp_path / "run"))
    assert info.errors == []
    assert info.sites[0].certificate_files == [str(tmp_path / "certs" / "a.pem")]
