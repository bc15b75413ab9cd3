# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import reader as apache
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import (
    FakeProc,
    FakeRunner,
    which_from,
)

UTC = datetime.timezone.utc

# A Debian 12 layout (apache2.conf trimmed to the lines that matter, same directives and order).
APACHE2_CONF = """\
# This is the main Apache server configuration file.
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
Timeout 300
User ${APACHE_RUN_USER}
Group ${APACHE_RUN_GROUP}
HostnameLookups Off
ErrorLog ${APACHE_LOG_DIR}/error.log
LogLevel warn

# Include module configuration:
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf

# Include list of ports to listen on
Include ports.conf

<Directory />
\tOptions FollowSymLinks
\tAllowOverride None
\tRequire all denied
</Directory>

AccessFileName .htaccess
IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
"""
ENVVARS = """\
unset HOME
if [ "${APACHE_CONFDIR##/etc/apache2-}" != "${APACHE_CONFDIR}" ] ; then
\tSUFFIX="-${APACHE_CONFDIR##/etc/apache2-}"
else
\tSUFFIX=
fi
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=/var/run/apache2$SUFFIX/apache2.pid
export APACHE_RUN_DIR=/var/run/apache2$SUFFIX
export APACHE_LOCK_DIR=/var/lock/apache2$SUFFIX
export APACHE_LOG_DIR=/var/log/apache2$SUFFIX
export LANG=C
"""
FILES = {
    "mods-enabled/socache_shmcb.load": "LoadModule socache_shmcb_module "
    "/usr/lib/apache2/modules/mod_socache_shmcb.so\n",
    "mods-enabled/ssl.load": "# Depends: setenvif mime socache_shmcb\n"
    "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n",
    "mods-enabled/md.load": "LoadModule md_module /usr/lib/apache2/modules/mod_md.so\n",
    "mods-enabled/ssl.conf": """\
<IfModule mod_ssl.c>
\tSSLRandomSeed startup builtin
\tSSLSessionCache\t\tshmcb:${APACHE_RUN_DIR}/ssl_scache(512000)
\tSSLStaplingCache "shmcb:${APACHE_RUN_DIR}/ssl_stapling(128000)"
\tSSLProtocol all -SSLv3
</IfModule>
""",
    "ports.conf": "Listen 80\n\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\n",
    "conf-enabled/stapling.conf": """\
SSLUseStapling on
SSLStaplingFakeTryLater off
<IfModule !mod_ssl.c>
\tSSLStaplingResponderTimeout 99
</IfModule>
<IfDefine NOSTAPLING>
\tSSLUseStapling off
</IfDefine>
<IfVersion >= 2.4.42>
\tMDStapling on
</IfVersion>
""",
    "sites-enabled/000-default.conf": """\
<VirtualHost *:80>
\tServerName default.example
\tDocumentRoot /var/www/html
\tErrorLog ${APACHE_LOG_DIR}/error.log
</VirtualHost>
""",
    "sites-enabled/shop.conf": """\
<VirtualHost *:443>
\tServerName https://shop.example.com:443
\tServerAlias www.shop.example.com \\
\t            m.shop.example.com
\tSSLEngine on
\tSSLCertificateFile /etc/letsencrypt/live/shop/cert.pem
\tSSLCertificateKeyFile /etc/letsencrypt/live/shop/privkey.pem
\tSSLCertificateChainFile /etc/letsencrypt/live/shop/chain.pem
\tSSLStaplingResponderTimeout 5
\tSSLStaplingReturnResponderErrors off
\tErrorLog ${APACHE_LOG_DIR}/shop_error.log
\t<Location /status>
\t\tSSLUseStapling off
\t</Location>
</VirtualHost>

<VirtualHost [::]:443 192.0.2.10:443>
\tServerName api.example.com
\tSSLEngine on
\tSSLCertificateFile "/etc/ssl/api/rsa.pem"
\tSSLCertificateKeyFile /etc/ssl/api/rsa.key
\tSSLCertificateFile /etc/ssl/api/ecdsa.pem
\tSSLCertificateKeyFile /etc/ssl/api/ecdsa.key
\tSSLCACertificateFile /etc/ssl/api/ca.pem
\tSSLUseStapling off
</VirtualHost>
""",
    "sites-enabled/md.conf": """\
MDomain managed.example.com www.managed.example.com
MDCertificateAgreement accepted

<VirtualHost *:443>
\tServerName managed.example.com
\tSSLEngine on
</VirtualHost>
""",
}
S_OUTPUT = """\
VirtualHost configuration:
*:443                  is a NameVirtualHost
         default server shop.example.com ({root}/sites-enabled/md.conf:4)
         port 443 namevhost managed.example.com ({root}/sites-enabled/md.conf:4)
         port 443 namevhost shop.example.com ({root}/sites-enabled/shop.conf:1)
                 alias www.shop.example.com
                 alias m.shop.example.com
[::]:443               api.example.com ({root}/sites-enabled/shop.conf:17)
192.0.2.10:443         api.example.com ({root}/sites-enabled/shop.conf:17)
*:80                   default.example ({root}/sites-enabled/000-default.conf:1)
ServerRoot: "{root}"
Main DocumentRoot: "/var/www/html"
Main ErrorLog: "/var/log/apache2/error.log"
Mutex ssl-stapling-refresh: using_defaults
Mutex ssl-stapling: using_defaults
Mutex default: dir="/var/run/apache2/" mechanism=default
PidFile: "/var/run/apache2/apache2.pid"
Define: DUMP_VHOSTS
Define: DUMP_RUN_CFG
Define: MODE=prod
Define: NOVALUE
User: name="www-data" id=33
Group: name="www-data" id=33
"""
M_OUTPUT = """\
Loaded Modules:
 core_module (static)
 so_module (static)
 watchdog_module (static)
 http_module (static)
 log_config_module (static)
 logio_module (static)
 version_module (static)
 unixd_module (static)
 mpm_event_module (shared)
 socache_shmcb_module (shared)
 ssl_module (shared)
 md_module (shared)
"""
V_OUTPUT = "Server version: Apache/2.4.71 (Debian)\nServer built:   2026-11-12T08:58:41\n"


