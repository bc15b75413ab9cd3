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

import errno
import os
import re
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


def _under(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip("/") + "/")


# The name Ansible's backup_local and ``backup`` above give a backup: <file>.<pid>.<date>@<time>~
_BACKUP_NAME = re.compile(r".\.[0-9]+\.[0-9]{4}-[0-9]{2}-[0-9]{2}@[0-9]{2}:[0-9]{2}:[0-9]{2}~\Z")


def is_backup_name(name: str) -> bool:
    """Whether a file name is one Ansible's backup_local (and ``backup`` above) gives: <file>.<pid>.<date>@<time>~"""
    return bool(_BACKUP_NAME.search(name))


_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _make_root(backup_dir: str) -> None:
    """Create ``backup_dir`` (0700) and what is missing above it (0755), when it does not exist."""
    missing = []
    here = backup_dir
    while not os.path.isdir(here):
        missing.append(here)
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    for path in reversed(missing):
        os.mkdir(path, 0o700 if path == backup_dir else 0o755)
    if missing:
        os.chmod(backup_dir, 0o700)  # exactly: the umask only narrows, and a narrower mode would lock out no one new


def _open_private_dir(directory: str, backup_dir: str) -> int:
    """A descriptor of ``directory`` (``backup_dir`` or below it), the part below ``backup_dir`` created 0700 as
    needed and walked one name at a time without following a symbolic link: a directory under ``backup_dir``
    replaced by a link to /etc leads nothing out of it. The directory a backup lands in is made 0700 even when it
    existed."""
    _make_root(backup_dir)
    descriptor = os.open(backup_dir, _DIRECTORY_FLAGS)
    try:
        walked = backup_dir
        for name in os.path.relpath(directory, backup_dir).split("/"):
            if name in ("", "."):
                continue
            walked = os.path.join(walked, name)
            try:
                os.mkdir(name, 0o700, dir_fd=descriptor)
                created = True
            except FileExistsError:
                created = False
            try:
                child = os.open(name, _DIRECTORY_FLAGS | getattr(os, "O_NOFOLLOW", 0), dir_fd=descriptor)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise InputError(f"{walked} is a symbolic link or not a directory") from None
                raise
            os.close(descriptor)
            descriptor = child
            if created:
                os.fchmod(descriptor, 0o700)
        os.fchmod(descriptor, 0o700)
        return descriptor
    except BaseException:
        os.close(descriptor)
        raise


def _copy_across(source: str, directory: int, name: str, status: os.stat_result) -> None:
    """``source`` to ``name`` in the open ``directory`` on another file system: created 0600, the source's mode
    and owner applied once the bytes are synced, then renamed into place and the directory synced (a reader never
    sees a part, nor a moment wider than 0600; a crash after the caller removes the source still finds the copy).
    The source stays: the caller removes it once every backup is in place."""
    temporary = ".tlsfleet-stash-%d-%d" % (os.getpid(), time.monotonic_ns())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    handle = os.open(temporary, flags, 0o600, dir_fd=directory)
    try:
        reading = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(handle, "wb") as out, os.fdopen(reading, "rb") as data:
            if not stat.S_ISREG(os.fstat(data.fileno()).st_mode):
                raise InputError(f"the backup {source} is no longer a regular file")
            for block in iter(lambda: data.read(1 << 20), b""):
                out.write(block)
            try:
                os.fchown(out.fileno(), status.st_uid, status.st_gid)
            except OSError:
                pass  # not root: the copy stays the module user's
            os.fchmod(out.fileno(), stat.S_IMODE(status.st_mode))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        os.fsync(directory)
    finally:
        try:
            os.unlink(temporary, dir_fd=directory)
        except OSError:
            pass  # renamed into place, or never written


