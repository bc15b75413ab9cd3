# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""File input and output for the modules: bounded reads that never block, atomic replacement with a backup.

Reading: a path in a configuration can name anything: a FIFO (open() waits for a writer forever), a socket, or a
device such as /dev/zero (read() never ends). Only regular files are read, and only up to a bound. The type is
checked before opening and again on the opened descriptor, so a file swapped for a FIFO between the two is still
refused; O_NONBLOCK makes the open itself return at once even then.

Writing: a file is replaced through a temporary file in its own directory, renamed over it, so a reader sees the
old content or the new, never a part; a file that holds a private key, and its backup, are created with mode 0600
from the first byte.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from typing import IO, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_regular(mode: int) -> str:
    """What a non-regular file is (``"a FIFO"``), or ``""`` for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def _refuse(label: str, mode: int) -> None:
    kind = not_regular(mode)
    if kind == "a directory":
        raise InputError(f"{label} is a directory, not a file.")
    if kind:
        raise InputError(f"{label} is {kind}, not a regular file.")


def open_regular(path: str, description: str = "") -> IO[bytes]:
    """Open ``path`` for binary reading, only when it is a regular file; never blocks on opening.

    Raises :class:`InputError` ("certificate file /x is a FIFO, not a regular file.") for anything else; the
    ``OSError`` of a missing or unreadable file propagates for the caller to phrase.
    """
    label = f"{description} {path}" if description else path
    _refuse(label, os.stat(path).st_mode)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        _refuse(label, os.fstat(descriptor).st_mode)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def read_bounded(path: str, description: str, limit: int, truncate: bool = False) -> bytes:
    """The content of the regular file ``path``, at most ``limit`` bytes; every failure is an :class:`InputError`
    naming the file as ``description`` (``"configuration file"``).

    A larger file is refused, or with ``truncate`` its first ``limit + 1`` bytes are returned (enough to see that
    it differs from anything of ``limit`` bytes or fewer).
    """
    label = f"{description} {path}" if description else path
    try:
        with open_regular(path, description) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit and not truncate:
                raise InputError(f"{label} is {size} bytes long, larger than the {limit} bytes accepted.")
            data = handle.read(limit + 1)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{label} does not exist.") from None
    except PermissionError:
        raise InputError(f"{label} cannot be read: permission denied.") from None
    except OSError as exc:
        raise InputError(f"{label} cannot be read: {exc.strerror or exc}.") from None
    if len(data) > limit and not truncate:
        raise InputError(f"{label} grew while it was read, beyond the {limit} bytes accepted.")
    return data


def _new_private_file(path: str) -> int:
    # os.open with the mode, never open() then chmod: the umask can only narrow 0600, and no moment is wider.
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def backup(module, path: str, private: bool = False) -> str:
    """A timestamped copy of ``path`` beside it (Ansible's backup name); return its path.

    ``private``: the copy is created with mode 0600 from the start (and the original's owner when root), so the
    backup of a key is never readable by others, whatever the original's mode or the umask.
    """
    if not private:
        return module.backup_local(path)
    copy = "%s.%s.%s" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime()))
    try:
        with open(path, "rb") as source:
            data = source.read()
        status = os.stat(path)
        with os.fdopen(_new_private_file(copy), "wb") as out:
            try:
                os.fchown(out.fileno(), status.st_uid, status.st_gid)
            except OSError:
                pass  # not root: the backup stays the module user's, still 0600
            out.write(data)
    except OSError as exc:
        raise InputError(f"cannot back up {path}: {exc.strerror or exc}.") from None
    return copy


def replace_atomically(
    module, path: str, data: bytes, keep_backup: bool = False, private: bool = False
) -> Optional[str]:
    """Replace ``path`` (a real path: a symbolic link is the caller's to resolve) with ``data``, atomically; with
    ``keep_backup`` first copy the existing file (``backup``). Return the backup's path, or None.

    The temporary file is written and synced in ``path``'s directory, so the final rename never crosses a file
    system. Without ``private`` it is moved with the module's ``atomic_move`` (which keeps the existing file's
    mode, owner and SELinux context, and honours ``unsafe_writes``); with ``private`` it is created 0600 and
    renamed with ``os.replace``: the caller applies the final mode, owner and group afterwards.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if private:
            temporary = os.path.join(directory, ".tlsfleet-key-%d-%d" % (os.getpid(), time.monotonic_ns()))
            handle = _new_private_file(temporary)
        else:
            handle, temporary = tempfile.mkstemp(prefix=".tlsfleet-", dir=directory)
    except OSError as exc:
        raise InputError(f"cannot create a temporary file in {directory}: {exc.strerror or exc}.") from None
    try:
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise InputError(f"cannot write a temporary file in {directory}: {exc.strerror or exc}.") from None
        saved = backup(module, path, private) if keep_backup and os.path.lexists(path) else None
        if private:
            try:
                os.replace(temporary, path)
            except OSError as exc:
                raise InputError(f"cannot write {path}: {exc.strerror or exc}.") from None
        else:
            module.atomic_move(temporary, path, unsafe_writes=module.params.get("unsafe_writes", False))
        return saved
    finally:
        if os.path.lexists(temporary):
            _unlink_quietly(temporary)