def _tree(root):
    """DUMP_INCLUDES output for the tree under ``root``, with the real Include line numbers."""
    lines = APACHE2_CONF.splitlines()

    def line_of(text):
        return lines.index(text) + 1

    out = ["Included configuration files:", f"  (*) {root}/apache2.conf"]
    for pattern_line, names in (
        ("IncludeOptional mods-enabled/*.load", ["md.load", "socache_shmcb.load", "ssl.load"]),
        ("IncludeOptional mods-enabled/*.conf", ["ssl.conf"]),
    ):
        out += [f"    ({line_of(pattern_line)}) {root}/mods-enabled/{name}" for name in names]
    out.append(f"    ({line_of('Include ports.conf')}) {root}/ports.conf")
    out.append(f"    ({line_of('IncludeOptional conf-enabled/*.conf')}) {root}/conf-enabled/stapling.conf")
    number = line_of("IncludeOptional sites-enabled/*.conf")
    out += [f"    ({number}) {root}/sites-enabled/{name}" for name in ("000-default.conf", "md.conf", "shop.conf")]
    return "\n".join(out) + "\n"


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "apache2"
    root.mkdir()
    (root / "apache2.conf").write_text(APACHE2_CONF)
    (root / "envvars").write_text(ENVVARS)
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


DUMP = apache.DUMP_ARGS


def _dump(root, tree=None, modules=M_OUTPUT):
    """What the configuration test with its four dumps prints: the include tree, then -S's dumps, then -M's."""
    return (0, (_tree(root) if tree is None else tree) + S_OUTPUT.format(root=root) + modules, "")


def _runner(root, overrides=None, prefix=()):
    answers = {("-v",): (0, V_OUTPUT, ""), DUMP: _dump(root)}
    answers.update(overrides or {})
    return FakeRunner({(key if key == ("-v",) else prefix + key): value for key, value in answers.items()})


def _inspect(root, runner=None, server_root=None):
    return apache.inspect(runner or _runner(root), "/usr/sbin/apache2ctl", "/usr/sbin/apache2", server_root=server_root)


def _by_name(info):
    return {(site.server_names or [site.source])[0]: site for site in info.sites}


def test_commands_and_server_record(layout):
    runner = _runner(layout)
    info = _inspect(layout, runner)
    assert runner.argvs() == [
        ["/usr/sbin/apache2", "-v"],
        [
            "/usr/sbin/apache2ctl",
            "-t",
            "-D",
            "DUMP_INCLUDES",
            "-D",
            "DUMP_VHOSTS",
            "-D",
            "DUMP_RUN_CFG",
            "-D",
            "DUMP_MODULES",
        ],
    ]
    assert info.details["config_test_command"] == " ".join(runner.argvs()[1])
    assert info.errors == []
    assert (info.version, info.version_tuple) == ("2.4.71", (2, 4, 71))
    assert info.config_file == f"{layout}/apache2.conf"
    assert info.config_source == "apache DUMP_INCLUDES"
    assert info.config_test_ok is True
    assert len(info.config_files) == 10
    assert info.stapling_capable is True
    assert "mod_socache_shmcb is loaded" in info.stapling_capable_reason
    assert info.details["server_root"] == str(layout)
    assert info.details["defines"] == {"MODE": "prod", "NOVALUE": ""}
    assert info.details["log_level"] == "warn"
    assert info.error_logs == ["/var/log/apache2/error.log", "/var/log/apache2/shop_error.log"]


