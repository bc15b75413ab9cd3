# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Paths from server configuration that name a FIFO or a device are refused at once, never read or waited on."""

from __future__ import annotations

import datetime
import os
import threading
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import audit, evidence, files, logscan, servers, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

UTC = datetime.timezone.utc


def _within(seconds, call, *args, **kwargs):
    """Run ``call`` in a daemon thread; fail when it has not returned after ``seconds`` (it blocked)."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call(*args, **kwargs)
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "%s blocked for more than %s s" % (getattr(call, "__name__", call), seconds)
    return outcome


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "hung.pem"
    os.mkfifo(str(path))
    return str(path)


def test_fifo_as_certificate_file_is_refused_without_blocking(fifo):
    outcome = _within(2, x509.load_certificates_from_path, fifo, "certificate file")
    assert isinstance(outcome.get("error"), InputError)
    assert str(outcome["error"]) == f"certificate file {fifo} is a FIFO, not a regular file."


def test_fifo_as_key_file_is_refused_without_blocking(fifo):
    outcome = _within(2, x509.read_input_file, fifo, "private key file")
    assert str(outcome["error"]) == f"private key file {fifo} is a FIFO, not a regular file."


def test_fifo_as_log_file_is_a_scan_error_without_blocking(fifo):
    outcome = _within(2, logscan.scan_file, fifo, None, lambda line: None, lambda parsed: None, 1000, 1000)
    events, scan = outcome["value"]
    assert events == []
    assert scan.error == f"log file {fifo} is a FIFO, not a regular file."


def test_fifo_as_configuration_include_is_an_error_without_blocking(fifo):
    outcome = _within(2, common.read_text_file, fifo)
    assert outcome["value"] == (None, f"{fifo} is a FIFO, not a regular file.")


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_character_devices_are_refused(device):
    if not os.path.exists(device):
        pytest.skip(f"{device} is not available here")
    with pytest.raises(InputError, match=r"^certificate file %s is a character device, not a regular file\.$" % device):
        x509.load_certificates_from_path(device, "certificate file")
    assert common.read_text_file(device) == (None, f"{device} is a character device, not a regular file.")


def test_socket_is_refused(tmp_path):
    import socket

    path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        with pytest.raises(InputError, match=r"is a socket, not a regular file\.$"):
            x509.read_input_file(path, "staple file")
    finally:
        listener.close()


def test_swap_to_a_fifo_after_the_check_is_caught_on_the_open_descriptor(fifo, tmp_path, monkeypatch):
    """A file replaced by a FIFO between stat and open: O_NONBLOCK opens it at once and fstat refuses it."""
    regular = tmp_path / "regular.pem"
    regular.write_bytes(b"x")
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(str(regular)) if path == fifo else real_stat(path))
    closed = []
    real_close = os.close
    monkeypatch.setattr(os, "close", lambda fd: (closed.append(fd), real_close(fd)))
    outcome = _within(2, files.open_regular, fifo, "certificate file")
    assert str(outcome["error"]) == f"certificate file {fifo} is a FIFO, not a regular file."
    assert len(closed) == 1  # the descriptor of the refused file is not leaked


def test_regular_file_still_reads(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_bytes(b"hello")
    with files.open_regular(str(path), "file") as handle:
        assert handle.read() == b"hello"


def test_audit_reports_a_fifo_as_an_error_of_its_site_and_reads_the_rest(fifo, tmp_path, pki):
    """A hung certificate file is one site's error; the key file of the next site is still read."""
    root = pki.root()
    good = tmp_path / "good.pem"
    good.write_bytes(root.pem)
    server = servers.ServerInfo(type="nginx")
    units = [
        audit.Unit(
            key="a#0",
            server=server,
            site=servers.SiteInfo(server="nginx", site_id="a", source="a.conf"),
            certificate_file=fifo,
            key_file=None,
            stapling={},
        ),
        audit.Unit(
            key="b#0",
            server=server,
            site=servers.SiteInfo(server="nginx", site_id="b", source="b.conf"),
            certificate_file=str(good),
            key_file=fifo,
            stapling={},
        ),
    ]

    def read_all():
        for unit in units:
            audit._read_configured(unit, [], 300, evidence.Certificates())

    _within(5, read_all)
    assert units[0].configured.errors == [f"certificate file {fifo} is a FIFO, not a regular file."]
    assert units[1].leaf is not None
    assert units[1].configured.key_matches is None
    assert units[1].configured.errors == [f"private key file {fifo} is a FIFO, not a regular file."]


