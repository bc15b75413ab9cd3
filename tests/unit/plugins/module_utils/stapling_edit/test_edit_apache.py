# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Apache stapling editor on realistic virtual hosts, and its output checked by the real ``apache2 -t``."""

from __future__ import annotations

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import edit as ed
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.apache import reader as apache_reader
from ansible_collections.tlsfleet.stapling.plugins.module_utils.stapling_edit import EditError
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.stapling_edit import realcheck

# Debian's default-ssl.conf, shortened (tabs, comments, nested sections, the whole vhost inside <IfModule>).
DEBIAN = """\
<IfModule mod_ssl.c>
\t<VirtualHost _default_:443>
\t\tServerAdmin webmaster@localhost

\t\tDocumentRoot /var/www/html

\t\t#   SSL Engine Switch:
\t\t#   Enable/Disable SSL for this virtual host.
\t\tSSLEngine on

\t\t#   A self-signed (snakeoil) certificate can be created by installing
\t\t#   the ssl-cert package. See
\t\tSSLCertificateFile\t/etc/ssl/certs/ssl-cert-snakeoil.pem
\t\tSSLCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key

\t\t#SSLUseStapling on
\t\t<FilesMatch "\\.(?:cgi|shtml|phtml|php)$">
\t\t\t\tSSLOptions +StdEnvVars
\t\t</FilesMatch>
\t\t<Directory /usr/lib/cgi-bin>
\t\t\t\tSSLOptions +StdEnvVars
\t\t\t\tSSLUseStapling off
\t\t</Directory>
\t</VirtualHost>
</IfModule>
"""

# What the lab writes (tests/lab/tlslab/servers/apache.py), two sites in one file.
LAB = """\
<VirtualHost *:8443>
    ServerName shop.lab.test
    DocumentRoot /var/www/html
    SSLEngine on
    SSLCertificateFile /etc/tlsfleet/certs/shop.crt
    SSLCertificateKeyFile /etc/tlsfleet/private/shop.key
    SSLUseStapling off
    ErrorLog ${APACHE_LOG_DIR}/error.log
</VirtualHost>
<VirtualHost *:9443>
    ServerName blog.lab.test
    SSLEngine on
    SSLUseStapling on
</VirtualHost>
"""


def test_debian_default_ssl_inserts_after_key_and_leaves_comments_and_directory():
    result = ed.edit_vhost(DEBIAN, 2, ed.settings_for("on", 5, False), "default-ssl.conf")
    assert result.text == DEBIAN.replace(
        "ssl-cert-snakeoil.key\n",
        "ssl-cert-snakeoil.key\n\t\tSSLUseStapling on\n\t\tSSLStaplingResponderTimeout 5\n"
        "\t\tSSLStaplingReturnResponderErrors off\n",
    )
    assert result.changes == [
        "SSLUseStapling (not set) -> on",
        "SSLStaplingResponderTimeout (not set) -> 5",
        "SSLStaplingReturnResponderErrors (not set) -> off",
    ]
    again = ed.edit_vhost(result.text, 2, ed.settings_for("on", 5, False), "default-ssl.conf")
    assert again.changes == [] and again.text == result.text


def test_line_is_the_one_the_reader_reports():
    logical = apache_reader.logical_lines(DEBIAN)
    assert [first for first, _last, body in logical if body.lower().startswith("<virtualhost")] == [2]
    with pytest.raises(EditError, match=r"no <VirtualHost> starts at line 1 .*lines: 2\)"):
        ed.edit_vhost(DEBIAN, 1, ed.settings_for("on"), "default-ssl.conf")


def test_second_vhost_of_lab_file_replaced_case_insensitively_first_untouched():
    result = ed.edit_vhost(LAB, 10, ed.settings_for("off", 7), "lab.conf")
    # no SSLCertificateKeyFile in that one: the new directive goes to the start of the block
    assert result.text == LAB.replace(
        "<VirtualHost *:9443>\n    ServerName blog.lab.test\n    SSLEngine on\n    SSLUseStapling on\n",
        "<VirtualHost *:9443>\n    SSLStaplingResponderTimeout 7\n    ServerName blog.lab.test\n    SSLEngine on\n"
        "    SSLUseStapling off\n",
    )
    assert result.changes == ["SSLUseStapling on -> off", "SSLStaplingResponderTimeout (not set) -> 7"]
    first = ed.edit_vhost(LAB, 1, ed.settings_for("ON"), "lab.conf")
    assert first.text == LAB.replace("    SSLUseStapling off\n", "    SSLUseStapling ON\n")
    assert (
        ed.edit_vhost("<VirtualHost *:443>\n  sslusestapling On\n</VirtualHost>\n", 1, ed.settings_for("on")).changes
        == []
    )


