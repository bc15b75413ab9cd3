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
