# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""site_stapling run in-process: symlinks, check mode, diff, idempotence, backups, mode, cache file, warnings."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.tlsfleet.stapling.plugins.modules import site_stapling
from ansible_collections.tlsfleet.stapling.tests.unit import modrun

SITE = (
    "# shop\nserver {\n    listen 443 ssl;\n    ssl_certificate_key /k;\n    ssl_stapling off;\n"
    "    include snippets/s.conf;\n}\n"
)
VHOST = "<VirtualHost *:443>\n    SSLEngine on\n    SSLCertificateKeyFile /k\n</VirtualHost>\n"


def run(args, capsys, monkeypatch, check=False, diff=False):
    getattr(ansible_warnings, "_global_warnings", []).clear()
    args = dict(args)
    args["_ansible_check_mode"] = check
    args["_ansible_diff"] = diff
    return modrun.run_module(site_stapling.main, args, capsys, monkeypatch)[0]


def warnings_of(result):
    texts = []
    for item in result.get("warnings", []):
        texts.append(item if isinstance(item, str) else item.get("event", {}).get("msg", json.dumps(item)))
    return texts


def nginx_tree(tmp_path):
    etc = tmp_path / "nginx"
    for name in ("sites-available", "sites-enabled", "snippets"):
        (etc / name).mkdir(parents=True)
    (etc / "nginx.conf").write_text("events {}\n")
    target = etc / "sites-available" / "shop.conf"
    target.write_text(SITE)
    os.chmod(target, 0o640)
    link = etc / "sites-enabled" / "shop.conf"
    link.symlink_to("../sites-available/shop.conf")
    (etc / "snippets" / "s.conf").write_text("ssl_stapling_verify off;\n")
    return link, target


def test_nginx_symlink_check_diff_write_idempotent(tmp_path, capsys, monkeypatch):
    link, target = nginx_tree(tmp_path)
    args = {"server": "nginx", "path": str(link), "line": 2, "stapling": True, "verify": True}  # YAML `on` is a bool
    checked = run(args, capsys, monkeypatch, check=True, diff=True)
    assert checked["changed"] is True
    assert checked["path"] == str(target)
    assert checked["changes"] == ["ssl_stapling off -> on", "ssl_stapling_verify (not set) -> on"]
    prepared = checked["diff"][0]["prepared"]
    assert "-    ssl_stapling off;\n" in prepared and "+    ssl_stapling on;\n" in prepared
    assert target.read_text() == SITE  # check mode writes nothing
    assert any("snippets/s.conf:1" in text and "ssl_stapling_verify" in text for text in warnings_of(checked))

    done = run(args, capsys, monkeypatch)
    assert done["changed"] is True
    assert link.is_symlink() and os.readlink(link) == "../sites-available/shop.conf"
    assert "    ssl_stapling on;\n" in target.read_text() and "ssl_stapling_verify on;" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert Path(done["backup_file"]).read_text() == SITE

    again = run(args, capsys, monkeypatch)
    assert again["changed"] is False and again["changes"] == []
    assert "backup_file" not in again


def test_nginx_wrong_line_fails_and_leaves_file(tmp_path, capsys, monkeypatch):
    link, target = nginx_tree(tmp_path)
    result = run({"server": "nginx", "path": str(link), "line": 1, "stapling": "on"}, capsys, monkeypatch)
    assert result["failed"] is True
    assert "no nginx server block starts at line 1" in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert target.read_text() == SITE


def test_options_of_the_other_server_are_refused(tmp_path, capsys, monkeypatch):
    link, _target = nginx_tree(tmp_path)
    result = run(
        {"server": "nginx", "path": str(link), "line": 2, "stapling": "on", "cache": "shmcb:x"}, capsys, monkeypatch
    )
    assert result["failed"] is True and "server=apache only" in result["msg"]
    result = run(
        {"server": "apache", "path": str(link), "line": 2, "stapling": "on", "verify": True}, capsys, monkeypatch
    )
    assert result["failed"] is True and "verify applies to server=nginx only" in result["msg"]


