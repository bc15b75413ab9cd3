# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight's closed vocabularies: verdicts, check names, check statuses.

One source for the node, which judges with them (preflight.py), and the controller, which accepts nothing else
from a node (plugins/plugin_utils/node_result.py). No imports: the controller reads these names without loading
the judge and the server types it needs.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

READY = "ready"
READY_AFTER_CHANGE = "ready_after_change"
WILL_BREAK = "will_break"
VERDICTS = (READY, READY_AFTER_CHANGE, WILL_BREAK)

# A check's status: OK, WARNING (works, but something to know), CHANGE (works once the named change is made),
# FAIL (the site breaks when the candidate is deployed).
OK = "ok"
WARNING = "warning"
CHANGE = "change"
FAIL = "fail"
STATUSES = (OK, WARNING, CHANGE, FAIL)

CHECKS = ("validity", "key_match", "chain", "issuer_file", "ocsp_url", "staple_file", "responder", "must_staple")

# The answer for a whole node: the worst verdict of its sites, or NOT_APPLICABLE when the candidate's names cover
# none of them (nothing there was judged: not the same as ready).
NOT_APPLICABLE = "not_applicable"
NODE_VERDICTS = (NOT_APPLICABLE, *VERDICTS)
