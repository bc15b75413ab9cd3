# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import reader as nginx
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import (
    FakeProc,
    FakeRunner,
    which_from,
)

UTC = datetime.timezone.utc
FIXTURES = Path(__file__).parent / "fixtures"
DUMP = (FIXTURES / "nginx_T_debian.txt").read_text()

# `nginx -V` of Debian 12's nginx 1.22.1, as printed here (stderr).
NGINX_V = """nginx version: nginx/1.22.1
built with OpenSSL 3.0.22 25 Aug 2026 (running with OpenSSL 3.0.19 27 Jan 2026)
TLS SNI support enabled
configure arguments: --with-cc-opt='-g -O2 -fstack-protector-strong' --prefix=/usr/share/nginx \
--conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log --error-log-path=stderr \
--lock-path=/var/lock/nginx.lock --pid-path=/run/nginx.pid --with-http_ssl_module --with-stream_ssl_module
"""
T_STDERR = (
    '2026/11/23 19:47:56 [warn] 13508#13508: "ssl_stapling" ignored, no OCSP responder URL in the certificate '
    '"/etc/letsencrypt/live/shop.example.com-ecdsa/fullchain.pem"\n'
    "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"
    "nginx: configuration file /etc/nginx/nginx.conf test is successful\n"
)


def _runner(**extra):
    answers = {("-V",): (0, "", NGINX_V), ("-T",): (0, DUMP, T_STDERR)}
    answers.update(extra)
    return FakeRunner(answers)


def _sites_by_name(info):
    return {(site.server_names or [site.context])[0]: site for site in info.sites}


def test_split_dump_keeps_load_order_and_ignores_marker_lookalikes():
    files = nginx.split_dump(DUMP)
    assert list(files) == [
        "/etc/nginx/nginx.conf",
        "/etc/nginx/modules-enabled/50-mod-stream.conf",
        "/etc/nginx/mime.types",
        "/etc/nginx/conf.d/stapling-verify.conf",
        "/etc/nginx/sites-enabled/default",
        "/etc/nginx/sites-enabled/shop.example.com",
        "/etc/nginx/sites-enabled/tenants",
    ]
    assert files["/etc/nginx/conf.d/stapling-verify.conf"].startswith("# configuration file /etc/nginx/this-is-only")


def test_inspect_reads_sites_from_the_dump():
    runner = _runner()
    info = nginx.inspect(runner, "/usr/sbin/nginx")
    assert runner.argvs() == [["/usr/sbin/nginx", "-V"], ["/usr/sbin/nginx", "-T"]]
    assert all(timeout == servers.common.DEFAULT_TIMEOUT for _argv, timeout in runner.calls)
    assert info.errors == []
    assert (info.version, info.version_tuple) == ("1.22.1", (1, 22, 1))
    assert info.config_file == "/etc/nginx/nginx.conf"
    assert info.config_source == "nginx -T"
    assert info.config_test_ok is True
    assert "ssl_stapling" in info.config_test_output
    assert set(info.config_files) == set(nginx.split_dump(DUMP))
    assert info.stapling_capable is True
    assert "lazily per worker" in info.stapling_capable_reason

    sites = _sites_by_name(info)
    assert set(sites) == {"shop.example.com", "static.example.com", "*.tenant.example", "stream"}

    shop = sites["shop.example.com"]
    assert shop.site_id == "nginx:/etc/nginx/sites-enabled/shop.example.com:1"
    assert shop.source == "/etc/nginx/sites-enabled/shop.example.com:1"
    assert shop.server_names == ["shop.example.com", "www.shop.example.com"]
    assert shop.listen == [
        {"address": "*:443", "ssl": True, "quic": False, "default_server": False},
        {"address": "[::]:443", "ssl": True, "quic": False, "default_server": False},
    ]
    assert shop.certificate_files == [
        "/etc/letsencrypt/live/shop.example.com/fullchain.pem",
        "/etc/letsencrypt/live/shop.example.com-ecdsa/fullchain.pem",
    ]
    assert shop.key_files == [
        "/etc/letsencrypt/live/shop.example.com/privkey.pem",
        "/etc/letsencrypt/live/shop.example.com-ecdsa/privkey.pem",
    ]
    assert shop.trusted_certificate == "/etc/letsencrypt/live/shop.example.com/chain.pem"
    # ssl_stapling and resolver come from http{}, ssl_stapling_verify from an http-level include.
    assert shop.stapling["ssl_stapling"] is True
    assert shop.stapling["ssl_stapling_verify"] is True
    assert shop.stapling["resolver"] == ["127.0.0.53", "[::1]:5353"]
    assert shop.stapling["resolver_options"] == {"valid": "300s", "ipv6": "off"}
    assert shop.stapling["resolver_timeout"] == "5s"
    assert shop.stapling["certificate_uses_variables"] is False
    assert shop.stapling["ssl_stapling_file"] is None
    assert set(shop.files) == set(shop.certificate_files + shop.key_files + [shop.trusted_certificate])
    record = shop.files[shop.trusted_certificate]
    assert record["exists"] is False
    assert set(record) >= {"path", "exists", "readable", "size", "mtime", "mode"}


