# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of tlsfleet.stapling.node_audit: the preflight candidate is checked before the task is sent.

A module's arguments travel to the node in its payload, so a private key pasted into ``preflight`` would reach
every node of the play before the module could refuse it (``no_log`` hides it from logs, not from the node).
Here the candidate must be certificate PEM blocks only (module_utils/public_pem.py); otherwise the task fails on
the controller and nothing is sent. The rest is Ansible's normal module execution.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.tlsfleet.stapling.plugins.module_utils import public_pem


def candidate_problem(args: dict):
    """Why the task's preflight candidate must not leave the controller, or None."""
    wanted = args.get("preflight")
    if not isinstance(wanted, dict):
        return None  # absent; a wrong type is the module's argument validation's to report
    for what in ("certificate", "chain"):
        found = public_pem.problem(wanted.get(what), what)
        if found:
            return found + " Nothing was sent to the node."
    return None


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        refused = candidate_problem(self._task.args)
        if refused:
            result.update(failed=True, msg=refused)
            return result
        wrap_async = self._task.async_val
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
