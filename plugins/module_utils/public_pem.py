# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a text only public certificates? An allow-list, shared by the controller and the node.

A preflight candidate (node_audit's ``preflight``) is certificate and chain PEM text that goes to every node of
the play. Anything else in it - a private key in any armour or case, a bare base64 body, stray text - is refused,
without repeating any of it: a deny-list of key labels misses lower-case armour, odd labels and unarmoured keys.
Standard library only: the controller checks before the task is sent (plugins/action/node_audit.py), the node
again before any work.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import re
from typing import Optional

_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----[ \t]*\r?\n([A-Za-z0-9+/=\r\n \t]+?)-----END CERTIFICATE-----[ \t]*(?:\r?\n|\Z)"
)


def problem(text: object, what: str) -> Optional[str]:
    """One sentence saying why ``text`` is not only certificate PEM blocks and whitespace, or None when it is.

    The sentence never quotes the text. An empty or blank text is no problem here (the caller decides whether
    it is required).
    """
    if text is None:
        return None
    if not isinstance(text, str):
        return "the preflight %s must be PEM text (certificates only), not a %s." % (what, type(text).__name__)
    rest, blocks = _BLOCK.subn("", text)
    if rest.strip():
        return (
            "the preflight %s must hold certificate PEM blocks only (-----BEGIN CERTIFICATE-----): it holds something "
            "else (not repeated here; a private key never belongs in a candidate). Give the candidate's certificate "
            "and chain only." % what
        )
    if not blocks and text.strip():
        return "the preflight %s holds no certificate PEM block." % what
    return None