# ---------------------------------------------------------------------------------------------------------------
# Bounded reads and atomic replacement (the modules' shared writer)


class _Module:
    """What replace_atomically uses of AnsibleModule: atomic_move, backup_local, params."""

    def __init__(self):
        self.params = {"unsafe_writes": False}
        self.moves = []

    def atomic_move(self, src, dest, unsafe_writes=False):
        self.moves.append((src, dest, unsafe_writes))
        os.replace(src, dest)

    def backup_local(self, path):
        copy = path + ".backup~"
        with open(path, "rb") as source, open(copy, "wb") as out:
            out.write(source.read())
        return copy


def test_read_bounded_refuses_a_larger_file_or_cuts_it_when_asked(tmp_path):
    path = tmp_path / "site.conf"
    path.write_bytes(b"x" * 100)
    assert files.read_bounded(str(path), "configuration file", 100) == b"x" * 100
    with pytest.raises(InputError, match=r"^configuration file .* is 100 bytes long, larger than the 99 bytes"):
        files.read_bounded(str(path), "configuration file", 99)
    assert files.read_bounded(str(path), "dest", 10, truncate=True) == b"x" * 11
    with pytest.raises(InputError, match=r"^configuration file .*missing does not exist\.$"):
        files.read_bounded(str(tmp_path / "missing"), "configuration file", 99)
    with pytest.raises(InputError, match=r"is a directory, not a file\.$"):
        files.read_bounded(str(tmp_path), "configuration file", 99)


def test_read_bounded_never_blocks_on_a_fifo(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome = _within(5, files.read_bounded, str(fifo), "configuration file", 99)
    assert isinstance(outcome.get("error"), InputError) and "is a FIFO" in str(outcome["error"])


def test_replace_atomically_keeps_a_backup_and_leaves_no_temporary_file(tmp_path):
    module = _Module()
    path = tmp_path / "staple.ocsp"
    assert files.replace_atomically(module, str(path), b"new", keep_backup=True) is None  # nothing to back up
    assert path.read_bytes() == b"new" and len(module.moves) == 1
    saved = files.replace_atomically(module, str(path), b"newer", keep_backup=True)
    assert saved and Path(saved).read_bytes() == b"new" and path.read_bytes() == b"newer"
    src, dest, _unsafe = module.moves[-1]
    assert os.path.dirname(src) == str(tmp_path) and dest == str(path)  # renamed within the directory
    assert sorted(os.listdir(tmp_path)) == sorted([path.name, os.path.basename(saved)])


def test_replace_atomically_private_is_0600_from_the_start_backup_too(tmp_path):
    module = _Module()
    key = tmp_path / "www.key"
    key.write_bytes(b"old key")
    os.chmod(key, 0o644)
    old_umask = os.umask(0)
    try:
        saved = files.replace_atomically(module, str(key), b"new key", keep_backup=True, private=True)
    finally:
        os.umask(old_umask)
    assert not module.moves  # os.replace, never atomic_move (which would widen a new file's mode)
    assert key.read_bytes() == b"new key" and os.stat(key).st_mode & 0o777 == 0o600
    assert Path(saved).read_bytes() == b"old key" and os.stat(saved).st_mode & 0o777 == 0o600


def test_replace_atomically_failure_is_a_clear_error_and_leaves_the_file(tmp_path):
    module = _Module()
    path = tmp_path / "site.conf"
    path.write_bytes(b"old")

    def refuse(src, dest, unsafe_writes=False):
        raise OSError(28, "No space left on device")

    module.atomic_move = refuse
    with pytest.raises(OSError, match="No space left"):
        files.replace_atomically(module, str(path), b"new")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["site.conf"]  # the temporary file is gone
    with pytest.raises(InputError, match=r"^cannot create a temporary file in .*missing"):
        files.replace_atomically(module, str(tmp_path / "missing" / "x.conf"), b"new")