def test_apache_vhost_and_cache_file(tmp_path, capsys, monkeypatch):
    etc = tmp_path / "apache2"
    (etc / "sites-available").mkdir(parents=True)
    (etc / "conf-enabled").mkdir()
    (etc / "apache2.conf").write_text("# SSLStaplingCache shmcb:commented(1)\nIncludeOptional conf-enabled/*.conf\n")
    (etc / "conf-enabled" / "old.conf").write_text("SSLStaplingCache shmcb:/run/old(1024)\n")
    site = etc / "sites-available" / "default-ssl.conf"
    site.write_text(VHOST)
    cache_file = etc / "conf-enabled" / "tlsfleet-stapling-cache.conf"
    args = {
        "server": "apache",
        "path": str(site),
        "line": 1,
        "stapling": "on",
        "responder_timeout": 5,
        "cache": "shmcb:${APACHE_RUN_DIR}/ssl_stapling(131072)",
        "cache_file": str(cache_file),
    }
    result = run(args, capsys, monkeypatch, diff=True)
    assert result["changed"] is True
    assert result["changes"] == [
        "SSLUseStapling (not set) -> on",
        "SSLStaplingResponderTimeout (not set) -> 5",
        f"SSLStaplingCache in {cache_file} (not set) -> shmcb:${{APACHE_RUN_DIR}}/ssl_stapling(131072)",
    ]
    assert site.read_text() == VHOST.replace("/k\n", "/k\n    SSLUseStapling on\n    SSLStaplingResponderTimeout 5\n")
    text = cache_file.read_text()
    assert text.startswith("# managed by tlsfleet.stapling")
    assert text.count("SSLStaplingCache") == 2  # the header comment and the one line
    assert [item["after_header"] for item in result["diff"]] == [str(site), str(cache_file)]
    warned = warnings_of(result)
    assert any("old.conf:1 also sets SSLStaplingCache" in text for text in warned)
    assert not any("apache2.conf" in text for text in warned)  # a commented line is not a directive

    again = run(args, capsys, monkeypatch)
    assert again["changed"] is False and again["changes"] == []

    changed_value = run(dict(args, cache="shmcb:/run/other(1024)"), capsys, monkeypatch)
    assert changed_value["changes"] == [
        f"SSLStaplingCache in {cache_file} shmcb:${{APACHE_RUN_DIR}}/ssl_stapling(131072) -> shmcb:/run/other(1024)"
    ]
    assert Path(changed_value["cache_backup_file"]).read_text() == text


def test_apache_cache_needs_cache_file(tmp_path, capsys, monkeypatch):
    site = tmp_path / "s.conf"
    site.write_text(VHOST)
    result = run(
        {"server": "apache", "path": str(site), "line": 1, "stapling": "on", "cache": "shmcb:x(1)"}, capsys, monkeypatch
    )
    assert result["failed"] is True and "cache_file is required" in result["msg"]
    assert site.read_text() == VHOST


def test_missing_file_fails_cleanly(tmp_path, capsys, monkeypatch):
    result = run(
        {"server": "apache", "path": str(tmp_path / "nope.conf"), "line": 1, "stapling": "off"}, capsys, monkeypatch
    )
    assert result["failed"] is True
    assert result["msg"] == f"configuration file {tmp_path}/nope.conf does not exist."


def test_diff_shows_the_changed_directives_with_context_never_the_whole_file(tmp_path, capsys, monkeypatch):
    link, target = nginx_tree(tmp_path)
    # A long site: 200 other lines (say, proxy settings and secrets in comments) around the server block.
    before = "".join("# unrelated line %03d\n" % n for n in range(100))
    after = "".join("# later line %03d\n" % n for n in range(100))
    target.write_text(before + SITE + after)
    args = {"server": "nginx", "path": str(link), "line": 102, "stapling": True}
    result = run(args, capsys, monkeypatch, check=True, diff=True)
    assert result["changed"] is True
    (entry,) = result["diff"]
    assert "before" not in entry and "after" not in entry
    lines = entry["prepared"].splitlines()
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    changed = [line for line in lines[2:] if line[:1] in "+-"]
    assert changed == ["-    ssl_stapling off;", "+    ssl_stapling on;"]
    # Three lines of context either side, a hunk header, the two headers: nothing else of the file.
    assert len(lines) <= 2 + 1 + 3 + len(changed) + 3, lines
    assert not any("unrelated line 000" in line or "later line 099" in line for line in lines)