def test_only_ssl_virtual_hosts_are_sites(layout):
    info = _inspect(layout)
    assert sorted(_by_name(info)) == ["api.example.com", "managed.example.com", "shop.example.com"]


def test_vhost_values_inherit_from_the_main_server(layout):
    shop = _by_name(_inspect(layout))["shop.example.com"]
    assert shop.site_id == f"apache:{layout}/sites-enabled/shop.conf:1"
    assert shop.server_names == ["shop.example.com", "www.shop.example.com", "m.shop.example.com"]
    assert shop.listen == [{"address": "*:443", "ssl": True}]
    assert shop.certificate_files == ["/etc/letsencrypt/live/shop/cert.pem"]
    assert shop.key_files == ["/etc/letsencrypt/live/shop/privkey.pem"]
    assert shop.chain_file == "/etc/letsencrypt/live/shop/chain.pem"
    stapling = shop.stapling
    assert stapling["SSLUseStapling"] is True  # from conf-enabled, the <Location> one does not count
    assert stapling["SSLStaplingCache"] == "shmcb:/var/run/apache2/ssl_stapling(128000)"
    assert stapling["SSLStaplingResponderTimeout"] == 5
    assert stapling["SSLStaplingReturnResponderErrors"] is False
    assert stapling["SSLStaplingFakeTryLater"] is False
    assert stapling["SSLStaplingStandardCacheTimeout"] == 3600
    assert stapling["SSLStaplingErrorCacheTimeout"] == 600
    assert stapling["SSLStaplingForceURL"] is None
    assert stapling["mod_ssl_loaded"] and stapling["mod_socache_shmcb_loaded"] and stapling["mod_md_loaded"]
    assert stapling["MDStapling"] is True  # global MDStapling on, MDStapleOthers default on
    assert stapling["md_managed"] is False
    assert set(shop.files) == {
        "/etc/letsencrypt/live/shop/cert.pem",
        "/etc/letsencrypt/live/shop/privkey.pem",
        "/etc/letsencrypt/live/shop/chain.pem",
    }


def test_multiple_certificates_and_ca_file(layout):
    api = _by_name(_inspect(layout))["api.example.com"]
    assert api.source == f"{layout}/sites-enabled/shop.conf:17"
    assert api.listen == [{"address": "[::]:443", "ssl": True}, {"address": "192.0.2.10:443", "ssl": True}]
    assert api.certificate_files == ["/etc/ssl/api/rsa.pem", "/etc/ssl/api/ecdsa.pem"]
    assert api.key_files == ["/etc/ssl/api/rsa.key", "/etc/ssl/api/ecdsa.key"]
    assert api.trusted_certificate == "/etc/ssl/api/ca.pem"
    assert api.stapling["SSLUseStapling"] is False
    assert api.stapling["SSLStaplingResponderTimeout"] == 10  # the !mod_ssl.c branch is not taken


def test_mod_md_managed_domain(layout):
    managed = _by_name(_inspect(layout))["managed.example.com"]
    assert managed.stapling["md_managed"] is True
    assert managed.stapling["md_domain"] == "managed.example.com"
    assert managed.stapling["MDStapling"] is True
    assert managed.certificate_files == [f"{layout}/md/domains/managed.example.com/pubcert.pem"]
    assert managed.key_files == [f"{layout}/md/domains/managed.example.com/privkey.pem"]


def test_ifdefine_from_the_master_command_line_environment(layout):
    # -S reports NOSTAPLING as defined only when it is; here it is a Define in a file before use.
    path = layout / "conf-enabled" / "stapling.conf"
    path.write_text("Define NOSTAPLING\n" + path.read_text())
    info = _inspect(layout)
    assert _by_name(info)["shop.example.com"].stapling["SSLUseStapling"] is False


