# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""backup_stash: backups leave the servers' directories in one call, all or nothing, never wider than they were."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.tlsfleet.stapling.plugins.module_utils import files
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.modules import backup_stash
from ansible_collections.tlsfleet.stapling.tests.unit.modrun import run_module

STAMP = ".4242.2026-12-03@08:00:00~"
# A key made at run time: the backup of a key file is what the stash must keep 0600 and never print.
KEY_PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
KEY_BODY = KEY_PEM.decode().splitlines()[1]


@pytest.fixture
def node(tmp_path):
    """A server directory with a key's and a site file's backups beside them, and an empty backup directory."""
    etc = tmp_path / "etc" / "haproxy" / "certs"
    etc.mkdir(parents=True)
    key = etc / ("www.pem" + STAMP)
    key.write_bytes(KEY_PEM)
    key.chmod(0o600)
    site = tmp_path / "etc" / "nginx" / ("www.conf" + STAMP)
    site.parent.mkdir(parents=True)
    site.write_text("server {}\n")
    site.chmod(0o644)
    backups = tmp_path / "backups"
    moves = {str(p): str(backups) + str(p) for p in (key, site)}
    return {"root": tmp_path, "key": key, "site": site, "backups": backups, "moves": moves}


def test_moves_every_backup_under_the_directory_keeping_modes_and_content(node):
    moved = files.stash_backups(node["moves"], str(node["backups"]))
    assert [m["src"] for m in moved] == sorted(node["moves"])
    for source, dest in node["moves"].items():
        assert not os.path.lexists(source) and os.path.isfile(dest)
    key_copy = node["moves"][str(node["key"])]
    assert stat.S_IMODE(os.stat(key_copy).st_mode) == 0o600
    assert Path(key_copy).read_bytes() == KEY_PEM
    assert stat.S_IMODE(os.stat(node["moves"][str(node["site"])]).st_mode) == 0o644
    for directory in (node["backups"], os.path.dirname(key_copy)):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, directory
    # A second run (the sources gone, the copies in place) moves nothing.
    assert files.stash_backups(node["moves"], str(node["backups"])) == []


def test_check_mode_moves_nothing_and_says_what_would_move(node):
    moved = files.stash_backups(node["moves"], str(node["backups"]), check_mode=True)
    assert len(moved) == 2
    assert node["key"].exists() and not node["backups"].exists()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda n: {str(n["key"]): str(n["root"] / "elsewhere" / "k")}, id="dest outside backup_dir"),
        pytest.param(lambda n: {str(n["key"]): str(n["backups"]) + "/../../etc/passwd"}, id="dest leaves by .."),
        pytest.param(lambda n: {"relative/path": str(n["backups"]) + "/x"}, id="relative source"),
        pytest.param(lambda n: {str(n["root"] / "gone~"): str(n["backups"]) + "/gone~"}, id="source gone, no copy"),
        pytest.param(lambda n: {str(n["backups"] / "x"): str(n["backups"]) + "/y"}, id="source inside backup_dir"),
    ],
)
def test_a_bad_pair_stops_everything_before_anything_moves(node, bad):
    moves = dict(node["moves"], **bad(node))
    with pytest.raises(InputError, match=r"nothing was moved|must be absolute|not under"):
        files.stash_backups(moves, str(node["backups"]))
    assert node["key"].exists() and node["site"].exists()


def test_a_symbolic_link_or_a_directory_is_not_moved(node):
    link = node["root"] / ("link" + STAMP)
    link.symlink_to(node["key"])
    with pytest.raises(InputError, match="is a symbolic link, not a file"):
        files.stash_backups({str(link): str(node["backups"]) + str(link)}, str(node["backups"]))
    with pytest.raises(InputError, match="is a directory, not a file"):
        files.stash_backups({str(node["root"]): str(node["backups"]) + "/d"}, str(node["backups"]))
    for bad_dir in ("", "relative", "/"):
        with pytest.raises(InputError, match="absolute directory"):
            files.stash_backups(node["moves"], bad_dir)


def test_across_file_systems_the_copy_is_never_wider_and_the_source_goes_last(node, monkeypatch):
    real_rename, opened_modes = os.rename, []
    real_open = os.open

    def cross_device(src, dst, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def watching_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            opened_modes.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "rename", cross_device)
    monkeypatch.setattr(os, "open", watching_open)
    moved = files.stash_backups(node["moves"], str(node["backups"]))
    monkeypatch.setattr(os, "rename", real_rename)
    assert len(moved) == 2 and opened_modes == [0o600, 0o600]
    key_copy = node["moves"][str(node["key"])]
    assert stat.S_IMODE(os.stat(key_copy).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(node["moves"][str(node["site"])]).st_mode) == 0o644
    assert not node["key"].exists() and not node["site"].exists()
    assert not [p for p in os.listdir(os.path.dirname(key_copy)) if p.startswith(".tlsfleet-stash")]


def test_a_failure_half_way_puts_back_what_moved(node, monkeypatch):
    real_rename = os.rename
    calls = []

    def second_fails(src, dst, **kwargs):
        calls.append(src)
        if len(calls) == 2:
            raise OSError(errno.EACCES, "Permission denied")
        return real_rename(src, dst, **kwargs)

    monkeypatch.setattr(os, "rename", second_fails)
    with pytest.raises(InputError, match=r"Permission denied\. The backups moved before it were put back"):
        files.stash_backups(node["moves"], str(node["backups"]))
    assert node["key"].exists() and node["site"].exists()
    assert not any(os.path.lexists(dest) for dest in node["moves"].values())