def stash_backups(moves: dict, backup_dir: str, check_mode: bool = False, warn=None) -> list:
    """Move each backup (``{where it is: where it goes}``) under ``backup_dir``; return ``[{src, dest}]`` moved.

    Every pair is checked before anything moves: both paths absolute, each destination under ``backup_dir`` once
    normalised and not there yet, each source a regular file named as a backup (``<file>.<pid>.<date>@<time>~``)
    or already gone with its destination in place (moved by an earlier run: nothing to do). A rename when both
    lie on one file system, else a copy that keeps the mode and owner, whose source is removed once every backup
    is in place (``warn`` is told of one that cannot be). No directory below ``backup_dir`` is entered through a
    symbolic link. All or nothing: a failure puts back what moved, and names what could not be put back.
    """
    root = os.path.normpath(str(backup_dir or ""))
    if not root.startswith("/") or root.strip("/") == "" or "\0" in root:
        raise InputError(f"backup_dir must be an absolute directory other than /, not {backup_dir!r}.")
    planned = []
    for source, dest in sorted((moves or {}).items()):
        source_path, dest_path = os.path.normpath(str(source)), os.path.normpath(str(dest))
        if not (str(source).startswith("/") and str(dest).startswith("/")) or "\0" in source_path + dest_path:
            raise InputError(f"backup paths must be absolute: {source!r} -> {dest!r}.")
        if not _under(dest_path, root):
            raise InputError(f"{dest!r} is not under the backup directory {root}: nothing was moved.")
        if _under(source_path, root) or source_path == root:
            raise InputError(f"{source!r} is already under the backup directory {root}: nothing was moved.")
        if any(source_path == earlier for earlier, _dest, _status in planned):
            raise InputError(f"the backup {source_path} is named twice: nothing was moved.")
        try:
            status = os.lstat(source_path)
        except FileNotFoundError:
            if os.path.lexists(dest_path):
                continue  # moved by an earlier run
            raise InputError(f"the backup {source_path} is gone and not in {root}: nothing was moved.") from None
        except OSError as exc:
            raise InputError(f"cannot read the backup {source_path}: {exc.strerror or exc}.") from None
        if not stat.S_ISREG(status.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(status.st_mode) else not_regular(status.st_mode)
            raise InputError(f"the backup {source_path} is {kind}, not a file: nothing was moved.")
        if not is_backup_name(os.path.basename(source_path)):
            raise InputError(
                f"{source_path} is not named as a backup (<file>.<pid>.<date>@<time>~): nothing was moved."
            )
        if os.path.lexists(dest_path) or any(dest_path == later for _source, later, _status in planned):
            raise InputError(f"{dest_path} already exists or is named twice, and is never replaced: nothing was moved.")
        planned.append((source_path, dest_path, status))
    moved, copied = [], []
    try:
        for source_path, dest_path, status in planned:
            if not check_mode:
                directory = _open_private_dir(os.path.dirname(dest_path), root)
                try:
                    name = os.path.basename(dest_path)
                    try:
                        os.stat(name, dir_fd=directory, follow_symlinks=False)
                        raise InputError(f"{dest_path} appeared meanwhile and is never replaced")
                    except FileNotFoundError:
                        pass
                    try:
                        os.rename(source_path, name, dst_dir_fd=directory)
                    except OSError as exc:
                        if exc.errno != errno.EXDEV:
                            raise
                        _copy_across(source_path, directory, name, status)
                        copied.append(source_path)
                finally:
                    os.close(directory)
            moved.append({"src": source_path, "dest": dest_path})
    except BaseException as exc:
        # All or nothing: the caller records the new places only after a success, and a restore reads the old
        # ones until then.
        stuck = []
        for item in reversed(moved if not check_mode else []):
            try:
                if item["src"] in copied:
                    os.unlink(item["dest"])
                else:
                    os.rename(item["dest"], item["src"])
            except OSError:
                stuck.append(f"{item['dest']} (from {item['src']})")
        if not isinstance(exc, (OSError, InputError)):
            raise
        failed = planned[len(moved)]
        reason = (exc.strerror if isinstance(exc, OSError) else None) or exc
        undone = (
            "could NOT be put back: " + ", ".join(reversed(stuck)) + "; any others were." if stuck else "were put back."
        )
        raise InputError(
            f"cannot move the backup {failed[0]} to {failed[1]}: {reason}. The backups moved before it {undone}"
        ) from None
    for source_path in copied:
        try:
            os.unlink(source_path)
        except OSError as exc:
            if warn:
                warn(f"the backup {source_path} was copied under {root} but stays beside its file: {exc.strerror}.")
    return moved