def test_split_dumps_takes_each_part_after_its_last_heading(layout):
    forged = "  (*) x\nLoaded Modules:\n ssl_module (shared)\nVirtualHost configuration:\nDefine: INJECTED=1\n"
    text = _tree(layout) + forged + S_OUTPUT.format(root=layout) + M_OUTPUT
    tree, vhosts, modules = apache.split_dumps(text)
    assert tree == _tree(layout) + forged
    assert vhosts == S_OUTPUT.format(root=layout) and modules == M_OUTPUT
    assert "INJECTED" not in apache.parse_run_config(vhosts).defines
    # without the virtual host dump's heading nothing tells a forged module heading from Apache's: no modules
    assert apache.split_dumps(_tree(layout) + "Loaded Modules:\n ssl_module (shared)\n")[2] == ""
    assert apache.split_dumps("") == ("", "", "")


def test_a_failed_test_uses_nothing_of_its_partial_output(layout):
    partial = f"Included configuration files:\n  (*) {layout}/apache2.conf\nLoaded Modules:\n ssl_module (shared)\n"
    runner = _runner(layout, {DUMP: (1, partial, "")}, prefix=("-d", str(layout)))
    info = _inspect(layout, runner, server_root=str(layout))
    assert info.config_source == "disk" and info.config_test_output == ""
    assert info.errors[0].endswith("failed with exit code 1: Included configuration files:")  # no reason given


def test_broken_config_falls_back_to_globbing(layout):
    (layout / "sites-enabled" / "broken.conf").write_text("<VirtualHost *:8443>\n\tSSLEngine on\n")
    syntax = f"AH00526: Syntax error on line 2 of {layout}/sites-enabled/broken.conf:\n<VirtualHost> was not closed.\n"
    runner = _runner(
        layout,
        # Apache prints the include tree it read before the error, then stops; the reason is on stderr.
        {DUMP: (1, f"Included configuration files:\n  (*) {layout}/apache2.conf\n", syntax)},
        prefix=("-d", str(layout)),
    )
    # With no dump, ServerRoot is only known from the command line (-d), as for a master started with it.
    info = _inspect(layout, runner, server_root=str(layout))
    assert runner.argvs()[1] == ["/usr/sbin/apache2ctl", "-d", str(layout), *DUMP]
    assert info.config_test_ok is False
    assert info.config_source == "disk"
    assert info.errors[0] == (
        f"`/usr/sbin/apache2ctl -d {layout} {' '.join(DUMP)}` failed with exit code 1: AH00526: Syntax error on "
        f"line 2 of {layout}/sites-enabled/broken.conf:"
    )
    assert sum("failed with exit code 1" in error for error in info.errors) == 1  # one command, said once
    assert any("<virtualhost> is not closed" in error for error in info.errors)
    assert "AH00526" in info.config_test_output
    # Everything else is still read, through globbing, with envvars for ${APACHE_LOG_DIR}.
    assert sorted(_by_name(info)) == [
        f"{layout}/sites-enabled/broken.conf:1",
        "api.example.com",
        "managed.example.com",
        "shop.example.com",
    ]
    assert "/var/log/apache2/shop_error.log" in info.error_logs


def test_include_loop_missing_include_and_misplaced_cache(layout):
    (layout / "conf-enabled" / "loop.conf").write_text(
        "Include conf-enabled/loop.conf\nInclude /nonexistent/file.conf\n"
        "<VirtualHost *:443>\nSSLEngine on\nSSLStaplingCache shmcb:/x(1)\n</VirtualHost>\n</IfModule>\n"
    )
    # Apache cannot parse it, so it prints no dump: ServerRoot is known from -d, as for a master started with it.
    runner = _runner(layout, {DUMP: (1, "", "AH00526: Syntax error")}, prefix=("-d", str(layout)))
    info = _inspect(layout, runner, server_root=str(layout))
    joined = "\n".join(info.errors)
    assert "include loop" in joined
    assert "included file /nonexistent/file.conf was not found" in joined
    assert "SSLStaplingCache is only allowed in the main server configuration" in joined
    assert "</ifmodule> without a matching opening section" in joined


def test_macros_and_undefined_variables_are_reported(layout):
    (layout / "sites-enabled" / "zz-macro.conf").write_text(
        "<Macro SSLSite $name>\n<VirtualHost *:443>\nServerName $name\n</VirtualHost>\n</Macro>\n"
        "Use SSLSite a.example\nErrorLog ${UNDEFINED_DIR}/x.log\n"
    )
    # Apache cannot parse it, so it prints no dump: ServerRoot is known from -d, as for a master started with it.
    runner = _runner(layout, {DUMP: (1, "", "x")}, prefix=("-d", str(layout)))
    info = _inspect(layout, runner, server_root=str(layout))
    assert any("mod_macro 'Use' is not expanded" in error for error in info.errors)
    assert any("UNDEFINED_DIR" in note for note in info.notes)
    assert any("<Macro>" in note for note in info.notes)