def test_server_level_overrides_and_relative_paths():
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    static = _sites_by_name(info)["static.example.com"]
    assert static.source == "/etc/nginx/sites-enabled/shop.example.com:20"
    assert static.listen[0]["address"] == "127.0.0.1:8443"
    assert static.certificate_files == ["/etc/nginx/certs/static.pem"]
    assert static.stapling["ssl_stapling"] is False
    assert static.stapling["resolver"] == ["192.0.2.53"]
    assert static.stapling["resolver_timeout"] == "5s"


def test_certificates_through_variables_are_flagged():
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    tenants = _sites_by_name(info)["*.tenant.example"]
    assert tenants.certificate_files == []
    assert tenants.key_files == []
    assert tenants.stapling["certificate_uses_variables"] is True
    assert tenants.stapling["certificate_variable_values"] == ["/etc/ssl/tenants/$ssl_server_name.crt"]
    assert tenants.stapling["ssl_stapling_file"] == "/etc/ssl/tenants/stapling.der"
    assert tenants.stapling["ssl_stapling_responder"] == "http://ocsp.internal.example/"
    assert "/etc/ssl/tenants/stapling.der" in tenants.files


def test_stream_servers_do_not_inherit_http_settings():
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    stream = _sites_by_name(info)["stream"]
    assert stream.context == "stream"
    assert stream.listen[0]["address"] == "*:5443"
    assert stream.stapling["ssl_stapling"] is False
    assert stream.stapling["resolver"] is None
    assert stream.stapling["resolver_timeout"] == "30s"


def test_error_logs_and_level_note():
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    assert info.error_logs == ["/var/log/nginx/error.log", "/var/log/nginx/static.error.log"]
    assert info.details["main_error_log_level"] == "error"
    assert any("no resolver defined" in note for note in info.notes)


def test_compiled_in_error_log_used_without_a_main_error_log():
    dump = "# configuration file /opt/nginx/conf/nginx.conf:\nevents {}\nhttp {}\n"
    version = NGINX_V.replace("--error-log-path=stderr", "--error-log-path=logs/error.log").replace(
        "--prefix=/usr/share/nginx", "--prefix=/opt/nginx"
    )
    info = nginx.inspect(FakeRunner({("-V",): (0, "", version), ("-T",): (0, dump, "")}), "nginx")
    assert info.error_logs == ["/opt/nginx/logs/error.log"]
    assert info.sites == []


