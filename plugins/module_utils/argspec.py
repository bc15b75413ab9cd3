# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument specs of the options several modules share, one definition each.

Each constant here has its documentation in plugins/doc_fragments/options.py (the fragment of the same name,
lower case); a unit test keeps the two equal. A module takes one with ``**spec(CLOCK_SKEW)`` and extends
``tlsfleet.stapling.options.clock_skew``.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import copy

CLOCK_SKEW = {"clock_skew": {"type": "int", "default": 300}}
PROXY = {"proxy": {"type": "str"}, "use_proxy": {"type": "bool", "default": True}}
TRUST_ANCHORS = {"trust_anchor_paths": {"type": "list", "elements": "path", "default": []}}
WARMUP = {"warmup_attempts": {"type": "int", "default": 4}, "warmup_delay": {"type": "float", "default": 0.25}}
CERTIFICATE_INPUT = {
    "certificate_path": {"type": "path"},
    "certificate_content": {"type": "str"},
    "issuer_path": {"type": "path"},
    "issuer_content": {"type": "str"},
}
# A candidate certificate to judge before it is deployed (node_audit's preflight; module_utils/preflight.py).
PREFLIGHT = {
    "preflight": {
        "type": "dict",
        "options": {
            # no_log: the candidate is public, but a key given by mistake must not reach the node's syslog
            # (AnsibleModule logs its arguments) nor the invocation shown at -vvv before it is refused.
            "certificate": {"type": "str", "required": True, "no_log": True},
            "chain": {"type": "str", "no_log": True},
            "at": {"type": "str"},
        },
    }
}
# The suboptions of one TLS endpoint to handshake with (node_audit's extra_endpoints, ocsp_responder_check's
# endpoint); documented in each module, as a fragment cannot extend a suboption.
ENDPOINT_OPTIONS = {
    "host": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "default": 443},
    "server_name": {"type": "str"},
}


def spec(*parts: dict) -> dict:
    """The union of ``parts``, copied: a module's argument spec never shares a mutable default with another's."""
    merged: dict = {}
    for part in parts:
        merged.update(copy.deepcopy(part))
    return merged
