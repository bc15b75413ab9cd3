# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The parsers against the real servers' own dump/test commands, on temporary configurations.

Each test runs only the server's test/dump flags (nothing is started, nothing under /etc is read
or written) and is skipped when the binary is not installed. Certificates are throwaway ones made
by ``openssl req`` in the test's directory. The messages the servers print here are fed to the
classifiers, which checks that the patterns match what the servers really say.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import apache, common, haproxy, nginx
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import subprocess_runner

UTC = datetime.timezone.utc
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
APACHE = shutil.which("apache2", path="/usr/sbin:/sbin") or shutil.which("httpd", path="/usr/sbin:/sbin")
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
OPENSSL = shutil.which("openssl")
APACHE_MODULES = "/usr/lib/apache2/modules"

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def _certificate(directory, name="x"):
    """A self-signed P-256 certificate and key, made by openssl at test time."""
    cert = directory / f"{name}.crt"
    key = directory / f"{name}.key"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@needs_openssl
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_real_nginx_dump(tmp_path):
    cert, _key = _certificate(tmp_path)
    (tmp_path / "sites").mkdir()
    temp = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\nerror_log {tmp_path}/error.log warn;\npid {tmp_path}/nginx.pid;\n"
        "events { worker_connections 16; }\n"
        f"http {{\n{temp}    access_log off;\n    resolver 127.0.0.53 valid=30s ipv6=off;\n"
        f"    include {tmp_path}/sites/*.conf;\n}}\n"
    )
    (tmp_path / "sites" / "a.conf").write_text(
        "server {\n"
        "    listen 127.0.0.1:18443 ssl;\n"
        '    server_name a.example "b.example";\n'
        "    ssl_certificate x.crt;  # relative: nginx resolves it against the config directory\n"
        "    ssl_certificate_key x.key;\n"
        "    ssl_stapling on;\n"
        '    location / { return 200 "ok;{}"; }\n'
        "}\n"
        "server { listen 127.0.0.1:18080; server_name plain.example; }\n"
    )
    info = nginx.inspect(subprocess_runner, NGINX, str(conf), f"{tmp_path}/")
    assert info.errors == []
    assert info.version_tuple is not None
    assert info.config_test_ok is True
    assert info.config_source == "nginx -T"
    assert set(info.config_files) == {str(conf), str(tmp_path / "sites" / "a.conf")}
    assert info.stapling_capable is True
    [site] = info.sites
    assert site.site_id == f"nginx:{tmp_path}/sites/a.conf:1"
    assert site.server_names == ["a.example", "b.example"]
    assert site.listen[0]["address"] == "127.0.0.1:18443"
    assert site.certificate_files == [str(cert)]
    assert site.files[str(cert)]["exists"] is True
    assert site.stapling["ssl_stapling"] is True
    assert site.stapling["resolver"] == ["127.0.0.53"]
    assert info.error_logs == [str(tmp_path / "error.log")]
    # A self-signed certificate has no issuer in the chain: nginx -T itself warns, and the
    # classifier must recognise nginx's real wording.
    events = servers.log_events(info, datetime.datetime.now(tz=UTC) - datetime.timedelta(minutes=5))
    config_events = [event for event in events if event.file.startswith(NGINX)]
    assert [(event.code, event.site_hint, event.level) for event in config_events] == [
        ("chain_incomplete", str(cert), "warn")
    ]


@needs_openssl
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_real_nginx_broken_config(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"error_log {tmp_path}/error.log;\npid {tmp_path}/nginx.pid;\nevents {{}}\n"
        "http {\n  server {\n    listen 127.0.0.1:18443 ssl;\n    ssl_stapling on;\n"
    )
    info = nginx.inspect(subprocess_runner, NGINX, str(conf), f"{tmp_path}/")
    assert info.config_test_ok is False
    assert info.config_source == "disk"
    assert "unexpected end of file" in info.errors[0]
    assert any('expecting "}" to close "server"' in error for error in info.errors)
    assert [site.stapling["ssl_stapling"] for site in info.sites] == [True]


def _apache_modules_present():
    names = ("mod_mpm_event.so", "mod_ssl.so", "mod_socache_shmcb.so", "mod_authz_core.so")
    return all(os.path.exists(os.path.join(APACHE_MODULES, name)) for name in names)