def test_module_reports_moves_and_fails_cleanly(node, capsys, monkeypatch):
    result, _out = run_module(
        backup_stash.main, {"backup_dir": str(node["backups"]), "moves": node["moves"]}, capsys, monkeypatch
    )
    assert result["changed"] is True and len(result["moved"]) == 2
    assert KEY_BODY not in _out  # paths only, never what a backup holds
    again, _out = run_module(
        backup_stash.main, {"backup_dir": str(node["backups"]), "moves": node["moves"]}, capsys, monkeypatch
    )
    assert again["changed"] is False and again["moved"] == []
    failed, _out = run_module(
        backup_stash.main,
        {"backup_dir": str(node["backups"]), "moves": {"/nonexistent/x~": "/elsewhere/x~"}},
        capsys,
        monkeypatch,
    )
    assert failed.get("failed") and "not under the backup directory" in failed["msg"]
    assert "Traceback" not in failed["msg"]
    odd, _out = run_module(
        backup_stash.main, {"backup_dir": str(node["backups"]), "moves": {"/a~": 3}}, capsys, monkeypatch
    )
    assert odd.get("failed") and "must be a path" in odd["msg"]


def test_a_directory_under_backup_dir_that_is_a_link_leads_nothing_out(node):
    outside = node["root"] / "real-etc"
    (outside / "haproxy" / "certs").mkdir(parents=True)
    (outside / "haproxy" / "certs").chmod(0o755)
    mirrored = node["backups"] / str(node["key"].parent).lstrip("/")
    mirrored.parent.mkdir(parents=True)
    mirrored.symlink_to(outside / "haproxy" / "certs")
    expected = r"is a symbolic link or not a directory\. The backups moved before it were put back"
    with pytest.raises(InputError, match=expected):
        files.stash_backups(node["moves"], str(node["backups"]))
    assert node["key"].exists() and node["site"].exists()
    assert os.listdir(outside / "haproxy" / "certs") == []
    assert stat.S_IMODE(os.stat(outside / "haproxy" / "certs").st_mode) == 0o755


def test_an_existing_destination_is_never_replaced(node):
    dest = Path(node["moves"][str(node["key"])])
    dest.parent.mkdir(parents=True)
    dest.write_text("an older backup\n")
    with pytest.raises(InputError, match=r"already exists .* nothing was moved"):
        files.stash_backups(node["moves"], str(node["backups"]))
    assert dest.read_text() == "an older backup\n" and node["key"].exists() and node["site"].exists()


@pytest.mark.parametrize("name", ["shadow", "www.pem", "www.pem~", "www.pem.bak"])
def test_only_a_file_named_as_a_backup_is_moved(node, name):
    live = node["root"] / "etc" / name
    live.write_text("live\n")
    moves = dict(node["moves"], **{str(live): str(node["backups"]) + str(live)})
    with pytest.raises(InputError, match="is not named as a backup"):
        files.stash_backups(moves, str(node["backups"]))
    assert live.exists() and node["key"].exists()


def test_odd_paths_are_clear_errors_not_tracebacks(node):
    key = str(node["key"])
    for moves in ({key + "\0x": str(node["backups"]) + key}, {key: str(node["backups"]) + "/a\0b"}):
        with pytest.raises(InputError, match="must be absolute"):
            files.stash_backups(dict(node["moves"], **moves), str(node["backups"]))
    twice = {key: str(node["backups"]) + key, key.replace("/etc/", "/etc//"): str(node["backups"]) + key}
    with pytest.raises(InputError, match="named twice: nothing was moved"):
        files.stash_backups(twice, str(node["backups"]))
    assert node["key"].exists() and node["site"].exists()


def test_a_backup_that_cannot_be_put_back_is_named(node, monkeypatch):
    def always_fails(src, dst, **kwargs):
        if kwargs:  # the move itself succeeds once
            always_fails.calls += 1
            if always_fails.calls == 1:
                return real_rename(src, dst, **kwargs)
        raise OSError(errno.EACCES, "Permission denied")

    always_fails.calls = 0
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", always_fails)
    with pytest.raises(InputError, match=r"could NOT be put back: \S*www\.pem\S* \(from \S*www\.pem") as raised:
        files.stash_backups(node["moves"], str(node["backups"]))
    assert "were put back." not in str(raised.value)


def test_a_copied_backup_whose_source_cannot_be_removed_is_warned_about(node, monkeypatch):
    real_unlink = os.unlink

    def cross_device(src, dst, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def key_stays(path, *args, **kwargs):
        if str(path) == str(node["key"]):
            raise OSError(errno.EPERM, "Operation not permitted")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "rename", cross_device)
    monkeypatch.setattr(os, "unlink", key_stays)
    warnings = []
    moved = files.stash_backups(node["moves"], str(node["backups"]), warn=warnings.append)
    assert len(moved) == 2 and os.path.isfile(node["moves"][str(node["key"])])
    assert len(warnings) == 1 and str(node["key"]) in warnings[0] and "Operation not permitted" in warnings[0]