def test_tokenizer_quotes_escapes_comments_and_variables():
    errors = []
    text = (
        'a "x;y{z}" \'q"w\' b\\ c;  # comment { ; }\n'
        "set $v ${host}suffix;\n"
        'return 200 "line\\n"; name#notcomment 1;\n'
        "block arg {\n  inner 1;\n}\n"
        "content_by_lua_block { local s = '}' -- }\n ngx.say(\"{\") }\n"
        "after 2;\n"
    )
    tree = nginx.parse(text, "f.conf", errors)
    assert errors == []
    assert [(d.name, d.args, d.line) for d in tree if d.block is None] == [
        ("a", ["x;y{z}", 'q"w', "b\\ c"], 1),  # nginx keeps a backslash before a space
        ("set", ["$v", "${host}suffix"], 2),
        ("return", ["200", "line\n"], 3),
        ("name#notcomment", ["1"], 3),
        ("after", ["2"], 9),
    ]
    block = next(d for d in tree if d.name == "block")
    assert block.args == ["arg"]
    assert [(d.name, d.line) for d in block.block] == [("inner", 5)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http {\n server {\n listen 443 ssl;\n", 'expecting "}" to close "server"'),
        ("a 1;\n}\n", 'unexpected "}"'),
        ("a 1\n", 'unexpected end of file, expecting ";"'),
        ('a "open;\n', "unterminated quoted string"),
        ("; a 1;", 'unexpected ";"'),
    ],
)
def test_tokenizer_reports_broken_text(text, message):
    errors = []
    nginx.parse(text, "/etc/nginx/broken.conf", errors)
    assert any(message in error for error in errors), errors
    assert all(error.startswith("/etc/nginx/broken.conf:") for error in errors)


def test_statement_budget_stops_hostile_input():
    errors = []
    budget = nginx._Budget(50)  # pylint: disable=protected-access
    tree = nginx.parse("a 1;\n" * 1000, "big.conf", errors, budget)
    assert len(tree) == 50
    assert len(errors) == 1
    assert "more than" in errors[0]


def _disk_config(tmp_path, sites):
    conf = tmp_path / "nginx.conf"
    (tmp_path / "sites").mkdir()
    conf.write_text(
        f"error_log {tmp_path}/error.log warn;\nevents {{}}\nhttp {{\n    include {tmp_path}/sites/*.conf;\n}}\n"
    )
    for name, text in sites.items():
        (tmp_path / "sites" / name).write_text(text)
    return conf


def test_failed_dump_falls_back_to_disk_and_says_so(tmp_path):
    conf = _disk_config(
        tmp_path,
        {"a.conf": "server { listen 443 ssl; server_name a.example; ssl_certificate a.pem; ssl_stapling on; }\n"},
    )
    emerg = f'2026/11/23 19:48:04 [emerg] 1#1: unknown directive "sl_stapling" in {conf}:9\n'
    emerg += f"nginx: configuration file {conf} test failed\n"
    runner = FakeRunner({("-V",): (0, "", NGINX_V), ("-T", "-c", str(conf)): (1, "", emerg)})
    info = nginx.inspect(runner, "/usr/sbin/nginx", config_file=str(conf))
    assert info.config_test_ok is False
    assert info.config_source == "disk"
    assert len(info.errors) == 1
    assert info.errors[0].startswith(f"`/usr/sbin/nginx -T -c {conf}` failed with exit code 1: ")
    assert 'unknown directive "sl_stapling"' in info.errors[0]
    assert "read from disk" in info.errors[0]
    assert [site.server_names for site in info.sites] == [["a.example"]]
    assert info.sites[0].certificate_files == [str(tmp_path / "a.pem")]
    assert info.error_logs == [str(tmp_path / "error.log")]
    assert set(info.config_files) == {str(conf), str(tmp_path / "sites" / "a.conf")}


def test_include_loop_and_missing_include_are_errors_not_hangs(tmp_path):
    conf = _disk_config(tmp_path, {"loop.conf": f"include {tmp_path}/sites/loop.conf;\ninclude /nonexistent.conf;\n"})
    runner = FakeRunner({("-V",): (0, "", NGINX_V), ("-T",): (1, "", "nginx: [emerg] too many open files\n")})
    info = nginx.inspect(runner, "/usr/sbin/nginx", config_file=str(conf))
    joined = "\n".join(info.errors)
    assert "include loop" in joined
    assert "included file /nonexistent.conf does not exist." in joined
    assert info.sites == []


