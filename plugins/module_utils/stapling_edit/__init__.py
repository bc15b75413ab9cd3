# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the stapling editors share; each server type's editor is its ``servers/<type>/edit.py``.

The editors set OCSP stapling directives in one nginx ``server`` block or one Apache ``<VirtualHost>``.

The editors are pure functions over the text of one configuration file: they parse just enough of
it to find the block that starts at a given line and its own directives, and return the new text
with one human-readable sentence per change. They never guess: when the block is not where the
audit saw it, or a directive is written in a way that cannot be replaced safely, they raise
:class:`EditError` and the file stays as it is.

Shared rules (both servers):

* an existing directive of the block itself is replaced in place, keeping its indentation;
* a missing one is inserted after the certificate key directive (``ssl_certificate_key`` /
  ``SSLCertificateKeyFile``), or at the start of the block when there is none;
* directives of nested blocks (nginx ``location``, Apache ``<Directory>``...) are never touched;
* comments and everything else stay byte for byte.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

#: Files looked at, at most, when an editor scans included or neighbouring files for conflicting directives.
MAX_SCANNED_FILES = 500


class EditError(InputError):
    """The block cannot be edited safely; the message says where and why."""


@dataclass(repr=False)
class EditResult(Record):
    """The new text of the file and what changed.

    ``includes`` holds the arguments of the include directives written directly in the block (in
    file order) with their line numbers, so that the caller can look for the same directives there.
    """

    text: str
    changes: List[str] = field(default_factory=list)
    includes: List[Tuple[str, int]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def newline_of(text: str) -> str:
    """The line ending the file uses (CRLF when any line has one, else LF)."""
    return "\r\n" if "\r\n" in text else "\n"


def describe_change(name: str, old: Optional[str], new: str) -> str:
    """``"ssl_stapling off -> on"``, or ``"ssl_stapling_verify (not set) -> on"`` for an added directive."""
    return f"{name} {old if old is not None else '(not set)'} -> {new}"


@dataclass(repr=False)
class CompanionFile(Record):
    """A whole file an editor writes beside the edited block (Apache's server-wide ``SSLStaplingCache``).

    ``describe(real_path, existing_text)`` is the change sentence; ``conflicts(real_path, read)`` lists warnings
    about other files that set the same thing (``read(path)`` returns a file's text or raises InputError).
    """

    path: str
    text: str
    describe: Callable[[str, Optional[str]], str]
    conflicts: Callable[[str, Callable[[str], str]], List[str]]


def config_root_above(real: str, names: Sequence[str], fallback: str) -> str:
    """The directory of the main configuration file, found above ``real`` (for relative include paths)."""
    directory = os.path.dirname(real)
    for _level in range(4):
        if any(os.path.exists(os.path.join(directory, name)) for name in names):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return fallback