def test_continuation_lines_replaced_whole_and_conditional_counted():
    text = (
        "<VirtualHost \\\n   *:443>\n  SSLEngine on\n  SSLStaplingResponderTimeout \\\n     20\n"
        "  <IfModule ssl_module>\n    SSLUseStapling off\n  </IfModule>\n</VirtualHost>\n"
    )
    result = ed.edit_vhost(text, 1, ed.settings_for("on", 5), "f")
    assert result.text == (
        "<VirtualHost \\\n   *:443>\n  SSLEngine on\n  SSLStaplingResponderTimeout 5\n"
        "  <IfModule ssl_module>\n    SSLUseStapling on\n  </IfModule>\n</VirtualHost>\n"
    )


def test_no_key_inserts_after_opening_and_empty_vhost_gets_indent():
    assert ed.edit_vhost("<VirtualHost *:443>\n</VirtualHost>\n", 1, ed.settings_for("on")).text == (
        "<VirtualHost *:443>\n    SSLUseStapling on\n</VirtualHost>\n"
    )
    text = "<VirtualHost *:443>\n\tSSLEngine on\n</VirtualHost>\n"
    assert ed.edit_vhost(text, 1, ed.settings_for("on")).text == (
        "<VirtualHost *:443>\n\tSSLUseStapling on\n\tSSLEngine on\n</VirtualHost>\n"
    )


def test_failures_are_clear():
    with pytest.raises(EditError, match="set 2 times"):
        ed.edit_vhost(
            "<VirtualHost *:443>\nSSLUseStapling on\nSSLUseStapling off\n</VirtualHost>\n", 1, ed.settings_for("on")
        )
    with pytest.raises(EditError, match="not closed"):
        ed.edit_vhost("<VirtualHost *:443>\nSSLEngine on\n", 1, ed.settings_for("on"))
    with pytest.raises(EditError, match="closes <directory>"):
        ed.edit_vhost("<VirtualHost *:443>\n<Directory />\n</Location>\n</VirtualHost>\n", 1, ed.settings_for("on"))
    with pytest.raises(EditError, match="positive"):
        ed.settings_for("on", 0)
    with pytest.raises(EditError, match="quote"):
        ed.cache_file_text('shmcb:"x"')


def test_includes_reported():
    text = "<VirtualHost *:443>\n  Include /etc/letsencrypt/options-ssl-apache.conf\n</VirtualHost>\n"
    assert ed.edit_vhost(text, 1, ed.settings_for("on")).includes == [("/etc/letsencrypt/options-ssl-apache.conf", 2)]


def test_cache_file_text_and_value():
    text = ed.cache_file_text("shmcb:${APACHE_RUN_DIR}/ssl_stapling(131072)")
    assert text.startswith("# managed by tlsfleet.stapling")
    assert ed.directives_in(text, ("sslstaplingcache",)) == [
        ("SSLStaplingCache", 4, "shmcb:${APACHE_RUN_DIR}/ssl_stapling(131072)")
    ]
    assert ed.cache_value(text) == "shmcb:${APACHE_RUN_DIR}/ssl_stapling(131072)"
    assert ed.cache_value(None) is None


@realcheck.needs_apache
def test_real_apache_accepts_edited_vhost_and_cache_file(tmp_path):
    chain, key, _trusted = realcheck.write_pki(tmp_path)
    site = (
        DEBIAN.replace("_default_:443", "127.0.0.1:18443")
        .replace("/etc/ssl/certs/ssl-cert-snakeoil.pem", str(chain))
        .replace("/etc/ssl/private/ssl-cert-snakeoil.key", str(key))
        .replace("/var/www/html", str(tmp_path))
        .replace("\t\t\t\tSSLUseStapling off\n", "")  # not allowed in <Directory>: only there to test the editor
    )
    rc, out = realcheck.apache_test(tmp_path, site)
    assert rc == 0, out
    edited = ed.edit_vhost(site, 2, ed.settings_for("on", 5, False), "site.conf").text
    # SSLUseStapling on without a cache is fatal (AH01958) at startup, but -t checks the syntax and contexts only;
    # the cache file is part of the configuration anyway, as the module writes it.
    (tmp_path / "cache.conf").write_text(ed.cache_file_text(f"shmcb:{tmp_path}/ssl_stapling(131072)"))
    rc, out = realcheck.apache_test(tmp_path, edited, extra_main=f"Include {tmp_path}/cache.conf\n")
    assert rc == 0, out
    assert "Syntax OK" in out
    # The cache line inside a virtual host would be rejected: that is why it goes to its own file.
    wrong = edited.replace("SSLUseStapling on", f"SSLUseStapling on\n\t\tSSLStaplingCache shmcb:{tmp_path}/x(1024)")
    rc, out = realcheck.apache_test(tmp_path, wrong)
    assert rc != 0
    assert "SSLStaplingCache" in out