def test_command_failures_become_errors():
    runner = FakeRunner({("-V",): TimeoutError("timed out after 30 s"), ("-T",): (124, "", "timed out after 30 s")})
    info = nginx.inspect(runner, "/usr/sbin/nginx", config_file="/nonexistent/nginx.conf")
    assert info.version is None
    assert info.config_test_ok is False
    assert "`/usr/sbin/nginx -V` could not run: TimeoutError: timed out after 30 s" in info.errors
    assert any("exit code 124: timed out after 30 s" in error for error in info.errors)
    assert any(
        "configuration file /nonexistent/nginx.conf does not exist" in e or "does not exist" in e for e in info.errors
    )


def test_discover_uses_the_running_master(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    title = "nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf -g daemon on; master_process on;"
    exe = tmp_path / "sbin" / "nginx"  # the running binary wins over the one on PATH
    exe.parent.mkdir()
    exe.write_text("")
    proc.add(100, "nginx", [title], ppid=1, start_ticks=250_000, exe=str(exe))
    proc.add(101, "nginx", ["nginx: worker process"], ppid=100)
    proc.add(200, "nginx", ["nginx: master process /usr/sbin/nginx"], netns="net:[4026532999]")  # another node
    runner = _runner()
    found = nginx.discover(runner, which_from({"nginx": "/usr/local/sbin/nginx"}), proc_root=str(proc.root))
    assert len(found) == 1
    info = found[0]
    assert info.running is True
    assert info.master_pid == 100
    assert info.master_started_at == "2026-11-18T11:48:20Z"  # btime 1795000000 + 250000 ticks / 100
    assert runner.argvs()[1] == [str(exe), "-T", "-c", "/etc/nginx/nginx.conf"]
    assert info.binary == str(exe)


def test_discover_without_nginx_returns_nothing(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    assert nginx.discover(FakeRunner({}), which_from({}), proc_root=str(proc.root)) == []


def test_installed_but_stopped(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    found = nginx.discover(_runner(), which_from({"nginx": "/usr/sbin/nginx"}), proc_root=str(proc.root))
    assert [(info.running, info.master_pid, info.binary) for info in found] == [(False, None, "/usr/sbin/nginx")]


# ---------------------------------------------------------------------------------------------
# log lines: real formats (docs/servers.md, nginx, with the examples quoted there)

CTX = ', responder: ocsp.example.net, peer: 192.0.2.80:80, certificate: "/etc/ssl/site.pem"'
LOG_CASES = [
    (
        '2026/11/23 19:31:00 [warn] 1043#1043: "ssl_stapling" ignored, issuer certificate not found for certificate '
        '"/etc/ssl/site.pem"',
        "chain_incomplete",
        None,
        None,
        "/etc/ssl/site.pem",
        None,
    ),
    (
        '2026/11/23 19:31:00 [warn] 1#1: "ssl_stapling" ignored, no OCSP responder URL in the certificate '
        '"/etc/letsencrypt/live/a/fullchain.pem"',
        "stapling_without_ocsp",
        None,
        None,
        "/etc/letsencrypt/live/a/fullchain.pem",
        None,
    ),
    (
        '2026/11/23 19:31:00 [warn] 1#1: "ssl_stapling" ignored, invalid URL prefix in OCSP responder '
        '"https://ocsp.example.net/" in the certificate "/etc/ssl/site.pem"',
        "stapling_unsupported",
        None,
        "responder_not_http",
        "/etc/ssl/site.pem",
        "https://ocsp.example.net/",
    ),
    (
        'nginx: [warn] "ssl_stapling" ignored, host not found in OCSP responder "ocsp.int-x3.letsencrypt.org/"',
        "resolver_missing",
        "dns",
        "config_time_dns",
        None,
        "ocsp.int-x3.letsencrypt.org/",
    ),
    (
        '2026/11/23 19:31:00 [warn] 1#1: "ssl_stapling" ignored, invalid port in OCSP responder "ocsp.example:x" '
        'in the certificate "/etc/ssl/site.pem"',
        "stapling_unsupported",
        None,
        "responder_url_invalid",
        "/etc/ssl/site.pem",
        "ocsp.example:x",
    ),
    (
        '2026/11/23 19:31:00 [warn] 1#1: "ssl_stapling" ignored, not supported',
        "stapling_unsupported",
        None,
        "tls_library_without_ocsp",
        None,
        None,
    ),
    (
        '2026/11/23 19:31:00 [emerg] 1#1: "ssl_stapling" is incompatible with "ssl_certificate_compression" in '
        "/etc/nginx/nginx.conf:20",
        "stapling_unsupported",
        None,
        "ssl_certificate_compression",
        None,
        None,
    ),
    (
        '2026/11/23 19:31:00 [emerg] 1#1: d2i_OCSP_RESPONSE_bio("/etc/ssl/tenants/stapling.der") failed '
        "(SSL: error:0680007B:asn1 encoding routines::header too long)",
        "staple_invalid",
        None,
        "stapling_file_not_der",
        "/etc/ssl/tenants/stapling.der",
        None,
    ),
    (
        '2026/11/23 19:31:00 [emerg] 1#1: BIO_new_file("/etc/ssl/tenants/stapling.der") failed '
        "(SSL: error:80000002:system library::No such file or directory)",
        "staple_invalid",
        None,
        "stapling_file_unreadable",
        "/etc/ssl/tenants/stapling.der",
        None,
    ),
    (
        "2026/11/23 19:31:00 [warn] 1#1: no resolver defined to resolve ocsp.int-x3.letsencrypt.org while "
        "requesting certificate status, responder: ocsp.int-x3.letsencrypt.org",
        "resolver_missing",
        None,
        None,
        None,
        "ocsp.int-x3.letsencrypt.org",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: ocsp.example.net could not be resolved (3: Host not found) while "
        "requesting certificate status" + CTX,
        "responder_unreachable",
        "dns",
        "host_not_found",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: connect() to 192.0.2.80:80 failed (111: Connection refused) while "
        "requesting certificate status" + CTX,
        "responder_unreachable",
        "connect",
        "connection refused",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: connect() to [2600:1406::1]:80 failed (101: Network is unreachable) "
        "while requesting certificate status, responder: ocsp.example.net, peer: [2600:1406::1]:80, certificate: "
        '"/etc/ssl/site.pem"',
        "responder_unreachable",
        "connect",
        "ipv6",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2018/09/27 10:38:51 [error] 1043#0: OCSP responder timed out (110: Connection timed out) while requesting "
        "certificate status, responder: ocsp.int-x3.letsencrypt.org, peer: 2.21.67.65:80, certificate: "
        '"/etc/letsencrypt/live/subdomain.example.com/fullchain.pem"',
        "responder_unreachable",
        "timeout",
        None,
        "/etc/letsencrypt/live/subdomain.example.com/fullchain.pem",
        "ocsp.int-x3.letsencrypt.org",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP responder prematurely closed connection while requesting "
        "certificate status" + CTX,
        "responder_unreachable",
        "http",
        "closed_early",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        '2026/11/23 19:31:00 [error] 1#1: OCSP responder sent invalid "Content-Type" header: "text/html" while '
        "requesting certificate status" + CTX,
        "responder_error",
        None,
        "content_type",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP responder sent invalid response while requesting certificate "
        "status" + CTX,
        "responder_error",
        None,
        "invalid_http",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: d2i_OCSP_RESPONSE() failed (SSL: error:0680007B:asn1 encoding "
        "routines::header too long) while requesting certificate status" + CTX,
        "responder_error",
        None,
        "malformed",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP response not successful (3: trylater) while requesting "
        "certificate status" + CTX,
        "responder_error",
        None,
        "trylater",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP_response_get1_basic() failed while requesting certificate status" + CTX,
        "responder_error",
        None,
        "malformed",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP_basic_verify() failed (SSL: error:27069065:OCSP routines:"
        "OCSP_basic_verify:certificate verify error:Verify error:unable to get local issuer certificate) while "
        "requesting certificate status, responder: gv.symcd.com",
        "trusted_cert_missing",
        None,
        "unable_to_get_issuer",
        None,
        "gv.symcd.com",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP_basic_verify() failed (SSL: error:27FFF065:OCSP routines:"
        "CRYPTO_internal:certificate verify error:Verify error:unable to get issuer certificate) while requesting "
        'certificate status, responder: gp.symcd.com, peer: 23.54.187.27:80, certificate: "/etc/nginx/ssl/e.crt"',
        "trusted_cert_missing",
        None,
        "unable_to_get_issuer",
        "/etc/nginx/ssl/e.crt",
        "gp.symcd.com",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP_basic_verify() failed (SSL: error:13800076:OCSP routines::"
        "signer certificate not found) while requesting certificate status" + CTX,
        "staple_invalid",
        None,
        "signer_certificate_not_found",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: certificate status not found in the OCSP response while requesting "
        "certificate status" + CTX,
        "staple_invalid",
        None,
        "certid_mismatch",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP_check_validity() failed (SSL: error:1380007F:OCSP routines::"
        "status not yet valid) while requesting certificate status" + CTX,
        "staple_invalid",
        None,
        "not_yet_valid",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: OCSP_check_validity() failed (SSL: error:1380007D:OCSP routines::"
        "status expired) while requesting certificate status" + CTX,
        "staple_expired",
        None,
        "status_expired",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        "2026/11/23 19:31:00 [error] 1#1: invalid nextUpdate time in certificate status while requesting "
        "certificate status" + CTX,
        "staple_invalid",
        None,
        "next_update_invalid",
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        '2026/11/23 19:31:00 [error] 1#1: certificate status "revoked" in the OCSP response while requesting '
        "certificate status" + CTX,
        "cert_revoked",
        None,
        None,
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
    (
        '2026/11/23 19:31:00 [error] 1#1: certificate status "unknown" in the OCSP response while requesting '
        "certificate status" + CTX,
        "cert_status_unknown",
        None,
        None,
        "/etc/ssl/site.pem",
        "ocsp.example.net",
    ),
]


@pytest.mark.parametrize(("line", "code", "stage", "detail", "hint", "responder"), LOG_CASES)
def test_classifier(line, code, stage, detail, hint, responder):
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    parsed = nginx.parse_line(line, tz=UTC)
    event = nginx.make_classifier(info)(parsed)
    assert event is not None, line
    assert (event.code, event.stage, event.detail, event.site_hint, event.responder) == (
        code,
        stage,
        detail,
        hint,
        responder,
    )
    assert event.server == "nginx"
    assert len(event.message) <= 300


def test_every_pattern_is_exercised():
    used = set()
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    classify = nginx.make_classifier(info)
    for case in LOG_CASES:
        used.add(classify(nginx.parse_line(case[0], tz=UTC)).pattern)
    assert used == {rule.id for rule in nginx.PATTERNS}


@pytest.mark.parametrize(
    "line",
    [
        # Same texts without the stapling context: upstream and proxy_pass resolver failures.
        "2026/11/23 19:31:00 [error] 1#1: *7 connect() failed (111: Connection refused) while connecting to "
        'upstream, client: 198.51.100.7, server: shop.example.com, request: "GET / HTTP/1.1"',
        "2026/11/23 19:31:00 [error] 1#1: *7 backend.example could not be resolved (3: Host not found), client: x",
        # ssl_dhparam logs the same BIO_new_file text for its own file.
        '2026/11/23 19:31:00 [emerg] 1#1: BIO_new_file("/etc/nginx/dhparam.pem") failed (SSL: error:80000002)',
        "2026/11/23 19:31:00 [notice] 1#1: signal process started",
        # Client-certificate OCSP (ssl_ocsp) is a different feature with its own wording.
        "2026/11/23 19:31:00 [info] 1#1: *3 no OCSP responder URL in certificate while SSL handshaking",
    ],
)
def test_classifier_ignores_lookalikes(line):
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    assert nginx.make_classifier(info)(nginx.parse_line(line, tz=UTC)) is None


def test_parse_line_formats():
    parsed = nginx.parse_line("2026/11/23 19:31:00 [error] 123#123: *45 some message", tz=UTC)
    assert (parsed.time.isoformat(), parsed.level, parsed.message) == (
        "2026-11-23T19:31:00+00:00",
        "error",
        "some message",
    )
    assert nginx.parse_line("nginx: [warn] text").level == "warn"
    zone = datetime.timezone(datetime.timedelta(hours=2))
    assert nginx.parse_line("2026/11/23 19:31:00 [error] 1#1: x", tz=zone).time.hour == 17
    assert nginx.parse_line("not a log line") is None


def test_log_scan_reads_error_log_and_config_test_output(tmp_path):
    log = tmp_path / "error.log"
    log.write_text(
        "2026/11/23 10:00:00 [error] 1#1: OCSP responder timed out (110: Connection timed out) while requesting "
        "certificate status, responder: old.example\n"
        "2026/11/23 19:31:00 [error] 1#1: OCSP response not successful (6: unauthorized) while requesting "
        'certificate status, responder: ocsp.example.net, peer: 192.0.2.1:80, certificate: "/etc/ssl/a.pem"\n'
        "2026/11/23 19:32:00 [notice] 1#1: signal 1 (SIGHUP) received from 77, reconfiguring\n"
    )
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    info.error_logs = [str(log)]
    since = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    result = servers.log_scan(info, since, tz=UTC)
    assert [(event.code, event.file, event.line_no) for event in result.events] == [
        ("responder_error", str(log), 2),
        ("stapling_without_ocsp", "/usr/sbin/nginx -T", 1),
    ]
    assert result.events[0].time == "2026-11-23T19:31:00Z"
    assert result.events[0].detail == "unauthorized"
    assert result.events[1].site_hint == "/etc/letsencrypt/live/shop.example.com-ecdsa/fullchain.pem"
    assert result.files[0].reached_since
    assert result.counts == {"responder_error": 1, "stapling_without_ocsp": 1}


def test_oversized_dump_is_reported(monkeypatch):
    monkeypatch.setattr(nginx.common, "MAX_OUTPUT_BYTES", len(DUMP) // 2)
    info = nginx.inspect(_runner(), "/usr/sbin/nginx")
    assert any("the rest of the dump was not read" in error for error in info.errors)
    assert info.config_source == "nginx -T"


def test_no_responder_problem_of_a_static_staple_quotes_no_log_line():
    """nginx staples ssl_stapling_file before it looks for a responder: no '"ssl_stapling" ignored' line then."""
    facts = servers.facts_of("nginx")
    site = {"source": "/etc/nginx/sites-enabled/l.conf:3"}
    severity, sentence, log_codes = facts.no_responder_problem(
        {"ssl_stapling": True, "ssl_stapling_file": "/etc/nginx/l.ocsp"}, {}, site, "legacy.test"
    )
    assert severity == "warning" and log_codes == () and "/etc/nginx/l.ocsp" in sentence and "ignored" not in sentence
    severity, sentence, log_codes = facts.no_responder_problem({"ssl_stapling": True}, {}, site, "legacy.test")
    assert log_codes == ("stapling_without_ocsp",) and "ignored" in sentence
    assert (
        facts.no_responder_problem({"ssl_stapling": True, "ssl_stapling_responder": "http://r/"}, {}, site, "x") is None
    )