@needs_openssl
@pytest.mark.skipif(APACHE is None or not _apache_modules_present(), reason="apache2 with mod_ssl is not installed")
def test_real_apache_dump_includes(tmp_path):
    cert, key = _certificate(tmp_path)
    (tmp_path / "sites").mkdir()
    conf = tmp_path / "apache2.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\nDefine TMP {tmp_path}\nDefaultRuntimeDir ${{TMP}}\nPidFile ${{TMP}}/apache2.pid\n"
        "Mutex file:${TMP} default\n"
        f"LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so\n"
        f"LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so\n"
        f"LoadModule socache_shmcb_module {APACHE_MODULES}/mod_socache_shmcb.so\n"
        f"LoadModule ssl_module {APACHE_MODULES}/mod_ssl.so\n"
        "ServerName localhost\nListen 127.0.0.1:18443\nErrorLog ${TMP}/error.log\n"
        '<IfModule ssl_module>\n  SSLStaplingCache "shmcb:${TMP}/stapling(32768)"\n  SSLUseStapling on\n</IfModule>\n'
        "<IfModule !ssl_module>\n  SSLStaplingResponderTimeout 99\n</IfModule>\n"
        "IncludeOptional sites/*.conf\n"
    )
    (tmp_path / "sites" / "a.conf").write_text(
        "<VirtualHost 127.0.0.1:18443>\n    ServerName a.example\n    ServerAlias b.example\n    SSLEngine on\n"
        f"    SSLCertificateFile {cert}\n    SSLCertificateKeyFile {key}\n"
        "    SSLStaplingResponderTimeout 5\n    ErrorLog ${TMP}/a_error.log\n</VirtualHost>\n"
    )
    info = apache.inspect(subprocess_runner, None, APACHE, str(conf), envvars_file=str(tmp_path / "none"))
    assert info.errors == []
    assert info.config_test_ok is True
    assert info.config_source == "apache DUMP_INCLUDES"
    assert info.config_file == str(conf)
    assert set(info.config_files) == {str(conf), str(tmp_path / "sites" / "a.conf")}
    assert info.details["defines"] == {"TMP": str(tmp_path)}
    assert {"ssl_module", "socache_shmcb_module"} <= set(info.details["modules"])
    assert info.stapling_capable is True
    [site] = info.sites
    assert site.site_id == f"apache:{tmp_path}/sites/a.conf:1"
    assert site.server_names == ["a.example", "b.example"]
    assert site.certificate_files == [str(cert)]
    assert site.stapling["SSLUseStapling"] is True
    assert site.stapling["SSLStaplingCache"] == f"shmcb:{tmp_path}/stapling(32768)"
    assert site.stapling["SSLStaplingResponderTimeout"] == 5
    assert info.error_logs == [str(tmp_path / "error.log"), str(tmp_path / "a_error.log")]


def _apache_conf(tmp_path, body, modules=("mpm_event", "authz_core")):
    conf = tmp_path / "apache2.conf"
    loads = "".join(f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n" for name in modules)
    conf.write_text(
        f"ServerRoot {tmp_path}\nDefine TMP {tmp_path}\nDefaultRuntimeDir ${{TMP}}\nPidFile ${{TMP}}/apache2.pid\n"
        f"Mutex file:${{TMP}} default\n{loads}ServerName localhost\nErrorLog ${{TMP}}/error.log\n{body}"
    )
    return conf


@pytest.mark.skipif(APACHE is None or not _apache_modules_present(), reason="apache2 is not installed")
def test_real_apache_file_names_cannot_forge_the_later_dumps(tmp_path):
    """Apache prints included file names as they are: a line break and a heading in one must not add modules."""
    (tmp_path / "conf.d").mkdir()
    forged = "x\nLoaded Modules:\n ssl_module (shared)\n md_module (shared)\nDefine: INJECTED=1\n"
    forged += "VirtualHost configuration:\n"
    (tmp_path / "conf.d" / (forged + ".conf")).write_text("# nothing\n")
    conf = _apache_conf(tmp_path, "Listen 127.0.0.1:18444\nIncludeOptional conf.d/*.conf\n")
    info = apache.inspect(subprocess_runner, None, APACHE, str(conf), envvars_file=str(tmp_path / "none"))
    assert info.config_test_ok is True, info.errors
    assert "ssl_module" not in info.details["modules"] and "md_module" not in info.details["modules"]
    assert "INJECTED" not in info.details["defines"]
    assert info.stapling_capable is False and info.stapling_capable_reason == "mod_ssl is not loaded."


@pytest.mark.skipif(APACHE is None or not _apache_modules_present(), reason="apache2 is not installed")
def test_real_apache_broken_config_names_apaches_reason_once(tmp_path):
    """A failed test prints the include tree read so far on stdout and AH00526 on stderr: the error is the reason."""
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "a.conf").write_text("Listen 127.0.0.1:18445\n")
    (tmp_path / "sites" / "b.conf").write_text("Listen 127.0.0.1:18445\n")
    conf = _apache_conf(tmp_path, "IncludeOptional sites/*.conf\n")
    info = apache.inspect(subprocess_runner, None, APACHE, str(conf), envvars_file=str(tmp_path / "none"))
    assert info.config_test_ok is False
    failed = [error for error in info.errors if "failed with exit code" in error]
    assert len(failed) == 1 and "AH00526: Syntax error on line 1 of " in failed[0], info.errors
    assert info.config_source == "disk"
    assert "AH00526" in info.config_test_output and "Included configuration files" not in info.config_test_output