def test_without_mod_ssl(layout):
    for name in ("ssl.load", "ssl.conf"):
        (layout / "mods-enabled" / name).unlink()
    tree = _tree(layout).replace(f"    (12) {layout}/mods-enabled/ssl.load\n", "")
    tree = tree.replace(f"    (13) {layout}/mods-enabled/ssl.conf\n", "")
    runner = _runner(layout, {DUMP: _dump(layout, tree, M_OUTPUT.replace(" ssl_module (shared)\n", ""))})
    info = _inspect(layout, runner)
    assert info.stapling_capable is False
    assert info.stapling_capable_reason == "mod_ssl is not loaded."
    assert _by_name(info)["shop.example.com"].stapling["SSLStaplingCache"] is None


def test_parse_run_config_and_includes(layout):
    config = apache.parse_run_config(S_OUTPUT.format(root=layout))
    assert config.server_root == str(layout)
    assert config.main_error_log == "/var/log/apache2/error.log"
    assert config.pid_file == "/var/run/apache2/apache2.pid"
    assert [(vhost["name"], vhost["line"]) for vhost in config.vhosts] == [
        ("shop.example.com", 4),
        ("managed.example.com", 4),
        ("shop.example.com", 1),
        ("api.example.com", 17),
        ("api.example.com", 17),
        ("default.example", 1),
    ]
    assert config.vhosts[2]["aliases"] == ["www.shop.example.com", "m.shop.example.com"]
    main, children = apache.parse_includes(_tree(layout))
    assert main == f"{layout}/apache2.conf"
    assert children[(main, 16)] == [f"{layout}/ports.conf"]


def test_nested_dump_includes():
    text = "Included configuration files:\n  (*) /a.conf\n    (3) /b.conf\n      (7) /c.conf\n    (9) /d.conf\n"
    main, children = apache.parse_includes(text)
    assert main == "/a.conf"
    assert children == {("/a.conf", 3): ["/b.conf"], ("/b.conf", 7): ["/c.conf"], ("/a.conf", 9): ["/d.conf"]}


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ('SSLStaplingCache "shmcb:/run/x(1)"', ["SSLStaplingCache", "shmcb:/run/x(1)"]),
        ("ErrorLog '|/usr/bin/rotatelogs /var/log/e 86400'", ["ErrorLog", "|/usr/bin/rotatelogs /var/log/e 86400"]),
        ('Header set X "a \\"quoted\\" b"', ["Header", "set", "X", 'a "quoted" b']),
        ("A\tb   c", ["A", "b", "c"]),
    ],
)
def test_split_args(text, args):
    assert apache.split_args(text) == args


def test_module_ids_and_versions():
    assert apache.module_id("mod_ssl.c") == "ssl_module"
    assert apache.module_id("ssl_module") == "ssl_module"
    assert apache.module_id("event.c") == "mpm_event_module"
    assert apache._version_matches([">=", "2.4.42"], (2, 4, 71))  # pylint: disable=protected-access
    assert not apache._version_matches(["<", "2.4"], (2, 4, 71))  # pylint: disable=protected-access
    assert apache._version_matches(["~", "^2\\.4"], (2, 4, 71))  # pylint: disable=protected-access


def test_discover_running_master_with_its_environment(tmp_path, layout):
    proc = FakeProc(tmp_path / "proc")
    env = {"APACHE_LOG_DIR": "/srv/logs", "APACHE_RUN_DIR": "/run/apache2"}
    proc.add(300, "apache2", ["/usr/sbin/apache2", "-k", "start"], start_ticks=100, environ=env)
    proc.add(301, "apache2", ["/usr/sbin/apache2", "-k", "start"], ppid=300)
    proc.add(302, "apache2", ["/usr/sbin/apache2", "-k", "start"], ppid=300)
    runner = _runner(layout)
    which = which_from({"apache2ctl": "/usr/sbin/apache2ctl", "apache2": "/usr/sbin/apache2"})
    found = apache.discover(runner, which, proc_root=str(proc.root))
    assert len(found) == 1
    info = found[0]
    assert (info.running, info.master_pid) == (True, 300)
    assert "/srv/logs/shop_error.log" in info.error_logs


