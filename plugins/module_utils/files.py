# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Open files named by server configuration without ever blocking on them.

A path in a configuration can name anything: a FIFO (open() waits for a writer forever), a socket, or a device
such as /dev/zero (read() never ends). Only regular files are read. The type is checked before opening and again
on the opened descriptor, so a file swapped for a FIFO between the two is still refused; O_NONBLOCK makes the
open itself return at once even then.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import os
import stat
from typing import IO

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
