# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exceptions shared by the tlsfleet.stapling library.

Every error raised on purpose by the library derives from :class:`TlsfleetError`. Its message is one
plain-language sentence that a module can hand to ``fail_json(msg=...)`` unchanged: it names the
input (a path, or a description such as ``certificate content``) and says what is wrong with it.
Messages never contain private key material.
"""

from __future__ import annotations


class TlsfleetError(Exception):
    """Base class of the errors the library raises on purpose."""


class InputError(TlsfleetError):
    """An input (file, content, option value) cannot be used; the message says which and why."""


def exit_with_result(module, work, *args) -> None:
    """Call ``work(*args)`` and exit the module with its result dict (``changed`` False unless it says so).

    A :class:`TlsfleetError` becomes ``fail_json`` with its one-sentence message, raised outside the
    ``except`` block so that no traceback is attached to a plain input error.
    """
    try:
        result = work(*args)
    except TlsfleetError as exc:
        error = str(exc)
    else:
        error = None
    if error is not None:
        module.fail_json(msg=error)
    result.setdefault("changed", False)
    module.exit_json(**result)