def test_discover_nothing_installed(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    assert apache.discover(FakeRunner({}), which_from({}), proc_root=str(proc.root)) == []


# ---------------------------------------------------------------------------------------------
# log lines (docs/servers.md, Apache httpd and 3; default ErrorLogFormat)

PFX = "[Mon Nov 23 19:31:00.123456 2026] [ssl:error] [pid 4711:tid 140234] "
LOG_CASES = [
    (
        "[Mon Nov 23 19:31:00.123456 2026] [ssl:emerg] [pid 4711:tid 1] AH01958: SSLStapling: no stapling cache "
        "available",
        "stapling_cache_missing",
        None,
        None,
    ),
    (
        "AH00526: Syntax error on line 4 of /etc/apache2/mods-enabled/ssl.conf: SSLStaplingCache: 'shmcb' stapling "
        "cache not supported (known names: ). Maybe you need to load the appropriate socache module "
        "(mod_socache_shmcb?)",
        "stapling_cache_missing",
        None,
        "socache_module_missing",
    ),
    (
        PFX + "AH02217: ssl_stapling_init_cert: can't retrieve issuer certificate! [subject: CN=shop.example.com / "
        "issuer: CN=R11,O=Let's Encrypt,C=US / serial: 04A1 / notbefore: Nov  1 00:00:00 2026 GMT / notafter: ...]",
        "chain_incomplete",
        None,
        None,
    ),
    (PFX + "AH02217: ssl_stapling_init_cert: Can't retrieve issuer certificate!", "chain_incomplete", None, None),
    (
        PFX + "AH02218: ssl_stapling_init_cert: no OCSP URI in certificate and no SSLStaplingForceURL set "
        "[subject: CN=shop.example.com / issuer: CN=E7]",
        "stapling_without_ocsp",
        None,
        None,
    ),
    (
        PFX + "AH02814: ssl_stapling_init_cert: no OCSP URI in certificate and no SSLStaplingForceURL configured for "
        "server shop.example.com:443",
        "stapling_without_ocsp",
        None,
        None,
    ),
    (
        PFX + "AH02604: Unable to configure certificate shop.example.com:443:0 for stapling",
        "staple_missing",
        None,
        "stapling_init_failed",
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [ssl:info] [pid 1:tid 2] [client 198.51.100.7:5000] AH01926: "
        "stapling_get_certinfo: stapling not supported for certificate",
        "staple_missing",
        None,
        "stapling_init_failed",
    ),
    (PFX + "AH02621: stapling_renew_response: no uri for responder", "stapling_without_ocsp", None, None),
    (
        PFX + "AH01939: stapling_renew_response: Error parsing uri http://[bad",
        "stapling_unsupported",
        None,
        "responder_url_invalid",
    ),
    (
        PFX + "AH01940: stapling_renew_response: Unsupported uri https://ocsp.example.net/",
        "stapling_unsupported",
        None,
        "responder_not_http",
    ),
    (
        PFX + "(-3)Temporary failure in name resolution: [client 198.51.100.7:5000] AH01972: could not resolve address "
        "of OCSP responder ocsp.example.net",
        "responder_unreachable",
        "dns",
        None,
    ),
    (
        PFX + "AH01972: could not resolve address of proxy proxy.corp.example",
        "responder_unreachable",
        "proxy",
        "proxy_dns",
    ),
    (
        PFX + "(111)Connection refused: [client 198.51.100.7:5000] AH01974: could not connect to OCSP responder "
        "'ocsp.example.net'",
        "responder_unreachable",
        "connect",
        "connection_refused",
    ),
    (
        PFX
        + "(70007)The timeout specified has expired: AH01974: could not connect to OCSP responder 'ocsp.example.net'",
        "responder_unreachable",
        "timeout",
        "connect_timeout",
    ),
    (PFX + "AH01974: could not connect to proxy 'proxy.corp.example'", "responder_unreachable", "proxy", None),
    (
        PFX + "AH01976: failed to send request to OCSP responder 'ocsp.example.net'",
        "responder_unreachable",
        "connect",
        "send_failed",
    ),
    (
        PFX + "(70007)The timeout specified has expired: AH01977: failed reading line from OCSP server",
        "responder_unreachable",
        "timeout",
        "read_failed",
    ),
    (PFX + "AH02321: empty response from OCSP server", "responder_unreachable", "http", "empty_response"),
    (PFX + "AH01979: response header line too long from OCSP server", "responder_error", None, "bad_headers"),
    (PFX + "AH01980: bad response from OCSP server: 404 Not Found", "responder_unreachable", "http", "http_404"),
    (PFX + "AH01980: bad response from OCSP server: (none)", "responder_unreachable", "http", "no_status"),
    (
        PFX + "AH01982: could not read response headers from OCSP server, exceeded maximum count (256)",
        "responder_unreachable",
        "http",
        "bad_headers",
    ),
    (PFX + "AH01985: error reading response from OCSP server", "responder_unreachable", "http", "read_error"),
    (PFX + "AH01986: OCSP response size exceeds 10240 byte limit", "responder_error", None, "too_large"),
    (PFX + "AH01988: failed to decode OCSP response data", "responder_error", None, "malformed"),
    (
        "[Mon Nov 23 19:31:00.1 2026] [ssl:debug] [pid 1:tid 2] ssl_util_stapling.c(481): AH01944: "
        "stapling_renew_response: responder error trylater",
        "responder_error",
        None,
        "trylater",
    ),
    (PFX + "AH01941: stapling_renew_response: responder error", "responder_unreachable", None, "transport_failure"),
    (
        PFX + "AH02969: stapling_check_response: response has certificate status revoked (reason: keyCompromise) for "
        "serial number 04A1F3",
        "cert_revoked",
        None,
        "keycompromise",
    ),
    (
        PFX + "AH02969: stapling_check_response: response has certificate status unknown (reason: none) for serial "
        "number 04A1F3",
        "cert_status_unknown",
        None,
        None,
    ),
    (
        PFX + "AH01935: stapling_check_response: certificate ID not present in response!",
        "staple_invalid",
        None,
        "certid_mismatch",
    ),
    (PFX + "AH01936: stapling_check_response: response times invalid", "staple_expired", None, "times_invalid"),
    (PFX + "AH01934: stapling_check_response: Error Parsing Response!", "responder_error", None, "malformed"),
    (
        PFX + "AH01929: stapling_cache_response: OCSP response session store error!",
        "staple_missing",
        None,
        "cache_full",
    ),
    (PFX + "AH01928: OCSP stapling response too big (20000 bytes)", "staple_missing", None, "response_too_big"),
    (PFX + "AH01945: stapling_renew_response: error caching response!", "staple_missing", None, "cache_error"),
    (PFX + "AH01955: stapling_cb: fatal error renewing response", "staple_missing", None, "handshake_aborted"),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:error] [pid 1:tid 2] md[managed.example.com]: certificate with serial "
        "04a1f3 has no OCSP responder URL",
        "stapling_without_ocsp",
        None,
        None,
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:error] [pid 1:tid 2] AH10269: init stapling for: managed.example.com, need "
        "at least 2 certificates in PEM data",
        "chain_incomplete",
        None,
        None,
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:crit] [pid 1] AH10201: mod_watchdog is required for OCSP stapling",
        "stapling_unsupported",
        None,
        "mod_watchdog_missing",
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:debug] [pid 1:tid 2] md_ocsp.c(620): OCSP response status is, "
        "unsuccessfully, 3",
        "responder_error",
        None,
        "status_3",
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:debug] [pid 1:tid 2] md_ocsp.c(640): OCSP basicresponse says cert is unknown",
        "cert_status_unknown",
        None,
        None,
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:debug] [pid 1:tid 2] md_ocsp.c(651): OCSP response, no matching status "
        "reported for  managed.example.com",
        "staple_invalid",
        None,
        "certid_mismatch",
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:debug] [pid 1:tid 2] md_ocsp.c(600): req[1] response body does not parse as "
        "OCSP response, status=200, body brigade length=12",
        "responder_error",
        None,
        "malformed",
    ),
    (
        "[Mon Nov 23 19:31:00.1 2026] [md:warn] [pid 1:tid 2] md_ocsp.c(660): OCSP nonce mismatch in response",
        "staple_invalid",
        None,
        "nonce_mismatch",
    ),
]


