# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A callback for tests/benchmarks/bench.py: when each play and task started, as JSON lines.

Enabled only by the benchmark (ANSIBLE_CALLBACKS_ENABLED=bench_timer); writes to $TLSFLEET_BENCH_TIMER.
The linear strategy runs one task at a time over the batch, so a task lasts until the next event.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: task start times for the benchmarks
description: Writes one JSON line per play start, task start and the end of the run to E(TLSFLEET_BENCH_TIMER).
requirements: [enabled in configuration]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("TLSFLEET_BENCH_TIMER")

    def _event(self, kind, name):
        if self._path:
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"t": time.monotonic(), "kind": kind, "name": name}) + "\n")

    def v2_playbook_on_play_start(self, play):
        self._event("play", play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._event("task", task.get_name())

    def v2_playbook_on_handler_task_start(self, task):
        self._event("task", task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._event("end", "")