@pytest.mark.skipif(APACHE is None or not _apache_modules_present(), reason="apache2 is not installed")
def test_real_apache_dump_values_are_not_server_messages(tmp_path):
    """A Define's value in the dumps is configuration, not a message of Apache's: no log event comes of it."""
    conf = _apache_conf(
        tmp_path, 'Listen 127.0.0.1:18446\nDefine NOTE "AH01958: SSLStapling: no stapling cache available"\n'
    )
    info = apache.inspect(subprocess_runner, None, APACHE, str(conf), envvars_file=str(tmp_path / "none"))
    assert info.config_test_ok is True, info.errors
    assert info.details["defines"]["NOTE"] == "AH01958: SSLStapling: no stapling cache available"
    assert "AH01958" not in info.config_test_output
    assert servers.log_scan(info, None, extra_logs=[]).events == []


@needs_openssl
@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_real_haproxy_check(tmp_path):
    cert, key = _certificate(tmp_path, "site")
    pem = tmp_path / "site.pem"
    pem.write_text(cert.read_text() + key.read_text())
    (tmp_path / "list.txt").write_text(f"{pem} [alpn h2] a.example\n")
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(
        f"global\n    stats socket {tmp_path}/admin.sock mode 600 level admin\n    crt-base {tmp_path}\n"
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n"
        "frontend fe\n    bind 127.0.0.1:18443 ssl crt site.pem\n"
        f"    bind 127.0.0.1:18444 ssl crt-list {tmp_path}/list.txt\n    default_backend be\n"
        "backend be\n    server s1 127.0.0.1:18080\n"
    )
    info = haproxy.inspect(subprocess_runner, HAPROXY, [str(conf)])
    assert info.errors == []
    assert info.config_test_ok is True
    assert info.version_tuple is not None
    assert info.stapling_self_fetch is common.version_at_least(info.version_tuple, 2, 8)
    [site] = info.sites
    assert [record["crt"] for record in site.stapling["certificates"]] == [str(pem), str(pem)]
    assert site.server_names == ["a.example"]
    assert site.stapling["runtime_api"][0]["address"] == f"{tmp_path}/admin.sock"

    # A .ocsp file next to a certificate whose issuer HAProxy cannot find: its real ALERT.
    (tmp_path / "site.pem.ocsp").write_bytes(b"not DER")
    info = haproxy.inspect(subprocess_runner, HAPROXY, [str(conf)])
    assert site.stapling["certificates"][0]["ocsp_file"] == f"{pem}.ocsp"
    events = servers.log_events(info, datetime.datetime.now(tz=UTC))
    codes = {(event.code, event.site_hint) for event in events if event.file.startswith(HAPROXY)}
    if common.version_at_least(info.version_tuple, 3, 5):
        pytest.skip("HAProxy 3.5 turned this ALERT into a WARNING with other wording")
    assert ("chain_incomplete", str(pem)) in codes
    assert info.config_test_ok is False