@pytest.mark.parametrize(("line", "code", "stage", "detail"), LOG_CASES)
def test_classifier(line, code, stage, detail):
    parsed = apache.parse_line(line, tz=UTC) or apache.logscan.ParsedLine(None, None, line)
    event = apache.make_classifier()(parsed)
    assert event is not None, line
    assert (event.code, event.stage, event.detail) == (code, stage, detail)


def test_every_pattern_is_exercised():
    classify = apache.make_classifier()
    used = set()
    for case in LOG_CASES:
        parsed = apache.parse_line(case[0], tz=UTC) or apache.logscan.ParsedLine(None, None, case[0])
        used.add(classify(parsed).pattern)
    assert used == {rule.id for rule in apache.PATTERNS}


def test_hints_responders_and_levels():
    classify = apache.make_classifier()
    event = classify(apache.parse_line(LOG_CASES[2][0], tz=UTC))
    assert (event.site_hint, event.level, event.time) == ("CN=shop.example.com", "error", "2026-11-23T19:31:00Z")
    event = classify(apache.parse_line(LOG_CASES[13][0], tz=UTC))
    assert event.responder == "ocsp.example.net"
    event = classify(apache.parse_line(LOG_CASES[28][0], tz=UTC))
    assert event.site_hint == "serial:04a1f3"
    event = classify(apache.parse_line(LOG_CASES[6][0], tz=UTC))
    assert event.site_hint == "shop.example.com:443"
    assert event.ambiguous_with == ["chain_incomplete", "stapling_without_ocsp"]


@pytest.mark.parametrize(
    "line",
    [
        "[Mon Nov 23 19:31:00.1 2026] [ssl:warn] [pid 1:tid 2] AH01909: www.example.com:443:0 server certificate "
        "does NOT include an ID which matches the server name",
        "[Mon Nov 23 19:31:00.1 2026] [mpm_event:notice] [pid 1:tid 2] AH00489: Apache/2.4.71 (Debian) configured",
        "[Mon Nov 23 19:31:00.1 2026] [ssl:debug] [pid 1:tid 2] AH01937: stapling_check_response: cached response "
        "expired",
    ],
)
def test_classifier_ignores_other_lines(line):
    assert apache.make_classifier()(apache.parse_line(line, tz=UTC)) is None


def test_parse_line_formats():
    parsed = apache.parse_line("[Tue Nov  3 01:02:03 2026] [error] [client 1.2.3.4] old format", tz=UTC)
    assert (parsed.time.isoformat(), parsed.level, parsed.message) == (
        "2026-11-03T01:02:03+00:00",
        "error",
        "old format",
    )
    assert apache.parse_line("garbage") is None


def test_log_events_on_a_vhost_log(layout, tmp_path):
    info = _inspect(layout)
    log = tmp_path / "shop_error.log"
    log.write_text(
        "[Mon Nov 23 08:00:00.000001 2026] [ssl:error] [pid 1:tid 2] AH01941: stapling_renew_response: responder "
        "error\n"
        + "[Mon Nov 23 19:31:00.000001 2026] [ssl:error] [pid 1:tid 2] AH01974: could not connect to OCSP responder "
        "'ocsp.example.net'\n"
    )
    info.error_logs = [str(log), str(tmp_path / "missing.log")]
    since = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    events = servers.log_events(info, since, tz=UTC)
    assert [(event.code, event.line_no, event.responder) for event in events] == [
        ("responder_unreachable", 2, "ocsp.example.net")
    ]
    assert f"log file {tmp_path / 'missing.log'} does not exist." in info.errors


def test_include_inside_a_virtual_host_belongs_to_it(tmp_path):
    """certbot's layout: the vhost includes a snippet holding its certificate and SSL options."""
    (tmp_path / "sites").mkdir()
    (tmp_path / "snippets").mkdir()
    main = tmp_path / "httpd.conf"
    main.write_text(
        "LoadModule ssl_module modules/mod_ssl.so\nServerName main.example\nSSLEngine off\n"
        "IncludeOptional sites/*.conf\n"
    )
    site = tmp_path / "sites" / "le.conf"
    site.write_text(
        "<IfModule mod_ssl.c>\n<VirtualHost *:443>\n    ServerName le.example\n    Include snippets/le-ssl.conf\n"
        "</VirtualHost>\n</IfModule>\n"
    )
    snippet = tmp_path / "snippets" / "le-ssl.conf"
    snippet.write_text(
        "SSLEngine on\nSSLCertificateFile /etc/letsencrypt/live/le.example/fullchain.pem\n"
        "SSLCertificateKeyFile /etc/letsencrypt/live/le.example/privkey.pem\nSSLUseStapling on\n"
    )
    tree = f"Included configuration files:\n  (*) {main}\n    (4) {site}\n      (4) {snippet}\n"
    runner = FakeRunner(
        {
            ("-v",): (0, V_OUTPUT, ""),
            DUMP: (0, tree + f'VirtualHost configuration:\nServerRoot: "{tmp_path}"\n' + M_OUTPUT, ""),
        }
    )
    info = apache.inspect(runner, "/usr/sbin/apache2ctl", None, envvars_file=str(tmp_path / "none"))
    assert info.errors == []
    [le] = info.sites
    assert le.server_names == ["le.example"]
    assert le.certificate_files == ["/etc/letsencrypt/live/le.example/fullchain.pem"]
    assert le.stapling["SSLUseStapling"] is True
    assert set(info.config_files) == {str(main), str(site), str(snippet)}
